#include "baton/kafka/output_sink.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace baton::kafka {

absl::StatusOr<std::unique_ptr<KafkaOutputSink>> KafkaOutputSink::Create(
    const KafkaSettings& settings, OutputTopics topics) {
  auto conf = MakeConf(settings, {
                                     {"enable.idempotence", "true"},
                                     {"acks", "all"},
                                     {"linger.ms", "5"},
                                     {"partitioner", "murmur2_random"},
                                     {"message.timeout.ms", "30000"},
                                 });
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaOutputSink> sink(new KafkaOutputSink(std::move(topics)));
  std::string error;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(sink.get()), error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  sink->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!sink->producer_) return absl::InvalidArgumentError(absl::StrCat("producer: ", error));
  return sink;
}

KafkaOutputSink::~KafkaOutputSink() {
  if (producer_) producer_->flush(5000);
}

const std::string& KafkaOutputSink::TopicOf(pipeline::OutboundRecord::Topic topic) const {
  switch (topic) {
    case pipeline::OutboundRecord::Topic::kRoutedLeads:
      return topics_.routed_leads;
    case pipeline::OutboundRecord::Topic::kAlerts:
      return topics_.alerts;
    case pipeline::OutboundRecord::Topic::kMatched:
      return topics_.matched;
    case pipeline::OutboundRecord::Topic::kUnmatched:
      return topics_.unmatched;
    case pipeline::OutboundRecord::Topic::kDeadLetter:
      break;
  }
  return topics_.dead_letter;
}

void KafkaOutputSink::dr_cb(RdKafka::Message& message) {
  if (message.err() == RdKafka::ERR_NO_ERROR) return;
  if (failed_++ == 0) {
    first_error_ = absl::StrCat(message.topic_name(), ": ", message.errstr());
  }
}

absl::Status KafkaOutputSink::Publish(std::vector<pipeline::OutboundRecord>& records) {
  failed_ = 0;
  first_error_.clear();
  for (pipeline::OutboundRecord& record : records) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    for (const auto& h : record.headers) headers->add(h.key, h.value.data(), h.value.size());
    for (;;) {
      RdKafka::ErrorCode err = producer_->produce(
          TopicOf(record.topic), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          record.value.data(), record.value.size(), record.key.data(), record.key.size(),
          /*timestamp=*/0, headers, /*msg_opaque=*/nullptr);
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
  // flush() serves delivery reports; message.timeout.ms bounds how long a record may wait.
  RdKafka::ErrorCode err = producer_->flush(60'000);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("flushing outputs: ", RdKafka::err2str(err)));
  }
  if (failed_ > 0) {
    return absl::UnavailableError(absl::StrCat(failed_, " of ", records.size(),
                                               " outputs not delivered; first: ", first_error_));
  }
  return absl::OkStatus();
}

}  // namespace baton::kafka
