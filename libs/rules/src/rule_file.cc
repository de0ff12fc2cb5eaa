#include "baton/rules/rule_file.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  return out;
}

}  // namespace baton::rules
