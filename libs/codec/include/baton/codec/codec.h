// Codec: Baton's wire formats. Decodes and validates inputs; encodes outputs.
//
// An input message is binary protobuf or protobuf's JSON mapping, chosen by its `content-type`
// header (absent means binary protobuf). Decoding also validates: a message Baton cannot act on
// is an error here, so it is dead-lettered before it reaches the engine.
//
// Every error is an InvalidArgument status whose message starts with a reason code from a fixed
// set (kReasonCodes), then ": " and a detail for the dead-letter header, e.g.
// "missing_field: event_id is required". The code alone is safe to log and to use as a metric
// label; the detail may quote the input and is never logged.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "baton/core/event.h"
#include "google/protobuf/message.h"

namespace baton::codec {

enum class PayloadFormat { kProtobuf, kJson };

// The `content-type` values Baton reads and writes.
inline constexpr absl::string_view kContentTypeHeader = "content-type";
inline constexpr absl::string_view kProtobufContentType = "application/x-protobuf";
inline constexpr absl::string_view kJsonContentType = "application/json";

// Reason codes of decode and validation errors (the metric label values).
inline constexpr std::array<absl::string_view, 7> kReasonCodes = {
    "oversized",     "unknown_content_type", "bad_protobuf", "bad_json",
    "missing_field", "invalid_value",        "bad_timestamp"};

// ParseContentType maps a header value (nullptr when absent) to a format. Parameters such as
// "; charset=utf-8" are ignored; "application/protobuf" is accepted as a synonym.
absl::StatusOr<PayloadFormat> ParseContentType(const std::string* header_value);

// Which input topic a message came from; it decides the message type.
enum class InputKind { kEngagement, kCrm };

struct DecodeOptions {
  // Larger payloads are rejected as "oversized" before parsing.
  size_t max_payload_bytes = 1 << 20;
};

// DecodeInput parses and validates one input message.
absl::StatusOr<core::InputEvent> DecodeInput(InputKind kind, absl::string_view payload,
                                             PayloadFormat format,
                                             const DecodeOptions& options = {});

// Validate checks a parsed event against the contract in proto/baton/v1/events.proto.
absl::Status Validate(const core::InputEvent& event);

// ReasonCode returns the reason code that starts a decode/validation status message.
absl::string_view ReasonCode(const absl::Status& status);

// Encode serializes an output (RoutedLead or Alert). JSON uses the proto field names.
std::string Encode(const google::protobuf::Message& message, PayloadFormat format);

}  // namespace baton::codec
