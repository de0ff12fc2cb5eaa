#include "baton/kafka/processing_loop.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "librdkafka/rdkafka.h"
#include "spdlog/spdlog.h"

namespace baton::kafka {
namespace {

using TopicPartitions = std::vector<RdKafka::TopicPartition*>;

// OwnedPartitions frees a librdkafka partition list when it goes out of scope.
struct OwnedPartitions {
  TopicPartitions list;
  ~OwnedPartitions() { RdKafka::TopicPartition::destroy(list); }
};

std::vector<pipeline::TopicPartition> ToPipeline(const TopicPartitions& partitions) {
  std::vector<pipeline::TopicPartition> out;
  out.reserve(partitions.size());
  for (const auto* tp : partitions) out.push_back({tp->topic(), tp->partition()});
  return out;
}

// PartitionNumbers is the distinct partition numbers of an assignment: the co-partitioned
// inputs share them, and state, timers and the changelog are kept by number.
std::vector<int32_t> PartitionNumbers(const std::vector<pipeline::TopicPartition>& assignment) {
  std::vector<int32_t> numbers;
  for (const auto& tp : assignment) numbers.push_back(tp.partition);
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  return numbers;
}

// Record fills an InputRecord with views into `message` (no copies).
pipeline::InputRecord Record(RdKafka::Message& message) {
  rd_kafka_message_t* m = message.c_ptr();
  pipeline::InputRecord record;
  record.topic = rd_kafka_topic_name(m->rkt);
  record.partition = m->partition;
  record.offset = m->offset;
  record.key = absl::string_view(static_cast<const char*>(m->key), m->key_len);
  record.value = absl::string_view(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      record.headers.push_back(
          {name, absl::string_view(static_cast<const char*>(value), value ? size : 0)});
    }
  }
  return record;
}

}  // namespace

ProcessingLoop::ProcessingLoop(LoopOptions options, KafkaSettings settings,
                               pipeline::Processor& processor, KafkaOutputSink& sink,
                               LoopListener listener)
    : options_(std::move(options)),
      settings_(std::move(settings)),
      processor_(processor),
      sink_(sink),
      changelog_(settings_, options_.changelog_topic),
      listener_(std::move(listener)),
      early_commits_(!sink_.SendsEarly()) {}

ProcessingLoop::~ProcessingLoop() = default;

absl::Status ProcessingLoop::Run(const std::atomic<bool>& stop) {
  auto conf = MakeConsumerConf(settings_, {
                                              {"group.id", options_.group_id},
                                              {"enable.auto.commit", "false"},
                                              {"enable.auto.offset.store", "false"},
                                              {"auto.offset.reset", "earliest"},
                                              {"partition.assignment.strategy", "range"},
                                              {"isolation.level", "read_committed"},
                                              {"enable.partition.eof", "false"},
                                              // Bounded prefetch (DESIGN.md, invariant 8): one
                                              // queue for all partitions. 2 MiB starved the loop
                                              // between fetches (-15% end to end).
                                              {"queued.max.messages.kbytes", "8192"},
                                              // librdkafka has one fetch per broker in
                                              // flight, and a partition started while it is
                                              // out waits for it; the broker holds a fetch
                                              // that finds nothing this long. With the 500 ms
                                              // default, new input after a restart or a
                                              // rebalance waited that long one time in three.
                                              {"fetch.wait.max.ms", "50"},
                                          });
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer_) return absl::InvalidArgumentError(absl::StrCat("consumer: ", error));
  sink_.BindConsumer(consumer_.get());
  RdKafka::ErrorCode err =
      consumer_->subscribe({options_.engagement_topic, options_.crm_topic, options_.matched_topic});
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat("subscribe: ", RdKafka::err2str(err)));
  }
  spdlog::info("consuming {} and {} as group {}", options_.engagement_topic, options_.crm_topic,
               options_.group_id);
  listener_.healthy(true);

  absl::Time next_commit = absl::Now() + options_.commit_interval;
  absl::Time unit_opened = absl::InfiniteFuture();  // when the unit's first record came
  while (!stop.load(std::memory_order_relaxed) && fatal_.ok()) {
    listener_.between_records();
    if (Landed()) Settle();
    const absl::Time now = absl::Now();
    if (faulted_ && now >= retry_at_) {
      if (absl::Status s = Reassign(); s.ok()) {
        faulted_ = false;
        listener_.healthy(true);
        spdlog::info("resuming after fault; re-reading from the stored offsets");
      } else {
        Fault("resuming", s);
      }
    }
    absl::Time deadline = faulted_ ? retry_at_ : next_commit;
    if (processor_.PendingEvents() == 0) unit_opened = absl::InfiniteFuture();
    // With records in hand, wait no longer than until the unit may commit early.
    if (!faulted_ && early_commits_) {
      deadline = std::min(deadline, unit_opened + options_.min_commit_interval);
    }
    // While a unit lands, look in on it every millisecond, so that the next one is sealed as
    // soon as it may be.
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(deadline - now), landing_.valid() ? 1 : 0, 100));
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (faulted_) break;  // paused; a message already in flight is re-read after the rewind
        if (processor_.PendingEvents() == 0) unit_opened = absl::Now();
        if (absl::Status s = processor_.Process(Record(*message)); !s.ok()) {
          if (s.code() == absl::StatusCode::kDataLoss) {
            fatal_ = s;
          } else {
            Fault("reading state", s);
          }
        } else if (absl::Status sent = processor_.SendOutputs(sink_); !sent.ok()) {
          Fault("sending outputs", sent);  // at-least-once: outputs go out as they are made
        }
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      case RdKafka::ERR__FATAL:
        fatal_ = absl::InternalError(absl::StrCat("Kafka consumer: ", message->errstr()));
        break;
      default:
        // Transport errors and the like: librdkafka retries by itself.
        spdlog::warn("consumer: {}", message->errstr());
        break;
    }
    // The unit in hand keeps taking records while the one before it lands (and commits as soon
    // as that one has landed): processing never waits for the broker, except at the size cap.
    const bool busy = landing_.valid() && !Landed();
    const bool tick = !busy && absl::Now() >= next_commit;
    // Adaptive: once the consumer has nothing more to hand out (the inputs are caught up), a
    // unit at least min_commit_interval old commits at once instead of waiting for the tick.
    // Under a backlog the consumer always has records, and units stay commit_interval long.
    // At-least-once outputs are out before their unit commits, so an early commit would only
    // cost the broker work: units there commit on the tick.
    const bool caught_up = !busy && early_commits_ && message->err() == RdKafka::ERR__TIMED_OUT &&
                           absl::Now() >= unit_opened + options_.min_commit_interval;
    if (tick && !faulted_ && !assignment_.empty()) {
      // Timers fire on the clock even when no event arrives (DESIGN.md, invariant 6); what they
      // emit commits with this unit.
      if (absl::Status s = processor_.ExpireTimers(PartitionNumbers(assignment_), absl::Now());
          !s.ok()) {
        Fault("expiring timers", s);
      }
    }
    if (!faulted_ && processor_.HasPending() &&
        (tick || caught_up || processor_.PendingEvents() >= options_.max_unit_events)) {
      CommitUnit();
      next_commit = absl::Now() + options_.commit_interval;
    } else if (tick) {
      next_commit = absl::Now() + options_.commit_interval;
    }
  }
  if (!fatal_.ok()) {
    Abandon();
    spdlog::error("stopping: {}", std::string(fatal_.message()));
    consumer_->close();
    sink_.BindConsumer(nullptr);
    return fatal_;
  }
  spdlog::info("stopping: committing and leaving the group");
  if (!faulted_) CommitUnit(/*wait=*/true);
  Abandon();
  consumer_->close();  // revokes the assignment (committing nothing more) and leaves the group
  sink_.BindConsumer(nullptr);
  consumer_.reset();
  return absl::OkStatus();
}

void ProcessingLoop::CommitUnit(bool wait) {
  if (!Settle() || !processor_.HasPending()) return;
  // The unit lands on a committer thread while this one goes on with the next unit: the broker's
  // acknowledgements and the store's write no longer stall consumption.
  landing_unit_.emplace(processor_.Seal());
  landing_ =
      std::async(std::launch::async, [this] { return processor_.Land(*landing_unit_, sink_); });
  if (wait) Settle();
}

bool ProcessingLoop::Landed() const {
  return landing_.valid() &&
         landing_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

absl::StatusOr<pipeline::Offsets> ProcessingLoop::TakeLanded() {
  const absl::Status landed = landing_.get();
  absl::StatusOr<pipeline::Offsets> offsets = processor_.Finish(*landing_unit_, landed);
  landing_unit_.reset();
  return offsets;
}

bool ProcessingLoop::Settle() {
  if (!landing_.valid()) return true;
  absl::StatusOr<pipeline::Offsets> offsets = TakeLanded();
  if (!offsets.ok()) {
    Fault("committing", offsets.status());
    return false;
  }
  backoff_ = absl::ZeroDuration();
  FollowStore(*offsets);
  return true;
}

void ProcessingLoop::FollowStore(const pipeline::Offsets& offsets) {
  // At-least-once: the group's committed offsets follow the store's, for lag monitoring.
  // Exactly-once committed them in the unit's transaction.
  if (offsets.empty() || sink_.transactional()) return;
  OwnedPartitions commit;
  for (const auto& [tp, offset] : offsets) {
    commit.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  }
  if (RdKafka::ErrorCode err = consumer_->commitAsync(commit.list); err != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("committing group offsets: {}", RdKafka::err2str(err));
  }
}

void ProcessingLoop::Abandon() {
  // Whichever way it went, the store holds all of the unit or none of it.
  if (landing_.valid()) (void)TakeLanded();
}

void ProcessingLoop::Fault(absl::string_view what, const absl::Status& status) {
  Abandon();  // the rewind below re-reads from the store, so the landing unit must be done
  if (status.code() == absl::StatusCode::kFailedPrecondition ||
      status.code() == absl::StatusCode::kDataLoss) {
    fatal_ = status;  // fenced, or corrupt state: retrying cannot help
    return;
  }
  backoff_ = std::min(options_.max_backoff, std::max(absl::Milliseconds(250), backoff_ * 2));
  spdlog::error("{} failed, retrying in {}: {}", std::string(what), absl::FormatDuration(backoff_),
                std::string(status.message()));
  processor_.Rewind();
  faulted_ = true;
  retry_at_ = absl::Now() + backoff_;
  listener_.healthy(false);
  OwnedPartitions paused;
  for (const auto& tp : assignment_) {
    paused.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  }
  consumer_->pause(paused.list);
}

absl::Status ProcessingLoop::Reassign() {
  if (absl::Status s = sink_.Ready(); !s.ok()) return s;
  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> restored = changelog_.Restore(PartitionNumbers(assignment_), processor_);
  if (!restored.ok()) return restored.status();
  const absl::Duration took = absl::Now() - start;
  listener_.restored(*restored, took);
  if (*restored > 0) {
    spdlog::info("restored {} changelog records into the store in {}", *restored,
                 absl::FormatDuration(took));
  }
  OwnedPartitions partitions;
  pipeline::Offsets stored;
  for (const auto& tp : assignment_) {
    absl::StatusOr<std::optional<int64_t>> offset = processor_.ResumeOffset(tp);
    if (!offset.ok()) return offset.status();
    if (offset->has_value()) stored[tp] = **offset;
    partitions.list.push_back(RdKafka::TopicPartition::create(
        tp.topic, tp.partition, offset->value_or(RdKafka::Topic::OFFSET_INVALID)));
  }
  // Resume what a fault paused before assigning, never after. librdkafka drops a partition
  // operation older than one it has already served, and its own thread starts the new
  // assignment's fetch once the old one has stopped: a resume made just after assign() can lose
  // that race and be dropped, leaving the partition paused for good with nothing read from it.
  // Resumed first, every operation of the new assignment (stop, then start at the stored offset)
  // comes after the resume, and anything fetched in between is discarded as outdated.
  consumer_->resume(partitions.list);
  if (RdKafka::ErrorCode err = consumer_->assign(partitions.list); err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("assign: ", RdKafka::err2str(err)));
  }
  // A crash between a unit's store write and its group commit left the group behind the store;
  // with no new input it would stay behind.
  FollowStore(stored);
  return absl::OkStatus();
}

void ProcessingLoop::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                  TopicPartitions& partitions) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    Settle();
    assignment_ = ToPipeline(partitions);
    if (absl::Status s = Reassign(); !s.ok()) {
      // Without its stored offsets a partition cannot start safely; retry like any fault.
      Fault("assigning partitions", s);
    }
    spdlog::info("assigned {} partitions", partitions.size());
    listener_.assigned_partitions(partitions.size());
    return;
  }
  // Revocation (or an error): commit what was processed while we still own it, then let go.
  if (faulted_) {
    Abandon();
  } else {
    CommitUnit(/*wait=*/true);
  }
  processor_.Rewind();  // anything left uncommitted is re-read by the next owner
  processor_.ForgetPartitions(ToPipeline(partitions));
  consumer->unassign();
  assignment_.clear();
  faulted_ = false;
  listener_.assigned_partitions(0);
  spdlog::info("revoked {} partitions", partitions.size());
}

}  // namespace baton::kafka
