// core_bench: Baton's processing core in one process and one thread — decode, validate, account
// state, rule, routing, encoded outputs, with the real RocksDB store underneath and commits as in
// the service — over a generated workload. Prints a table and writes JSON.
//
//   build/bench/core_bench --accounts 100000 --events 1000000 --runs 3 --json FILE
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "baton/codec/codec.h"
#include "baton/core/clock.h"
#include "baton/core/engine.h"
#include "baton/core/testing/canonical_rules.h"
#include "baton/pipeline/processor.h"
#include "baton/rules/rule_file.h"
#include "baton/store/rocksdb_state_store.h"
#include "workload.h"

namespace {

using namespace baton;

class NullSink : public pipeline::OutputSink {
 public:
  // Counts outputs and changelog records apart; every changelog partition is at offset 0.
  absl::StatusOr<pipeline::ChangelogPositions> Publish(
      std::vector<pipeline::OutboundRecord>& outputs,
      absl::Span<const pipeline::ChangelogEntry> entries, const pipeline::Offsets&) override {
    for (const auto& r : outputs) {
      ++count;
      bytes += r.value.size();
    }
    pipeline::ChangelogPositions positions;
    for (const auto& e : entries) {
      ++changelog;
      changelog_bytes += static_cast<int64_t>(e.key.size() + (e.value ? e.value->size() : 0));
      positions[e.partition] = 0;
    }
    return positions;
  }
  int64_t count = 0;
  int64_t bytes = 0;
  int64_t changelog = 0;
  int64_t changelog_bytes = 0;
};

class NullObserver : public pipeline::Observer {
 public:
  void Committed(const pipeline::CommitStats& s, absl::Duration) override {
    leads += s.routed_leads;
    account_loads += s.account_loads;
    deadlettered += static_cast<int64_t>(s.deadlettered_by_reason.size());
  }
  void CommitFailed(absl::string_view) override {}
  void CachedAccounts(size_t) override {}
  int64_t leads = 0;
  int64_t deadlettered = 0;
  int64_t account_loads = 0;
};

int64_t DirBytes(const std::filesystem::path& dir) {
  int64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += static_cast<int64_t>(entry.file_size());
  }
  return total;
}

int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Run {
  double load_seconds;
  double stream_seconds;
  double events_per_second;
  // Stream events per second of the processing thread's own CPU time: less sensitive than the
  // wall-clock rate to other work on a shared machine (RocksDB's background threads excluded).
  double events_per_cpu_second;
  int64_t outputs;
  int64_t leads;
  int64_t db_bytes;
  // Changelog records and bytes (keys and values) per stream event.
  double changelog_records_per_event;
  double changelog_bytes_per_event;
  // Accounts read from the store (in neither account cache) per stream event.
  double account_loads_per_event;
};

Run RunOnce(const bench::Workload& w, const bench::WorkloadOptions& wo, int commit_every,
            size_t cache, size_t serialized_mb, size_t block_cache_mb,
            const std::filesystem::path& dir, std::shared_ptr<const core::RuleSet> rules) {
  std::filesystem::remove_all(dir);
  auto store = store::RocksDbStateStore::Open(
      {.path = dir.string(), .block_cache_bytes = block_cache_mb << 20});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    std::exit(1);
  }
  core::FakeClock clock(wo.end + absl::Hours(1));
  core::Engine engine(core::EngineOptions{}, rules, clock);
  pipeline::ProcessorOptions po;
  po.max_cached_accounts = cache;
  po.serialized_cache_bytes = serialized_mb << 20;
  NullObserver observer;
  pipeline::Processor processor(po, engine, **store, observer);
  NullSink sink;
  int64_t offsets[2][64] = {};

  auto feed = [&](const std::vector<bench::Message>& messages) {
    int pending = 0;
    for (const bench::Message& m : messages) {
      pipeline::InputRecord r;
      r.topic = m.engagement ? po.engagement_topic : po.crm_topic;
      r.partition = m.partition;
      r.offset = offsets[m.engagement][m.partition]++;
      r.key = m.key;
      r.value = m.value;
      if (m.json) r.headers.push_back({"content-type", "application/json"});
      if (!processor.Process(r).ok()) std::abort();
      if (++pending == commit_every) {
        if (!processor.Commit(sink).ok()) std::abort();
        pending = 0;
      }
    }
    if (!processor.Commit(sink).ok()) std::abort();
  };
  absl::Time t0 = absl::Now();
  feed(w.crm_load);
  absl::Time t1 = absl::Now();
  const double cpu1 = ThreadCpuSeconds();
  const int64_t records_before = sink.changelog;
  const int64_t bytes_before = sink.changelog_bytes;
  const int64_t loads_before = observer.account_loads;
  feed(w.stream);
  absl::Time t2 = absl::Now();
  const double cpu2 = ThreadCpuSeconds();
  Run run;
  run.load_seconds = absl::ToDoubleSeconds(t1 - t0);
  run.stream_seconds = absl::ToDoubleSeconds(t2 - t1);
  run.events_per_second = static_cast<double>(w.stream.size()) / run.stream_seconds;
  run.events_per_cpu_second = static_cast<double>(w.stream.size()) / (cpu2 - cpu1);
  run.outputs = sink.count;
  const auto events = static_cast<double>(w.stream.size());
  run.changelog_records_per_event = static_cast<double>(sink.changelog - records_before) / events;
  run.changelog_bytes_per_event = static_cast<double>(sink.changelog_bytes - bytes_before) / events;
  run.account_loads_per_event = static_cast<double>(observer.account_loads - loads_before) / events;
  run.leads = observer.leads;
  store->reset();
  run.db_bytes = DirBytes(dir);
  return run;
}

}  // namespace

// DecodeRate is the ceiling set by decoding and validation alone, for the breakdown.
double DecodeRate(const std::vector<bench::Message>& messages) {
  const absl::Time t0 = absl::Now();
  size_t ok = 0;
  for (const bench::Message& m : messages) {
    auto e = codec::DecodeInput(
        m.engagement ? codec::InputKind::kEngagement : codec::InputKind::kCrm, m.value,
        m.json ? codec::PayloadFormat::kJson : codec::PayloadFormat::kProtobuf);
    ok += e.ok();
  }
  if (ok == 0) std::abort();
  return static_cast<double>(messages.size()) / absl::ToDoubleSeconds(absl::Now() - t0);
}

int main(int argc, char** argv) {
  bench::WorkloadOptions wo;
  int runs = 3;
  int commit_every = 20'000;
  // The service's defaults.
  size_t cache = pipeline::ProcessorOptions{}.max_cached_accounts;
  size_t serialized_mb = pipeline::ProcessorOptions{}.serialized_cache_bytes >> 20;
  size_t block_cache_mb = 8;  // the service's default
  std::string json_path;
  std::string dir = "/tmp/baton-core-bench";
  CLI::App app{"Baton core throughput benchmark"};
  app.add_option("--accounts", wo.accounts)->capture_default_str();
  app.add_option("--events", wo.events)->capture_default_str();
  app.add_option("--runs", runs)->capture_default_str();
  app.add_option("--seed", wo.seed)->capture_default_str();
  app.add_option("--zipf", wo.zipf_s)->capture_default_str();
  app.add_option("--days", wo.days, "days of event time the stream spans")->capture_default_str();
  app.add_option("--json-fraction", wo.json_fraction, "share of messages sent as JSON")
      ->capture_default_str();
  app.add_option("--commit-every", commit_every, "input records per commit unit")
      ->capture_default_str();
  app.add_option("--max-cached-accounts", cache)->capture_default_str();
  app.add_option("--serialized-cache-mb", serialized_mb)->capture_default_str();
  app.add_option("--block-cache-mb", block_cache_mb)->capture_default_str();
  app.add_option("--data-dir", dir)->capture_default_str();
  app.add_option("--json", json_path, "write results here");
  std::string rules_path;
  app.add_option("--rules", rules_path, "rule file (default: the canonical rule)");
  CLI11_PARSE(app, argc, argv);

  const absl::Time g0 = absl::Now();
  bench::Workload w = bench::Generate(wo);
  std::fprintf(stderr, "generated %zu + %zu messages in %.1fs\n", w.crm_load.size(),
               w.stream.size(), absl::ToDoubleSeconds(absl::Now() - g0));

  const double decode_rate = DecodeRate(w.stream);
  std::vector<Run> results;
  std::shared_ptr<const core::RuleSet> rules = core_testing::CanonicalRules();
  if (!rules_path.empty()) {
    auto loaded = baton::rules::LoadRuleFile(rules_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
      return 1;
    }
    rules = *loaded;
  }
  for (int i = 0; i < runs; ++i) {
    results.push_back(
        RunOnce(w, wo, commit_every, cache, serialized_mb, block_cache_mb, dir, rules));
  }
  std::filesystem::remove_all(dir);

  auto median_of = [&results](double Run::*rate) {
    std::vector<double> rates;
    for (const Run& r : results) rates.push_back(r.*rate);
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
  };
  const double median = median_of(&Run::events_per_second);
  const double median_cpu = median_of(&Run::events_per_cpu_second);
  const Run& last = results.back();
  const double bytes_per_account =
      static_cast<double>(last.db_bytes) / static_cast<double>(wo.accounts);

  std::printf("%-34s %s\n", "core benchmark", "value");
  std::printf("%-34s %d accounts, %zu load + %zu stream events, zipf %.2f\n", "workload",
              wo.accounts, w.crm_load.size(), w.stream.size(), wo.zipf_s);
  for (size_t i = 0; i < results.size(); ++i) {
    std::printf("%-34s %.0f events/s, %.0f per CPU second (load %.2fs, stream %.2fs)\n",
                absl::StrFormat("run %d", i + 1).c_str(), results[i].events_per_second,
                results[i].events_per_cpu_second, results[i].load_seconds,
                results[i].stream_seconds);
  }
  std::printf("%-34s %.0f events/s\n", "median, one thread", median);
  std::printf("%-34s %.0f events/s\n", "median per CPU second", median_cpu);
  std::printf("%-34s %.0f events/s\n", "decode + validate only", decode_rate);
  std::printf("%-34s %lld (%lld routed leads)\n", "outputs per run",
              static_cast<long long>(last.outputs), static_cast<long long>(last.leads));
  std::printf("%-34s %.0f bytes\n", "RocksDB on disk per account", bytes_per_account);
  std::printf("%-34s %.2f records, %.0f bytes\n", "changelog per stream event",
              last.changelog_records_per_event, last.changelog_bytes_per_event);
  std::printf("%-34s %.3f\n", "RocksDB account reads per event", last.account_loads_per_event);
  std::printf("%-34s %.1f MiB\n", "peak RSS (incl. workload in memory)",
              static_cast<double>(PeakRssBytes()) / (1 << 20));

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << absl::StrFormat(
        "{\"benchmark\": \"core\", \"accounts\": %d, \"load_events\": %zu, \"stream_events\": "
        "%zu, \"zipf_s\": %.2f, \"runs_events_per_second\": [",
        wo.accounts, w.crm_load.size(), w.stream.size(), wo.zipf_s);
    for (size_t i = 0; i < results.size(); ++i) {
      out << (i ? ", " : "") << absl::StrFormat("%.0f", results[i].events_per_second);
    }
    out << absl::StrFormat(
        "], \"median_events_per_second\": %.0f, \"median_events_per_cpu_second\": %.0f, "
        "\"decode_only_events_per_second\": %.0f, "
        "\"outputs\": %lld, \"routed_leads\": %lld, "
        "\"rocksdb_bytes_per_account\": %.0f, \"changelog_records_per_event\": %.2f, "
        "\"changelog_bytes_per_event\": %.0f, \"account_loads_per_event\": %.4f, "
        "\"peak_rss_bytes\": %lld}\n",
        median, median_cpu, decode_rate, static_cast<long long>(last.outputs),
        static_cast<long long>(last.leads), bytes_per_account, last.changelog_records_per_event,
        last.changelog_bytes_per_event, last.account_loads_per_event,
        static_cast<long long>(PeakRssBytes()));
  }
  return 0;
}
