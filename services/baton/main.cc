// baton: the composition root. Parses flags, wires the adapters to the core, handles signals.
// Without --brokers it runs the embedded demo (see demo.h).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "baton/core/clock.h"
#include "baton/core/engine.h"
#include "baton/core/ids.h"
#include "baton/kafka/embedded_cluster.h"
#include "baton/kafka/output_sink.h"
#include "baton/kafka/processing_loop.h"
#include "baton/metrics/metrics.h"
#include "baton/pipeline/processor.h"
#include "baton/rules/rule_file.h"
#include "baton/rules/rule_file_watcher.h"
#include "baton/store/rocksdb_state_store.h"
#include "demo.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

extern "C" void OnSignal(int) { g_stop.store(true); }
extern "C" void OnHangup(int) { g_reload.store(true); }

// RuleReloader keeps the engine's rules in step with the rule file: on SIGHUP, and when the
// file changes (checked every two seconds). A file that does not load is rejected with its error
// logged, and the rules in force stay.
class RuleReloader {
 public:
  RuleReloader(const std::string& path, baton::core::Engine& engine,
               baton::metrics::PrometheusMetrics& metrics)
      : engine_(engine), metrics_(metrics) {
    if (!path.empty()) watcher_.emplace(path);
  }

  void Poll() {
    if (!watcher_) return;
    const bool forced = g_reload.exchange(false);
    const absl::Time now = absl::Now();
    if (!forced && now < next_check_) return;
    next_check_ = now + absl::Seconds(2);
    auto loaded = watcher_->Check(forced);
    if (!loaded) return;
    if (!loaded->ok()) {
      spdlog::error("rule file rejected, keeping version {}: {}", engine_.rules().version(),
                    std::string(loaded->status().message()));
      metrics_.RulesReloaded(false, engine_.rules().version());
      return;
    }
    engine_.SetRules(**loaded);
    metrics_.RulesReloaded(true, (**loaded)->version());
    spdlog::info("rules reloaded from {}: version {}, {} rules", watcher_->path(),
                 (**loaded)->version(), (**loaded)->file().rules_size());
  }

 private:
  std::optional<baton::rules::RuleFileWatcher> watcher_;
  baton::core::Engine& engine_;
  baton::metrics::PrometheusMetrics& metrics_;
  absl::Time next_check_ = absl::InfinitePast();
};

struct Flags {
  std::string brokers;
  std::string group_id = "baton";
  std::string engagement_topic = "abm.engagement.v1";
  std::string crm_topic = "abm.crm.v1";
  std::string routed_leads_topic = "abm.routed-leads.v1";
  std::string alerts_topic = "abm.alerts.v1";
  std::string deadletter_topic = "abm.deadletter.v1";
  std::string matched_topic = "abm.engagement-matched.v1";
  std::string unmatched_topic = "abm.unmatched.v1";
  std::string data_dir;
  std::string metrics_address = "127.0.0.1:9464";
  int commit_interval_ms = 100;
  int min_commit_interval_ms = 10;
  std::string output_format = "protobuf";
  std::vector<std::string> properties;
  std::string scenario;
  int exit_when_idle_s = 0;
  std::string log_level = "info";
  std::string rules;
  std::string instance_id = "auto";
  size_t block_cache_mb = 8;
  size_t write_buffer_mb = 32;
  size_t min_free_disk_mb = 64;
  size_t max_cached_accounts = 10'000;
  size_t serialized_cache_mb = 96;
  std::string timers = "wall-clock";
  int timer_grace_ms = 0;
  std::string guarantee = "exactly-once";
  std::string changelog_topic = "abm.baton-changelog.v1";
  std::string transactional_id = "auto";
};

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// InstanceHash identifies an instance by its host and data directory: stable across restarts.
uint64_t InstanceHash(const Flags& flags) {
  const std::string dir = std::filesystem::weakly_canonical(flags.data_dir).string();
  return baton::core::StableHash64({HostName(), dir});
}

int Fail(const std::string& what) {
  spdlog::critical("{}", what);
  return 1;
}

int Run(Flags flags) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGHUP, OnHangup);
  std::signal(SIGPIPE, SIG_IGN);

  // The rule file comes first: a bad one stops start-up naming file, line and field.
  auto rules = flags.rules.empty()
                   ? baton::rules::ParseRuleFile(baton::demo::kDefaultRules, "default rules")
                   : baton::rules::LoadRuleFile(flags.rules);
  if (!rules.ok()) return Fail(std::string(rules.status().message()));
  spdlog::info("rules: {} version {}, {} rules",
               flags.rules.empty() ? "bundled default" : flags.rules, (*rules)->version(),
               (*rules)->file().rules_size());

  baton::kafka::KafkaSettings kafka;
  for (const std::string& property : flags.properties) {
    std::pair<std::string, std::string> kv = absl::StrSplit(property, absl::MaxSplits('=', 1));
    if (kv.first.empty() || property.find('=') == std::string::npos) {
      return Fail("-X expects key=value, got '" + kv.first + "'");
    }
    kafka.properties[kv.first] = kv.second;
  }

  // Embedded mode: an in-process mock cluster and the demo scenario.
  std::unique_ptr<baton::kafka::EmbeddedCluster> cluster;
  std::filesystem::path temp_data_dir;
  const bool embedded = flags.brokers.empty();
  if (embedded) {
    auto started = baton::kafka::EmbeddedCluster::Start();
    if (!started.ok()) return Fail(std::string(started.status().message()));
    cluster = std::move(*started);
    for (const std::string* topic :
         {&flags.engagement_topic, &flags.crm_topic, &flags.routed_leads_topic, &flags.alerts_topic,
          &flags.deadletter_topic, &flags.matched_topic, &flags.unmatched_topic,
          &flags.changelog_topic}) {
      if (auto s = cluster->CreateTopic(*topic, 3); !s.ok()) {
        return Fail(std::string(s.message()));
      }
    }
    flags.brokers = cluster->bootstrap();
    // The mock cluster is slow to notice a member leaving unless told to be quick.
    kafka.consumer_properties = {{"session.timeout.ms", "6000"}, {"fetch.wait.max.ms", "10"}};
    std::printf("baton: embedded Kafka (librdkafka mock cluster, demo only) at %s\n",
                flags.brokers.c_str());
    // The mock cluster implements no read_committed isolation: the demo runs at-least-once.
    flags.guarantee = "at-least-once";
    if (flags.data_dir.empty()) {
      // The mock cluster starts empty every run, so its state must too.
      char pattern[] = "/tmp/baton-demo-XXXXXX";
      if (mkdtemp(pattern) == nullptr) return Fail("cannot create a temporary data directory");
      temp_data_dir = flags.data_dir = pattern;
    }
  }
  kafka.brokers = flags.brokers;
  if (flags.data_dir.empty()) flags.data_dir = "./baton-data";
  // Static group membership: an instance that restarts (even after kill -9) gets its partitions
  // back at once instead of after the session timeout. The id must be stable for an instance
  // and unique in the group; by default it is derived from the host and the data directory.
  if (kafka.properties.contains("group.instance.id")) {
    flags.instance_id = "none";  // the operator's -X setting stands
  } else if (flags.instance_id == "auto" && !embedded) {
    flags.instance_id = absl::StrFormat("baton-%s-%016x", HostName(), InstanceHash(flags));
  }
  if (!flags.instance_id.empty() && flags.instance_id != "auto" && flags.instance_id != "none") {
    kafka.consumer_properties.emplace("group.instance.id", flags.instance_id);
  }
  // The transactional id is stable for an instance, like its static membership id, so that a
  // restarted instance fences its predecessor and settles the transaction it left open.
  if (flags.transactional_id == "auto") {
    flags.transactional_id = absl::StrFormat("%s-%016x", flags.group_id, InstanceHash(flags));
  }

  auto store =
      baton::store::RocksDbStateStore::Open({.path = flags.data_dir,
                                             .block_cache_bytes = flags.block_cache_mb << 20,
                                             .write_buffer_bytes = flags.write_buffer_mb << 20,
                                             .sync_writes = false,
                                             .min_free_bytes = flags.min_free_disk_mb << 20});
  if (!store.ok()) return Fail(std::string(store.status().message()));

  baton::metrics::PrometheusMetrics metrics;
  if (auto s = metrics.Serve(flags.metrics_address); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::printf("baton: metrics at http://%s/metrics\n", flags.metrics_address.c_str());
  std::fflush(stdout);

  baton::kafka::OutputTopics outputs{flags.routed_leads_topic, flags.alerts_topic,
                                     flags.deadletter_topic,   flags.matched_topic,
                                     flags.unmatched_topic,    flags.changelog_topic};
  const bool exactly_once = flags.guarantee == "exactly-once";
  auto sink = baton::kafka::KafkaOutputSink::Create(
      kafka, {.topics = outputs,
              .guarantee = exactly_once ? baton::kafka::Guarantee::kExactlyOnce
                                        : baton::kafka::Guarantee::kAtLeastOnce,
              .transactional_id = flags.transactional_id,
              .operation_timeout = absl::Seconds(30)});
  if (!sink.ok()) return Fail(std::string(sink.status().message()));
  spdlog::info("processing {}; state changelog {}", flags.guarantee, flags.changelog_topic);

  baton::core::SystemClock clock;
  baton::core::Engine engine(baton::core::EngineOptions{}, *rules, clock);
  metrics.RulesReloaded(true, (*rules)->version());
  RuleReloader reloader(flags.rules, engine, metrics);
  baton::pipeline::ProcessorOptions processor_options;
  processor_options.engagement_topic = flags.engagement_topic;
  processor_options.crm_topic = flags.crm_topic;
  processor_options.matched_topic = flags.matched_topic;
  processor_options.output_format = flags.output_format == "json"
                                        ? baton::codec::PayloadFormat::kJson
                                        : baton::codec::PayloadFormat::kProtobuf;
  processor_options.max_cached_accounts = flags.max_cached_accounts;
  processor_options.serialized_cache_bytes = flags.serialized_cache_mb << 20;
  processor_options.timers_on_event_time = flags.timers == "event-time";
  processor_options.timer_grace = absl::Milliseconds(flags.timer_grace_ms);
  processor_options.changelog_topic = flags.changelog_topic;
  baton::pipeline::Processor processor(processor_options, engine, **store, metrics);

  baton::kafka::LoopOptions loop_options;
  loop_options.group_id = flags.group_id;
  loop_options.engagement_topic = flags.engagement_topic;
  loop_options.crm_topic = flags.crm_topic;
  loop_options.matched_topic = flags.matched_topic;
  loop_options.changelog_topic = flags.changelog_topic;
  loop_options.commit_interval = absl::Milliseconds(flags.commit_interval_ms);
  loop_options.min_commit_interval =
      absl::Milliseconds(std::min(flags.min_commit_interval_ms, flags.commit_interval_ms));
  // The reloader runs on the processing thread, between records: Engine::SetRules must not race
  // with Apply.
  baton::kafka::LoopListener listener{
      [&metrics](size_t n) { metrics.SetAssignedPartitions(n); },
      [&metrics](bool up) { metrics.SetUp(up); }, [&reloader] { reloader.Poll(); },
      [&metrics](int64_t records, absl::Duration took) { metrics.Restored(records, took); }};
  baton::kafka::ProcessingLoop loop(loop_options, kafka, processor, **sink, listener);

  std::unique_ptr<baton::demo::Demo> demo;
  if (embedded) {
    std::string text = baton::demo::kBundledScenario;
    if (!flags.scenario.empty()) {
      std::ifstream in(flags.scenario);
      if (!in) return Fail("cannot read scenario file " + flags.scenario);
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    auto scenario = baton::demo::ParseScenario(text, absl::Now() - absl::Minutes(1));
    if (!scenario.ok()) {
      return Fail((flags.scenario.empty() ? std::string("bundled scenario") : flags.scenario) +
                  ": " + std::string(scenario.status().message()));
    }
    baton::demo::DemoOptions demo_options{kafka, flags.engagement_topic, flags.crm_topic, outputs,
                                          std::move(*scenario)};
    demo_options.exit_when_idle = absl::Seconds(flags.exit_when_idle_s);
    demo = std::make_unique<baton::demo::Demo>(std::move(demo_options), g_stop);
    demo->Start();
  }

  absl::Status status = loop.Run(g_stop);
  g_stop = true;
  if (demo) demo->Join();
  if (!temp_data_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_data_dir, ignored);
  }
  if (!status.ok()) return Fail(std::string(status.message()));
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{
      "Baton: real-time ABM handoff engine. Consumes engagement and CRM events from Kafka, keeps "
      "per-account state in RocksDB, publishes routed leads and alerts. Without --brokers it runs "
      "a demo on an embedded mock cluster."};
  app.add_option("--brokers", flags.brokers,
                 "Kafka bootstrap servers; empty runs the embedded demo");
  app.add_option("--group-id", flags.group_id, "Consumer group id")->capture_default_str();
  app.add_option("--engagement-topic", flags.engagement_topic)->capture_default_str();
  app.add_option("--crm-topic", flags.crm_topic)->capture_default_str();
  app.add_option("--routed-leads-topic", flags.routed_leads_topic)->capture_default_str();
  app.add_option("--alerts-topic", flags.alerts_topic)->capture_default_str();
  app.add_option("--deadletter-topic", flags.deadletter_topic)->capture_default_str();
  app.add_option("--matched-topic", flags.matched_topic,
                 "Internal: engagement matched to an account, re-keyed by account id")
      ->capture_default_str();
  app.add_option("--unmatched-topic", flags.unmatched_topic,
                 "Engagement no account could be found for")
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir,
                 "RocksDB state directory (default ./baton-data; a fresh temporary one in the "
                 "demo)");
  app.add_option("--metrics-address", flags.metrics_address, "host:port serving /metrics")
      ->capture_default_str();
  app.add_option("--commit-interval-ms", flags.commit_interval_ms)
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  app.add_option("--min-commit-interval-ms", flags.min_commit_interval_ms,
                 "When the inputs are caught up, a unit this old commits without waiting for "
                 "the commit interval")
      ->check(CLI::Range(0, 60'000))
      ->capture_default_str();
  app.add_option("--output-format", flags.output_format, "Encoding of outputs")
      ->check(CLI::IsMember({"protobuf", "json"}))
      ->capture_default_str();
  app.add_option("-X", flags.properties,
                 "librdkafka property key=value for every Kafka client (repeatable), e.g. "
                 "-X security.protocol=SASL_SSL");
  app.add_option("--block-cache-mb", flags.block_cache_mb)->capture_default_str();
  app.add_option("--write-buffer-mb", flags.write_buffer_mb)->capture_default_str();
  app.add_option("--max-cached-accounts", flags.max_cached_accounts)->capture_default_str();
  app.add_option("--serialized-cache-mb", flags.serialized_cache_mb,
                 "Accounts evicted from the account cache kept serialized in memory, so that "
                 "reading one back skips RocksDB; 0 turns this off")
      ->capture_default_str();
  app.add_option("--min-free-disk-mb", flags.min_free_disk_mb,
                 "Stop writing state (and so consuming) while the data directory has less free "
                 "space than this; 0 turns the check off")
      ->capture_default_str();
  app.add_option("--timers", flags.timers,
                 "When SLA, stall and decision-date timers fire: on the wall clock (live), or on "
                 "each partition's event time (replaying history gives the live run's alerts)")
      ->check(CLI::IsMember({"wall-clock", "event-time"}))
      ->capture_default_str();
  app.add_option("--timer-grace-ms", flags.timer_grace_ms,
                 "Wall-clock timers fire this long after they are due, so a follow-up the CRM "
                 "delivers late (CDC lag) still counts")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  app.add_option("--guarantee", flags.guarantee,
                 "exactly-once: outputs, state changelog and input offsets commit in one Kafka "
                 "transaction per unit; at-least-once: no transactions, a crash may republish "
                 "a unit's outputs with the same ids (the demo always runs at-least-once)")
      ->check(CLI::IsMember({"exactly-once", "at-least-once"}))
      ->capture_default_str();
  app.add_option("--changelog-topic", flags.changelog_topic,
                 "Compacted state changelog, co-partitioned with the inputs")
      ->capture_default_str();
  app.add_option("--transactional-id", flags.transactional_id,
                 "Exactly-once producer id, stable per instance and unique in the group: 'auto' "
                 "derives it from the group id, host and data directory")
      ->capture_default_str();
  app.add_option("--scenario", flags.scenario,
                 "Demo only: scenario file instead of the bundled one")
      ->check(CLI::ExistingFile);
  app.add_option("--exit-when-idle", flags.exit_when_idle_s,
                 "Demo only: exit once the scenario is fed and no output appeared for N seconds");
  app.add_option("--log-level", flags.log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--instance-id", flags.instance_id,
                 "Static group membership id (group.instance.id): 'auto' derives a stable one "
                 "from the host and data directory; 'none' turns static membership off")
      ->capture_default_str();
  app.add_option("--rules", flags.rules,
                 "Rule file (YAML); reloaded on SIGHUP and on change. Default: the bundled "
                 "deploy/rules/default.yaml");
  std::string check_file;
  CLI::App* check = app.add_subcommand(
      "check-config", "Validate a rule file without starting, and explain each rule");
  check->add_option("file", check_file, "The rule file")->required();
  CLI11_PARSE(app, argc, argv);

  if (check->parsed()) {
    auto rules = baton::rules::LoadRuleFile(check_file);
    if (!rules.ok()) {
      std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
      return 1;
    }
    std::printf("%s: OK\n%s", check_file.c_str(), baton::rules::ExplainRuleSet(**rules).c_str());
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("baton");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  return Run(std::move(flags));
}
