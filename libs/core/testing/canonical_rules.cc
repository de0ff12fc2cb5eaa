#include "baton/core/testing/canonical_rules.h"

#include <cstdio>
#include <cstdlib>

#include "google/protobuf/text_format.h"

namespace baton::core_testing {

const char* const kCanonicalRuleText = R"pb(
  version: 1
  rules {
    name: "tier1-email-opens-and-pricing"
    priority: 100
    level: SALES_READY
    cooldown { seconds: 2592000 }
    message: "{account_name} ({tier}) is showing buying intent: {reason}. Reach out to the "
             "{contact_title} ({contact_role}) today with a pricing conversation."
    when {
      all {
        count {
          type: EMAIL_OPEN
          at_least: 3
          within { seconds: 1209600 }
          per: CONTACT
        }
      }
      all {
        count {
          type: PAGE_VISIT
          url_segment: "pricing"
          at_least: 1
          within { seconds: 1209600 }
        }
      }
      all { tier_in: TIER_1 }
    }
  }
)pb";

std::shared_ptr<const core::RuleSet> RulesFromText(const std::string& text) {
  baton::config::v1::RuleFile file;
  if (!google::protobuf::TextFormat::ParseFromString(text, &file)) {
    std::fprintf(stderr, "rule text does not parse\n");
    std::abort();
  }
  std::vector<core::RuleIssue> issues;
  std::optional<core::RuleSet> rules = core::RuleSet::Compile(std::move(file), issues);
  if (!rules) {
    for (const core::RuleIssue& i : issues) {
      std::fprintf(stderr, "%s: %s\n", i.path.c_str(), i.problem.c_str());
    }
    std::abort();
  }
  return std::make_shared<const core::RuleSet>(std::move(*rules));
}

}  // namespace baton::core_testing
