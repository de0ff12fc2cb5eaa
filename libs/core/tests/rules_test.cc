#include "baton/core/rules.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "baton/core/clock.h"
#include "baton/core/engine.h"
#include "baton/core/event.h"
#include "baton/core/testing/canonical_rules.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace baton::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1793000000);

// One rule named "r" at SALES_READY with `when` given in text format.
std::shared_ptr<const RuleSet> Rule(const std::string& when, const std::string& extra = "") {
  return core_testing::RulesFromText(
      absl::StrCat("version: 7 rules { name: 'r' level: SALES_READY message: '{reason}' when { ",
                   when, " } } ", extra));
}

std::vector<RuleIssue> Issues(const std::string& text) {
  baton::config::v1::RuleFile file;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &file)) << text;
  std::vector<RuleIssue> issues;
  EXPECT_FALSE(RuleSet::Compile(std::move(file), issues).has_value());
  return issues;
}

}  // namespace

void PrintTo(const RuleIssue& issue, std::ostream* os) {
  *os << issue.path << ": " << issue.problem;
}

namespace {

MATCHER_P2(IssueAt, path, problem_part, "") {
  return arg.path == path && arg.problem.find(problem_part) != std::string::npos;
}

// Drives an engine with one rule set over one account "acme".
class RulesTest : public ::testing::Test {
 protected:
  RulesTest() : clock_(kStart) {}

  void Use(std::shared_ptr<const RuleSet> rules) {
    engine_ = std::make_unique<Engine>(EngineOptions{}, std::move(rules), clock_);
  }

  Effects Apply(const InputEvent& e) {
    absl::StatusOr<Effects> effects = engine_->Apply(e, account_, team_);
    EXPECT_TRUE(effects.ok()) << effects.status();
    return effects.ok() ? *effects : Effects{};
  }

  baton::v1::CrmEvent Crm() {
    baton::v1::CrmEvent e;
    e.set_event_id(absl::StrCat("crm-", ++next_id_));
    *e.mutable_event_time() = ToTimestamp(clock_.Now());
    e.set_source("crm");
    return e;
  }

  Effects Account(baton::v1::Tier tier, const std::string& stage = "Engaged") {
    baton::v1::CrmEvent e = Crm();
    auto* a = e.mutable_account_upsert();
    a->set_account_id("acme");
    a->set_name("Acme");
    a->set_tier(tier);
    a->set_stage(stage);
    a->mutable_owners()->set_ae_id("ae-1");
    a->mutable_owners()->set_sdr_id("sdr-1");
    if (decision_date_) *a->mutable_decision_date() = ToTimestamp(*decision_date_);
    return Apply(e);
  }

  Effects Contact(const std::string& id, baton::v1::BuyingGroupRole role) {
    baton::v1::CrmEvent e = Crm();
    auto* c = e.mutable_contact_upsert();
    c->set_contact_id(id);
    c->set_account_id("acme");
    c->set_role(role);
    return Apply(e);
  }

  Effects SalesTouch(bool automated = false) {
    baton::v1::CrmEvent e = Crm();
    auto* a = e.mutable_sales_activity();
    a->set_account_id("acme");
    a->set_rep_id("ae-1");
    a->set_kind(baton::v1::CALL);
    a->set_automated(automated);
    return Apply(e);
  }

  Effects Engage(baton::v1::EngagementType type, const std::string& contact = "c-1",
                 const std::string& url = "", const std::string& campaign = "") {
    baton::v1::EngagementEvent e;
    e.set_event_id(absl::StrCat("ev-", ++next_id_));
    *e.mutable_event_time() = ToTimestamp(clock_.Now());
    e.set_source("test");
    e.set_account_id("acme");
    e.set_contact_id(contact);
    e.set_type(type);
    e.set_url(url);
    e.set_campaign_id(campaign);
    return Apply(e);
  }

  FakeClock clock_;
  std::unique_ptr<Engine> engine_;
  core::Account account_;
  core::Team team_;
  int next_id_ = 0;
  std::optional<absl::Time> decision_date_;
};

TEST_F(RulesTest, TierIn) {
  Use(Rule("tier_in: [TIER_2, TIER_3]"));
  EXPECT_THAT(Account(baton::v1::TIER_1).leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  Effects e = Account(baton::v1::TIER_3);
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "Tier 3");
  EXPECT_EQ(e.leads[0].rule_version(), 7);
}

TEST_F(RulesTest, StageInUsesTheAliases) {
  Use(Rule("stage_in: 'MQL'", "engagement { stage_aliases { key: 'MQA' value: 'MQL' } }"));
  EXPECT_THAT(Account(baton::v1::TIER_1, "Engaged").leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  Effects e = Account(baton::v1::TIER_1, "MQA");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "stage MQL");
}

TEST_F(RulesTest, CountPerAccountWithACampaignFilterAndItsWindowEdge) {
  Use(Rule("count { type: EMAIL_CLICK at_least: 2 within { seconds: 3600 } campaign: 'q4' }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::EMAIL_CLICK, "c-1", "", "q4");
  Engage(baton::v1::EMAIL_CLICK, "c-2", "", "other");  // wrong campaign
  clock_.Advance(absl::Hours(1));                      // the first click is exactly 1h old
  EXPECT_THAT(Engage(baton::v1::EMAIL_CLICK, "c-2", "", "q4").leads, IsEmpty());
  clock_.Advance(absl::Minutes(30));
  Effects e = Engage(baton::v1::EMAIL_CLICK, "c-3", "", "q4");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "2 email clicks (campaign q4) in 1h");
  EXPECT_THAT(e.leads[0].trigger_events(), SizeIs(2));
}

TEST_F(RulesTest, CountPerContactNeedsOneContactToReachIt) {
  Use(Rule("count { type: CONTENT_DOWNLOAD at_least: 2 within { seconds: 86400 } per: CONTACT }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::CONTENT_DOWNLOAD, "c-1");
  EXPECT_THAT(Engage(baton::v1::CONTENT_DOWNLOAD, "c-2").leads, IsEmpty());
  Effects e = Engage(baton::v1::CONTENT_DOWNLOAD, "c-2");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "2 content downloads by contact c-2 in 1d");
  EXPECT_EQ(e.leads[0].contact().contact_id(), "c-2");
}

TEST_F(RulesTest, CountWithAUrlSegment) {
  Use(Rule("count { type: PAGE_VISIT at_least: 1 within { seconds: 86400 } url_segment: 'demo' }"));
  Account(baton::v1::TIER_1);
  EXPECT_THAT(Engage(baton::v1::PAGE_VISIT, "c-1", "https://v.example/blog/demo-day").leads,
              IsEmpty());
  Effects e = Engage(baton::v1::PAGE_VISIT, "c-1", "https://v.example/en/Demo?x=1");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "demo page visit just now");
}

TEST_F(RulesTest, DistinctContacts) {
  Use(Rule("distinct_contacts { at_least: 3 within { seconds: 604800 } }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::EMAIL_OPEN, "c-1");
  Engage(baton::v1::EMAIL_OPEN, "c-1");
  EXPECT_THAT(Engage(baton::v1::FORM_FILL, "c-2").leads, IsEmpty());
  Effects e = Engage(baton::v1::REPLY, "c-3");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "3 contacts engaged in 7d");
}

TEST_F(RulesTest, RolesCoveredAllOrAtLeastN) {
  Use(
      Rule("roles_covered { roles: [DECISION_MAKER, FINANCE, TECHNICAL_EVALUATOR] at_least: 2 "
           "within { seconds: 2592000 } }"));
  Account(baton::v1::TIER_1);
  Contact("c-1", baton::v1::DECISION_MAKER);
  Contact("c-2", baton::v1::USER);
  Contact("c-3", baton::v1::FINANCE);
  Engage(baton::v1::EMAIL_OPEN, "c-1");
  EXPECT_THAT(Engage(baton::v1::EMAIL_OPEN, "c-2").leads, IsEmpty());
  Effects e = Engage(baton::v1::EMAIL_OPEN, "c-3");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "roles engaged in 30d: decision maker, finance");
  ASSERT_THAT(e.leads[0].engagement().role_engagement(), SizeIs(3));
  EXPECT_EQ(e.leads[0].engagement().role_engagement(0).role(), baton::v1::DECISION_MAKER);
}

TEST_F(RulesTest, ScoreDecaysWithTheHalfLife) {
  Use(Rule("score_at_least: 16",
           "engagement { points { key: 'MEETING_REQUEST' value: 10 } score_half_life { seconds: "
           "86400 } }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::MEETING_REQUEST);
  clock_.Advance(absl::Hours(24));  // the first request is worth 5 now
  EXPECT_THAT(Engage(baton::v1::MEETING_REQUEST).leads, IsEmpty());  // 5 + 10 < 16
  EXPECT_NEAR(engine_->rules().Score(account_), 15.0, 1e-9);
}

TEST_F(RulesTest, ScoreReachingTheThresholdFires) {
  Use(Rule("score_at_least: 15",
           "engagement { points { key: 'MEETING_REQUEST' value: 10 } score_half_life { seconds: "
           "86400 } }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::MEETING_REQUEST);
  clock_.Advance(absl::Hours(12));  // 10 * 2^-0.5 = 7.07
  Effects e = Engage(baton::v1::MEETING_REQUEST);
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "engagement score 17.1");
  EXPECT_NEAR(e.leads[0].engagement().engagement_score(), 17.071, 1e-3);
}

TEST_F(RulesTest, DaysSinceSalesTouchIgnoresAutomatedActivity) {
  Use(
      Rule("all { days_since_sales_touch { at_least_days: 14 } } "
           "all { count { type: REPLY at_least: 1 within { seconds: 86400 } } }"));
  Account(baton::v1::TIER_1);
  SalesTouch();
  clock_.Advance(absl::Hours(24 * 10));
  SalesTouch(/*automated=*/true);
  EXPECT_THAT(Engage(baton::v1::REPLY).leads, IsEmpty());  // touched 10 days ago
  clock_.Advance(absl::Hours(24 * 4));
  Effects e = Engage(baton::v1::REPLY);
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "last sales touch 14d ago; reply just now");
}

TEST_F(RulesTest, DecisionDatePassed) {
  Use(Rule("decision_date: PASSED"));
  decision_date_ = kStart + absl::Hours(48);
  EXPECT_THAT(Account(baton::v1::TIER_1).leads, IsEmpty());
  clock_.Advance(absl::Hours(49));
  Effects e = Engage(baton::v1::EMAIL_OPEN);
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "decision date passed 1h ago");
}

TEST_F(RulesTest, AnyAndNot) {
  Use(Rule(
      "any { tier_in: TIER_1 } any { all { tier_in: TIER_2 } all { not { stage_in: 'Won' } } }"));
  EXPECT_THAT(Account(baton::v1::TIER_3).leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Account(baton::v1::TIER_2, "Won").leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  Effects e = Account(baton::v1::TIER_2, "Engaged");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].reason(), "Tier 2");
}

TEST_F(RulesTest, HigherPriorityWinsAndASalesReadyRuleMayUpgradeAnOpenEarlySignal) {
  Use(core_testing::RulesFromText(R"pb(
    version: 1
    rules {
      name: "early"
      priority: 1
      level: EARLY_SIGNAL
      when { tier_in: TIER_1 }
    }
    rules {
      name: "ready"
      priority: 9
      level: SALES_READY
      when {
        count {
          type: MEETING_REQUEST
          at_least: 1
          within { seconds: 86400 }
        }
      }
    }
  )pb"));
  Effects early = Account(baton::v1::TIER_1);
  ASSERT_THAT(early.leads, SizeIs(1));
  EXPECT_EQ(early.leads[0].rule_name(), "early");
  EXPECT_EQ(early.leads[0].assignee_role(), "SDR");
  EXPECT_EQ(early.leads[0].assignee_id(), "sdr-1");
  Effects ready = Engage(baton::v1::MEETING_REQUEST);
  ASSERT_THAT(ready.leads, SizeIs(1));
  EXPECT_EQ(ready.leads[0].rule_name(), "ready");
  EXPECT_EQ(ready.leads[0].assignee_role(), "AE");
  EXPECT_THAT(Engage(baton::v1::MEETING_REQUEST).leads, IsEmpty());  // "ready" is open now
}

TEST_F(RulesTest, TheMessageTemplateIsFilledIn) {
  Use(core_testing::RulesFromText(R"pb(
    version: 1
    rules {
      name: "r"
      level: SALES_READY
      message: "Call {account_name} ({tier}, {stage}) about {rule}: {reason}"
      when { tier_in: TIER_1 }
    }
  )pb"));
  Effects e = Account(baton::v1::TIER_1, "Evaluating");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].recommended_message(), "Call Acme (Tier 1, Evaluating) about r: Tier 1");
}

TEST_F(RulesTest, ALeadWithoutAPerContactCountNamesTheLatestTriggersContact) {
  Use(Rule("count { type: MEETING_REQUEST at_least: 1 within { seconds: 604800 } }"));
  Account(baton::v1::TIER_1);
  Contact("c-7", baton::v1::DECISION_MAKER);
  Effects e = Engage(baton::v1::MEETING_REQUEST, "c-7");
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].contact().contact_id(), "c-7");
  EXPECT_EQ(e.leads[0].contact().role(), baton::v1::DECISION_MAKER);
}

TEST_F(RulesTest, TheSummaryCoversTheRulesLongestWindow) {
  Use(Rule("count { type: MEETING_REQUEST at_least: 1 within { seconds: 604800 } }"));
  Account(baton::v1::TIER_1);
  Engage(baton::v1::EMAIL_OPEN);
  clock_.Advance(absl::Hours(24 * 8));  // the open is outside the 7-day window
  Effects e = Engage(baton::v1::MEETING_REQUEST);
  ASSERT_THAT(e.leads, SizeIs(1));
  EXPECT_EQ(e.leads[0].engagement().window_days(), 7);
  EXPECT_EQ(e.leads[0].engagement().email_opens(), 0);
  EXPECT_EQ(e.leads[0].engagement().meetings(), 1);
}

TEST(RuleValidationTest, EachProblemNamesItsField) {
  const auto issues = Issues(R"pb(
    version: 0
    rules {
      name: "Bad Name"
      level: SALES_READY
      when { tier_in: TIER_1 stage_in: "x" }
    }
    rules {
      name: "ok"
      when {
        all {
          count {
            type: EMAIL_OPEN
            at_least: 0
            within { seconds: 9999999 }
            url_segment: "a/b"
          }
        }
        all {
          roles_covered {
            roles: [ FINANCE, FINANCE ]
            at_least: 3
          }
        }
      }
      message: "hi {name}"
      cooldown { seconds: 1 }
    }
    rules {
      name: "ok"
      level: EARLY_SIGNAL
      when {}
    }
    engagement { points { key: "EMAIL_OPNE" value: 1 } }
  )pb");
  EXPECT_THAT(
      issues,
      ElementsAre(IssueAt("version", "at least 1"), IssueAt("rules[0].name", "a-z"),
                  IssueAt("rules[0].when", "more than one condition"),
                  IssueAt("rules[1].level", "is required"),
                  IssueAt("rules[1].when.all[0].count.at_least", "at least 1"),
                  IssueAt("rules[1].when.all[0].count.within", "between 1m and 90d"),
                  IssueAt("rules[1].when.all[0].count.url_segment", "one path segment"),
                  IssueAt("rules[1].when.all[0].count.url_segment", "PAGE_VISIT, EMAIL_CLICK"),
                  IssueAt("rules[1].when.all[1].roles_covered.roles[1]", "listed twice"),
                  IssueAt("rules[1].when.all[1].roles_covered.at_least", "between 1 and"),
                  IssueAt("rules[1].when.all[1].roles_covered.within", "is required"),
                  IssueAt("rules[1].cooldown", "between 1m and 365d"),
                  IssueAt("rules[1].message", "unknown placeholder {name}"),
                  IssueAt("rules[2].name", "used by an earlier rule"),
                  IssueAt("rules[2].when", "needs one condition"),
                  IssueAt("engagement.points[EMAIL_OPNE]", "not an engagement type")));
}

TEST(RuleValidationTest, RetentionMustCoverTheLongestWindow) {
  const auto issues = Issues(R"pb(
    version: 1
    rules {
      name: "r"
      level: SALES_READY
      when {
        count {
          type: EMAIL_OPEN
          at_least: 1
          within { seconds: 5184000 }
        }
      }
    }
    engagement { retention { seconds: 1209600 } }
  )pb");
  EXPECT_THAT(issues, ElementsAre(IssueAt("engagement.retention", "(60d)")));
}

TEST(RuleSetTest, RetentionDefaultsToTheLongestWindowAndExplainReadsLikeTheRule) {
  auto rules = core_testing::CanonicalRules();
  EXPECT_EQ(rules->retention(), absl::Hours(24 * 14));
  EXPECT_EQ(rules->Explain(rules->file().rules(0)),
            "tier1-email-opens-and-pricing: priority 100, SALES_READY, cooldown 30d: when "
            "(>=3 email opens by one contact within 14d AND >=1 pricing page visit within 14d "
            "AND tier is Tier 1)");
}

}  // namespace
}  // namespace baton::core
