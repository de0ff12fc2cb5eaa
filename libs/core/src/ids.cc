#include "baton/core/ids.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace baton::core {

uint64_t StableHash64(std::initializer_list<absl::string_view> parts) {
  constexpr uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash = kOffsetBasis;
  for (absl::string_view part : parts) {
    for (unsigned char c : part) {
      hash = (hash ^ c) * kPrime;
    }
    hash = (hash ^ 0xffu) * kPrime;  // separator: 0xff never occurs in UTF-8
  }
  return hash;
}

std::string HandoffId(absl::string_view account_id, absl::string_view rule,
                      absl::string_view trigger_event_id) {
  return absl::StrFormat("ho-%s-%016x", account_id,
                         StableHash64({account_id, rule, trigger_event_id}));
}

std::string LeadId(absl::string_view handoff_id) { return absl::StrCat("lead:", handoff_id); }

std::string AlertId(absl::string_view kind, absl::string_view cause, int escalation_level) {
  if (escalation_level == 0) return absl::StrCat("alert:", kind, ":", cause);
  return absl::StrCat("alert:", kind, ":", cause, ":", escalation_level);
}

}  // namespace baton::core
