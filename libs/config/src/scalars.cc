#include "scalars.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace baton::config::internal {
namespace {

// google.protobuf.Duration and Timestamp ranges (see their .proto files).
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;   // 10000 years
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

// Utf8SequenceLength returns the length of the well-formed UTF-8 sequence starting at text[i], or
// 0 if there is none.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point;
  uint32_t min_code_point;  // below this the sequence is an overlong encoding
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, min_code_point = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, min_code_point = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (code_point < min_code_point || code_point > 0x10FFFF || surrogate) return 0;
  return length;
}

// AppendEscaped appends text with control characters and invalid UTF-8 as \xNN (and, if asked,
// `"` and `\` backslash-escaped).
void AppendEscaped(absl::string_view text, bool escape_quotes, std::string* out) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = Utf8SequenceLength(text, i);
    if (escape_quotes && (c == '"' || c == '\\')) {
      absl::StrAppend(out, "\\", absl::string_view(text.data() + i, 1));
      ++i;
    } else if (length == 0 || c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(out, "\\x%02x", c);
      ++i;
    } else {
      out->append(text.data() + i, length);
      i += length;
    }
  }
}

absl::Status Expects(absl::string_view expects, Scalar s, absl::string_view note = "") {
  return absl::InvalidArgumentError(
      absl::StrCat("expects ", expects, ", got ", Quote(s.text), note.empty() ? "" : " ", note));
}

// QuotedExpects is the error for a quoted value where YAML needs it bare (`"3"` is a string).
absl::Status QuotedExpects(absl::string_view expects, Scalar s) {
  return absl::InvalidArgumentError(absl::StrCat("expects ", expects, ", got the quoted string ",
                                                 Quote(s.text), "; write it without quotes"));
}

// IsDecimalInteger is true for `-?[0-9]+` (the minus only if allowed).
bool IsDecimalInteger(absl::string_view text, bool allow_minus) {
  if (allow_minus && !text.empty() && text[0] == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Quote(absl::string_view text) {
  constexpr size_t kMaxBytes = 40;
  bool cut = false;
  if (text.size() > kMaxBytes) {
    size_t end = kMaxBytes;
    // Back up to a character boundary so a multi-byte character is not shown as escapes.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string out = "\"";
  AppendEscaped(text, /*escape_quotes=*/true, &out);
  absl::StrAppend(&out, cut ? "...\"" : "\"");
  return out;
}

std::string Printable(absl::string_view text) {
  std::string out;
  AppendEscaped(text, /*escape_quotes=*/false, &out);
  return out;
}

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

absl::StatusOr<std::string> ParseString(Scalar s) {
  if (!IsValidUtf8(s.text)) {
    return absl::InvalidArgumentError(absl::StrCat("is not valid UTF-8: ", Quote(s.text)));
  }
  return std::string(s.text);
}

absl::StatusOr<bool> ParseBool(Scalar s) {
  if (s.quoted) return QuotedExpects(kExpectsBool, s);
  if (s.text == "true") return true;
  if (s.text == "false") return false;
  return Expects(kExpectsBool, s);
}

absl::StatusOr<int64_t> ParseSigned(Scalar s, int64_t min, int64_t max) {
  if (s.quoted) return QuotedExpects(kExpectsInteger, s);
  if (!IsDecimalInteger(s.text, /*allow_minus=*/true)) return Expects(kExpectsInteger, s);
  int64_t value;
  if (!absl::SimpleAtoi(s.text, &value) || value < min || value > max) {
    return Expects(absl::StrCat("an integer from ", min, " to ", max), s);
  }
  return value;
}

absl::StatusOr<uint64_t> ParseUnsigned(Scalar s, uint64_t max) {
  if (s.quoted) return QuotedExpects(kExpectsUnsigned, s);
  if (!IsDecimalInteger(s.text, /*allow_minus=*/false)) return Expects(kExpectsUnsigned, s);
  uint64_t value;
  if (!absl::SimpleAtoi(s.text, &value) || value > max) {
    return Expects(absl::StrCat("an integer from 0 to ", max), s);
  }
  return value;
}

absl::StatusOr<double> ParseNumber(Scalar s, double max_magnitude) {
  if (s.quoted) return QuotedExpects(kExpectsNumber, s);
  // Only the decimal forms: std::from_chars alone would also take "inf", "nan" and "infinity".
  absl::string_view text = s.text;
  bool has_digit = false;
  for (char c : text) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      has_digit = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return Expects(kExpectsNumber, s);
    }
  }
  if (!has_digit || text[0] == '+') return Expects(kExpectsNumber, s);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range ||
      (error == std::errc() && std::fabs(value) > max_magnitude)) {
    return Expects(kExpectsNumber, s, "(out of range)");
  }
  if (error != std::errc() || end != text.data() + text.size()) return Expects(kExpectsNumber, s);
  return value;
}

absl::StatusOr<int64_t> ParseDurationSeconds(Scalar s) {
  struct Unit {
    char symbol;
    int64_t seconds;
  };
  static constexpr Unit kUnits[] = {{'d', 86'400}, {'h', 3'600}, {'m', 60}, {'s', 1}};
  constexpr size_t kUnitCount = sizeof(kUnits) / sizeof(kUnits[0]);

  const absl::string_view text = s.text;
  if (!text.empty() && text[0] == '-') {
    return Expects(kExpectsDuration, s, "(durations cannot be negative)");
  }
  if (text.empty()) return Expects(kExpectsDuration, s);
  int64_t total = 0;
  size_t next_unit = 0;  // units must come largest first, each at most once
  for (size_t i = 0; i < text.size();) {
    // Saturate just above the maximum so a long run of digits cannot overflow.
    int64_t count = 0;
    const size_t digits_start = i;
    for (; i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i])); ++i) {
      count = std::min(count * 10 + (text[i] - '0'), kMaxDurationSeconds + 1);
    }
    if (i == digits_start || i == text.size()) return Expects(kExpectsDuration, s);
    const char symbol = text[i++];
    size_t unit = 0;
    while (unit < kUnitCount && kUnits[unit].symbol != symbol) ++unit;
    if (unit == kUnitCount) return Expects(kExpectsDuration, s);
    if (unit < next_unit) {
      return Expects(kExpectsDuration, s, "(units go d, h, m, s, largest first, each once)");
    }
    next_unit = unit + 1;
    // count <= kMaxDurationSeconds + 1, so neither the product nor the sum of four can overflow.
    total += count * kUnits[unit].seconds;
  }
  if (total > kMaxDurationSeconds) return Expects(kExpectsDuration, s, "(over 10000 years)");
  return total;
}

absl::StatusOr<TimestampValue> ParseTimestamp(Scalar s) {
  const absl::string_view text = s.text;
  // absl::ParseTime is lenient about the date ("2026-1-5", leading spaces): insist on
  // "YYYY-MM-DD" first.
  if (text.size() < 10) return Expects(kExpectsTimestamp, s);
  for (size_t i = 0; i < 10; ++i) {
    const bool want_dash = i == 4 || i == 7;
    if (want_dash ? text[i] != '-' : !absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return Expects(kExpectsTimestamp, s);
    }
  }
  absl::Time time;
  std::string ignored_error;
  const bool parsed =
      text.size() == 10
          ? absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &time, &ignored_error)
          : absl::ParseTime(absl::RFC3339_full, text, &time, &ignored_error);
  if (!parsed) return Expects(kExpectsTimestamp, s);
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds down, so nanos below are >= 0
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return Expects(kExpectsTimestamp, s, "(outside years 0001 to 9999)");
  }
  TimestampValue value;
  value.seconds = seconds;
  value.nanos =
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds)));
  return value;
}

}  // namespace baton::config::internal
