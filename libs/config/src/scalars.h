// Scalars: strict parsers for the text of one YAML scalar, private to the loader.
//
// Each parser takes the scalar's text and whether it was quoted (YAML makes `"3"` a string and `3`
// a number; booleans and numbers must be written unquoted). A failure is an InvalidArgument whose
// message is only the problem, e.g. `expects an integer, got "1.5"`; the loader prefixes the file,
// line and field path.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace baton::config::internal {

// What each kind of value expects, as the loader's messages word it ("expects <this>, got ...").
inline constexpr absl::string_view kExpectsString = "a string";
inline constexpr absl::string_view kExpectsBool = "true or false";
inline constexpr absl::string_view kExpectsInteger = "an integer";
inline constexpr absl::string_view kExpectsUnsigned = "a non-negative integer";
inline constexpr absl::string_view kExpectsNumber = "a number";
inline constexpr absl::string_view kExpectsDuration = R"(a duration like "14d", "36h", "90m")";
inline constexpr absl::string_view kExpectsTimestamp =
    R"(a timestamp like "2026-11-20T10:00:00Z" or a date like "2026-11-20")";

// A YAML scalar as written.
struct Scalar {
  absl::string_view text;
  bool quoted = false;  // quoted or a block scalar (`|`, `>`): a string by YAML's rules
};

// Quote renders user text for an error message: double-quoted, control characters and invalid
// UTF-8 shown as \xNN, and cut after 40 bytes ("...") so one line stays one line.
std::string Quote(absl::string_view text);

// Printable shows text as it is, except control characters and invalid UTF-8 as \xNN.
std::string Printable(absl::string_view text);

// IsValidUtf8 is true for well-formed UTF-8 (no overlong forms, surrogates or values above
// U+10FFFF), which protobuf requires of proto3 strings.
bool IsValidUtf8(absl::string_view text);

absl::StatusOr<std::string> ParseString(Scalar s);
absl::StatusOr<bool> ParseBool(Scalar s);
// ParseSigned accepts `-?[0-9]+` within [min, max].
absl::StatusOr<int64_t> ParseSigned(Scalar s, int64_t min, int64_t max);
// ParseUnsigned accepts `[0-9]+` up to max.
absl::StatusOr<uint64_t> ParseUnsigned(Scalar s, uint64_t max);
// ParseNumber accepts decimal numbers (`-0.5`, `1e3`, `.5`) whose magnitude is at most
// max_magnitude (FLT_MAX for float fields).
absl::StatusOr<double> ParseNumber(Scalar s, double max_magnitude);

// ParseDurationSeconds accepts "14d", "36h", "90m", "30s", "1h30m", "0s": whole numbers each
// followed by a unit, units in the order d, h, m, s and each at most once, at most 10000 years
// (google.protobuf.Duration's range).
absl::StatusOr<int64_t> ParseDurationSeconds(Scalar s);

struct TimestampValue {
  int64_t seconds = 0;
  int32_t nanos = 0;
};
// ParseTimestamp accepts RFC 3339 with a zone ("2026-11-20T10:00:00Z", "...T10:00:00.5+02:00")
// or a plain date ("2026-11-20", midnight UTC), between years 0001 and 9999
// (google.protobuf.Timestamp's range).
absl::StatusOr<TimestampValue> ParseTimestamp(Scalar s);

}  // namespace baton::config::internal
