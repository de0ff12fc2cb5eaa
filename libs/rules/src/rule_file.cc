#include "baton/rules/rule_file.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "baton/config/yaml_proto.h"

namespace baton::rules {
namespace {

absl::StatusOr<std::shared_ptr<const core::RuleSet>> Compile(
    baton::config::v1::RuleFile file, const baton::config::SourceMap& sources) {
  std::vector<core::RuleIssue> issues;
  std::optional<core::RuleSet> rules = core::RuleSet::Compile(std::move(file), issues);
  if (!rules) return sources.Error(issues.front().path, issues.front().problem);
  return std::make_shared<const core::RuleSet>(std::move(*rules));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const core::RuleSet>> LoadRuleFile(const std::string& path) {
  baton::config::v1::RuleFile file;
  absl::StatusOr<baton::config::SourceMap> sources = baton::config::LoadYamlFile(path, &file);
  if (!sources.ok()) return sources.status();
  return Compile(std::move(file), *sources);
}

absl::StatusOr<std::shared_ptr<const core::RuleSet>> ParseRuleFile(absl::string_view text,
                                                                   absl::string_view file_name) {
  baton::config::v1::RuleFile file;
  absl::StatusOr<baton::config::SourceMap> sources =
      baton::config::ParseYamlToProto(text, file_name, &file);
  if (!sources.ok()) return sources.status();
  return Compile(std::move(file), *sources);
}

std::string ExplainRuleSet(const core::RuleSet& rules) {
  std::string out =
      absl::StrFormat("rule file version %d: %d rule%s, engagement kept %s\n", rules.version(),
                      rules.file().rules_size(), rules.file().rules_size() == 1 ? "" : "s",
                      core::FormatWindow(rules.retention()));
  for (int index : rules.order()) {
    absl::StrAppend(&out, "  ", rules.Explain(rules.file().rules(index)), "\n");
  }
  const auto& file = rules.file();
  // Which tiers and levels a route or SLA policy applies to: "TIER_1 SALES_READY", "any".
  auto scope = [](const auto& tiers, const auto& levels) {
    std::vector<std::string> parts;
    for (int t : tiers) parts.push_back(baton::v1::Tier_Name(static_cast<baton::v1::Tier>(t)));
    std::string text = parts.empty() ? "any tier" : absl::StrJoin(parts, "/");
    parts.clear();
    for (int l : levels) {
      parts.push_back(
          baton::v1::QualificationLevel_Name(static_cast<baton::v1::QualificationLevel>(l)));
    }
    absl::StrAppend(&text, " ", parts.empty() ? "any level" : absl::StrJoin(parts, "/"));
    return text;
  };
  if (file.has_routing()) {
    absl::StrAppend(&out, "routing (first match; else the built-in routes):\n");
    for (const auto& route : file.routing().routes()) {
      std::vector<std::string> steps;
      for (const auto& t : route.to()) {
        if (t.owner() != 0) {
          steps.push_back(absl::StrCat("account ", baton::config::v1::OwnerRole_Name(t.owner())));
        } else if (!t.pool().empty()) {
          steps.push_back(absl::StrCat("pool ", t.pool()));
        } else if (!t.queue().empty()) {
          steps.push_back(absl::StrCat("queue ", t.queue()));
        } else if (!t.rep().empty()) {
          steps.push_back(absl::StrCat("rep ", t.rep()));
        } else {
          steps.push_back(t.backup() ? "backup" : "manager");
        }
      }
      absl::StrAppend(&out, "  ", scope(route.tier_in(), route.level_in()), " -> ",
                      absl::StrJoin(steps, ", "), "\n");
    }
    absl::StrAppend(&out, "  then ",
                    file.routing().catch_all_queue().empty()
                        ? "a ROUTING_FAILURE alert"
                        : absl::StrCat("catch-all queue ", file.routing().catch_all_queue()),
                    "\n");
  }
  for (const auto& policy : file.sla().policies()) {
    std::vector<std::string> steps;
    for (const auto& step : policy.escalation()) {
      std::vector<std::string> who;
      for (int r : step.notify()) {
        who.push_back(
            baton::config::v1::Recipient_Name(static_cast<baton::config::v1::Recipient>(r)));
      }
      std::string text = absl::StrCat("+", core::FormatWindow(core::ToDuration(step.after())));
      if (!who.empty()) absl::StrAppend(&text, " notify ", absl::StrJoin(who, "/"));
      if (step.reassign_to() != 0) {
        absl::StrAppend(&text, " reassign to ",
                        baton::config::v1::Recipient_Name(step.reassign_to()));
      }
      steps.push_back(std::move(text));
    }
    absl::StrAppend(
        &out, "sla ", scope(policy.tier_in(), policy.level_in()), ": follow up within ",
        core::FormatWindow(core::ToDuration(policy.first_follow_up())), " of business time",
        policy.remind_at() > 0 ? absl::StrFormat(", reminder at %.0f%%", policy.remind_at() * 100)
                               : "",
        steps.empty() ? "" : absl::StrCat(", after the breach: ", absl::StrJoin(steps, "; ")),
        "\n");
  }
  return out;
}

}  // namespace baton::rules
