#include "baton/kafka/settings.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace baton::kafka {

namespace {

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> Build(const KafkaSettings& settings,
                                                     const Properties& defaults, bool consumer) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Properties all = defaults;
  all["bootstrap.servers"] = settings.brokers;
  for (const auto& [key, value] : settings.properties) all[key] = value;
  if (consumer) {
    for (const auto& [key, value] : settings.consumer_properties) all[key] = value;
  }
  for (const auto& [key, value] : all) {
    std::string error;
    if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK) {
      // The value may be a secret (sasl.password): name the property, never the value.
      return absl::InvalidArgumentError(absl::StrCat("Kafka property '", key, "': ", error));
    }
  }
  return conf;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaSettings& settings,
                                                        const Properties& defaults) {
  return Build(settings, defaults, /*consumer=*/false);
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConsumerConf(const KafkaSettings& settings,
                                                                const Properties& defaults) {
  return Build(settings, defaults, /*consumer=*/true);
}

}  // namespace baton::kafka
