#include "baton/kafka/changelog_reader.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace baton::kafka {
namespace {

// Records applied to the store per batch while restoring.
constexpr size_t kBatchRecords = 20'000;

}  // namespace

ChangelogReader::ChangelogReader(KafkaSettings settings, std::string topic,
                                 absl::Duration stall_timeout)
    : settings_(std::move(settings)), topic_(std::move(topic)), stall_timeout_(stall_timeout) {
  // The processing consumer's static membership does not apply to a reader.
  settings_.properties.erase("group.instance.id");
  settings_.consumer_properties.erase("group.instance.id");
}

ChangelogReader::~ChangelogReader() {
  if (consumer_) consumer_->close();
}

absl::Status ChangelogReader::CheckTopic(int32_t highest_partition) {
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = consumer_->metadata(/*all_topics=*/true, nullptr, &raw, 10'000);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("changelog reader: reading metadata: ", RdKafka::err2str(err)));
  }
  for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
    if (topic->topic() != topic_ || topic->err() != RdKafka::ERR_NO_ERROR) continue;
    const auto count = static_cast<int32_t>(topic->partitions()->size());
    if (count > highest_partition) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("changelog topic ", topic_, " has ", count, " partitions; partition ",
                     highest_partition, " is assigned: give it the inputs' partition count"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "changelog topic ", topic_,
      " does not exist: create it compacted (cleanup.policy=compact), with the inputs' "
      "partition count"));
}

absl::StatusOr<int64_t> ChangelogReader::Restore(const std::vector<int32_t>& partitions,
                                                 pipeline::Processor& processor) {
  if (partitions.empty()) return 0;
  if (!consumer_) {
    // A group id is required by the client; the reader only assigns, so it never joins it.
    auto conf = MakeConsumerConf(settings_, {
                                                {"group.id", "baton-changelog-reader"},
                                                {"enable.auto.commit", "false"},
                                                {"enable.auto.offset.store", "false"},
                                                {"enable.partition.eof", "true"},
                                                // The end of a partition is only known from a
                                                // fetch that finds nothing more, which the
                                                // broker holds this long (librdkafka's default:
                                                // 500 ms, once or twice per restore).
                                                {"fetch.wait.max.ms", "10"},
                                                {"isolation.level", "read_committed"},
                                                {"auto.offset.reset", "earliest"},
                                            });
    if (!conf.ok()) return conf.status();
    std::string error;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
    if (!consumer_) return absl::InvalidArgumentError(absl::StrCat("changelog reader: ", error));
  }

  if (absl::Status s = CheckTopic(*std::max_element(partitions.begin(), partitions.end())); !s.ok())
    return s;

  struct Pending {
    std::vector<pipeline::ChangelogRecord> records;
    int64_t next = 0;
  };
  std::map<int32_t, Pending> pending;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int32_t p : partitions) {
    absl::StatusOr<std::optional<int64_t>> from = processor.ChangelogPosition(p);
    if (!from.ok()) return from.status();
    pending[p].next = from->value_or(0);
    assignment.push_back(RdKafka::TopicPartition::create(
        topic_, p, from->value_or(RdKafka::Topic::OFFSET_BEGINNING)));
  }
  RdKafka::ErrorCode err = consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("changelog reader: assign: ", RdKafka::err2str(err)));
  }

  int64_t applied = 0;
  absl::Status status;
  auto flush = [&](int32_t p, Pending& part) {
    if (!status.ok()) return;
    status = processor.RestoreChangelog(p, part.records, part.next);
    applied += static_cast<int64_t>(part.records.size());
    part.records.clear();
  };
  absl::Time progress = absl::Now();
  while (!pending.empty() && status.ok()) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    const int32_t p = message->partition();
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR: {
        progress = absl::Now();
        auto it = pending.find(p);
        if (it == pending.end()) break;
        pipeline::ChangelogRecord record;
        if (message->key() != nullptr) record.key = *message->key();
        if (message->payload() != nullptr) {
          record.value.emplace(static_cast<const char*>(message->payload()), message->len());
        }
        it->second.records.push_back(std::move(record));
        it->second.next = message->offset() + 1;
        if (it->second.records.size() >= kBatchRecords) flush(p, it->second);
        break;
      }
      case RdKafka::ERR__PARTITION_EOF: {
        progress = absl::Now();
        auto it = pending.find(p);
        if (it == pending.end()) break;
        // The end may lie past the last record (a transaction marker): start there next time.
        it->second.next = std::max(it->second.next, message->offset());
        flush(p, it->second);
        pending.erase(it);
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
        break;
      case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      case RdKafka::ERR__UNKNOWN_TOPIC:
      case RdKafka::ERR__UNKNOWN_PARTITION:
        status = absl::UnavailableError(
            absl::StrCat("changelog topic ", topic_, " partition ", p,
                         " does not exist: create it compacted, with the inputs' partition count"));
        break;
      default:
        spdlog::warn("changelog reader: {}", message->errstr());
        break;
    }
    if (status.ok() && absl::Now() - progress > stall_timeout_) {
      status = absl::UnavailableError(absl::StrCat(
          "reading changelog ", topic_, ": no progress in ", absl::FormatDuration(stall_timeout_)));
    }
  }
  consumer_->unassign();
  if (!status.ok()) return status;
  return applied;
}

}  // namespace baton::kafka
