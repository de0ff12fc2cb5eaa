// KafkaOutputSink publishes a commit unit — Baton's outputs (routed leads, alerts, dead letters,
// matched and unmatched engagement) and its state changelog — implementing
// pipeline::OutputSink.
//
// Exactly-once (the default): one transactional producer per process. Each unit is one Kafka
// transaction: begin, produce every record, send the input offsets to the transaction with the
// consumer group's metadata, commit. A read_committed consumer sees all of a unit or none of it.
// The hard cases:
//   - the transaction needs aborting (a record failed, the broker aborted it on timeout): it is
//     aborted and Publish fails; the caller rewinds and processes the unit again;
//   - the commit result is unknown (the commit timed out): the commit is retried; if it still
//     fails the producer is dropped, and the next Ready() creates one whose registration
//     (init_transactions) completes or aborts the old transaction before anything is read back,
//     so the changelog tells which way it went;
//   - fenced (another process registered the same transactional id, so this one is a zombie):
//     Publish and Ready fail with kFailedPrecondition and Baton stops, never fencing back;
//   - the broker down at start-up or later: Ready and Publish fail with kUnavailable, retried.
// At-least-once: an idempotent producer, no transactions. The outputs are sent as they are
// produced (Send), so a lead is on its topic within milliseconds of the event that made it;
// Publish returns once every record of the unit is acknowledged (acks=all), the outputs before
// the changelog is sent. A failed unit may have written some records; the retry writes them
// again with the same ids.
//
// Thread-safety: Publish may run on a committer thread while the processing thread goes on with the
// next unit and Sends its outputs (at-least-once); every other method is the processing thread's,
// called while no Publish runs. Each record produced gets a sequence number; a unit's Publish waits
// for the delivery reports of every record produced before it returns (its own, those it sent
// early, and any the next unit sent meanwhile), served by whichever thread polls.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "baton/kafka/settings.h"
#include "baton/pipeline/ports.h"
#include "librdkafka/rdkafkacpp.h"

namespace baton::kafka {

struct OutputTopics {
  std::string routed_leads = "abm.routed-leads.v1";
  std::string alerts = "abm.alerts.v1";
  std::string dead_letter = "abm.deadletter.v1";
  std::string matched = "abm.engagement-matched.v1";
  std::string unmatched = "abm.unmatched.v1";
  std::string changelog = "abm.baton-changelog.v1";
};

enum class Guarantee { kExactlyOnce, kAtLeastOnce };

struct SinkOptions {
  OutputTopics topics;
  Guarantee guarantee = Guarantee::kExactlyOnce;
  // Exactly-once: the producer's transactional.id, stable for an instance and unique in the
  // group, so that a restarted instance fences its own predecessor.
  std::string transactional_id;
  // How long a transactional step (register, send offsets, commit, abort) may take.
  absl::Duration operation_timeout = absl::Seconds(30);
};

class KafkaOutputSink final : public pipeline::OutputSink, private RdKafka::DeliveryReportCb {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaOutputSink>> Create(const KafkaSettings& settings,
                                                                 SinkOptions options);
  ~KafkaOutputSink() override;

  // BindConsumer names the consumer whose group the input offsets are committed for.
  void BindConsumer(RdKafka::KafkaConsumer* consumer) { consumer_ = consumer; }
  bool transactional() const { return options_.guarantee == Guarantee::kExactlyOnce; }

  // Ready makes the producer ready for the next unit; in exactly-once mode it registers the
  // transactional id (see the file comment). Call it before reading the changelog back.
  absl::Status Ready();

  absl::StatusOr<pipeline::ChangelogPositions> Publish(
      std::vector<pipeline::OutboundRecord>& outputs,
      absl::Span<const pipeline::ChangelogEntry> changelog,
      const pipeline::Offsets& input_offsets) override;
  bool SendsEarly() const override { return !transactional(); }
  absl::Status Send(std::vector<pipeline::OutboundRecord>& records) override;

 private:
  KafkaOutputSink(KafkaSettings settings, SinkOptions options)
      : settings_(std::move(settings)), options_(std::move(options)) {}
  void dr_cb(RdKafka::Message& message) override;
  const std::string& TopicOf(pipeline::OutboundRecord::Topic topic) const;
  // ProduceOne hands one record to the producer (a copy of it; value nullptr: a tombstone),
  // numbered for its delivery report; `changelog` records also advance the positions reached.
  absl::Status ProduceOne(const std::string& topic, int32_t partition, absl::string_view key,
                          const std::string* value, const std::vector<pipeline::Header>& headers,
                          bool changelog);
  // Produce hands records to the producer and returns the sequence number of the last record
  // produced so far (by any thread).
  absl::StatusOr<uint64_t> Produce(absl::Span<pipeline::OutboundRecord> records);
  absl::StatusOr<uint64_t> Produce(absl::Span<const pipeline::ChangelogEntry> changelog);
  // AwaitDelivery serves delivery reports until every record up to sequence `last` is reported,
  // and fails if any of those after the previous unit's failed.
  absl::Status AwaitDelivery(uint64_t last);
  // Undelivered is the failure among records (settled_, last], if any: "N records not
  // delivered; first: ...".
  std::optional<std::string> Undelivered(uint64_t last);
  // Transact publishes an exactly-once unit as one transaction; `last` is set to the sequence
  // number of its last record.
  absl::Status Transact(std::vector<pipeline::OutboundRecord>& outputs,
                        absl::Span<const pipeline::ChangelogEntry> changelog,
                        const pipeline::Offsets& input_offsets, uint64_t& last);
  // TransactionFailed turns a failed transactional step into Publish's error, aborting the
  // transaction or dropping the producer as the error requires.
  absl::Status TransactionFailed(absl::string_view step, std::unique_ptr<RdKafka::Error> error);
  absl::Status CreateProducer();
  void DropProducer();
  // Register registers the transactional id (init_transactions).
  absl::Status Register();
  // LearnTopics asks the broker about each topic the sink writes to, once per producer: without
  // it a unit's first record to a topic waits for librdkafka's once-a-second look-up of topics it
  // knows nothing about, which held the first unit after every start for up to a second.
  void LearnTopics();

  KafkaSettings settings_;
  SinkOptions options_;
  RdKafka::KafkaConsumer* consumer_ = nullptr;
  std::unique_ptr<RdKafka::Producer> producer_;
  bool registered_ = false;
  // The handles LearnTopics made: they keep what it learnt for the producer's life. Declared
  // after producer_, so destroyed before it.
  std::vector<std::unique_ptr<RdKafka::Topic>> known_topics_;
  bool topics_learnt_ = false;
  absl::Status fenced_;
  // Delivery reports, by record sequence number, under mu_.
  absl::Mutex mu_;
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<uint64_t> undelivered_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> failures_ ABSL_GUARDED_BY(mu_);
  // Failures at or before this sequence number belong to units already settled.
  uint64_t settled_ ABSL_GUARDED_BY(mu_) = 0;
  // The changelog positions reached by the unit being published.
  pipeline::ChangelogPositions positions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace baton::kafka
