// The ports the processing loop is wired through: the records it reads and writes, and the
// state store, output sink and observer it is given. Adapters implement them (libs/store,
// libs/kafka, libs/metrics); tests implement them in memory.
//
// Thread-safety: each port is used from the processing thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace baton::pipeline {

struct HeaderView {
  absl::string_view key;
  absl::string_view value;
};

// InputRecord is one consumed Kafka message. The views are valid during Processor::Process only.
struct InputRecord {
  absl::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  absl::string_view key;
  absl::string_view value;
  std::vector<HeaderView> headers;
};

struct Header {
  std::string key;
  std::string value;
};

// OutboundRecord is one message to publish.
struct OutboundRecord {
  // kMatched is Baton's internal topic of re-keyed (matched) engagement; kUnmatched the queue of
  // engagement no account could be found for. The state changelog is published apart
  // (ChangelogEntry).
  enum class Topic { kRoutedLeads, kAlerts, kDeadLetter, kMatched, kUnmatched };
  Topic topic = Topic::kAlerts;
  // The partition to write to; kAnyPartition lets the producer's partitioner choose by key.
  static constexpr int32_t kAnyPartition = -1;
  int32_t partition = kAnyPartition;
  std::string key;
  std::string value;
  // A tombstone has no value (not an empty one): it deletes `key` from a compacted topic.
  bool tombstone = false;
  std::vector<Header> headers;
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  }
  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.topic == b.topic && a.partition == b.partition;
  }
};

// The next offset to read, per input partition.
using Offsets = std::map<TopicPartition, int64_t>;

// StateBatch is what one commit writes to the local store, atomically.
struct StateBatch {
  // Account records by full key (see AccountKey in processor.h): a value to put, or nullopt to
  // delete the record.
  std::vector<std::pair<std::string, std::optional<std::string>>> writes;
  Offsets offsets;
};

// StateStore is the durable local state: account states and the input offsets they reflect.
class StateStore {
 public:
  virtual ~StateStore() = default;
  // Get reads one record; nullopt if there is none. Cheap for absent keys (bloom filters).
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
  // Scan returns every record whose key starts with `prefix`, as (the rest of the key, value)
  // pairs in key order: an account's records, or a range of the global directory.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view prefix) = 0;
  // ScanRange returns up to `limit` records with from <= key < to, as (key, value) pairs in key
  // order: the due entries of a timer index.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanRange(
      absl::string_view from, absl::string_view to, size_t limit) = 0;
  // LoadOffset returns the next input offset recorded for a partition; nullopt if none.
  virtual absl::StatusOr<std::optional<int64_t>> LoadOffset(const TopicPartition& tp) = 0;
  // Commit writes the batch atomically and durably: all of it, or (on error) none of it.
  virtual absl::Status Commit(const StateBatch& batch) = 0;
};

// The next offset of each state-changelog partition, after what a unit wrote to it.
using ChangelogPositions = std::map<int32_t, int64_t>;

// ChangelogEntry is one record of a unit's state changelog (see Processor): a stored record the
// unit writes, by its full key, or an input partition's next offset. The key and value refer to
// the unit's own storage, valid until Publish returns.
struct ChangelogEntry {
  int32_t partition = 0;
  absl::string_view key;
  // nullptr for a tombstone, which deletes `key` from the compacted changelog.
  const std::string* value = nullptr;
};

// OutputSink publishes a commit unit's records: the outputs and the state changelog.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Publish returns only when every record is acknowledged by the broker and, in exactly-once
  // mode, committed together with `input_offsets` in one transaction; or with an error, when
  // none of it counts (at-least-once: some records may have been written, and are written
  // again with the same ids when the unit is retried). On success it returns, per changelog
  // partition written, the offset just past the unit's last changelog record.
  virtual absl::StatusOr<ChangelogPositions> Publish(std::vector<OutboundRecord>& outputs,
                                                     absl::Span<const ChangelogEntry> changelog,
                                                     const Offsets& input_offsets) = 0;

  // SendsEarly: the sink takes a unit's outputs as they are produced (Send), ahead of Publish,
  // so that they reach their readers without waiting for the unit to commit — at-least-once
  // only, where a unit that then fails may have written some records anyway. An exactly-once
  // sink publishes a unit as one transaction and does not.
  virtual bool SendsEarly() const { return false; }
  // Send starts writing outputs of the unit being built and takes them out of `records`. They
  // belong to the unit: its Publish succeeds only once they are acknowledged too. An error means
  // the unit cannot commit (Rewind, as for Publish).
  virtual absl::Status Send(std::vector<OutboundRecord>& /*records*/) {
    return absl::UnimplementedError("this sink publishes whole units only");
  }
};

// CommitStats describes one committed unit, for metrics.
struct CommitStats {
  std::map<std::string, int64_t> consumed_by_topic;
  std::map<std::string, int64_t> deadlettered_by_reason;
  int64_t duplicates = 0;
  int64_t late = 0;
  // Handoffs by (rule, tier name).
  std::map<std::pair<std::string, std::string>, int64_t> handoffs;
  int64_t routed_leads = 0;
  std::map<std::string, int64_t> alerts_by_kind;
  // Engagement without an account id: matched, by method name, or not.
  std::map<std::string, int64_t> matched_by_method;
  int64_t unmatched = 0;
  int64_t events = 0;
  // Accounts read from the store because they were not in the account cache.
  int64_t account_loads = 0;
  // Follow-up SLAs that ended, by outcome ("met", "breached", "cancelled").
  std::map<std::string, int64_t> sla_outcomes;
  // Rejected handoffs by reason ("NONE" for a rejection without one).
  std::map<std::string, int64_t> rejections;
  int64_t accepted = 0;
  // Time from routing to first follow-up, in seconds, one per follow-up.
  std::vector<double> follow_up_seconds;
  // How long after its due time each timer fired, in seconds (wall-clock timers only).
  std::vector<double> timer_lateness_seconds;
};

// Observer receives what the processing loop did, once it is committed.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void Committed(const CommitStats& stats, absl::Duration took) = 0;
  // `stage` is "publish" or "store".
  virtual void CommitFailed(absl::string_view stage) = 0;
  virtual void CachedAccounts(size_t count) = 0;
};

}  // namespace baton::pipeline
