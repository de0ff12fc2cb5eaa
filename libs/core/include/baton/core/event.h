// InputEvent: one decoded, validated input, as the core sees it.
//
// Thread-safety: plain values.
#pragma once

#include <variant>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "baton/v1/events.pb.h"

namespace baton::core {

using InputEvent = std::variant<baton::v1::EngagementEvent, baton::v1::CrmEvent>;

// AccountIdOf returns the account the event belongs to (validated to be non-empty).
absl::string_view AccountIdOf(const InputEvent& event);
absl::string_view EventIdOf(const InputEvent& event);
absl::Time EventTimeOf(const InputEvent& event);

// Conversions between protobuf timestamps and absl/epoch milliseconds.
absl::Time ToTime(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToTimestamp(absl::Time t);
inline google::protobuf::Timestamp MillisToTimestamp(int64_t ms) {
  return ToTimestamp(absl::FromUnixMillis(ms));
}

}  // namespace baton::core
