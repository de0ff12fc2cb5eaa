#include "baton/kafka/output_sink.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace baton::kafka {
namespace {

// The opaque of a changelog record, so that its delivery report updates the positions.
char kChangelogRecord;

using TopicPartitions = std::vector<RdKafka::TopicPartition*>;

int TimeoutMs(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

bool IsFenced(RdKafka::ErrorCode code) {
  return code == RdKafka::ERR__FENCED || code == RdKafka::ERR_PRODUCER_FENCED ||
         code == RdKafka::ERR_INVALID_PRODUCER_EPOCH;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaOutputSink>> KafkaOutputSink::Create(
    const KafkaSettings& settings, SinkOptions options) {
  if (options.guarantee == Guarantee::kExactlyOnce && options.transactional_id.empty()) {
    return absl::InvalidArgumentError("exactly-once needs a transactional id");
  }
  std::unique_ptr<KafkaOutputSink> sink(new KafkaOutputSink(settings, std::move(options)));
  // A bad property stops start-up here; the broker is first needed by Ready().
  if (absl::Status s = sink->CreateProducer(); !s.ok()) return s;
  return sink;
}

KafkaOutputSink::~KafkaOutputSink() {
  if (producer_ && !transactional()) producer_->flush(5000);
}

absl::Status KafkaOutputSink::CreateProducer() {
  Properties defaults = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // At-least-once sends each output as it is made: wait at most 1 ms to batch it.
      {"linger.ms", transactional() ? "5" : "1"},
      {"partitioner", "murmur2_random"},
      {"message.timeout.ms", "30000"},
      // A hot account's stored record may pass 1 MB; the changelog topic allows 8 MiB.
      {"message.max.bytes", "8388608"},
  };
  if (transactional()) {
    defaults["transactional.id"] = options_.transactional_id;
    defaults["transaction.timeout.ms"] = "60000";
  }
  auto conf = MakeConf(settings_, defaults);
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!producer_) return absl::InvalidArgumentError(absl::StrCat("producer: ", error));
  registered_ = false;
  return absl::OkStatus();
}

absl::Status KafkaOutputSink::Ready() {
  if (!fenced_.ok()) return fenced_;
  if (!producer_) {
    if (absl::Status s = CreateProducer(); !s.ok()) return s;
  }
  if (!transactional() || registered_) return absl::OkStatus();
  // Registering fences an older producer with this id and completes or aborts its open
  // transaction: after this, the changelog's committed end is final.
  std::unique_ptr<RdKafka::Error> error(
      producer_->init_transactions(TimeoutMs(options_.operation_timeout)));
  if (error) {
    if (IsFenced(error->code())) {
      fenced_ = absl::FailedPreconditionError(absl::StrCat(
          "fenced: another producer registered transactional id ", options_.transactional_id));
      return fenced_;
    }
    const std::string what = error->str();
    // A timed-out registration may be retried on the same producer; anything else starts over.
    if (!error->is_retriable()) DropProducer();
    return absl::UnavailableError(absl::StrCat("registering the transactional producer: ", what));
  }
  registered_ = true;
  spdlog::info("transactional producer registered as {}", options_.transactional_id);
  return absl::OkStatus();
}

void KafkaOutputSink::DropProducer() {
  if (producer_) {
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT |
                     RdKafka::Producer::PURGE_NON_BLOCKING);
    producer_->poll(0);
  }
  producer_.reset();
  registered_ = false;
}

const std::string& KafkaOutputSink::TopicOf(pipeline::OutboundRecord::Topic topic) const {
  switch (topic) {
    case pipeline::OutboundRecord::Topic::kRoutedLeads:
      return options_.topics.routed_leads;
    case pipeline::OutboundRecord::Topic::kAlerts:
      return options_.topics.alerts;
    case pipeline::OutboundRecord::Topic::kMatched:
      return options_.topics.matched;
    case pipeline::OutboundRecord::Topic::kUnmatched:
      return options_.topics.unmatched;
    case pipeline::OutboundRecord::Topic::kChangelog:
      return options_.topics.changelog;
    case pipeline::OutboundRecord::Topic::kDeadLetter:
      break;
  }
  return options_.topics.dead_letter;
}

void KafkaOutputSink::dr_cb(RdKafka::Message& message) {
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    if (failed_++ == 0) {
      first_error_ = absl::StrCat(message.topic_name(), ": ", message.errstr());
    }
    return;
  }
  if (message.msg_opaque() == &kChangelogRecord) {
    int64_t& next = positions_[message.partition()];
    next = std::max(next, message.offset() + 1);
  }
}

absl::Status KafkaOutputSink::Produce(absl::Span<pipeline::OutboundRecord> records) {
  for (pipeline::OutboundRecord& record : records) {
    const bool changelog = record.topic == pipeline::OutboundRecord::Topic::kChangelog;
    RdKafka::Headers* headers = nullptr;
    if (!record.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& h : record.headers) headers->add(h.key, h.value.data(), h.value.size());
    }
    // A tombstone has a null value; an empty value is a value.
    static const char kEmpty = 0;
    void* value = record.tombstone
                      ? nullptr
                      : const_cast<char*>(record.value.empty() ? &kEmpty : record.value.data());
    for (;;) {
      RdKafka::ErrorCode err = producer_->produce(
          TopicOf(record.topic),
          record.partition == pipeline::OutboundRecord::kAnyPartition ? RdKafka::Topic::PARTITION_UA
                                                                      : record.partition,
          RdKafka::Producer::RK_MSG_COPY, value, record.tombstone ? 0 : record.value.size(),
          record.key.data(), record.key.size(), /*timestamp=*/0, headers,
          changelog ? &kChangelogRecord : nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;  // the producer owns `headers` now
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer_->poll(50);
        continue;
      }
      delete headers;
      return absl::UnavailableError(
          absl::StrCat("producing to ", TopicOf(record.topic), ": ", RdKafka::err2str(err)));
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaOutputSink::Send(std::vector<pipeline::OutboundRecord>& records) {
  if (transactional()) return absl::InternalError("an exactly-once unit is sent whole");
  if (absl::Status s = Ready(); !s.ok()) return s;
  absl::Status s = Produce(absl::MakeSpan(records));
  records.clear();
  return s;
}

absl::StatusOr<pipeline::ChangelogPositions> KafkaOutputSink::Publish(
    std::vector<pipeline::OutboundRecord>& records, const pipeline::Offsets& input_offsets) {
  // Delivery reports count for the unit being published, including those of its records sent
  // early; the next unit starts afresh whatever happens to this one. (A unit rewound before it
  // was published leaves its reports to the next unit, which at worst fails once and is retried.)
  absl::Cleanup next_unit = [this] {
    failed_ = 0;
    first_error_.clear();
    positions_.clear();
  };
  if (absl::Status s = Ready(); !s.ok()) return s;
  if (transactional()) {
    if (absl::Status s = Transact(records, input_offsets); !s.ok()) return s;
    return std::move(positions_);
  }
  // The outputs are acknowledged before any changelog record is sent: a crash in between
  // leaves a changelog that never holds state whose outputs were not delivered.
  auto changelog = std::stable_partition(records.begin(), records.end(), [](const auto& r) {
    return r.topic != pipeline::OutboundRecord::Topic::kChangelog;
  });
  const auto split = static_cast<size_t>(changelog - records.begin());
  absl::Span<pipeline::OutboundRecord> all(records);
  // Each part is flushed even when empty: the outputs' flush also waits for those sent early,
  // and a flush with nothing outstanding returns at once.
  for (absl::Span<pipeline::OutboundRecord> part : {all.subspan(0, split), all.subspan(split)}) {
    if (absl::Status s = Produce(part); !s.ok()) return s;
    // flush() serves delivery reports; message.timeout.ms bounds how long a record may wait.
    RdKafka::ErrorCode err = producer_->flush(60'000);
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("flushing: ", RdKafka::err2str(err)));
    }
    if (failed_ > 0) {
      return absl::UnavailableError(
          absl::StrCat(failed_, " records not delivered; first: ", first_error_));
    }
  }
  return std::move(positions_);
}

absl::Status KafkaOutputSink::Transact(std::vector<pipeline::OutboundRecord>& records,
                                       const pipeline::Offsets& input_offsets) {
  const int timeout_ms = TimeoutMs(options_.operation_timeout);
  if (!input_offsets.empty() && consumer_ == nullptr) {
    return absl::InternalError("no consumer bound to the sink");
  }
  if (std::unique_ptr<RdKafka::Error> e(producer_->begin_transaction()); e) {
    return TransactionFailed("beginning a transaction", std::move(e));
  }
  if (absl::Status s = Produce(absl::MakeSpan(records)); !s.ok()) {
    std::unique_ptr<RdKafka::Error> e(producer_->abort_transaction(timeout_ms));
    if (e) DropProducer();
    return s;
  }
  if (!input_offsets.empty()) {
    TopicPartitions offsets;
    for (const auto& [tp, offset] : input_offsets) {
      offsets.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
    }
    std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer_->groupMetadata());
    std::unique_ptr<RdKafka::Error> e(
        producer_->send_offsets_to_transaction(offsets, group.get(), timeout_ms));
    RdKafka::TopicPartition::destroy(offsets);
    if (e) return TransactionFailed("sending input offsets to the transaction", std::move(e));
  }
  // Commit flushes the records first. A retriable failure leaves the outcome unknown: retry.
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<RdKafka::Error> e(producer_->commit_transaction(timeout_ms));
    if (!e) break;
    if (e->is_retriable() && attempt < 3) {
      spdlog::warn("committing the transaction (attempt {}): {}", attempt, e->str());
      continue;
    }
    return TransactionFailed("committing the transaction", std::move(e));
  }
  if (failed_ > 0) {  // cannot happen after a successful commit; never count on it silently
    return absl::InternalError(absl::StrCat("transaction committed with ", failed_,
                                            " failed records; first: ", first_error_));
  }
  return absl::OkStatus();
}

absl::Status KafkaOutputSink::TransactionFailed(absl::string_view step,
                                                std::unique_ptr<RdKafka::Error> error) {
  const std::string what = absl::StrCat(step, ": ", error->str());
  if (IsFenced(error->code())) {
    DropProducer();
    fenced_ = absl::FailedPreconditionError(
        absl::StrCat("fenced: another producer registered transactional id ",
                     options_.transactional_id, " (", what, ")"));
    return fenced_;
  }
  if (error->txn_requires_abort() && !error->is_fatal()) {
    std::unique_ptr<RdKafka::Error> abort(
        producer_->abort_transaction(TimeoutMs(options_.operation_timeout)));
    if (!abort) return absl::UnavailableError(absl::StrCat(what, "; transaction aborted"));
    if (IsFenced(abort->code())) return TransactionFailed(step, std::move(abort));
  }
  // The outcome is unknown or the producer unusable: a new producer's registration settles the
  // old transaction before anything is read back.
  DropProducer();
  return absl::UnavailableError(absl::StrCat(what, "; producer restarted"));
}

}  // namespace baton::kafka
