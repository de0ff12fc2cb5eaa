// One-line, human-readable renderings of Baton's outputs for terminals and logs. They carry ids,
// tiers, rules and reasons, never a contact's email or name.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "baton/v1/outputs.pb.h"

namespace baton::codec {

// e.g. "LEAD  acme  Acme Corp (TIER_1) -> AE ae-1 | tier1-email-opens-and-pricing v1
//       SALES_READY | 3 email opens by contact c-1 in 14d; ... | contact c-1 CHAMPION"
std::string OneLine(const baton::v1::RoutedLead& lead);
// e.g. "ALERT HANDOFF INFO acme -> ae-1 | Acme Corp (Tier 1) is sales-ready for AE ae-1: ..."
std::string OneLine(const baton::v1::Alert& alert);

}  // namespace baton::codec
