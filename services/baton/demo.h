// The embedded demo: what `baton` does when started without --brokers. It feeds a scenario
// (by default the bundled deploy/demo/scenario.jsonl) into the input topics of the embedded
// cluster and prints every routed lead, alert and dead letter as it appears, one line each.
//
// Thread-safety: Demo runs its feeder and printer on two threads of its own; Start and Join are
// called from the main thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/kafka/output_sink.h"
#include "baton/kafka/settings.h"

namespace baton::demo {

extern const char* const kBundledScenario;
// The bundled default rule file, deploy/rules/default.yaml.
extern const char* const kDefaultRules;

// ScenarioMessage is one input message ready to produce.
struct ScenarioMessage {
  bool engagement = true;
  std::string key;
  std::string value;
  std::string content_type;
};

// ParseScenario turns scenario text (JSON lines; blank and '#' lines ignored) into messages,
// shifting every event_time by one offset so the latest event lands at `latest`. Errors name
// the line.
absl::StatusOr<std::vector<ScenarioMessage>> ParseScenario(const std::string& text,
                                                           absl::Time latest);

struct DemoOptions {
  kafka::KafkaSettings kafka;
  std::string engagement_topic;
  std::string crm_topic;
  kafka::OutputTopics outputs;
  std::vector<ScenarioMessage> scenario;
  // Pause between produced events, so outputs appear as the week unfolds.
  absl::Duration pace = absl::Milliseconds(20);
  // Set `stop` once the scenario is fed and no output appeared for this long (zero: never).
  absl::Duration exit_when_idle = absl::ZeroDuration();
};

class Demo {
 public:
  Demo(DemoOptions options, std::atomic<bool>& stop);
  ~Demo();
  void Start();
  void Join();

 private:
  void Feed();
  void Print();

  DemoOptions options_;
  std::atomic<bool>& stop_;
  std::atomic<bool> fed_{false};
  std::thread feeder_;
  std::thread printer_;
};

}  // namespace baton::demo
