// YAML → protobuf: a strict loader for hand-written config files (Baton's rule file), generic over
// any message type through protobuf reflection.
//
//   baton::config::v1::RuleFile rules;
//   absl::StatusOr<SourceMap> sources = LoadYamlFile("/etc/baton/rules.yaml", &rules);
//   if (!sources.ok()) return sources.status();  // "rules.yaml:12: rules[1].window: expects ..."
//   if (rules.rules(1).cooldown().seconds() < 60) {
//     return sources->Error("rules[1].cooldown", "must be at least 1m");
//   }
//
// The document is a YAML map whose keys are the message's proto field names (snake_case, exactly;
// json_name spellings such as `atLeast` are refused with a hint, so every rule file reads alike).
// Values:
//   string                      any scalar, as written (`name: 123` is the string "123"); UTF-8
//   bool                        `true` or `false`, unquoted
//   int32/int64/uint32/uint64   decimal integers, unquoted, in range (no fractions, no 0x, no _)
//   float/double                decimal numbers, unquoted (`1`, `-0.5`, `1e3`; no .inf or .nan)
//   enum                        the exact name of a value (`SEVERITY_HIGH`)
//   message                     a YAML map (the same rules, recursively)
//   repeated                    a YAML list (`[]` for empty); a single scalar is not a list
//   map<K, V>                   a YAML map; keys parsed as K, values as V
//   google.protobuf.Duration    "14d", "36h", "90m", "30s", "1h30m": whole numbers with units
//                               d > h > m > s, each at most once, largest first; not negative
//   google.protobuf.Timestamp   RFC 3339 ("2026-11-20T10:00:00Z", "2026-11-20T12:00:00+02:00")
//                               or a date ("2026-11-20", midnight UTC)
//   bytes                       not supported (an error)
// Refused: unknown keys, duplicate keys, two members of one oneof, empty values (`window:` with
// nothing after it), more than one YAML document, aliases (`*name`), explicit tags (`!!str`), and
// nesting deeper than 64 levels. Other well-known types (wrappers, Struct, Any) are ordinary
// messages here. proto2 `required` is not checked: validation is the caller's job.
//
// Errors are InvalidArgument with one of two forms:
//   <file>:<line>:<column>: <problem>           the text is not a YAML document Baton accepts
//                                               (syntax, aliases, tags, several documents)
//   <file>:<line>: <field path>: <problem>      the YAML does not fit the message
// Lines and columns are 1-based. The field path is dotted, with list indices and map keys in
// brackets: `rules[1].when.all[0].count.at_least`, `rules[0].labels[team]`; the document itself
// is `(top level)`. The line is the line of the key that names the field (for a list element,
// the element's own line), so an error about a value written on the lines below a key points at
// the key. Only the first error is reported.
//
// Thread-safety: the functions are pure (LoadYamlFile also reads one file). A SourceMap is
// immutable once returned and safe to share between threads for reading.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace baton::config {

// SourceMap remembers where each field of a loaded document was written, so that the caller's own
// (semantic) checks can report errors in the loader's format:
//
//   return sources.Error(absl::StrCat("rules[", i, "].cooldown"), "must be at least 1m");
//   // → InvalidArgument "rules.yaml:7: rules[1].cooldown: must be at least 1m"
//
// Paths are those described above: every field, list element and map entry present in the
// document is recorded (`rules`, `rules[1]`, `rules[1].name`, `tags[0]`, `labels[team]`), and
// the document itself is "". Fields absent from the document (left at their defaults) are not.
class SourceMap {
 public:
  explicit SourceMap(std::string file_name = "") : file_name_(std::move(file_name)) {}

  const std::string& file_name() const { return file_name_; }

  // Line returns the 1-based line where `path` was written, or 0 if the document did not write it.
  int Line(absl::string_view path) const;

  // Where returns "FILE:LINE" for `path`. A path the document did not write (typically a missing
  // field the caller requires) falls back to its nearest written ancestor, so
  // Where("rules[1].cooldown") gives the line of `rules[1]` when that rule has no cooldown; with
  // no written ancestor it returns just "FILE".
  std::string Where(absl::string_view path) const;

  // Error returns InvalidArgument "<Where(path)>: <path>: <problem>", e.g.
  // "rules.yaml:7: rules[1].cooldown: must be at least 1m".
  absl::Status Error(absl::string_view path, absl::string_view problem) const;

  // Record notes that `path` was written at `line` (1-based), replacing any earlier line. The
  // loader calls it; tests and callers building a SourceMap by hand may too.
  void Record(absl::string_view path, int line);

  // size returns how many paths are recorded.
  size_t size() const { return lines_.size(); }

 private:
  std::string file_name_;
  absl::flat_hash_map<std::string, int> lines_;
};

// ParseYamlToProto replaces the contents of `*out` with the YAML document `yaml_text`, read as
// described at the top of this file. `file_name` is used only in error messages and the
// SourceMap. An empty document (no text, only comments, or a bare `---`) yields an empty message.
// On error `*out` is cleared. Never throws.
absl::StatusOr<SourceMap> ParseYamlToProto(absl::string_view yaml_text, absl::string_view file_name,
                                           google::protobuf::Message* out);

// LoadYamlFile reads the file at `path` and parses it with ParseYamlToProto, naming the file by
// `path` in errors. A file that cannot be read is an error naming it ("cannot read <path>: No such
// file or directory"), with the status code for its errno (NotFound, PermissionDenied, ...).
absl::StatusOr<SourceMap> LoadYamlFile(const std::string& path, google::protobuf::Message* out);

}  // namespace baton::config
