// Words the engine writes into leads and alerts: tier and role names, "2d ago". Private to
// libs/core. Pure functions.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "baton/v1/events.pb.h"

namespace baton::core {

// TierName: "Tier 1", "Tier 2", "Tier 3", "Not ABM", "no tier".
std::string TierName(baton::v1::Tier tier);
// RoleName: "technical evaluator"; "role unknown" for an unspecified role.
std::string RoleName(baton::v1::BuyingGroupRole role);
// Ago renders a duration the way a rep reads it: "just now", "35m ago", "5h ago", "2d ago".
std::string Ago(absl::Duration d);

}  // namespace baton::core
