// Rule files: loading, validating and explaining the YAML rule file (see README.md, "Rule file").
//
// LoadRuleFile reads the YAML strictly (baton::config), compiles it (core::RuleSet::Compile) and
// reports the first problem as "FILE:LINE: FIELD: PROBLEM", whether it is a YAML or schema error
// (an unknown key, a wrong type, an unknown event type or role) or a semantic one (an impossible
// window, a duplicate rule name).
//
// Thread-safety: pure functions apart from reading the file.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "baton/core/rules.h"

namespace baton::rules {

absl::StatusOr<std::shared_ptr<const core::RuleSet>> LoadRuleFile(const std::string& path);

// ParseRuleFile is LoadRuleFile on text already read; `file_name` names it in errors.
absl::StatusOr<std::shared_ptr<const core::RuleSet>> ParseRuleFile(absl::string_view text,
                                                                   absl::string_view file_name);

// ExplainRuleSet renders a rule set for `baton check-config`: a summary line, then one line per
// rule in priority order.
std::string ExplainRuleSet(const core::RuleSet& rules);

}  // namespace baton::rules
