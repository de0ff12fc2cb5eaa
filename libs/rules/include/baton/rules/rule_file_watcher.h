// RuleFileWatcher notices when a rule file changed and loads the new version.
//
// Check() compares the file's modification time with the one last seen; when it changed (or when
// forced, e.g. on SIGHUP) it loads the file. The caller decides what to do with the result: swap
// the new rules in, or log the error and keep the rules in force. How often to check is the
// caller's choice too.
//
// Thread-safety: not thread-safe; one thread owns a watcher.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "baton/core/rules.h"

namespace baton::rules {

class RuleFileWatcher {
 public:
  // The file's current version counts as seen: the first Check() loads only a later change.
  explicit RuleFileWatcher(std::string path);

  // Check returns nullopt when the file is unchanged and not `forced`; otherwise the outcome of
  // loading it (the rules, or the error naming file, line and field).
  std::optional<absl::StatusOr<std::shared_ptr<const core::RuleSet>>> Check(bool forced);

  const std::string& path() const { return path_; }

 private:
  std::filesystem::file_time_type ModifiedAt() const;

  std::string path_;
  std::filesystem::file_time_type seen_;
};

}  // namespace baton::rules
