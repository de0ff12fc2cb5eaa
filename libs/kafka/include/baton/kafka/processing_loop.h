// ProcessingLoop: Baton's consume → process → commit loop on a Kafka consumer group.
//
// Lifecycle: Run() subscribes to the engagement and CRM topics and loops until `stop` is set:
// it consumes records into the Processor and commits a unit every commit interval, or sooner:
// when the unit is large, or when the inputs are caught up and the unit is at least the minimum
// commit interval old (so a quiet stream is not held back for a whole interval; exactly-once
// only: at-least-once outputs go out as they are made, and its units commit on the interval).
// A unit lands (is published, then written to the store) on a committer thread while the next
// unit is consumed; the next unit is sealed only once the one before it has landed, and until
// then keeps taking records (up to the unit's size cap). On assignment the producer is made
// ready (in exactly-once mode its registration settles any transaction a previous incarnation
// left open), each partition's changelog tail is restored into the local store, and each
// partition resumes from the offset the store then holds. On revocation the pending unit is
// committed first (its transaction commits or aborts before the partitions are let go). When a
// commit fails (broker down, disk full) the loop rewinds: the unit is dropped, consumption pauses
// with backoff, and then the assignment starts over as above, so nothing is skipped and nothing
// committed twice. A fenced producer or corrupt state ends Run with an error.
// On stop the pending unit is committed and the consumer leaves the group.
//
// Partition assignment uses the range assignor so that partition N of the input topics (and of
// the internal matched topic) lands on the same instance: they are co-partitioned by account id.
//
// Thread-safety: Run() runs on the calling thread, and lands units on a thread of its own, one
// at a time; `stop` may be set from any thread or a signal handler.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "baton/kafka/changelog_reader.h"
#include "baton/kafka/output_sink.h"
#include "baton/kafka/settings.h"
#include "baton/pipeline/processor.h"
#include "librdkafka/rdkafkacpp.h"

namespace baton::kafka {

struct LoopOptions {
  std::string group_id = "baton";
  std::string engagement_topic = "abm.engagement.v1";
  std::string crm_topic = "abm.crm.v1";
  // Baton's internal topic of matched engagement, consumed like the inputs.
  std::string matched_topic = "abm.engagement-matched.v1";
  // The state changelog, restored from on assignment.
  std::string changelog_topic = "abm.baton-changelog.v1";
  absl::Duration commit_interval = absl::Milliseconds(100);
  // A unit this old commits early when the consumer has no more records to hand out.
  absl::Duration min_commit_interval = absl::Milliseconds(10);
  // A unit is committed early once it holds this many input records. With one unit landing and
  // the next being built, this bounds the memory units take: at 50,000, a 1M-account CRM load
  // (whose units had grown to about 16,000 records while the one before landed) peaked at
  // 578 MiB instead of 499.
  size_t max_unit_events = 20'000;
  absl::Duration max_backoff = absl::Seconds(30);
};

// LoopListener hears about assignment and health, for metrics.
struct LoopListener {
  std::function<void(size_t)> assigned_partitions = [](size_t) {};
  std::function<void(bool)> healthy = [](bool) {};
  // Called on the processing thread between records (at least every 100 ms): the place to swap
  // rules or do other housekeeping that must not interleave with processing a record.
  std::function<void()> between_records = [] {};
  // Changelog records restored into the store on (re)assignment, and how long it took.
  std::function<void(int64_t, absl::Duration)> restored = [](int64_t, absl::Duration) {};
};

class ProcessingLoop final : private RdKafka::RebalanceCb {
 public:
  ProcessingLoop(LoopOptions options, KafkaSettings settings, pipeline::Processor& processor,
                 KafkaOutputSink& sink, LoopListener listener = {});
  ~ProcessingLoop() override;

  // Run processes until `stop` is set, then commits and leaves the group. Returns an error only
  // for a fault Baton cannot recover from (bad configuration, a fatal client error, corrupt
  // state).
  absl::Status Run(const std::atomic<bool>& stop);

 private:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  // CommitUnit seals the pending unit and starts landing it on a committer thread, once the
  // unit before it has landed; with `wait`, it also waits for this one. On failure it rewinds
  // and schedules a retry.
  void CommitUnit(bool wait = false);
  // Landed: a unit was landing and is done.
  bool Landed() const;
  // TakeLanded waits for the landing unit and hands its outcome to the Processor.
  absl::StatusOr<pipeline::Offsets> TakeLanded();
  // Settle waits for the landing unit, if any, and takes its outcome: false if it failed (then
  // the loop has faulted).
  bool Settle();
  // FollowStore commits the store's input offsets to the consumer group (at-least-once; for
  // lag monitoring).
  void FollowStore(const pipeline::Offsets& offsets);
  // Abandon waits for the landing unit, if any, and lets it go, whichever way it went: for a
  // rewind or a stop, which read back from the store.
  void Abandon();
  // Reassign (re)starts the current assignment: producer ready, changelog tail restored,
  // inputs from the stored offsets.
  absl::Status Reassign();
  void Fault(absl::string_view what, const absl::Status& status);

  LoopOptions options_;
  KafkaSettings settings_;
  pipeline::Processor& processor_;
  KafkaOutputSink& sink_;
  ChangelogReader changelog_;
  LoopListener listener_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<pipeline::TopicPartition> assignment_;
  absl::Status fatal_;
  // While faulted, consumption is paused until retry_at_.
  bool faulted_ = false;
  absl::Time retry_at_;
  absl::Duration backoff_ = absl::ZeroDuration();
  // Units commit early when the inputs are caught up (see the file comment): exactly-once only,
  // whose outputs are readable once their unit commits.
  const bool early_commits_;
  // The unit landing on the committer thread. The future is declared after it, so that it is
  // destroyed first and waits for the thread.
  std::optional<pipeline::SealedUnit> landing_unit_;
  std::future<absl::Status> landing_;
};

}  // namespace baton::kafka
