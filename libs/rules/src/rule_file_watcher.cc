#include "baton/rules/rule_file_watcher.h"

#include "baton/rules/rule_file.h"

namespace baton::rules {

RuleFileWatcher::RuleFileWatcher(std::string path) : path_(std::move(path)), seen_(ModifiedAt()) {}

std::filesystem::file_time_type RuleFileWatcher::ModifiedAt() const {
  std::error_code ec;  // a missing file reads as the minimum time; loading it reports the error
  return std::filesystem::last_write_time(path_, ec);
}

std::optional<absl::StatusOr<std::shared_ptr<const core::RuleSet>>> RuleFileWatcher::Check(
    bool forced) {
  const std::filesystem::file_time_type now = ModifiedAt();
  if (!forced && now == seen_) return std::nullopt;
  seen_ = now;
  return LoadRuleFile(path_);
}

}  // namespace baton::rules
