#include "baton/metrics/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace baton::metrics {
namespace {

using ::testing::HasSubstr;

std::string Scrape(PrometheusMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry().Collect());
}

TEST(MetricsTest, ACommittedUnitBecomesCounters) {
  PrometheusMetrics metrics;
  pipeline::CommitStats stats;
  stats.consumed_by_topic["abm.crm.v1"] = 3;
  stats.deadlettered_by_reason["bad_json"] = 1;
  stats.handoffs[{"tier1-email-opens-and-pricing", "TIER_1"}] = 1;
  stats.routed_leads = 1;
  stats.alerts_by_kind["HANDOFF"] = 1;
  stats.duplicates = 2;
  stats.account_loads = 4;
  metrics.Committed(stats, absl::Milliseconds(3));
  metrics.SetAssignedPartitions(6);
  const std::string text = Scrape(metrics);
  EXPECT_THAT(text, HasSubstr("baton_events_consumed_total{topic=\"abm.crm.v1\"} 3"));
  EXPECT_THAT(text, HasSubstr("baton_events_deadlettered_total{reason=\"bad_json\"} 1"));
  EXPECT_THAT(text, HasSubstr("baton_events_deadlettered_total{reason=\"missing_field\"} 0"));
  EXPECT_THAT(text, HasSubstr("baton_handoffs_total{rule=\"tier1-email-opens-and-pricing\","
                              "tier=\"TIER_1\"} 1"));
  EXPECT_THAT(text, HasSubstr("baton_routed_leads_total 1"));
  EXPECT_THAT(text, HasSubstr("baton_alerts_total{kind=\"HANDOFF\"} 1"));
  EXPECT_THAT(text, HasSubstr("baton_events_duplicate_total 2"));
  EXPECT_THAT(text, HasSubstr("baton_commits_total 1"));
  EXPECT_THAT(text, HasSubstr("baton_account_loads_total 4"));
  EXPECT_THAT(text, HasSubstr("baton_assigned_partitions 6"));
}

TEST(MetricsTest, ServingOnABadAddressIsAnErrorNamingIt) {
  PrometheusMetrics metrics;
  absl::Status s = metrics.Serve("256.0.0.1:1");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("256.0.0.1:1"));
}

}  // namespace
}  // namespace baton::metrics
