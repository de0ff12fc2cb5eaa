// KafkaOutputSink publishes Baton's outputs (routed leads, alerts, dead letters) with an
// idempotent producer, implementing pipeline::OutputSink: Publish returns once the broker has
// acknowledged every record (acks=all), or with an error if any record failed.
//
// Thread-safety: the processing thread calls Publish; librdkafka's threads deliver reports,
// which are served inside Publish.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
};

class KafkaOutputSink final : public pipeline::OutputSink, private RdKafka::DeliveryReportCb {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaOutputSink>> Create(const KafkaSettings& settings,
                                                                 OutputTopics topics);
  ~KafkaOutputSink() override;

  absl::Status Publish(std::vector<pipeline::OutboundRecord>& records) override;

 private:
  explicit KafkaOutputSink(OutputTopics topics) : topics_(std::move(topics)) {}
  void dr_cb(RdKafka::Message& message) override;
  const std::string& TopicOf(pipeline::OutboundRecord::Topic topic) const;

  OutputTopics topics_;
  std::unique_ptr<RdKafka::Producer> producer_;
  int failed_ = 0;
  std::string first_error_;
};

}  // namespace baton::kafka
