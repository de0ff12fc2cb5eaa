#include "baton/core/engagement.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace baton::core {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

// Field numbers of baton.internal.v1.EngagementDay and EngagementRecord (state.proto).
constexpr int kDayNumber = 1;
constexpr int kDayRecords = 2;
enum RecordField {
  kEventId = 1,
  kType = 2,
  kTime = 3,
  kContactId = 4,
  kUrl = 5,
  kCampaignId = 6,
  kContentId = 7,
  kPricingPage = 8,
  kMatchedBy = 9,
};

constexpr uint32_t Tag(int field, WireFormatLite::WireType type) {
  return static_cast<uint32_t>(field << 3) | type;
}

// Enums are int32 on the wire: a negative value is sign-extended to ten bytes.
uint64_t EnumWire(int value) { return static_cast<uint64_t>(static_cast<int64_t>(value)); }

uint8_t Narrow(uint32_t enum_value) { return enum_value <= 255 ? enum_value : 0; }

bool Before(const Engagement::Entry& a, absl::string_view a_id, const Engagement::Entry& b,
            absl::string_view b_id) {
  return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a_id < b_id;
}

// StringMember is where an entry keeps the string field `field` of a record (nullptr: none).
uint32_t Engagement::Entry::*StringMember(int field) {
  switch (field) {
    case kEventId:
      return &Engagement::Entry::event_id;
    case kContactId:
      return &Engagement::Entry::contact_id;
    case kUrl:
      return &Engagement::Entry::url;
    case kCampaignId:
      return &Engagement::Entry::campaign_id;
    case kContentId:
      return &Engagement::Entry::content_id;
    default:
      return nullptr;
  }
}

bool IsVarintField(int field) {
  return field == kType || field == kTime || field == kPricingPage || field == kMatchedBy;
}

// Writer appends wire bytes to a string it was sized for.
class Writer {
 public:
  Writer(std::string& out, size_t at) : out_(out), at_(at) {}

  void Varint(uint64_t v) {
    auto* p = reinterpret_cast<uint8_t*>(out_.data() + at_);
    at_ = CodedOutputStream::WriteVarint64ToArray(v, p) - reinterpret_cast<uint8_t*>(out_.data());
  }
  void VarintField(int field, uint64_t v) {
    if (v == 0) return;
    Varint(Tag(field, WireFormatLite::WIRETYPE_VARINT));
    Varint(v);
  }
  // Returns where the length is, or 0 for an empty string (not written).
  uint32_t StringField(int field, absl::string_view s) {
    if (s.empty()) return 0;
    Varint(Tag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    const auto length_at = static_cast<uint32_t>(at_);
    Varint(s.size());
    std::memcpy(out_.data() + at_, s.data(), s.size());
    at_ += s.size();
    return length_at;
  }

 private:
  std::string& out_;
  size_t at_;
};

// The bytes a field takes (none when empty: proto3 leaves it out); every field number here is
// below 16, so its tag is one byte.
size_t VarintFieldSize(uint64_t v) { return v == 0 ? 0 : 1 + CodedOutputStream::VarintSize64(v); }
size_t StringFieldSize(absl::string_view s) {
  return s.empty() ? 0 : 1 + CodedOutputStream::VarintSize64(s.size()) + s.size();
}

// StringAt is the string whose length is at `at` in `bytes` (0: empty).
absl::string_view StringAt(const char* bytes, uint32_t at) {
  if (at == 0) return {};
  uint64_t length = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes + at);
  for (int shift = 0;; shift += 7, ++p) {
    length |= static_cast<uint64_t>(*p & 0x7f) << shift;
    if ((*p & 0x80) == 0) break;
  }
  return {reinterpret_cast<const char*>(p + 1), length};
}

}  // namespace

absl::string_view Engagement::String(uint32_t at) const { return StringAt(bytes_, at); }

bool operator<(Engagement a, Engagement b) {
  return Before(*a.entry_, a.event_id(), *b.entry_, b.event_id());
}

EngagementDay::EngagementDay(int64_t day) {
  bytes_.resize(VarintFieldSize(static_cast<uint64_t>(day)));
  Writer(bytes_, 0).VarintField(kDayNumber, static_cast<uint64_t>(day));
}

std::optional<EngagementDay> EngagementDay::Parse(std::string bytes) {
  EngagementDay day;
  day.bytes_ = std::move(bytes);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(day.bytes_.data()),
                      static_cast<int>(day.bytes_.size()));
  auto read_string_at = [&in, &day](uint32_t& at) {
    at = static_cast<uint32_t>(in.CurrentPosition());
    uint32_t length = 0;
    // StringAt must read the same length: ReadVarint32 drops bits past the 32nd.
    return in.ReadVarint32(&length) && StringAt(day.bytes_.data(), at).size() == length &&
           in.Skip(static_cast<int>(length));
  };
  while (uint32_t tag = in.ReadTag()) {
    if (tag != Tag(kDayRecords, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;  // the day number, or newer
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > day.bytes_.size() - in.CurrentPosition()) {
      return std::nullopt;
    }
    const auto limit = in.PushLimit(static_cast<int>(length));
    Engagement::Entry e{};
    bool ok = true;
    while (ok) {
      const uint32_t field_tag = in.ReadTag();
      if (field_tag == 0) break;
      const int field = WireFormatLite::GetTagFieldNumber(field_tag);
      const WireFormatLite::WireType type = WireFormatLite::GetTagWireType(field_tag);
      uint32_t Engagement::Entry::*string = StringMember(field);
      uint64_t v = 0;
      if (string != nullptr && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        ok = read_string_at(e.*string);
      } else if (IsVarintField(field) && type == WireFormatLite::WIRETYPE_VARINT) {
        ok = in.ReadVarint64(&v);
        if (field == kType) e.type = Narrow(static_cast<uint32_t>(v));
        if (field == kTime) e.time_ms = static_cast<int64_t>(v);
        if (field == kPricingPage) e.pricing_page = v != 0;
        if (field == kMatchedBy) e.matched_by = Narrow(static_cast<uint32_t>(v));
      } else {  // a field a newer Baton added
        ok = WireFormatLite::SkipField(&in, field_tag);
      }
    }
    if (!ok || !in.ConsumedEntireMessage()) return std::nullopt;
    in.PopLimit(limit);
    day.entries_.push_back(e);
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != static_cast<int>(day.bytes_.size())) {
    return std::nullopt;
  }
  const char* base = day.bytes_.data();
  auto before = [base](const Engagement::Entry& a, const Engagement::Entry& b) {
    return Engagement(base, &a) < Engagement(base, &b);
  };
  if (!std::is_sorted(day.entries_.begin(), day.entries_.end(), before)) {
    std::stable_sort(day.entries_.begin(), day.entries_.end(), before);
  }
  return day;
}

void EngagementDay::Add(const NewEngagement& r) {
  const uint64_t type = EnumWire(r.type);
  const uint64_t time = static_cast<uint64_t>(r.time_ms);
  const uint64_t matched_by = EnumWire(r.matched_by);
  const size_t record_size = StringFieldSize(r.event_id) + VarintFieldSize(type) +
                             VarintFieldSize(time) + StringFieldSize(r.contact_id) +
                             StringFieldSize(r.url) + StringFieldSize(r.campaign_id) +
                             StringFieldSize(r.content_id) +
                             VarintFieldSize(r.pricing_page ? 1 : 0) + VarintFieldSize(matched_by);
  const size_t start = bytes_.size();
  bytes_.resize(start + 1 + CodedOutputStream::VarintSize64(record_size) + record_size);
  Writer w(bytes_, start);
  w.Varint(Tag(kDayRecords, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  w.Varint(record_size);
  Engagement::Entry e{};
  e.time_ms = r.time_ms;
  e.type = Narrow(static_cast<uint32_t>(r.type));
  e.matched_by = Narrow(static_cast<uint32_t>(r.matched_by));
  e.pricing_page = r.pricing_page;
  // Field order as protobuf writes them.
  e.event_id = w.StringField(kEventId, r.event_id);
  w.VarintField(kType, type);
  w.VarintField(kTime, time);
  e.contact_id = w.StringField(kContactId, r.contact_id);
  e.url = w.StringField(kUrl, r.url);
  e.campaign_id = w.StringField(kCampaignId, r.campaign_id);
  e.content_id = w.StringField(kContentId, r.content_id);
  w.VarintField(kPricingPage, r.pricing_page ? 1 : 0);
  w.VarintField(kMatchedBy, matched_by);
  // Records mostly arrive in order: search from the back.
  auto pos = entries_.end();
  while (pos != entries_.begin()) {
    const Engagement::Entry& prev = *(pos - 1);
    if (!Before(e, r.event_id, prev, Engagement(bytes_.data(), &prev).event_id())) break;
    --pos;
  }
  entries_.insert(pos, e);
}

std::vector<Engagement::Entry>::const_iterator EngagementDay::FirstAfter(int64_t time_ms) const {
  return std::upper_bound(entries_.begin(), entries_.end(), time_ms,
                          [](int64_t t, const Engagement::Entry& e) { return t < e.time_ms; });
}

}  // namespace baton::core
