#include "baton/core/engagement.h"

#include <string>
#include <vector>

#include "baton/internal/v1/state.pb.h"
#include "gtest/gtest.h"

namespace baton::core {
namespace {

using baton::internal::v1::EngagementRecord;

EngagementRecord Record(std::string event_id, baton::v1::EngagementType type, int64_t time_ms,
                        std::string contact_id, std::string url, std::string campaign_id,
                        std::string content_id, bool pricing_page,
                        baton::v1::MatchMethod matched_by) {
  EngagementRecord r;
  r.set_event_id(std::move(event_id));
  r.set_type(type);
  r.set_time_ms(time_ms);
  r.set_contact_id(std::move(contact_id));
  r.set_url(std::move(url));
  r.set_campaign_id(std::move(campaign_id));
  r.set_content_id(std::move(content_id));
  r.set_pricing_page(pricing_page);
  r.set_matched_by(matched_by);
  return r;
}

// New is the record to add that the message holds (it views the message's strings).
NewEngagement New(const EngagementRecord& r) {
  return {r.event_id(),    r.type(),       r.time_ms(),      r.contact_id(), r.url(),
          r.campaign_id(), r.content_id(), r.pricing_page(), r.matched_by()};
}

void ExpectRecord(Engagement got, const EngagementRecord& want) {
  EXPECT_EQ(got.event_id(), want.event_id());
  EXPECT_EQ(got.type(), want.type());
  EXPECT_EQ(got.time_ms(), want.time_ms());
  EXPECT_EQ(got.contact_id(), want.contact_id());
  EXPECT_EQ(got.url(), want.url());
  EXPECT_EQ(got.campaign_id(), want.campaign_id());
  EXPECT_EQ(got.content_id(), want.content_id());
  EXPECT_EQ(got.pricing_page(), want.pricing_page());
  EXPECT_EQ(got.matched_by(), want.matched_by());
}

std::vector<EngagementRecord> Sample() {
  return {
      Record("ev-1", baton::v1::EMAIL_OPEN, 1000, "c-1", "", "campaign-7", "", false,
             baton::v1::ACCOUNT_ID),
      // A url longer than 127 bytes: its length takes two bytes on the wire.
      Record("ev-2", baton::v1::PAGE_VISIT, 2000, "c-2",
             "https://vendor.example/" + std::string(200, 'p'), "", "", true,
             baton::v1::EMAIL_DOMAIN),
      // Every string empty but the event id, a negative time (ten bytes on the wire).
      Record("ev-3", baton::v1::CONTENT_DOWNLOAD, -5, "", "", "", "asset-9", false,
             baton::v1::MATCH_METHOD_UNSPECIFIED),
  };
}

TEST(EngagementDayTest, RecordsAddedInOrderAreStoredAsProtobufWritesThem) {
  for (int64_t day_number : {int64_t{0}, int64_t{20'400}, int64_t{-3}}) {
    EngagementDay day(day_number);
    baton::internal::v1::EngagementDay message;
    message.set_day(day_number);
    std::vector<EngagementRecord> sample = Sample();
    std::sort(sample.begin(), sample.end(),
              [](const EngagementRecord& a, const EngagementRecord& b) {
                return a.time_ms() < b.time_ms();
              });
    for (const EngagementRecord& f : sample) {
      day.Add(New(f));
      *message.add_records() = f;
    }
    EXPECT_EQ(day.bytes(), message.SerializeAsString()) << "day " << day_number;
  }
}

TEST(EngagementDayTest, RecordsAreReadInTimeThenEventIdOrderWhateverTheirArrival) {
  EngagementDay day(1);
  std::vector<EngagementRecord> sample = Sample();
  EngagementRecord same_time_smaller_id = sample[1];
  same_time_smaller_id.set_event_id("ev-0");
  for (const EngagementRecord& f : {sample[1], sample[0], sample[2], same_time_smaller_id})
    day.Add(New(f));
  ASSERT_EQ(day.size(), 4);
  ExpectRecord(day.at(0), sample[2]);
  ExpectRecord(day.at(1), sample[0]);
  ExpectRecord(day.at(2), same_time_smaller_id);
  ExpectRecord(day.at(3), sample[1]);

  // The bytes are a valid EngagementDay holding the records as they arrived.
  baton::internal::v1::EngagementDay message;
  ASSERT_TRUE(message.ParseFromString(day.bytes()));
  EXPECT_EQ(message.day(), 1);
  ASSERT_EQ(message.records_size(), 4);
  EXPECT_EQ(message.records(0).event_id(), "ev-2");
  EXPECT_EQ(message.records(3).event_id(), "ev-0");
  EXPECT_EQ(message.records(0).url(), sample[1].url());
}

TEST(EngagementDayTest, AStoredDayParsesToItsRecordsInOrder) {
  baton::internal::v1::EngagementDay message;
  message.set_day(7);
  std::vector<EngagementRecord> sample = Sample();
  for (const EngagementRecord& f : {sample[1], sample[2], sample[0]}) *message.add_records() = f;
  std::optional<EngagementDay> day = EngagementDay::Parse(message.SerializeAsString());
  ASSERT_TRUE(day.has_value());
  ASSERT_EQ(day->size(), 3);
  ExpectRecord(day->at(0), sample[2]);
  ExpectRecord(day->at(1), sample[0]);
  ExpectRecord(day->at(2), sample[1]);
  EXPECT_EQ(day->bytes(), message.SerializeAsString());

  // A record added after parsing lands in order, and the bytes stay a valid day.
  EngagementRecord later = sample[0];
  later.set_event_id("ev-9");
  later.set_time_ms(1500);
  day->Add(New(later));
  ASSERT_EQ(day->size(), 4);
  ExpectRecord(day->at(2), later);
  ASSERT_TRUE(message.ParseFromString(day->bytes()));
  EXPECT_EQ(message.records_size(), 4);
}

TEST(EngagementDayTest, FieldsANewerBatonAddedAreSkipped) {
  const EngagementRecord f = Sample()[0];
  std::string record = f.SerializeAsString();
  record += std::string("\xA0\x06\x2A", 3);     // field 100, varint 42
  record += std::string("\xAA\x06\x03xyz", 6);  // field 101, string "xyz"
  baton::internal::v1::EngagementDay message;
  message.set_day(2);
  std::string bytes = message.SerializeAsString();
  bytes += '\x12';
  bytes += static_cast<char>(record.size());
  bytes += record;
  bytes += std::string("\x18\x01", 2);  // day field 3, varint 1
  std::optional<EngagementDay> day = EngagementDay::Parse(bytes);
  ASSERT_TRUE(day.has_value());
  ASSERT_EQ(day->size(), 1);
  ExpectRecord(day->at(0), f);
}

TEST(EngagementDayTest, BytesThatAreNotADayDoNotParse) {
  EngagementDay day(3);
  for (const EngagementRecord& f : Sample()) day.Add(New(f));
  const std::string& bytes = day.bytes();
  EXPECT_TRUE(EngagementDay::Parse(bytes).has_value());
  // Cut inside the last record, and a record whose length runs past the end.
  EXPECT_FALSE(EngagementDay::Parse(bytes.substr(0, bytes.size() - 3)).has_value());
  EXPECT_FALSE(EngagementDay::Parse(std::string("\x12\x05\x0a\x01", 4)).has_value());
  // A string field inside a record whose length runs past the record.
  EXPECT_FALSE(EngagementDay::Parse(std::string("\x12\x03\x0a\x05x", 5)).has_value());
  EXPECT_FALSE(EngagementDay::Parse(std::string("\xff\xff", 2)).has_value());
  // A record length past 2^31.
  EXPECT_FALSE(
      EngagementDay::Parse(std::string("\x12\xff\xff\xff\xff\x0f\x0a\x01x", 9)).has_value());
  // A string length whose varint holds bits past 32: read as 1 by a 32-bit reader, it is not 1.
  EXPECT_FALSE(
      EngagementDay::Parse(std::string("\x12\x07\x0a\x81\x80\x80\x80\x10x", 9)).has_value());
  // The same length written long but without such bits is 1.
  std::optional<EngagementDay> padded =
      EngagementDay::Parse(std::string("\x12\x08\x0a\x81\x80\x80\x80\x80\x00x", 10));
  ASSERT_TRUE(padded.has_value());
  EXPECT_EQ(padded->at(0).event_id(), "x");
}

TEST(EngagementDayTest, ForEachVisitsTimesAfterFromUpToAndIncludingTo) {
  EngagementDay day(0);
  for (int64_t t : {10, 20, 20, 30, 40}) {
    EngagementRecord f;
    f.set_event_id("ev-" + std::to_string(t) + "-" + std::to_string(day.size()));
    f.set_time_ms(t);
    day.Add(New(f));
  }
  std::vector<int64_t> seen;
  day.ForEach(10, 30, [&](Engagement r) { seen.push_back(r.time_ms()); });
  EXPECT_EQ(seen, (std::vector<int64_t>{20, 20, 30}));
  seen.clear();
  day.ForEach(40, 100, [&](Engagement r) { seen.push_back(r.time_ms()); });
  EXPECT_TRUE(seen.empty());
  day.ForEach(-1, 10, [&](Engagement r) { seen.push_back(r.time_ms()); });
  EXPECT_EQ(seen, (std::vector<int64_t>{10}));
}

TEST(EngagementDayTest, ATypeThisBuildDoesNotKnowIsKeptInTheBytes) {
  EngagementRecord f = Sample()[0];
  f.set_type(static_cast<baton::v1::EngagementType>(300));
  EngagementDay day(0);
  day.Add(New(f));
  EXPECT_EQ(day.at(0).type(), baton::v1::ENGAGEMENT_TYPE_UNSPECIFIED);  // no rule names it
  baton::internal::v1::EngagementDay message;
  ASSERT_TRUE(message.ParseFromString(day.bytes()));
  EXPECT_EQ(message.records(0).type(), 300);
  std::optional<EngagementDay> parsed = EngagementDay::Parse(day.bytes());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at(0).type(), baton::v1::ENGAGEMENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(parsed->bytes(), day.bytes());
}

}  // namespace
}  // namespace baton::core
