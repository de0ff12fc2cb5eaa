#include "json_reader.h"

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"

namespace baton::codec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Larger payloads go to protobuf: events are a few hundred bytes, and the per-thread parser and
// buffer grow to the largest input they have seen and stay that size.
constexpr size_t kMaxFastBytes = 64 << 10;

// Nesting deeper than this goes to protobuf, which has a nesting limit of its own; Baton's
// messages nest three deep.
constexpr int kMaxDepth = 32;

// The range of a Timestamp in protobuf's JSON mapping, 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z. Protobuf also reads times that a UTC offset pushes just past
// either end; those go to it.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

// FindField looks a key up the way protobuf does (by json_name, then by the proto field name).
// A key that could mean two different fields is treated as unknown.
const FieldDescriptor* FindField(const Descriptor* descriptor, std::string_view key) {
  const FieldDescriptor* found = nullptr;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->json_name() == key || field->name() == key) {
      if (found != nullptr) return nullptr;
      found = field;
    }
  }
  return found;
}

// IsCanonicalInteger accepts "0" and "-?[1-9][0-9]*", the forms protobuf prints. Protobuf also
// reads "+5", "007" and "-0"; those go to it.
bool IsCanonicalInteger(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || (s[0] == '0' && (s.size() > 1 || negative))) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

template <typename T>
bool FitsIn(int64_t v) {
  if constexpr (std::is_signed_v<T>) {
    return static_cast<int64_t>(static_cast<T>(v)) == v;
  } else {
    return v >= 0 && static_cast<uint64_t>(static_cast<T>(v)) == static_cast<uint64_t>(v);
  }
}

// ReadInteger reads an integer field's value: a JSON integer, or a decimal string (protobuf
// prints 64-bit integers as strings). Numbers with a fraction or an exponent (even 1.0 or 1e3,
// which protobuf accepts) are left to protobuf.
template <typename T>
bool ReadInteger(element value, T* out) {
  switch (value.type()) {
    case element_type::INT64: {
      const int64_t v = value.get_int64().value_unsafe();
      if (!FitsIn<T>(v)) return false;
      *out = static_cast<T>(v);
      return true;
    }
    case element_type::UINT64: {
      // simdjson uses UINT64 only above INT64_MAX.
      const uint64_t v = value.get_uint64().value_unsafe();
      if (!std::is_same_v<T, uint64_t>) return false;
      *out = static_cast<T>(v);
      return true;
    }
    case element_type::STRING: {
      const std::string_view s = value.get_string().value_unsafe();
      return IsCanonicalInteger(s) && absl::SimpleAtoi(absl::string_view(s.data(), s.size()), out);
    }
    default:
      return false;
  }
}

// ReadDouble reads a JSON number. An integer is rounded to the nearest double, as protobuf does
// (protobuf prints doubles from 1e15 to 1e17 as integers). "NaN", "Infinity" and numeric strings
// are left to protobuf.
bool ReadDouble(element value, double* out) {
  switch (value.type()) {
    case element_type::DOUBLE:
      *out = value.get_double().value_unsafe();
      return true;
    case element_type::INT64:
      *out = static_cast<double>(value.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *out = static_cast<double>(value.get_uint64().value_unsafe());
      return true;
    default:
      return false;
  }
}

// Digits reads exactly `count` decimal digits from the front of `s`.
bool Digits(std::string_view& s, size_t count, int* out) {
  if (s.size() < count) return false;
  int v = 0;
  for (size_t i = 0; i < count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  s.remove_prefix(count);
  *out = v;
  return true;
}

bool Consume(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

// ParseTimestamp reads RFC 3339 as protobuf prints it and as producers send it:
// "2026-01-02T03:04:05Z", with an optional fraction of 1 to 9 digits, and "Z" or "+hh:mm" /
// "-hh:mm". Protobuf also takes short fields ("2026-1-2T3:4:5Z"), longer fractions and text
// after a NUL; those go to it.
bool ParseTimestamp(std::string_view s, int64_t* seconds, int32_t* nanos) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 4, &year) || !Consume(s, '-') || !Digits(s, 2, &month) || !Consume(s, '-') ||
      !Digits(s, 2, &day) || !Consume(s, 'T') || !Digits(s, 2, &hour) || !Consume(s, ':') ||
      !Digits(s, 2, &minute) || !Consume(s, ':') || !Digits(s, 2, &second)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  // absl normalizes February 30th into March; protobuf refuses it.
  if (civil.day() != day) return false;

  int32_t fraction = 0;
  if (Consume(s, '.')) {
    size_t count = 0;
    for (; count < s.size() && s[count] >= '0' && s[count] <= '9'; ++count) {
      if (count == 9) return false;  // protobuf drops digits past nanoseconds; leave those to it
      fraction = fraction * 10 + (s[count] - '0');
    }
    if (count == 0) return false;
    s.remove_prefix(count);
    for (size_t i = count; i < 9; ++i) fraction *= 10;
  }

  int64_t offset = 0;
  if (s == "Z") {
    s.remove_prefix(1);
  } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    const int64_t sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
    int offset_hours, offset_minutes;
    if (!Digits(s, 2, &offset_hours) || !Consume(s, ':') || !Digits(s, 2, &offset_minutes) ||
        offset_hours > 23 || offset_minutes > 59) {
      return false;
    }
    offset = sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return false;
  }
  if (!s.empty()) return false;

  const int64_t utc = (civil - absl::CivilSecond(1970, 1, 1, 0, 0, 0)) - offset;
  if (utc < kMinTimestampSeconds || utc > kMaxTimestampSeconds) return false;
  *seconds = utc;
  *nanos = fraction;
  return true;
}

// ReadTimestamp fills a google.protobuf.Timestamp from an RFC 3339 string.
bool ReadTimestamp(element value, Message* timestamp) {
  if (value.type() != element_type::STRING) return false;
  int64_t seconds;
  int32_t nanos;
  if (!ParseTimestamp(value.get_string().value_unsafe(), &seconds, &nanos)) return false;
  const Descriptor* descriptor = timestamp->GetDescriptor();
  const FieldDescriptor* seconds_field = descriptor->FindFieldByNumber(1);
  const FieldDescriptor* nanos_field = descriptor->FindFieldByNumber(2);
  const Reflection* reflection = timestamp->GetReflection();
  reflection->SetInt64(timestamp, seconds_field, seconds);
  reflection->SetInt32(timestamp, nanos_field, nanos);
  return true;
}

// FindEnumNumber looks an enum value up by its exact name. (Protobuf also reads a declared number
// given as a string, "3"; that goes to it.)
bool FindEnumNumber(const google::protobuf::EnumDescriptor* type, std::string_view name,
                    int* number) {
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->name() == name) {
      *number = type->value(i)->number();
      return true;
    }
  }
  return false;
}

bool ReadMessage(simdjson::dom::object object, Message* message, int depth);

// ReadValue reads one value of `field` (one element, for a repeated field) into `message`.
bool ReadValue(element value, const FieldDescriptor* field, Message* message, int depth) {
  const Reflection* reflection = message->GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!ReadInteger(value, &v)) return false;
      repeated ? reflection->AddInt32(message, field, v) : reflection->SetInt32(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!ReadInteger(value, &v)) return false;
      repeated ? reflection->AddInt64(message, field, v) : reflection->SetInt64(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!ReadInteger(value, &v)) return false;
      repeated ? reflection->AddUInt32(message, field, v)
               : reflection->SetUInt32(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!ReadInteger(value, &v)) return false;
      repeated ? reflection->AddUInt64(message, field, v)
               : reflection->SetUInt64(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!ReadDouble(value, &v)) return false;
      repeated ? reflection->AddDouble(message, field, v)
               : reflection->SetDouble(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (value.type() != element_type::BOOL) return false;
      const bool v = value.get_bool().value_unsafe();
      repeated ? reflection->AddBool(message, field, v) : reflection->SetBool(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      // google.protobuf.NullValue is written as null.
      if (field->enum_type()->full_name() == "google.protobuf.NullValue") return false;
      int number;
      if (value.type() == element_type::STRING) {
        // An unknown name is an error in protobuf (its message is the caller's to give).
        if (!FindEnumNumber(field->enum_type(), value.get_string().value_unsafe(), &number)) {
          return false;
        }
      } else if (value.type() == element_type::INT64) {
        // Proto3 enums are open: protobuf keeps a number the enum does not declare.
        if (!ReadInteger(value, &number)) return false;
      } else {
        return false;
      }
      repeated ? reflection->AddEnumValue(message, field, number)
               : reflection->SetEnumValue(message, field, number);
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      // Bytes fields are base64 in JSON.
      if (field->type() != FieldDescriptor::TYPE_STRING) return false;
      if (value.type() != element_type::STRING) return false;
      // simdjson has validated the input as UTF-8 and refuses unpaired surrogates, so the
      // string is valid UTF-8, as a proto3 string must be.
      std::string v(value.get_string().value_unsafe());
      repeated ? reflection->AddString(message, field, std::move(v))
               : reflection->SetString(message, field, std::move(v));
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (field->type() != FieldDescriptor::TYPE_MESSAGE) return false;  // groups
      const Descriptor* type = field->message_type();
      Message* child = repeated ? reflection->AddMessage(message, field)
                                : reflection->MutableMessage(message, field);
      if (type->well_known_type() == Descriptor::WELLKNOWNTYPE_TIMESTAMP) {
        return ReadTimestamp(value, child);
      }
      // The other well-known types (Duration, Struct, Any, wrappers, ...) have special JSON
      // forms; and whatever else lives in google/protobuf/ is left to protobuf too.
      if (type->well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED ||
          type->file()->package() == "google.protobuf") {
        return false;
      }
      if (value.type() != element_type::OBJECT) return false;
      return ReadMessage(value.get_object().value_unsafe(), child, depth + 1);
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
      // Rounding to float and its range checks are left to protobuf; Baton has no float field.
      return false;
  }
  return false;
}

// ReadMessage reads a JSON object into `message`. Null values, maps, unknown and repeated keys
// and a second member of a oneof are left to protobuf.
bool ReadMessage(simdjson::dom::object object, Message* message, int depth) {
  const Descriptor* descriptor = message->GetDescriptor();
  // Proto2 brings required fields, defaults, closed enums and extensions; and the bitsets below
  // hold 64 fields and oneofs.
  if (depth > kMaxDepth || descriptor->file()->syntax() != FileDescriptor::SYNTAX_PROTO3 ||
      descriptor->field_count() > 64 || descriptor->oneof_decl_count() > 64) {
    return false;
  }
  uint64_t seen_fields = 0;
  uint64_t seen_oneofs = 0;
  for (const simdjson::dom::key_value_pair member : object) {
    const FieldDescriptor* field = FindField(descriptor, member.key);
    if (field == nullptr || field->is_map()) return false;
    const uint64_t field_bit = uint64_t{1} << field->index();
    if ((seen_fields & field_bit) != 0) return false;
    seen_fields |= field_bit;
    if (const google::protobuf::OneofDescriptor* oneof = field->containing_oneof()) {
      const uint64_t oneof_bit = uint64_t{1} << oneof->index();
      if ((seen_oneofs & oneof_bit) != 0) return false;
      seen_oneofs |= oneof_bit;
    }
    if (!field->is_repeated()) {
      if (!ReadValue(member.value, field, message, depth)) return false;
      continue;
    }
    // Protobuf also takes a single value, and skips nulls, for a repeated field.
    simdjson::dom::array array;
    if (member.value.get_array().get(array) != simdjson::SUCCESS) return false;
    for (const element item : array) {
      if (!ReadValue(item, field, message, depth)) return false;
    }
  }
  return true;
}

}  // namespace

bool FastJsonToMessage(absl::string_view json, Message* out) {
  if (json.size() > kMaxFastBytes) return false;
  thread_local simdjson::dom::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input.
  thread_local std::string buffer;
  buffer.assign(json.data(), json.size());
  buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);

  element root;
  if (parser.parse(buffer.data(), json.size(), /*realloc_if_needed=*/false).get(root) !=
      simdjson::SUCCESS) {
    return false;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return false;
  return ReadMessage(object, out, 0);
}

}  // namespace baton::codec
