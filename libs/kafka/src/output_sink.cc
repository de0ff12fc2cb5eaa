#include "baton/kafka/output_sink.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace baton::kafka {
namespace {

using TopicPartitions = std::vector<RdKafka::TopicPartition*>;

int TimeoutMs(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

bool IsFenced(RdKafka::ErrorCode code) {
  return code == RdKafka::ERR__FENCED || code == RdKafka::ERR_PRODUCER_FENCED ||
         code == RdKafka::ERR_INVALID_PRODUCER_EPOCH;
}

// A record's delivery-report opaque is its sequence number, shifted left one bit, with the low
// bit set for a changelog record (so that its report updates the positions).
void* Opaque(uint64_t seq, bool changelog) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>((seq << 1) | (changelog ? 1 : 0)));
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
    // A transaction begun right after the last one commits finds the coordinator still writing
    // that one's markers (CONCURRENT_TRANSACTIONS) and retries after this backoff: librdkafka's
    // 100 ms default made that wait most of a unit's latency.
    defaults["retry.backoff.ms"] = "10";
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
  if (transactional() && !registered_) {
    if (absl::Status s = Register(); !s.ok()) return s;
  }
  if (!topics_learnt_) LearnTopics();
  return absl::OkStatus();
}

absl::Status KafkaOutputSink::Register() {
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

void KafkaOutputSink::LearnTopics() {
  // Tried once per producer, and given up at the first time-out: a topic not learnt here is
  // learnt on first use, only later.
  topics_learnt_ = true;
  const OutputTopics& t = options_.topics;
  for (const std::string* name :
       {&t.changelog, &t.routed_leads, &t.alerts, &t.dead_letter, &t.matched, &t.unmatched}) {
    std::string error;
    std::unique_ptr<RdKafka::Topic> topic(
        RdKafka::Topic::create(producer_.get(), *name, nullptr, error));
    if (!topic) continue;
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode err =
        producer_->metadata(/*all_topics=*/false, topic.get(), &raw, /*timeout_ms=*/2000);
    const std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err == RdKafka::ERR__TIMED_OUT || err == RdKafka::ERR__TRANSPORT) return;
    // A topic the broker does not know is not held: librdkafka would ask again every second.
    if (err == RdKafka::ERR_NO_ERROR && metadata->topics()->size() == 1 &&
        metadata->topics()->front()->err() == RdKafka::ERR_NO_ERROR) {
      known_topics_.push_back(std::move(topic));
    }
  }
}

void KafkaOutputSink::DropProducer() {
  if (producer_) {
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT |
                     RdKafka::Producer::PURGE_NON_BLOCKING);
    producer_->poll(0);
  }
  known_topics_.clear();
  topics_learnt_ = false;
  producer_.reset();
  registered_ = false;
  // No report comes from a destroyed producer.
  absl::MutexLock lock(&mu_);
  undelivered_.clear();
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
    case pipeline::OutboundRecord::Topic::kDeadLetter:
      break;
  }
  return options_.topics.dead_letter;
}

void KafkaOutputSink::dr_cb(RdKafka::Message& message) {
  const auto opaque = reinterpret_cast<uintptr_t>(message.msg_opaque());
  const uint64_t seq = opaque >> 1;
  absl::MutexLock lock(&mu_);
  undelivered_.erase(seq);
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    failures_.emplace(seq, absl::StrCat(message.topic_name(), ": ", message.errstr()));
    return;
  }
  if ((opaque & 1) != 0) {
    int64_t& next = positions_[message.partition()];
    next = std::max(next, message.offset() + 1);
  }
}

absl::Status KafkaOutputSink::ProduceOne(const std::string& topic, int32_t partition,
                                         absl::string_view key, const std::string* value,
                                         const std::vector<pipeline::Header>& headers,
                                         bool changelog) {
  RdKafka::Headers* kafka_headers = nullptr;
  if (!headers.empty()) {
    kafka_headers = RdKafka::Headers::create();
    for (const auto& h : headers) kafka_headers->add(h.key, h.value.data(), h.value.size());
  }
  // A tombstone has a null value; an empty value is a value.
  static const char kEmpty = 0;
  void* payload =
      value == nullptr ? nullptr : const_cast<char*>(value->empty() ? &kEmpty : value->data());
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    seq = ++last_seq_;
    undelivered_.insert(seq);
  }
  for (;;) {
    RdKafka::ErrorCode err = producer_->produce(
        topic,
        partition == pipeline::OutboundRecord::kAnyPartition ? RdKafka::Topic::PARTITION_UA
                                                             : partition,
        RdKafka::Producer::RK_MSG_COPY, payload, value == nullptr ? 0 : value->size(), key.data(),
        key.size(), /*timestamp=*/0, kafka_headers, Opaque(seq, changelog));
    if (err == RdKafka::ERR_NO_ERROR) return absl::OkStatus();  // it owns the headers now
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(50);
      continue;
    }
    delete kafka_headers;
    absl::MutexLock lock(&mu_);
    undelivered_.erase(seq);
    return absl::UnavailableError(
        absl::StrCat("producing to ", topic, ": ", RdKafka::err2str(err)));
  }
}

absl::StatusOr<uint64_t> KafkaOutputSink::Produce(absl::Span<pipeline::OutboundRecord> records) {
  for (const pipeline::OutboundRecord& record : records) {
    absl::Status s = ProduceOne(TopicOf(record.topic), record.partition, record.key,
                                record.tombstone ? nullptr : &record.value, record.headers,
                                /*changelog=*/false);
    if (!s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

absl::StatusOr<uint64_t> KafkaOutputSink::Produce(
    absl::Span<const pipeline::ChangelogEntry> changelog) {
  static const std::vector<pipeline::Header> kNoHeaders;
  for (const pipeline::ChangelogEntry& entry : changelog) {
    absl::Status s = ProduceOne(options_.topics.changelog, entry.partition, entry.key, entry.value,
                                kNoHeaders, /*changelog=*/true);
    if (!s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

absl::Status KafkaOutputSink::AwaitDelivery(uint64_t last) {
  // message.timeout.ms bounds how long a record may wait for its report.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (undelivered_.empty() || *undelivered_.begin() > last) break;
    }
    if (absl::Now() > deadline) {
      return absl::UnavailableError("records not acknowledged within 60 s");
    }
    // Serves reports; returns early once one is served on this thread.
    producer_->poll(5);
  }
  if (std::optional<std::string> failed = Undelivered(last)) {
    return absl::UnavailableError(*failed);
  }
  return absl::OkStatus();
}

std::optional<std::string> KafkaOutputSink::Undelivered(uint64_t last) {
  absl::MutexLock lock(&mu_);
  auto first = failures_.upper_bound(settled_);
  auto end = failures_.upper_bound(last);
  if (first == end) return std::nullopt;
  return absl::StrCat(std::distance(first, end), " records not delivered; first: ", first->second);
}

absl::Status KafkaOutputSink::Send(std::vector<pipeline::OutboundRecord>& records) {
  if (transactional()) return absl::InternalError("an exactly-once unit is sent whole");
  if (absl::Status s = Ready(); !s.ok()) return s;
  absl::StatusOr<uint64_t> sent = Produce(absl::MakeSpan(records));
  records.clear();
  return sent.status();
}

absl::StatusOr<pipeline::ChangelogPositions> KafkaOutputSink::Publish(
    std::vector<pipeline::OutboundRecord>& outputs,
    absl::Span<const pipeline::ChangelogEntry> changelog, const pipeline::Offsets& input_offsets) {
  // Reports count for the unit being published: its records, those it sent early, and any of the
  // next unit's produced before the wait (waiting for more is safe). Whatever happens to this
  // unit, the next one counts failures after the last record it waited for. (A record of a unit
  // rewound before it was published may fail the next unit once, which is then retried.)
  uint64_t last = 0;
  absl::Cleanup next_unit = [this, &last] {
    absl::MutexLock lock(&mu_);
    // Exactly-once, every record produced belongs to this unit's transaction, including those
    // of a transaction aborted half-way (whose purged records report failures).
    if (transactional()) last = last_seq_;
    settled_ = std::max(settled_, last);
    failures_.erase(failures_.begin(), failures_.upper_bound(settled_));
    positions_.clear();
  };
  if (absl::Status s = Ready(); !s.ok()) return s;
  if (transactional()) {
    if (absl::Status s = Transact(outputs, changelog, input_offsets, last); !s.ok()) return s;
  } else {
    // The outputs are acknowledged before any changelog record is sent: a crash in between
    // leaves a changelog that never holds state whose outputs were not delivered. The outputs'
    // wait also covers those sent early, even when none is staged here.
    absl::StatusOr<uint64_t> produced = Produce(absl::MakeSpan(outputs));
    if (!produced.ok()) return produced.status();
    last = *produced;
    if (absl::Status s = AwaitDelivery(last); !s.ok()) return s;
    produced = Produce(changelog);
    if (!produced.ok()) return produced.status();
    last = *produced;
    if (absl::Status s = AwaitDelivery(last); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return positions_;
}

absl::Status KafkaOutputSink::Transact(std::vector<pipeline::OutboundRecord>& outputs,
                                       absl::Span<const pipeline::ChangelogEntry> changelog,
                                       const pipeline::Offsets& input_offsets, uint64_t& last) {
  const int timeout_ms = TimeoutMs(options_.operation_timeout);
  if (!input_offsets.empty() && consumer_ == nullptr) {
    return absl::InternalError("no consumer bound to the sink");
  }
  if (std::unique_ptr<RdKafka::Error> e(producer_->begin_transaction()); e) {
    return TransactionFailed("beginning a transaction", std::move(e));
  }
  absl::StatusOr<uint64_t> produced = Produce(absl::MakeSpan(outputs));
  if (produced.ok()) produced = Produce(changelog);
  if (!produced.ok()) {
    std::unique_ptr<RdKafka::Error> e(producer_->abort_transaction(timeout_ms));
    if (e) DropProducer();
    return produced.status();
  }
  last = *produced;
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
  // Cannot happen after a successful commit; never count on it silently.
  if (std::optional<std::string> failed = Undelivered(last)) {
    return absl::InternalError(absl::StrCat("transaction committed, but ", *failed));
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
