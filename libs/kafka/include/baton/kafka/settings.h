// Kafka client settings: the bootstrap servers and librdkafka properties passed through from the
// command line (`-X key=value`), e.g. security.protocol, ssl.*, sasl.* for TLS and SASL.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "librdkafka/rdkafkacpp.h"

namespace baton::kafka {

using Properties = std::map<std::string, std::string>;

struct KafkaSettings {
  std::string brokers;
  // Applied after Baton's defaults, so an operator can override any of them.
  Properties properties;
  // Applied to consumers only, after `properties`.
  Properties consumer_properties;
};

// MakeConf builds a librdkafka configuration from `defaults`, then the bootstrap servers, then
// the operator's properties. An unknown property or bad value is an error naming it.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaSettings& settings,
                                                        const Properties& defaults);
// MakeConsumerConf is MakeConf plus settings.consumer_properties.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConsumerConf(const KafkaSettings& settings,
                                                                const Properties& defaults);

}  // namespace baton::kafka
