// ChangelogReader brings the local store up to the state changelog's committed end, partition by
// partition (DESIGN.md, invariants 3 and 4).
//
// For each partition it reads from the position the store records (the beginning when it has
// none) to the end a read_committed consumer sees, and hands the records to
// Processor::RestoreChangelog in batches. After a crash that is the one unit committed on the
// broker but not yet in the store; for a partition new to this instance it is the partition's
// whole compacted state. The consumer belongs to no group and commits nothing.
//
// Call it only once the transactional producer is registered (KafkaOutputSink::Ready): then no
// transaction of an earlier incarnation is still open, and the end is final.
//
// Thread-safety: the processing thread calls Restore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/kafka/settings.h"
#include "baton/pipeline/processor.h"
#include "librdkafka/rdkafkacpp.h"

namespace baton::kafka {

class ChangelogReader {
 public:
  // `stall_timeout` bounds how long reading may make no progress (a broker that is down).
  ChangelogReader(KafkaSettings settings, std::string topic,
                  absl::Duration stall_timeout = absl::Seconds(30));
  ~ChangelogReader();

  // Restore applies the tail of each partition's changelog to the store and returns how many
  // records it applied. kUnavailable: the broker or the store failed; retry later.
  // kFailedPrecondition: the changelog topic is missing or has too few partitions.
  absl::StatusOr<int64_t> Restore(const std::vector<int32_t>& partitions,
                                  pipeline::Processor& processor);

 private:
  absl::Status CheckTopic(int32_t highest_partition);

  KafkaSettings settings_;
  std::string topic_;
  absl::Duration stall_timeout_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace baton::kafka
