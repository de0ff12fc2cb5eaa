// decode_fuzz: libFuzzer target for Baton's input decoders (DecodeInput, ParseContentType, and the
// fast JSON reader behind DecodeInput).
//
// Input layout: one selector byte, then (if its header bit is set) a length byte and that many
// bytes of `content-type` header value, then the payload.
//   bit 0  input kind: 0 engagement, 1 CRM
//   bit 1  format when no header is given (or the header is refused): 0 protobuf, 1 JSON
//   bit 2  a header value follows; a header ParseContentType accepts decides the format, as in
//          the pipeline
//   bit 4  decode with a small max_payload_bytes (256) to exercise the "oversized" path
//
// Besides crashes and sanitizer reports, it checks the codec's contract:
//   - on a JSON payload, the fast JSON reader (src/json_reader.h) agrees with protobuf's parser:
//     whatever it accepts, JsonStringToMessage accepts too and reads to the same bytes;
//   - every error is InvalidArgument and its message starts with one of kReasonCodes and ": ",
//     and ReasonCode returns that code;
//   - a decoded event validates again, and its binary encoding decodes to an equal event (what
//     the pipeline does when it re-keys an event or stores it); an event decoded from JSON also
//     survives a JSON round trip;
//   - the core accessors hold on a decoded event: EventIdOf is the (non-empty) event_id,
//     AccountIdOf is non-empty for account events, EventTimeOf round-trips through ToTimestamp.
//
// Build with clang: cmake -DBATON_FUZZ=ON; run: decode_fuzz -dict=json.dict CORPUS_DIR...
// libs/codec/fuzz/make_corpus.py regenerates the seed corpus.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "baton/codec/codec.h"
#include "baton/core/event.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "json_reader.h"

namespace {

using baton::codec::DecodeInput;
using baton::codec::DecodeOptions;
using baton::codec::InputKind;
using baton::codec::PayloadFormat;

// Check is the fuzzer's assert: a violated invariant is a crash libFuzzer reports and saves.
void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// CheckReason holds for every error the codec returns.
void CheckReason(const absl::Status& status) {
  Check(!status.ok());
  Check(status.code() == absl::StatusCode::kInvalidArgument);
  bool known = false;
  for (absl::string_view code : baton::codec::kReasonCodes) {
    if (absl::StartsWith(status.message(), absl::StrCat(code, ": "))) {
      Check(baton::codec::ReasonCode(status) == code);
      known = true;
    }
  }
  Check(known);
}

const google::protobuf::Message& AsMessage(const baton::core::InputEvent& event) {
  return std::visit([](const auto& e) -> const google::protobuf::Message& { return e; }, event);
}

// CheckRoundTrip encodes `event` in `format` and decodes it again: it must decode to an equal
// event.
void CheckRoundTrip(InputKind kind, const baton::core::InputEvent& event, PayloadFormat format) {
  const std::string encoded = baton::codec::Encode(AsMessage(event), format);
  const absl::StatusOr<baton::core::InputEvent> again = DecodeInput(kind, encoded, format);
  Check(again.ok());
  Check(again->index() == event.index());
  Check(google::protobuf::util::MessageDifferencer::Equals(AsMessage(event), AsMessage(*again)));
}

// DeterministicBytes is the message's binary form, bit-exact (-0.0 and 0.0 differ).
std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializePartialToCodedStream(&coded);
  }
  return out;
}

// CheckFastJsonReader: when the fast reader accepts a payload, protobuf's parser (the authority)
// must accept it and read the same message.
template <typename Message>
void CheckFastJsonReader(absl::string_view payload) {
  Message fast;
  if (!baton::codec::FastJsonToMessage(payload, &fast)) return;
  Message reference;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  Check(google::protobuf::util::JsonStringToMessage(
            google::protobuf::StringPiece(payload.data(), payload.size()), &reference, options)
            .ok());
  Check(DeterministicBytes(fast) == DeterministicBytes(reference));
}

void CheckCoreAccessors(const baton::core::InputEvent& event) {
  const absl::string_view event_id = baton::core::EventIdOf(event);
  Check(!event_id.empty());
  Check(event_id ==
        std::visit([](const auto& e) -> absl::string_view { return e.event_id(); }, event));

  const absl::string_view account_id = baton::core::AccountIdOf(event);
  if (const auto* crm = std::get_if<baton::v1::CrmEvent>(&event)) {
    // Every CRM payload but rep_status names an account, and validation requires it.
    Check(crm->has_rep_status() || !account_id.empty());
  }

  // EventTimeOf must not overflow whatever the timestamp; within the range absl::ToUnixNanos
  // represents (1678..2261), a normalized timestamp converts back to itself.
  const google::protobuf::Timestamp& ts = std::visit(
      [](const auto& e) -> const google::protobuf::Timestamp& { return e.event_time(); }, event);
  const absl::Time t = baton::core::EventTimeOf(event);
  const google::protobuf::Timestamp back = baton::core::ToTimestamp(t);
  constexpr int64_t kMaxSeconds = 9'000'000'000;
  if (ts.seconds() > -kMaxSeconds && ts.seconds() < kMaxSeconds && ts.nanos() >= 0 &&
      ts.nanos() < 1'000'000'000) {
    Check(back.seconds() == ts.seconds() && back.nanos() == ts.nanos());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Protobuf logs every refused non-UTF-8 string; that is expected here and only slows the run.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t selector = static_cast<uint8_t>(input[0]);
  input.remove_prefix(1);

  const InputKind kind = (selector & 0x01) ? InputKind::kCrm : InputKind::kEngagement;
  PayloadFormat format = (selector & 0x02) ? PayloadFormat::kJson : PayloadFormat::kProtobuf;

  // An absent header always means binary protobuf.
  const absl::StatusOr<PayloadFormat> absent = baton::codec::ParseContentType(nullptr);
  Check(absent.ok() && *absent == PayloadFormat::kProtobuf);
  if ((selector & 0x04) && !input.empty()) {
    const size_t length = std::min<size_t>(static_cast<uint8_t>(input[0]), input.size() - 1);
    const std::string header(input.substr(1, length));
    input.remove_prefix(1 + length);
    const absl::StatusOr<PayloadFormat> parsed = baton::codec::ParseContentType(&header);
    if (parsed.ok()) {
      format = *parsed;
    } else {
      CheckReason(parsed.status());
      Check(baton::codec::ReasonCode(parsed.status()) == "unknown_content_type");
    }
  }

  if (format == PayloadFormat::kJson) {
    if (kind == InputKind::kCrm) {
      CheckFastJsonReader<baton::v1::CrmEvent>(input);
    } else {
      CheckFastJsonReader<baton::v1::EngagementEvent>(input);
    }
  }

  DecodeOptions options;
  if (selector & 0x10) options.max_payload_bytes = 256;

  const absl::StatusOr<baton::core::InputEvent> event = DecodeInput(kind, input, format, options);
  if (input.size() > options.max_payload_bytes) {
    Check(!event.ok() && baton::codec::ReasonCode(event.status()) == "oversized");
  }
  if (!event.ok()) {
    CheckReason(event.status());
    return 0;
  }
  Check(std::holds_alternative<baton::v1::CrmEvent>(*event) == (kind == InputKind::kCrm));
  Check(baton::codec::Validate(*event).ok());
  CheckCoreAccessors(*event);

  CheckRoundTrip(kind, *event, PayloadFormat::kProtobuf);
  if (format == PayloadFormat::kJson) {
    CheckRoundTrip(kind, *event, PayloadFormat::kJson);
  } else {
    // A binary event may hold what JSON cannot say (a timestamp outside 0001..9999); encoding it
    // must still not crash.
    (void)baton::codec::Encode(AsMessage(*event), PayloadFormat::kJson);
  }
  return 0;
}
