#include "baton/config/yaml_proto.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "scalars.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace baton::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;
using internal::Quote;
using internal::Scalar;

// Deeper nesting is refused before the tree is walked, which also bounds the walk's recursion.
constexpr int kMaxDepth = 64;
// Lists of known names in messages stop after this many.
constexpr size_t kMaxNamesShown = 20;

// Location is "<file>:<line>", or "<file>" when the line is unknown (0).
std::string Location(absl::string_view file, int line) {
  return line > 0 ? absl::StrCat(file, ":", line) : std::string(file);
}

// FormatError writes the one error form of a document that does not fit the message (both the
// loader's and SourceMap::Error's): "<location>: <path>: <problem>".
absl::Status FormatError(absl::string_view location, absl::string_view path,
                         absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      location, ": ", path.empty() ? "(top level)" : internal::Printable(path), ": ", problem));
}

// SyntaxError writes "<file>:<line>:<column>: <problem>" for text that is not a YAML document we
// accept. yaml-cpp's marks are 0-based.
absl::Status SyntaxError(absl::string_view file, const YAML::Mark& mark,
                         absl::string_view problem) {
  if (mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", problem));
  return absl::InvalidArgumentError(
      absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1, ": ", problem));
}

// LineOf is the 1-based line where a node starts, or `fallback` if yaml-cpp does not know it.
int LineOf(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

// Describe names what a node is, for "got ..." in messages.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:  // Null (`key:` with no value, `~`, `null`) and Undefined
      return "an empty value";
  }
}

Scalar ScalarOf(const YAML::Node& node) {
  // yaml-cpp tags plain scalars "?" and quoted or block scalars "!" (explicit tags are refused).
  return Scalar{node.Scalar(), node.Tag() == "!"};
}

std::string JoinNames(const std::vector<std::string>& names) {
  if (names.size() <= kMaxNamesShown) return absl::StrJoin(names, ", ");
  const std::vector<std::string> shown(names.begin(), names.begin() + kMaxNamesShown);
  return absl::StrCat(absl::StrJoin(shown, ", "), ", ... (", names.size() - kMaxNamesShown,
                      " more)");
}

std::string EnumNames(const EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    // proto3's zero value is "not set" by convention: not a value to suggest.
    const auto* value = type.value(i);
    if (value->number() == 0 && absl::EndsWith(value->name(), "_UNSPECIFIED")) continue;
    names.push_back(value->name());
  }
  return JoinNames(names);
}

// Squash folds the spellings people try for a field name (atLeast, AtLeast, at-least) together.
std::string Squash(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c != '_' && c != '-') out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string UnknownField(const Descriptor& type, absl::string_view name) {
  std::vector<std::string> known;
  std::string hint;
  for (int i = 0; i < type.field_count(); ++i) {
    const std::string& field_name = type.field(i)->name();
    known.push_back(field_name);
    if (hint.empty() && Squash(field_name) == Squash(name)) {
      hint = absl::StrCat("; did you mean '", field_name, "'?");
    }
  }
  return absl::StrCat("unknown field '", internal::Printable(name), "' in ", type.full_name(),
                      " (known: ", known.empty() ? "none" : JoinNames(known), ")", hint);
}

// Expectation words what a non-message field accepts ("expects <this>, got ...").
std::string Expectation(const FieldDescriptor& field) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return std::string(internal::kExpectsString);
    case FieldDescriptor::CPPTYPE_BOOL:
      return std::string(internal::kExpectsBool);
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return std::string(internal::kExpectsInteger);
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::string(internal::kExpectsUnsigned);
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return std::string(internal::kExpectsNumber);
    case FieldDescriptor::CPPTYPE_ENUM:
      return absl::StrCat("one of ", EnumNames(*field.enum_type()));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::StrCat("a map of ", field.message_type()->full_name(), " fields");
  }
  return "a value";
}

// MapKeyText is a map entry's key as text, the same whatever way the YAML spelled it.
std::string MapKeyText(const Message& entry, const FieldDescriptor& key_field) {
  const Reflection& reflection = *entry.GetReflection();
  switch (key_field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return reflection.GetString(entry, &key_field);
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(reflection.GetInt32(entry, &key_field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(reflection.GetInt64(entry, &key_field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(reflection.GetUInt32(entry, &key_field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(reflection.GetUInt64(entry, &key_field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return reflection.GetBool(entry, &key_field) ? "true" : "false";
    default:  // protobuf allows no other key types
      return "";
  }
}

// SyntaxCheck listens to the parser's events, before any tree is built, for what the tree would
// hide: aliases (an alias makes the tree a graph that a walk could follow without end, or expand
// exponentially: "billion laughs"), explicit tags, a second document, and deep nesting. It keeps
// the first problem and its mark.
class SyntaxCheck final : public YAML::EventHandler {
 public:
  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }
  const YAML::Mark& mark() const { return mark_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) Note(mark, "a second YAML document; a file holds exactly one");
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Note(mark, "YAML aliases (*name) are not supported; write the value out in full");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string&) override {
    CheckTag(mark, tag);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Open(mark, tag);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Open(mark, tag);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Open(const YAML::Mark& mark, const std::string& tag) {
    CheckTag(mark, tag);
    if (++depth_ == kMaxDepth + 1) {
      Note(mark, absl::StrCat("nested deeper than ", kMaxDepth, " levels"));
    }
  }
  void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    // "?" is no tag, "!" is a quoted scalar's non-specific tag; anything else was written.
    if (tag != "?" && tag != "!") {
      Note(mark,
           absl::StrCat("YAML tags (", internal::Printable(tag), ") are not supported; remove it"));
    }
  }
  void Note(const YAML::Mark& mark, std::string problem) {
    if (!problem_.empty()) return;
    mark_ = mark;
    problem_ = std::move(problem);
  }

  int documents_ = 0;
  int depth_ = 0;
  YAML::Mark mark_;
  std::string problem_;
};

// Loader walks a YAML tree against a message's descriptor, filling the message and recording each
// path it writes in a SourceMap. Every path's line is the line of the key that names it (for a
// list element, the element's own line); errors about that path report the same line.
class Loader {
 public:
  explicit Loader(SourceMap* sources) : sources_(sources) {}

  // FillMessage fills `msg`, the value at `path` (written at `line`), from `node`: a map of
  // fields, or a scalar for Duration and Timestamp.
  absl::Status FillMessage(const YAML::Node& node, const std::string& path, int line,
                           Message* msg) {
    const Descriptor& type = *msg->GetDescriptor();
    // By name, not by C++ type, so that dynamic messages get the same treatment.
    if (type.full_name() == "google.protobuf.Duration") return FillDuration(node, path, line, msg);
    if (type.full_name() == "google.protobuf.Timestamp") {
      return FillTimestamp(node, path, line, msg);
    }
    if (!node.IsMap()) {
      return Error(
          line, path,
          absl::StrCat("expects a map of ", type.full_name(), " fields, got ", Describe(node)));
    }
    return FillFields(node, type, path, line, msg);
  }

 private:
  struct OneofMember {
    const FieldDescriptor* field;
    int line;
  };

  absl::Status FillFields(const YAML::Node& node, const Descriptor& type, const std::string& path,
                          int line, Message* msg) {
    // yaml-cpp keeps both entries of a repeated key (and looking one up finds the first), so
    // duplicates are found here, by the text of each key.
    absl::flat_hash_map<std::string, int> key_lines;
    absl::flat_hash_map<const OneofDescriptor*, OneofMember> oneofs_set;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: a Node is a handle, and `it->` yields a temporary proxy that dies with the line.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const int key_line = LineOf(key, line);
      if (!key.IsScalar()) {
        return Error(key_line, path,
                     absl::StrCat("expects field names as keys, got ", Describe(key)));
      }
      const std::string& name = key.Scalar();
      const std::string field_path = path.empty() ? name : absl::StrCat(path, ".", name);
      if (const auto [first, inserted] = key_lines.try_emplace(name, key_line); !inserted) {
        return Error(key_line, field_path,
                     absl::StrCat("duplicate key (first written at line ", first->second, ")"));
      }
      const FieldDescriptor* field = type.FindFieldByName(name);
      if (field == nullptr) return Error(key_line, field_path, UnknownField(type, name));
      if (const OneofDescriptor* oneof = field->real_containing_oneof(); oneof != nullptr) {
        const auto [other, inserted] = oneofs_set.try_emplace(oneof, OneofMember{field, key_line});
        if (!inserted) {
          return Error(
              key_line, field_path,
              absl::StrCat("'", other->second.field->name(), "' (line ", other->second.line,
                           ") and '", field->name(), "' are both set, but they belong to oneof '",
                           oneof->name(), "'; set only one"));
        }
      }
      sources_->Record(field_path, key_line);
      if (absl::Status s = FillField(value, *field, field_path, key_line, msg); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status FillField(const YAML::Node& node, const FieldDescriptor& field,
                         const std::string& path, int line, Message* msg) {
    if (field.is_map()) return FillMap(node, field, path, line, msg);
    if (!field.is_repeated()) return StoreValue(node, field, path, line, msg);
    if (!node.IsSequence()) {
      return Error(line, path, absl::StrCat("expects a list, got ", Describe(node)));
    }
    int index = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++index) {
      const YAML::Node element = *it;
      const std::string element_path = absl::StrCat(path, "[", index, "]");
      const int element_line = LineOf(element, line);
      sources_->Record(element_path, element_line);
      if (absl::Status s = StoreValue(element, field, element_path, element_line, msg); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // FillMap fills a map<K, V> field. Its entries' paths are `path[key]`, with the key as parsed
  // (so `7` and `007` are the same int key, and a duplicate).
  absl::Status FillMap(const YAML::Node& node, const FieldDescriptor& field,
                       const std::string& path, int line, Message* msg) {
    if (!node.IsMap()) {
      return Error(line, path, absl::StrCat("expects a map, got ", Describe(node)));
    }
    const FieldDescriptor& key_field = *field.message_type()->map_key();
    const FieldDescriptor& value_field = *field.message_type()->map_value();
    absl::flat_hash_map<std::string, int> key_lines;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: a Node is a handle, and `it->` yields a temporary proxy that dies with the line.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const int key_line = LineOf(key, line);
      if (!key.IsScalar()) {
        return Error(
            key_line, path,
            absl::StrCat("expects ", Expectation(key_field), " as keys, got ", Describe(key)));
      }
      Message* entry = msg->GetReflection()->AddMessage(msg, &field);
      const std::string written_path = absl::StrCat(path, "[", key.Scalar(), "]");
      if (absl::Status s = StoreValue(key, key_field, written_path, key_line, entry); !s.ok()) {
        return s;
      }
      const std::string key_text = MapKeyText(*entry, key_field);
      const std::string entry_path = absl::StrCat(path, "[", key_text, "]");
      if (const auto [first, inserted] = key_lines.try_emplace(key_text, key_line); !inserted) {
        return Error(key_line, entry_path,
                     absl::StrCat("duplicate key (first written at line ", first->second, ")"));
      }
      sources_->Record(entry_path, key_line);
      if (absl::Status s = StoreValue(value, value_field, entry_path, key_line, entry); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // StoreValue sets a singular field, or appends to a repeated one, from one node.
  absl::Status StoreValue(const YAML::Node& node, const FieldDescriptor& field,
                          const std::string& path, int line, Message* msg) {
    const Reflection& reflection = *msg->GetReflection();
    const bool append = field.is_repeated();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Message* child =
          append ? reflection.AddMessage(msg, &field) : reflection.MutableMessage(msg, &field);
      return FillMessage(node, path, line, child);
    }
    if (field.type() == FieldDescriptor::TYPE_BYTES) {
      return Error(line, path, "bytes fields cannot be written in YAML config");
    }
    if (!node.IsScalar()) {
      return Error(line, path,
                   absl::StrCat("expects ", Expectation(field), ", got ", Describe(node)));
    }
    const Scalar scalar = ScalarOf(node);
    // The parsers' statuses carry only the problem; this adds the file, line and path.
    const auto fail = [&](const absl::Status& status) {
      return Error(line, path, status.message());
    };
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        absl::StatusOr<std::string> value = internal::ParseString(scalar);
        if (!value.ok()) return fail(value.status());
        append ? reflection.AddString(msg, &field, *std::move(value))
               : reflection.SetString(msg, &field, *std::move(value));
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        absl::StatusOr<bool> value = internal::ParseBool(scalar);
        if (!value.ok()) return fail(value.status());
        append ? reflection.AddBool(msg, &field, *value) : reflection.SetBool(msg, &field, *value);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        absl::StatusOr<int64_t> value = internal::ParseSigned(
            scalar, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
        if (!value.ok()) return fail(value.status());
        const auto v = static_cast<int32_t>(*value);
        append ? reflection.AddInt32(msg, &field, v) : reflection.SetInt32(msg, &field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        absl::StatusOr<int64_t> value = internal::ParseSigned(
            scalar, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
        if (!value.ok()) return fail(value.status());
        append ? reflection.AddInt64(msg, &field, *value)
               : reflection.SetInt64(msg, &field, *value);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        absl::StatusOr<uint64_t> value =
            internal::ParseUnsigned(scalar, std::numeric_limits<uint32_t>::max());
        if (!value.ok()) return fail(value.status());
        const auto v = static_cast<uint32_t>(*value);
        append ? reflection.AddUInt32(msg, &field, v) : reflection.SetUInt32(msg, &field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        absl::StatusOr<uint64_t> value =
            internal::ParseUnsigned(scalar, std::numeric_limits<uint64_t>::max());
        if (!value.ok()) return fail(value.status());
        append ? reflection.AddUInt64(msg, &field, *value)
               : reflection.SetUInt64(msg, &field, *value);
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        absl::StatusOr<double> value =
            internal::ParseNumber(scalar, std::numeric_limits<float>::max());
        if (!value.ok()) return fail(value.status());
        const auto v = static_cast<float>(*value);
        append ? reflection.AddFloat(msg, &field, v) : reflection.SetFloat(msg, &field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        absl::StatusOr<double> value =
            internal::ParseNumber(scalar, std::numeric_limits<double>::max());
        if (!value.ok()) return fail(value.status());
        append ? reflection.AddDouble(msg, &field, *value)
               : reflection.SetDouble(msg, &field, *value);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumValueDescriptor* value =
            field.enum_type()->FindValueByName(std::string(scalar.text));
        if (value == nullptr) {
          return Error(line, path,
                       absl::StrCat("expects ", Expectation(field), ", got ", Quote(scalar.text)));
        }
        append ? reflection.AddEnumValue(msg, &field, value->number())
               : reflection.SetEnumValue(msg, &field, value->number());
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:  // handled above
        break;
    }
    return absl::OkStatus();
  }

  absl::Status FillDuration(const YAML::Node& node, const std::string& path, int line,
                            Message* msg) {
    if (!node.IsScalar()) {
      return Error(line, path,
                   absl::StrCat("expects ", internal::kExpectsDuration, ", got ", Describe(node)));
    }
    absl::StatusOr<int64_t> seconds = internal::ParseDurationSeconds(ScalarOf(node));
    if (!seconds.ok()) return Error(line, path, seconds.status().message());
    const Descriptor& type = *msg->GetDescriptor();
    msg->GetReflection()->SetInt64(msg, type.FindFieldByName("seconds"), *seconds);
    return absl::OkStatus();
  }

  absl::Status FillTimestamp(const YAML::Node& node, const std::string& path, int line,
                             Message* msg) {
    if (!node.IsScalar()) {
      return Error(line, path,
                   absl::StrCat("expects ", internal::kExpectsTimestamp, ", got ", Describe(node)));
    }
    absl::StatusOr<internal::TimestampValue> time = internal::ParseTimestamp(ScalarOf(node));
    if (!time.ok()) return Error(line, path, time.status().message());
    const Descriptor& type = *msg->GetDescriptor();
    const Reflection& reflection = *msg->GetReflection();
    reflection.SetInt64(msg, type.FindFieldByName("seconds"), time->seconds);
    reflection.SetInt32(msg, type.FindFieldByName("nanos"), time->nanos);
    return absl::OkStatus();
  }

  absl::Status Error(int line, absl::string_view path, absl::string_view problem) const {
    return FormatError(Location(sources_->file_name(), line), path, problem);
  }

  SourceMap* sources_;
};

absl::Status Load(absl::string_view yaml_text, SourceMap* sources, Message* out) {
  const std::string& file = sources->file_name();
  SyntaxCheck check;
  try {
    const std::string text(yaml_text);
    {
      std::istringstream stream(text);
      YAML::Parser parser(stream);
      while (check.ok() && parser.HandleNextDocument(check)) {
      }
      if (!check.ok()) return SyntaxError(file, check.mark(), check.problem());
    }
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return absl::OkStatus();  // no document, or an empty one
    const int line = LineOf(root, 1);
    sources->Record("", line);
    return Loader(sources).FillMessage(root, "", line, out);
  } catch (const YAML::Exception& e) {
    // A problem noted before the parser gave up comes earlier in the text: report that one.
    if (!check.ok()) return SyntaxError(file, check.mark(), check.problem());
    return SyntaxError(file, e.mark, absl::StrCat("invalid YAML: ", e.msg));
  } catch (const std::exception& e) {
    // Nothing above should throw anything else, bar std::bad_alloc; the API never throws.
    return absl::InternalError(absl::StrCat(file, ": cannot load: ", e.what()));
  }
}

}  // namespace

int SourceMap::Line(absl::string_view path) const {
  const auto it = lines_.find(path);
  return it == lines_.end() ? 0 : it->second;
}

std::string SourceMap::Where(absl::string_view path) const {
  // Walk up the path (`a[1].b` → `a[1]` → `a` → "") to the nearest recorded one. A map key that
  // itself holds '.' or '[' only costs a few lookups that find nothing.
  for (absl::string_view p = path;;) {
    if (const int line = Line(p); line > 0 || p.empty()) return Location(file_name_, line);
    const size_t cut = p.find_last_of(".[");
    p = cut == absl::string_view::npos ? absl::string_view() : p.substr(0, cut);
  }
}

absl::Status SourceMap::Error(absl::string_view path, absl::string_view problem) const {
  return FormatError(Where(path), path, problem);
}

void SourceMap::Record(absl::string_view path, int line) {
  lines_.insert_or_assign(std::string(path), line);
}

absl::StatusOr<SourceMap> ParseYamlToProto(absl::string_view yaml_text, absl::string_view file_name,
                                           google::protobuf::Message* out) {
  out->Clear();
  SourceMap sources{std::string(file_name)};
  if (absl::Status s = Load(yaml_text, &sources, out); !s.ok()) {
    out->Clear();  // never leave a half-filled message behind
    return s;
  }
  return sources;
}

absl::StatusOr<SourceMap> LoadYamlFile(const std::string& path, google::protobuf::Message* out) {
  out->Clear();
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  std::string text;
  char buffer[1 << 14];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  // fopen accepts a directory; reading it fails (EISDIR).
  const int error = std::ferror(file) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(file);
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("cannot read ", path));
  return ParseYamlToProto(text, path, out);
}

}  // namespace baton::config
