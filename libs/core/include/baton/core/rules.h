// RuleSet: the qualification rules both teams agreed on, validated and ready to evaluate.
//
// A rule file (proto/baton/config/v1/rules.proto, written as YAML) is compiled into a RuleSet:
// Compile() checks every semantic constraint the schema cannot express and reports each problem
// with the path of its field ("rules[1].when.all[0].count.at_least"), which the loader turns
// into file and line. A RuleSet is immutable; a reload builds a new one and swaps it in whole.
//
// Evaluate() decides whether one rule holds for an account at its watermark and, if it does,
// which facts ("3 email opens by contact c-1 in 14d") and which engagement records made it hold.
//
// Thread-safety: immutable after Compile; safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "baton/config/v1/rules.pb.h"
#include "baton/core/account.h"
#include "baton/core/policy.h"

namespace baton::core {

// RuleIssue is one problem in a rule file: the field's path and what is wrong with it.
struct RuleIssue {
  std::string path;
  std::string problem;
};

// RuleMatch is a rule that holds: the facts for the lead's reason line, the engagement records
// that made it hold, and the contact behind them.
struct RuleMatch {
  std::vector<std::string> facts;
  std::vector<Engagement> triggers;
  std::string contact;
  // The longest window among the rule's conditions (14d when it has none): the lead summarises
  // engagement over it.
  absl::Duration summary_window = absl::ZeroDuration();
};

class RuleSet {
 public:
  // Compile validates `file`. On success `issues` is empty; otherwise it lists every problem.
  static std::optional<RuleSet> Compile(baton::config::v1::RuleFile file,
                                        std::vector<RuleIssue>& issues);

  int version() const { return file_.version(); }
  // Indexes into file().rules() by priority (highest first; ties in file order).
  const std::vector<int>& order() const { return order_; }
  absl::Duration retention() const { return retention_; }
  absl::Duration cooldown(const baton::config::v1::Rule& rule) const;
  // CanonicalStage maps a CRM stage through the stage aliases.
  std::string CanonicalStage(absl::string_view crm_stage) const;
  // Score is the account's engagement score at its watermark.
  double Score(const Account& account) const;
  const baton::config::v1::RuleFile& file() const { return file_; }
  // The routing, team, SLA, stall and decision-date sections.
  const Policy& policy() const { return policy_; }

  // Evaluate returns the match if `rule` holds for `account` at its watermark.
  std::optional<RuleMatch> Evaluate(const baton::config::v1::Rule& rule,
                                    const Account& account) const;

  // Explain renders a rule as one line, e.g. "tier1-email-opens-and-pricing: priority 100,
  // SALES_READY, cooldown 30d: when >=3 email opens per contact within 14d AND ...".
  std::string Explain(const baton::config::v1::Rule& rule) const;

 private:
  RuleSet() = default;

  baton::config::v1::RuleFile file_;
  Policy policy_;
  std::vector<int> order_;
  absl::Duration retention_;
  absl::Duration half_life_;
  double points_[16] = {};
};

// ToDuration converts a protobuf Duration.
absl::Duration ToDuration(const google::protobuf::Duration& d);
// FormatWindow renders a duration the way rule files write it: "14d", "36h", "90m".
std::string FormatWindow(absl::Duration d);

}  // namespace baton::core
