// Routing: who takes a handoff. Walks a waterfall of targets (the account's owner, a pool, a
// queue, a named rep, the backup or manager of the first rep named) and returns the first that
// can take it, with one line per step tried, so the lead shows why it went where it went.
//
// A rep can take a handoff unless deactivated, out of office, or (when the routing section asks
// for it) outside working hours; a pool picks among such members by smooth weighted round robin
// (the same sequence as nginx's: over any window each member gets its weight's share), skipping
// members at their cap of open handoffs. The round-robin position is team state, committed with
// the handoff, so fairness survives restarts. The catch-all queue, when configured, ends every
// waterfall; if nobody can take the handoff, the decision is empty — an explicit routing failure,
// never a silent pick.
//
// Thread-safety: pure functions over the values passed in.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "baton/config/v1/rules.pb.h"
#include "baton/core/policy.h"
#include "baton/core/team.h"
#include "baton/v1/events.pb.h"

namespace baton::core {

struct RouteDecision {
  // Empty: nobody can take it.
  std::string assignee;
  // "AE", "SDR", "MARKETING_OWNER", "BACKUP", "MANAGER", "POOL", "REP" or "QUEUE".
  std::string role;
  bool queue = false;
  // One entry per step tried, e.g. "account AE ae-1: out of office until 2026-11-30T00:00:00Z".
  std::vector<std::string> path;
};

// Route walks `waterfall` at time `at`. `exclude` is never picked (the assignee a handoff is
// being reassigned away from). Choosing from a pool advances the pool's position in `team`.
// `catch_all` false leaves the catch-all queue out (a reassignment goes to a person or nowhere).
RouteDecision Route(const Policy& policy, Team& team,
                    const std::vector<baton::config::v1::Target>& waterfall,
                    const baton::v1::Owners& owners, absl::Time at, absl::string_view exclude = "",
                    bool catch_all = true);

}  // namespace baton::core
