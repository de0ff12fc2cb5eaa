// Engine: Baton's per-account decision logic, deterministic and free of I/O.
//
// The engine applies one validated input event to its account's state, evaluates the rule set
// (highest priority first), routes a handoff down the routing waterfall and arms its follow-up
// SLA, and returns the outputs that event causes. Given the same events, rules, options and
// clock readings it produces the same outputs byte for byte (DESIGN.md, invariant 1).
//
// Time: rule windows are measured on event time and end at the account's watermark, the latest
// event time applied to the account, so late and out-of-order events land where they belong.
// The injected clock is read only to reject events from the future.
//
// Timers (DESIGN.md, invariant 6) are data in the account's state: SLA reminders, breaches and
// escalation steps, the stalled-account check and the decision-date check. NextDeadline() says
// when the earliest is due; Expire(now) fires every timer due by `now`, in due order, each once,
// stamping each alert with its due time rather than `now`, so firing late (or in a replay) gives
// the same alert. Apply() first expires the account's timers up to the event's time, so a
// follow-up logged after its deadline comes after the breach, whenever it is processed. The
// service calls Expire with the wall clock (live) or with event time (replay).
//
// Thread-safety: Apply and Expire may be called concurrently for different accounts with
// different Teams as long as SetRules is not called meanwhile. Accounts and Teams are owned by
// the caller.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/core/account.h"
#include "baton/core/clock.h"
#include "baton/core/event.h"
#include "baton/core/rules.h"
#include "baton/core/team.h"
#include "baton/internal/v1/state.pb.h"
#include "baton/v1/outputs.pb.h"

namespace baton::core {

struct EngineOptions {
  // Events whose time is further than this ahead of the clock are rejected as invalid.
  absl::Duration max_future_skew = absl::Hours(24);
  // Bounds on per-account state (oldest entries go first): engagement records kept, and CRM
  // event ids remembered for de-duplication (CRM events are idempotent beyond that).
  int max_engagement_records = 4096;
  int max_seen_crm_events = 256;
  // Recipient of a ROUTING_FAILURE alert when the account has no marketing owner.
  std::string unrouted_queue = "queue:unrouted";
};

// Effects is what applying one event produced.
struct Effects {
  std::vector<baton::v1::RoutedLead> leads;
  std::vector<baton::v1::Alert> alerts;
  // The event id had been applied before: nothing changed.
  bool duplicate = false;
  // An engagement event older than the retention before the watermark: ignored for windows.
  bool late = false;
  // SLAs that ended: "met", "breached" or "cancelled", one entry per armed SLA, once.
  std::vector<std::string> sla_outcomes;
  // Handoffs rejected, by reason name ("NONE" without one), and handoffs accepted.
  std::vector<std::string> rejections;
  int accepted = 0;
  // Time from routing to first follow-up, per SLA met or followed up late.
  std::vector<absl::Duration> follow_up_times;
  // Due times of the timers that fired.
  std::vector<absl::Time> timers_fired;
};

class Engine {
 public:
  Engine(EngineOptions options, std::shared_ptr<const RuleSet> rules, const Clock& clock);

  // SetRules swaps in a new rule set (a reload); accounts keep their state. Call it between
  // events, from the thread that calls Apply.
  void SetRules(std::shared_ptr<const RuleSet> rules);
  const RuleSet& rules() const { return *rules_; }

  // Apply applies `event` to `account` (the state of AccountIdOf(event); empty for a new
  // account) and returns the outputs. Returns InvalidArgument, with a message that starts with a
  // reason code ("bad_timestamp: ..."), for an event the engine cannot accept; `account` is
  // then unchanged.
  // `team` is the routing state shared by all accounts (see team.h); a RepStatus event, which
  // names no account, changes only the team (pass any account; it is not touched).
  absl::StatusOr<Effects> Apply(const InputEvent& event, Account& account, Team& team) const;

  // Expire fires the account's timers due at or before `now`.
  Effects Expire(Account& account, Team& team, absl::Time now) const;

  // NextDeadline is when the account's earliest timer is due, or InfiniteFuture() when none is
  // pending. Apply and Expire also record it in the account head (timer_due_ms).
  absl::Time NextDeadline(const Account& account) const;

  const EngineOptions& options() const { return options_; }

 private:
  EngineOptions options_;
  std::shared_ptr<const RuleSet> rules_;
  const Clock& clock_;
};

}  // namespace baton::core
