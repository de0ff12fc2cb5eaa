// Policy: the routing, team, calendar and follow-up SLA parts of a rule file, validated and
// ready to use.
//
// RuleSet::Compile builds one Policy per rule file; like the rules, it reports every problem
// with its field path ("sla.policies[0].escalation[1].reassign_to") and is immutable afterwards.
// Absent sections have defaults that give the domain's usual behaviour (README.md, "Routing"):
// sales-ready -> the account's AE; early signal -> its SDR, else its AE; Tier 3 and Not ABM ->
// the nurture queue; no SLA.
//
// Thread-safety: immutable after Compile; safe to share between threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "baton/config/v1/rules.pb.h"
#include "baton/core/business_calendar.h"
#include "baton/internal/v1/state.pb.h"

namespace baton::core {

struct RuleIssue;

class Policy {
 public:
  // Compile appends every problem of the policy sections of `file` to `issues`.
  static Policy Compile(const baton::config::v1::RuleFile& file, std::vector<RuleIssue>& issues);

  // RouteFor is the waterfall for a handoff of this tier and level: the first matching route of
  // the rule file, else the built-in one.
  const std::vector<baton::config::v1::Target>& RouteFor(baton::v1::Tier tier,
                                                         baton::v1::QualificationLevel level) const;
  const std::string& catch_all_queue() const { return routing_.catch_all_queue(); }
  bool require_working_hours() const { return routing_.require_working_hours(); }
  const std::string& unmatched_queue() const { return unmatched_queue_; }

  // Rep is the rule file's entry for a rep, or nullptr for a rep it does not list.
  const baton::config::v1::Rep* Rep(absl::string_view rep_id) const;
  const baton::config::v1::Pool* Pool(absl::string_view name) const;
  // CalendarFor is the rep's business calendar: the CRM's RepStatus (calendar, time zone) over
  // the rule file's entry over the team default.
  BusinessCalendar CalendarFor(absl::string_view rep_id,
                               const baton::internal::v1::RepState* state) const;
  // Unavailable says why a rep cannot take a handoff at `at` ("deactivated", "out of office until
  // 2026-11-30T00:00:00Z", "outside working hours"), or "" when the rep can.
  std::string Unavailable(absl::string_view rep_id, const baton::internal::v1::RepState* state,
                          absl::Time at) const;

  // SlaFor is the first SLA policy for this tier and level, or nullptr when none applies.
  const baton::config::v1::SlaPolicy* SlaFor(baton::v1::Tier tier,
                                             baton::v1::QualificationLevel level) const;
  // CountsAsFollowUp: does a sales activity of this kind count as follow-up?
  bool CountsAsFollowUp(baton::v1::ActivityKind kind, bool automated) const;

  const std::string& recycle_queue() const { return recycle_queue_; }
  absl::Duration recycle_cooldown() const { return recycle_cooldown_; }

  // StallAfter is how long an account in this canonical stage may go without a touch before it
  // is stalled, or nullopt when the stage is not checked.
  std::optional<absl::Duration> StallAfter(absl::string_view canonical_stage) const;
  // ConversationWithin is the decision-date check's look-back, or nullopt when it is disabled.
  std::optional<absl::Duration> ConversationWithin() const { return conversation_within_; }

 private:
  baton::config::v1::Routing routing_;
  std::vector<std::vector<baton::config::v1::Target>> configured_;  // routing_.routes()[i].to
  std::vector<std::vector<baton::config::v1::Target>> builtin_;
  std::string unmatched_queue_;
  std::map<std::string, baton::config::v1::Rep, std::less<>> reps_;
  std::map<std::string, baton::config::v1::Pool, std::less<>> pools_;
  std::map<std::string, CalendarSpec, std::less<>> calendars_;
  CalendarSpec default_calendar_;
  bool default_always_ = true;
  baton::config::v1::Sla sla_;
  std::vector<baton::v1::ActivityKind> follow_up_kinds_;
  std::string recycle_queue_;
  absl::Duration recycle_cooldown_;
  std::vector<std::pair<std::vector<std::string>, absl::Duration>> stalls_;
  std::optional<absl::Duration> conversation_within_;
};

}  // namespace baton::core
