// timer_bench: how late do SLA breach alerts fire when a million SLA timers are armed?
//
// Arms --timers follow-up SLAs (one open handoff per account, spread over --partitions) in a
// RocksDB store, with deadlines spread evenly over --spread seconds starting --lead seconds from
// now, then runs the service's timer loop on the wall clock for --seconds: every commit interval
// it expires what is due (Processor::ExpireTimers, the same call the Kafka loop makes) and
// commits the unit. A breach's lateness is the time from its deadline to the commit that made
// its alert durable. Prints a table and writes JSON.
//
// The armed state is written straight into the store in the engine's format (an account head
// with an ARMED SlaState and its timer-index entry) so that arming a million timers takes
// seconds; everything after that is Baton's own code path.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "baton/core/clock.h"
#include "baton/core/engine.h"
#include "baton/core/event.h"
#include "baton/core/testing/canonical_rules.h"
#include "baton/pipeline/processor.h"
#include "baton/store/rocksdb_state_store.h"

namespace {

using namespace baton;

class CountingSink : public pipeline::OutputSink {
 public:
  absl::StatusOr<pipeline::ChangelogPositions> Publish(
      std::vector<pipeline::OutboundRecord>& outputs, absl::Span<const pipeline::ChangelogEntry>,
      const pipeline::Offsets&) override {
    count += static_cast<int64_t>(outputs.size());
    return pipeline::ChangelogPositions{};
  }
  int64_t count = 0;
};

// LatenessObserver turns each fired timer's lateness at expiry into its lateness at commit.
class LatenessObserver : public pipeline::Observer {
 public:
  void Committed(const pipeline::CommitStats& s, absl::Duration) override {
    // Each lateness was measured against `tick`, the clock reading ExpireTimers was given.
    const double since_tick = absl::ToDoubleSeconds(absl::Now() - tick);
    for (double late : s.timer_lateness_seconds) lateness.push_back(late + since_tick);
    breaches += s.alerts_by_kind.count("SLA_BREACH") ? s.alerts_by_kind.at("SLA_BREACH") : 0;
  }
  void CommitFailed(absl::string_view) override {}
  void CachedAccounts(size_t) override {}
  absl::Time tick;
  std::vector<double> lateness;
  int64_t breaches = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace

int main(int argc, char** argv) {
  int timers = 1'000'000;
  int partitions = 12;
  double lead_s = 10;
  double spread_s = 3600;
  double seconds = 30;
  int commit_interval_ms = 100;
  std::string dir = "/tmp/baton-timer-bench";
  std::string json_path;
  CLI::App app{"Baton SLA timer lateness benchmark"};
  app.add_option("--timers", timers, "armed SLA timers (one per account)")->capture_default_str();
  app.add_option("--partitions", partitions)->capture_default_str();
  app.add_option("--lead", lead_s, "seconds from the end of arming to the first deadline")
      ->capture_default_str();
  app.add_option("--spread", spread_s, "deadlines are spread evenly over this many seconds")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "how long the timer loop runs after the first deadline")
      ->capture_default_str();
  app.add_option("--commit-interval-ms", commit_interval_ms)->capture_default_str();
  app.add_option("--data-dir", dir)->capture_default_str();
  app.add_option("--json", json_path, "write results here");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  auto store = store::RocksDbStateStore::Open({.path = dir});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  auto rules = core_testing::RulesFromText(
      absl::StrCat(core_testing::kCanonicalRuleText,
                   R"(sla { policies { first_follow_up { seconds: 3600 } } })"));

  // Arm: heads with an ARMED SLA, and their timer-index entries.
  const absl::Time arm_start = absl::Now();
  const absl::Time first_due = arm_start + absl::Seconds(lead_s);
  pipeline::StateBatch batch;
  for (int i = 0; i < timers; ++i) {
    const int32_t partition = i % partitions;
    const std::string id = absl::StrFormat("acc-%07d", i);
    const int64_t due = absl::ToUnixMillis(
        first_due + absl::Seconds(spread_s * static_cast<double>(i) / static_cast<double>(timers)));
    baton::internal::v1::AccountHead head;
    head.set_account_id(id);
    // The CRM part of the head (the profile) is a record of its own, as Baton stores it.
    baton::internal::v1::AccountHead crm;
    auto* profile = crm.mutable_profile();
    profile->set_account_id(id);
    profile->set_name(absl::StrCat("Account ", i));
    profile->set_tier(baton::v1::TIER_1);
    profile->mutable_owners()->set_ae_id(absl::StrCat("ae-", i % 500));
    head.set_watermark_ms(due - 3'600'000);
    auto* h = head.add_handoffs();
    h->set_handoff_id(absl::StrCat("ho-", id));
    h->set_rule_name("tier1-email-opens-and-pricing");
    h->set_status(baton::internal::v1::OPEN);
    h->set_level(baton::v1::SALES_READY);
    h->set_tier(baton::v1::TIER_1);
    h->set_assignee_id(profile->owners().ae_id());
    h->set_assignee_role("AE");
    h->set_assigned_at_ms(due - 3'600'000);
    h->set_fired_at_ms(due - 3'600'000);
    auto* sla = h->mutable_sla();
    sla->set_status(baton::internal::v1::ARMED);
    sla->set_deadline_ms(due);
    *sla->mutable_policy() = rules->file().sla().policies(0);
    head.set_timer_due_ms(due);
    batch.writes.emplace_back(pipeline::AccountKey(partition, id) + "h", head.SerializeAsString());
    batch.writes.emplace_back(pipeline::AccountKey(partition, id) + "p", crm.SerializeAsString());
    batch.writes.emplace_back(pipeline::TimerKey(partition, due, id), std::string());
    if (batch.writes.size() >= 100'000) {
      if (!(*store)->Commit(batch).ok()) return 1;
      batch.writes.clear();
    }
  }
  if (!(*store)->Commit(batch).ok()) return 1;
  const double arm_seconds = absl::ToDoubleSeconds(absl::Now() - arm_start);
  std::fprintf(stderr, "armed %d timers in %.1fs\n", timers, arm_seconds);
  if (absl::Now() > first_due) {
    std::fprintf(stderr, "arming took longer than --lead; raise it\n");
    return 1;
  }

  // Run the timer loop on the wall clock, as the service does.
  core::SystemClock clock;
  core::Engine engine(core::EngineOptions{}, rules, clock);
  LatenessObserver observer;
  pipeline::Processor processor(pipeline::ProcessorOptions{}, engine, **store, observer);
  CountingSink sink;
  std::vector<int32_t> all;
  for (int32_t p = 0; p < partitions; ++p) all.push_back(p);
  // The loop runs until `seconds` after the first deadline.
  const absl::Time loop_end = first_due + absl::Seconds(seconds);
  std::vector<double> tick_seconds;
  while (absl::Now() < loop_end) {
    const absl::Time tick = absl::Now();
    observer.tick = tick;
    if (!processor.ExpireTimers(all, tick).ok()) return 1;
    if (processor.HasPending() && !processor.Commit(sink).ok()) return 1;
    tick_seconds.push_back(absl::ToDoubleSeconds(absl::Now() - tick));
    std::this_thread::sleep_until(
        absl::ToChronoTime(tick + absl::Milliseconds(commit_interval_ms)));
  }
  const double expected = std::min<double>(timers, seconds / spread_s * timers);

  const double p50 = Percentile(observer.lateness, 0.50);
  const double p99 = Percentile(observer.lateness, 0.99);
  const double max = Percentile(observer.lateness, 1.0);
  std::printf("%-36s %s\n", "timer benchmark", "value");
  std::printf("%-36s %d armed SLA timers in %d partitions, deadlines over %.0fs\n", "workload",
              timers, partitions, spread_s);
  std::printf("%-36s %.1fs\n", "arming (direct store writes)", arm_seconds);
  std::printf("%-36s %lld fired in %.0fs (expected about %.0f)\n", "breaches",
              static_cast<long long>(observer.breaches), seconds, expected);
  std::printf("%-36s p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", "lateness (deadline -> committed)",
              p50 * 1e3, p99 * 1e3, max * 1e3);
  std::printf("%-36s p50 %.1f ms, p99 %.1f ms\n", "timer loop tick (expire + commit)",
              Percentile(tick_seconds, 0.5) * 1e3, Percentile(tick_seconds, 0.99) * 1e3);
  std::printf("%-36s %.1f MiB\n", "peak RSS", static_cast<double>(PeakRssBytes()) / (1 << 20));
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << absl::StrFormat(
        "{\"benchmark\": \"timers\", \"armed\": %d, \"partitions\": %d, \"spread_seconds\": %.0f, "
        "\"run_seconds\": %.0f, \"commit_interval_ms\": %d, \"breaches\": %lld, "
        "\"lateness_p50_ms\": %.1f, \"lateness_p99_ms\": %.1f, \"lateness_max_ms\": %.1f, "
        "\"tick_p99_ms\": %.2f, \"arm_seconds\": %.1f, \"peak_rss_bytes\": %lld}\n",
        timers, partitions, spread_s, seconds, commit_interval_ms,
        static_cast<long long>(observer.breaches), p50 * 1e3, p99 * 1e3, max * 1e3,
        Percentile(tick_seconds, 0.99) * 1e3, arm_seconds, static_cast<long long>(PeakRssBytes()));
  }
  store->reset();
  std::filesystem::remove_all(dir);
  return observer.breaches > 0 ? 0 : 1;
}
