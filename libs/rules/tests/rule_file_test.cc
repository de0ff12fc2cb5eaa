#include "baton/rules/rule_file.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::rules {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(absl::string_view yaml) {
  auto rules = ParseRuleFile(yaml, "rules.yaml");
  EXPECT_FALSE(rules.ok());
  return std::string(rules.status().message());
}

TEST(RuleFileTest, TheShippedDefaultLoadsAndIsTheCanonicalRule) {
  auto rules = LoadRuleFile(BATON_DEFAULT_RULES);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(ExplainRuleSet(**rules),
            "rule file version 1: 1 rule, engagement kept 14d\n"
            "  tier1-email-opens-and-pricing: priority 100, SALES_READY, cooldown 30d: when "
            "(>=3 email opens by one contact within 14d AND >=1 pricing page visit within 14d "
            "AND tier is Tier 1)\n");
}

TEST(RuleFileTest, AnUnknownKeyNamesFileLineAndField) {
  EXPECT_THAT(ErrorOf("version: 1\n"
                      "rules:\n"
                      "  - name: r\n"
                      "    level: SALES_READY\n"
                      "    when: {tier_in: [TIER_1]}\n"
                      "    cooldwn: 3d\n"),
              HasSubstr("rules.yaml:6: rules[0]"));
}

TEST(RuleFileTest, AnUnknownEventTypeNamesFileLineAndField) {
  EXPECT_THAT(ErrorOf("version: 1\n"
                      "rules:\n"
                      "  - name: r\n"
                      "    level: SALES_READY\n"
                      "    when:\n"
                      "      count: {type: EMAIL_OPNE, at_least: 3, within: 14d}\n"),
              HasSubstr("rules.yaml:6: rules[0].when.count.type"));
}

TEST(RuleFileTest, AWrongTypeNamesFileLineAndField) {
  EXPECT_THAT(ErrorOf("version: 1\n"
                      "rules:\n"
                      "  - name: r\n"
                      "    level: SALES_READY\n"
                      "    when:\n"
                      "      count: {type: EMAIL_OPEN, at_least: three, within: 14d}\n"),
              HasSubstr("rules.yaml:6: rules[0].when.count.at_least"));
}

TEST(RuleFileTest, ASemanticProblemNamesFileLineAndField) {
  EXPECT_EQ(ErrorOf("version: 1\n"
                    "rules:\n"
                    "  - name: r\n"
                    "    level: SALES_READY\n"
                    "    when:\n"
                    "      count:\n"
                    "        type: EMAIL_OPEN\n"
                    "        at_least: 3\n"
                    "        within: 120d\n"),
            "rules.yaml:9: rules[0].when.count.within: must be between 1m and 90d");
}

TEST(RuleFileTest, AnUnknownRoleNamesFileLineAndField) {
  EXPECT_THAT(ErrorOf("version: 1\n"
                      "rules:\n"
                      "  - name: r\n"
                      "    level: SALES_READY\n"
                      "    when:\n"
                      "      roles_covered:\n"
                      "        roles: [FINANCE, CEO]\n"
                      "        within: 30d\n"),
              HasSubstr("rules.yaml:7: rules[0].when.roles_covered.roles[1]"));
}

TEST(RuleFileTest, AMissingFileIsNamed) {
  auto rules = LoadRuleFile("/nonexistent/rules.yaml");
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("/nonexistent/rules.yaml"));
}

constexpr absl::string_view kOneRule =
    "version: 1\n"
    "rules:\n"
    "  - name: r\n"
    "    level: SALES_READY\n"
    "    when: {tier_in: [TIER_1]}\n";

TEST(RuleFileTest, AnUnknownTimeZoneNamesFileLineAndField) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kOneRule,
                                   "calendars:\n"
                                   "  - name: us-east\n"
                                   "    time_zone: America/Gotham\n")),
              HasSubstr("rules.yaml:8: calendars[0].time_zone: unknown time zone "
                        "\"America/Gotham\""));
}

TEST(RuleFileTest, RoutingToAnUndefinedPoolNamesTheTarget) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kOneRule,
                                   "routing:\n"
                                   "  routes:\n"
                                   "    - tier_in: [TIER_2]\n"
                                   "      to: [{pool: sdr-pool}]\n")),
              HasSubstr("rules.yaml:9: routing.routes[0].to[0].pool: names no pool in "
                        "team.pools ('sdr-pool')"));
}

TEST(RuleFileTest, BadWorkingHoursAndEscalationAreNamed) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kOneRule,
                                   "calendars:\n"
                                   "  - name: c\n"
                                   "    working_hours: [{days: [MON], from: \"9am\", to: "
                                   "\"17:00\"}]\n")),
              HasSubstr("calendars[0].working_hours[0].from: must be a time of day"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kOneRule,
                                   "sla:\n"
                                   "  policies:\n"
                                   "    - first_follow_up: 1h\n"
                                   "      escalation: [{after: 1h, reassign_to: ACCOUNT_AE}]\n")),
              HasSubstr("sla.policies[0].escalation[0].reassign_to: must be BACKUP or MANAGER"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kOneRule,
                                   "sla:\n"
                                   "  policies:\n"
                                   "    - remind_at: 0.5\n")),
              HasSubstr("sla.policies[0].first_follow_up: is required"));
}

TEST(RuleFileTest, TheRoutingAndSlaExampleLoadsAndIsExplained) {
  auto rules = LoadRuleFile(BATON_EXAMPLE_RULES);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const std::string text = ExplainRuleSet(**rules);
  EXPECT_THAT(text, HasSubstr("routing (first match; else the built-in routes):\n"));
  EXPECT_THAT(text, HasSubstr("sla TIER_1 SALES_READY: follow up within 1h of business time"));
  const core::Policy& policy = (*rules)->policy();
  EXPECT_NE(policy.SlaFor(baton::v1::TIER_1, baton::v1::SALES_READY), nullptr);
  EXPECT_FALSE(policy.RouteFor(baton::v1::TIER_2, baton::v1::SALES_READY).empty());
}

}  // namespace
}  // namespace baton::rules
