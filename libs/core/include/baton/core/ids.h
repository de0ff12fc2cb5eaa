// Stable output identities (DESIGN.md, invariant 2).
//
// Every output's id is a pure function of what caused it, so a replay after a crash produces
// the same ids and any consumer can recognise a duplicate.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace baton::core {

// StableHash64 is FNV-1a over the parts, with a separator between parts so that ("ab", "c") and
// ("a", "bc") differ. Unlike std::hash or absl::Hash it is the same in every process and release,
// which is what an id written to Kafka needs.
uint64_t StableHash64(std::initializer_list<absl::string_view> parts);

// HandoffId names the handoff that `rule` made for `account_id` when `trigger_event_id` arrived,
// e.g. "ho-acme-7f3a09c2e4b1d6a8".
std::string HandoffId(absl::string_view account_id, absl::string_view rule,
                      absl::string_view trigger_event_id);

// LeadId is the id of the RoutedLead for a handoff: "lead:" + handoff id.
std::string LeadId(absl::string_view handoff_id);

// AlertId is "alert:<kind>:<cause>[:<level>]", e.g. "alert:handoff:ho-acme-7f3a…".
std::string AlertId(absl::string_view kind, absl::string_view cause, int escalation_level = 0);

}  // namespace baton::core
