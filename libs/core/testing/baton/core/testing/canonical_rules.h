// Test support: the canonical rule set (deploy/rules/default.yaml's rule) built in code, for
// tests and benchmarks of libraries that cannot read YAML.
#pragma once

#include <memory>
#include <string>

#include "baton/core/rules.h"

namespace baton::core_testing {

// CanonicalRuleText is the canonical rule file in protobuf text format.
extern const char* const kCanonicalRuleText;

// RulesFromText compiles a rule file written in protobuf text format; it aborts the test binary
// with the issues on stderr if the file is invalid.
std::shared_ptr<const core::RuleSet> RulesFromText(const std::string& text);

inline std::shared_ptr<const core::RuleSet> CanonicalRules() {
  return RulesFromText(kCanonicalRuleText);
}

}  // namespace baton::core_testing
