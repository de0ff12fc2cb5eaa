// EngagementDay: one account's engagement records of one UTC day, compact.
//
// A day is kept as its stored value — the protobuf wire bytes of baton.internal.v1.EngagementDay —
// with a fixed-size entry per record (time, type and where its strings are in those bytes),
// ordered by time, then event id. A new record is appended to the bytes and its entry inserted at
// its place; the stored value is then the bytes as they are, with no serialization, and reading a
// stored day indexes its bytes without copying a string.
//
// Rationale: kept as protobuf messages, a record cost a message and five strings on the heap
// (about 230 bytes for a short-id record) and every commit and eviction serialized whole days
// again. Compact, a cached account holds about half the memory, so the same memory caches more
// accounts, and a commit writes the day's bytes as they are.
//
// The records in the bytes are in the order they arrived; readers of a stored day must not rely
// on the order (Baton orders them when it reads the day).
//
// Thread-safety: a plain value, owned by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "baton/v1/events.pb.h"

namespace baton::core {

// NewEngagement is a record to add: its strings are copied into the day.
struct NewEngagement {
  absl::string_view event_id;
  baton::v1::EngagementType type = baton::v1::ENGAGEMENT_TYPE_UNSPECIFIED;
  int64_t time_ms = 0;
  absl::string_view contact_id;
  absl::string_view url;
  absl::string_view campaign_id;
  absl::string_view content_id;
  bool pricing_page = false;
  baton::v1::MatchMethod matched_by = baton::v1::MATCH_METHOD_UNSPECIFIED;
};

// Engagement is one record of a day, read in place: valid until that day next changes.
class Engagement {
 public:
  struct Entry {
    int64_t time_ms;
    // Where each string's length is in the day's bytes; 0 for an empty string.
    uint32_t event_id, contact_id, url, campaign_id, content_id;
    uint8_t type;  // 0 for a type above 255, which no rule names
    uint8_t matched_by;
    bool pricing_page;
  };

  Engagement(const char* bytes, const Entry* entry) : bytes_(bytes), entry_(entry) {}

  int64_t time_ms() const { return entry_->time_ms; }
  baton::v1::EngagementType type() const {
    return static_cast<baton::v1::EngagementType>(entry_->type);
  }
  absl::string_view event_id() const { return String(entry_->event_id); }
  absl::string_view contact_id() const { return String(entry_->contact_id); }
  absl::string_view url() const { return String(entry_->url); }
  absl::string_view campaign_id() const { return String(entry_->campaign_id); }
  absl::string_view content_id() const { return String(entry_->content_id); }
  bool pricing_page() const { return entry_->pricing_page; }
  baton::v1::MatchMethod matched_by() const {
    return static_cast<baton::v1::MatchMethod>(entry_->matched_by);
  }

  // The same record of the same day.
  friend bool operator==(Engagement a, Engagement b) { return a.entry_ == b.entry_; }
  // The order of a day's records: by time, then event id.
  friend bool operator<(Engagement a, Engagement b);

 private:
  absl::string_view String(uint32_t at) const;

  const char* bytes_;
  const Entry* entry_;
};

class EngagementDay {
 public:
  // A new, empty day.
  explicit EngagementDay(int64_t day);

  // Parse indexes a stored day's value; nullopt if it does not parse.
  static std::optional<EngagementDay> Parse(std::string bytes);

  // Add inserts a record at its place in time, after records of the same time and a smaller or
  // equal event id.
  void Add(const NewEngagement& record);

  // The stored value: baton.internal.v1.EngagementDay's wire bytes, records in arrival order.
  const std::string& bytes() const { return bytes_; }
  // Release moves the stored value out, leaving the day empty.
  std::string Release() && {
    entries_.clear();
    return std::move(bytes_);
  }
  int size() const { return static_cast<int>(entries_.size()); }
  Engagement at(int i) const { return {bytes_.data(), &entries_[i]}; }

  // ForEach calls f(record) for records with time in (from_ms, to_ms], in time order.
  template <typename F>
  void ForEach(int64_t from_ms, int64_t to_ms, F&& f) const {
    for (auto it = FirstAfter(from_ms); it != entries_.end() && it->time_ms <= to_ms; ++it) {
      f(Engagement(bytes_.data(), &*it));
    }
  }

 private:
  EngagementDay() = default;
  std::vector<Engagement::Entry>::const_iterator FirstAfter(int64_t time_ms) const;

  std::string bytes_;
  std::vector<Engagement::Entry> entries_;  // by time, then event id
};

}  // namespace baton::core
