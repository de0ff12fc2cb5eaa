#include "baton/metrics/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "baton/codec/codec.h"
#include "prometheus/exposer.h"

namespace baton::metrics {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& r,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

PrometheusMetrics::PrometheusMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      consumed_(CounterFamily(*registry_, "baton_events_consumed_total",
                              "Input records consumed and committed, by topic.")),
      deadlettered_(CounterFamily(*registry_, "baton_events_deadlettered_total",
                                  "Input records published to the dead-letter topic, by reason.")),
      duplicates_(CounterFamily(*registry_, "baton_events_duplicate_total",
                                "Input events whose event_id was already applied.")
                      .Add({})),
      late_(CounterFamily(*registry_, "baton_events_late_total",
                          "Engagement events older than the retention window on arrival.")
                .Add({})),
      handoffs_(CounterFamily(*registry_, "baton_handoffs_total",
                              "Handoffs decided (routed or routing failure), by rule and tier.")),
      routed_leads_(
          CounterFamily(*registry_, "baton_routed_leads_total", "RoutedLead records published.")
              .Add({})),
      alerts_(CounterFamily(*registry_, "baton_alerts_total", "Alert records published, by kind.")),
      commits_(CounterFamily(*registry_, "baton_commits_total", "Commit units committed.").Add({})),
      commit_failures_(CounterFamily(*registry_, "baton_commit_failures_total",
                                     "Commit units that failed, by stage (publish, store).")),
      commit_seconds_(
          prometheus::BuildHistogram()
              .Name("baton_commit_duration_seconds")
              .Help("Time to commit one unit (publish + store).")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                               0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      batch_events_(
          prometheus::BuildHistogram()
              .Name("baton_commit_events")
              .Help("Input records per committed unit.")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000, 10000, 100000})),
      assigned_partitions_(Gauge(*registry_, "baton_assigned_partitions",
                                 "Input topic-partitions assigned to this instance.")),
      cached_accounts_(Gauge(*registry_, "baton_cached_accounts",
                             "Account states held in the in-memory cache.")),
      account_loads_(CounterFamily(*registry_, "baton_account_loads_total",
                                   "Account states read from the store because they were not "
                                   "cached.")
                         .Add({})),
      up_(Gauge(*registry_, "baton_up",
                "1 while the processing loop is consuming; 0 while stopped on a fault.")),
      rule_loads_(CounterFamily(*registry_, "baton_rule_loads_total",
                                "Rule file loads, by result (ok, rejected).")),
      rules_version_(
          Gauge(*registry_, "baton_rules_version", "Version of the rule file in force.")),
      matched_(CounterFamily(*registry_, "baton_events_matched_total",
                             "Engagement without an account id matched to an account, by method.")),
      unmatched_(CounterFamily(*registry_, "baton_events_unmatched_total",
                               "Engagement no account could be found for.")
                     .Add({})),
      sla_outcomes_(CounterFamily(
          *registry_, "baton_sla_outcomes_total",
          "Follow-up SLAs that ended, by outcome (met, breached, cancelled); one per assignment.")),
      rejections_(CounterFamily(*registry_, "baton_rejections_total",
                                "Handoffs rejected by sales, by reason (NONE without one).")),
      accepted_(CounterFamily(*registry_, "baton_handoffs_accepted_total",
                              "Open handoffs sales accepted (HandoffDisposition ACCEPTED).")
                    .Add({})),
      follow_up_seconds_(
          prometheus::BuildHistogram()
              .Name("baton_time_to_first_follow_up_seconds")
              .Help("Time from routing a handoff to its first follow-up (speed to lead).")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{60, 300, 900, 1800, 3600, 7200,
                                                               14400, 28800, 86400, 259200})),
      timer_lateness_seconds_(
          prometheus::BuildHistogram()
              .Name("baton_timer_lateness_seconds")
              .Help("How long after its due time a wall-clock timer (SLA reminder, breach, "
                    "escalation, stall, decision date) fired.")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                                               30, 60})),
      restored_records_(
          CounterFamily(*registry_, "baton_changelog_restored_records_total",
                        "State changelog records restored into the local store on assignment "
                        "or after a fault (the tail the store had not yet checkpointed).")
              .Add({})),
      last_restore_seconds_(Gauge(*registry_, "baton_last_restore_seconds",
                                  "How long the last changelog restore took.")) {
  for (const char* outcome : {"met", "breached", "cancelled"}) {
    sla_outcomes_.Add({{"outcome", outcome}});
  }
  matched_.Add({{"method", "KNOWN_CONTACT"}});
  matched_.Add({{"method", "EMAIL_DOMAIN"}});
  rule_loads_.Add({{"result", "ok"}});
  rule_loads_.Add({{"result", "rejected"}});
  // Create every reason label up front so dashboards see zeros, not gaps.
  for (absl::string_view reason : codec::kReasonCodes) {
    deadlettered_.Add({{"reason", std::string(reason)}});
  }
  commit_failures_.Add({{"stage", "publish"}});
  commit_failures_.Add({{"stage", "store"}});
  prometheus::BuildGauge()
      .Name("baton_build_info")
      .Help("Baton's version; always 1.")
      .Register(*registry_)
      .Add({{"version", BATON_VERSION}})
      .Set(1);
}

PrometheusMetrics::~PrometheusMetrics() = default;

absl::Status PrometheusMetrics::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve /metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

void PrometheusMetrics::Committed(const pipeline::CommitStats& stats, absl::Duration took) {
  for (const auto& [topic, n] : stats.consumed_by_topic) {
    consumed_.Add({{"topic", topic}}).Increment(static_cast<double>(n));
  }
  for (const auto& [reason, n] : stats.deadlettered_by_reason) {
    deadlettered_.Add({{"reason", reason}}).Increment(static_cast<double>(n));
  }
  duplicates_.Increment(static_cast<double>(stats.duplicates));
  late_.Increment(static_cast<double>(stats.late));
  for (const auto& [rule_tier, n] : stats.handoffs) {
    handoffs_.Add({{"rule", rule_tier.first}, {"tier", rule_tier.second}})
        .Increment(static_cast<double>(n));
  }
  routed_leads_.Increment(static_cast<double>(stats.routed_leads));
  for (const auto& [kind, n] : stats.alerts_by_kind) {
    alerts_.Add({{"kind", kind}}).Increment(static_cast<double>(n));
  }
  for (const auto& [method, n] : stats.matched_by_method) {
    matched_.Add({{"method", method}}).Increment(static_cast<double>(n));
  }
  unmatched_.Increment(static_cast<double>(stats.unmatched));
  for (const auto& [outcome, n] : stats.sla_outcomes) {
    sla_outcomes_.Add({{"outcome", outcome}}).Increment(static_cast<double>(n));
  }
  for (const auto& [reason, n] : stats.rejections) {
    rejections_.Add({{"reason", reason}}).Increment(static_cast<double>(n));
  }
  accepted_.Increment(static_cast<double>(stats.accepted));
  for (double s : stats.follow_up_seconds) follow_up_seconds_.Observe(s);
  for (double s : stats.timer_lateness_seconds) timer_lateness_seconds_.Observe(s);
  commits_.Increment();
  account_loads_.Increment(static_cast<double>(stats.account_loads));
  commit_seconds_.Observe(absl::ToDoubleSeconds(took));
  batch_events_.Observe(static_cast<double>(stats.events));
}

void PrometheusMetrics::CommitFailed(absl::string_view stage) {
  commit_failures_.Add({{"stage", std::string(stage)}}).Increment();
}

void PrometheusMetrics::CachedAccounts(size_t count) {
  cached_accounts_.Set(static_cast<double>(count));
}

void PrometheusMetrics::SetAssignedPartitions(size_t count) {
  assigned_partitions_.Set(static_cast<double>(count));
}

void PrometheusMetrics::SetUp(bool up) { up_.Set(up ? 1 : 0); }

void PrometheusMetrics::Restored(int64_t records, absl::Duration took) {
  restored_records_.Increment(static_cast<double>(records));
  last_restore_seconds_.Set(absl::ToDoubleSeconds(took));
}

void PrometheusMetrics::RulesReloaded(bool ok, int version_in_force) {
  rule_loads_.Add({{"result", ok ? "ok" : "rejected"}}).Increment();
  rules_version_.Set(version_in_force);
}

}  // namespace baton::metrics
