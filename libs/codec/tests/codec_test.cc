#include "baton/codec/codec.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "baton/codec/describe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::codec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::string_view kOpenJson = R"({
  "event_id": "ev-1", "event_time": "2026-11-20T10:00:00Z", "source": "marketo",
  "account_id": "acme", "contact_email": "jane@acme.example", "type": "EMAIL_OPEN",
  "campaign_id": "q4-launch"})";

std::string ReasonOf(absl::StatusOr<core::InputEvent> result) {
  EXPECT_FALSE(result.ok());
  return std::string(result.status().message());
}

TEST(DecodeTest, JsonEngagementEvent) {
  auto event = DecodeInput(InputKind::kEngagement, kOpenJson, PayloadFormat::kJson);
  ASSERT_TRUE(event.ok()) << event.status();
  const auto& e = std::get<baton::v1::EngagementEvent>(*event);
  EXPECT_EQ(e.type(), baton::v1::EMAIL_OPEN);
  EXPECT_EQ(e.campaign_id(), "q4-launch");
  EXPECT_EQ(e.event_time().seconds(), 1795168800);
}

TEST(DecodeTest, BinaryCrmEventRoundTrips) {
  baton::v1::CrmEvent crm;
  crm.set_event_id("crm-1");
  crm.mutable_event_time()->set_seconds(1795168800);
  crm.set_source("salesforce");
  auto* a = crm.mutable_account_upsert();
  a->set_account_id("acme");
  a->set_tier(baton::v1::TIER_1);
  auto event = DecodeInput(InputKind::kCrm, crm.SerializeAsString(), PayloadFormat::kProtobuf);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(std::get<baton::v1::CrmEvent>(*event).account_upsert().tier(), baton::v1::TIER_1);
}

TEST(DecodeTest, MalformedProtobufIsBadProtobuf) {
  EXPECT_THAT(ReasonOf(DecodeInput(InputKind::kCrm, "\xff\xff\xff", PayloadFormat::kProtobuf)),
              StartsWith("bad_protobuf: not a valid baton.v1.CrmEvent"));
}

TEST(DecodeTest, JsonSentWithoutContentTypeIsBadProtobufWithAHint) {
  EXPECT_THAT(ReasonOf(DecodeInput(InputKind::kEngagement, kOpenJson, PayloadFormat::kProtobuf)),
              HasSubstr("content-type: application/json"));
}

TEST(DecodeTest, InvalidJsonIsBadJson) {
  EXPECT_THAT(
      ReasonOf(DecodeInput(InputKind::kEngagement, "{\"event_id\": ", PayloadFormat::kJson)),
      StartsWith("bad_json:"));
}

TEST(DecodeTest, UnknownJsonFieldIsBadJson) {
  EXPECT_THAT(
      ReasonOf(DecodeInput(InputKind::kEngagement, R"({"evnt_id": "x"})", PayloadFormat::kJson)),
      StartsWith("bad_json:"));
}

TEST(DecodeTest, UnknownEnumNameIsBadJson) {
  EXPECT_THAT(
      ReasonOf(DecodeInput(InputKind::kEngagement, R"({"event_id": "x", "type": "EMAIL_OPNE"})",
                           PayloadFormat::kJson)),
      StartsWith("bad_json:"));
}

TEST(DecodeTest, UnknownEnumNumberIsInvalidValue) {
  baton::v1::EngagementEvent e;
  e.set_event_id("ev");
  e.mutable_event_time()->set_seconds(1795168800);
  e.set_source("s");
  e.set_account_id("acme");
  e.set_contact_id("c");
  e.set_type(static_cast<baton::v1::EngagementType>(99));
  EXPECT_EQ(ReasonOf(DecodeInput(InputKind::kEngagement, e.SerializeAsString(),
                                 PayloadFormat::kProtobuf)),
            "invalid_value: type has unknown value 99");
}

TEST(ValidateTest, EachRequiredFieldIsNamed) {
  struct Case {
    absl::string_view json;
    absl::string_view reason;
  };
  const Case cases[] = {
      {R"({"event_time": "2026-11-20T10:00:00Z", "source": "s"})",
       "missing_field: event_id is required"},
      {R"({"event_id": "e", "source": "s"})", "missing_field: event_time is required"},
      {R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z", "source": "s",
           "type": "INTENT_SIGNAL", "intent_topic": "t"})",
       "missing_field: account_id is required for an INTENT_SIGNAL without a contact"},
      {R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z", "source": "s",
           "account_id": "a", "contact_id": "c"})",
       "missing_field: type is required"},
      {R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z", "source": "s",
           "account_id": "a", "type": "EMAIL_OPEN"})",
       "missing_field: contact_id or contact_email is required"},
      {R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z", "source": "s",
           "account_id": "a", "contact_id": "c", "type": "PAGE_VISIT"})",
       "missing_field: url is required for PAGE_VISIT"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ReasonOf(DecodeInput(InputKind::kEngagement, c.json, PayloadFormat::kJson)),
                StartsWith(c.reason))
        << c.json;
  }
}

TEST(ValidateTest, RepStatusAndOutreachPlanAreChecked) {
  constexpr absl::string_view kHead =
      R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z", "source": "crm", )";
  struct Case {
    std::string json;
    absl::string_view reason;
  };
  const Case cases[] = {
      {absl::StrCat(kHead, R"("rep_status": {"time_zone": "Europe/Berlin"}})"),
       "missing_field: rep_status.rep_id is required"},
      {absl::StrCat(kHead, R"("rep_status": {"rep_id": "ae-1", "time_zone": "Mars/Base"}})"),
       "invalid_value: rep_status.time_zone is not an IANA time zone"},
      {absl::StrCat(kHead, R"("rep_status": {"rep_id": "ae-1", "out_of_office": [{"start":
           "2026-11-24T00:00:00Z", "end": "2026-11-23T00:00:00Z"}]}})"),
       "invalid_value: rep_status.out_of_office[0] ends before it starts"},
      {absl::StrCat(kHead, R"("outreach_plan": {"plan_id": "p", "account_id": "a",
           "kind": "SALES_SPRINT"}})"),
       "missing_field: outreach_plan.period is required"},
      {absl::StrCat(kHead, R"("outreach_plan": {"plan_id": "p", "account_id": "a",
           "period": {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"}}})"),
       "missing_field: outreach_plan.kind is required"},
      {absl::StrCat(kHead, R"("outreach_plan": {"plan_id": "p", "account_id": "a",
           "kind": "SALES_SPRINT", "period": {"start": "1970-01-01T00:00:00Z",
           "end": "2026-11-25T00:00:00Z"}}})"),
       "bad_timestamp: outreach_plan.period must lie between 2000 and 2200"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ReasonOf(DecodeInput(InputKind::kCrm, c.json, PayloadFormat::kJson)),
                StartsWith(c.reason))
        << c.json;
  }
  auto ok = DecodeInput(InputKind::kCrm,
                        absl::StrCat(kHead, R"("rep_status": {"rep_id": "ae-1", "time_zone":
                            "Asia/Kolkata", "out_of_office": [{"start": "2026-11-24T00:00:00Z",
                            "end": "2026-11-25T00:00:00Z"}]}})"),
                        PayloadFormat::kJson);
  EXPECT_TRUE(ok.ok()) << ok.status();
}

// absl::LoadTimeZone opens the file any name maps to ("file:" and "../" escaped the zoneinfo
// directory) and keeps every name it is asked for, so paths and overlong names must not reach it.
TEST(ValidateTest, TimeZoneThatIsAPathOrOverlongIsRefused) {
  auto decode = [](absl::string_view time_zone) {
    baton::v1::CrmEvent crm;
    crm.set_event_id("crm-1");
    crm.mutable_event_time()->set_seconds(1795168800);
    crm.set_source("salesforce");
    crm.mutable_rep_status()->set_rep_id("ae-1");
    crm.mutable_rep_status()->set_time_zone(std::string(time_zone));
    return DecodeInput(InputKind::kCrm, crm.SerializeAsString(), PayloadFormat::kProtobuf);
  };
  for (absl::string_view refused : {"/usr/share/zoneinfo/UTC", "file:/usr/share/zoneinfo/UTC",
                                    "file:/etc/passwd", "../../../../usr/share/zoneinfo/Asia/Tokyo",
                                    "Europe/../Europe/Berlin", "Europe//Berlin", "localtime"}) {
    EXPECT_THAT(ReasonOf(decode(refused)),
                StartsWith("invalid_value: rep_status.time_zone is not an IANA time zone"))
        << refused;
  }
  EXPECT_THAT(ReasonOf(decode(absl::StrCat("Europe/", std::string(60, 'x')))),
              StartsWith("invalid_value: rep_status.time_zone"));
  for (absl::string_view accepted :
       {"Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"}) {
    EXPECT_TRUE(decode(accepted).ok()) << accepted;
  }
}

TEST(ValidateTest, IdsWithControlCharactersAreRefused) {
  baton::v1::CrmEvent crm;
  crm.set_event_id("crm-1");
  crm.mutable_event_time()->set_seconds(1795168800);
  crm.set_source("salesforce");
  crm.mutable_account_upsert()->set_account_id(std::string("acme\0h", 6));
  crm.mutable_account_upsert()->set_tier(baton::v1::TIER_1);
  EXPECT_EQ(
      ReasonOf(DecodeInput(InputKind::kCrm, crm.SerializeAsString(), PayloadFormat::kProtobuf)),
      "invalid_value: account_upsert.account_id contains a control character");
}

// Found by decode_fuzz: a NaN score compared false with both bounds and passed validation.
TEST(ValidateTest, NanScoresAreInvalidValues) {
  EXPECT_EQ(ReasonOf(DecodeInput(InputKind::kEngagement,
                                 R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z",
                                     "source": "bombora", "account_id": "a",
                                     "type": "INTENT_SIGNAL", "intent_topic": "crm",
                                     "intent_score": "NaN"})",
                                 PayloadFormat::kJson)),
            "invalid_value: intent_score must be within 0..100");

  baton::v1::CrmEvent crm;
  crm.set_event_id("crm-1");
  crm.mutable_event_time()->set_seconds(1795168800);
  crm.set_source("salesforce");
  crm.mutable_account_upsert()->set_account_id("acme");
  crm.mutable_account_upsert()->set_tier(baton::v1::TIER_1);
  crm.mutable_account_upsert()->set_icp_fit(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(
      ReasonOf(DecodeInput(InputKind::kCrm, crm.SerializeAsString(), PayloadFormat::kProtobuf)),
      "invalid_value: account_upsert.icp_fit must be within 0..100");
}

TEST(ValidateTest, CrmEventNeedsAPayload) {
  EXPECT_THAT(ReasonOf(DecodeInput(InputKind::kCrm,
                                   R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z",
                                       "source": "crm"})",
                                   PayloadFormat::kJson)),
              StartsWith("missing_field: one of account_upsert"));
}

TEST(ValidateTest, AccountUpsertNeedsATier) {
  EXPECT_EQ(ReasonOf(DecodeInput(InputKind::kCrm,
                                 R"({"event_id": "e", "event_time": "2026-11-20T10:00:00Z",
                                     "source": "crm", "account_upsert": {"account_id": "a"}})",
                                 PayloadFormat::kJson)),
            "missing_field: account_upsert.tier is required");
}

TEST(DecodeTest, OversizedPayloadIsRejectedBeforeParsing) {
  DecodeOptions options;
  options.max_payload_bytes = 16;
  EXPECT_THAT(
      ReasonOf(DecodeInput(InputKind::kEngagement, kOpenJson, PayloadFormat::kJson, options)),
      StartsWith("oversized:"));
}

TEST(ContentTypeTest, HeaderChoosesTheFormat) {
  const std::string json = "application/json; charset=utf-8";
  const std::string proto = "application/x-protobuf";
  const std::string xml = "text/xml";
  EXPECT_EQ(*ParseContentType(nullptr), PayloadFormat::kProtobuf);
  EXPECT_EQ(*ParseContentType(&json), PayloadFormat::kJson);
  EXPECT_EQ(*ParseContentType(&proto), PayloadFormat::kProtobuf);
  EXPECT_EQ(ReasonCode(ParseContentType(&xml).status()), "unknown_content_type");
}

TEST(EncodeTest, JsonUsesProtoFieldNames) {
  baton::v1::Alert alert;
  alert.set_alert_id("alert:handoff:ho-1");
  alert.set_kind(baton::v1::HANDOFF);
  EXPECT_EQ(Encode(alert, PayloadFormat::kJson),
            R"({"alert_id":"alert:handoff:ho-1","kind":"HANDOFF"})");
}

TEST(DescribeTest, OneLineLeadCarriesNoPersonalData) {
  baton::v1::RoutedLead lead;
  lead.set_account_id("acme");
  lead.mutable_contact()->set_contact_id("c-1");
  lead.mutable_contact()->set_email("jane@acme.example");
  lead.mutable_contact()->set_full_name("Jane Doe");
  const std::string line = OneLine(lead);
  EXPECT_THAT(line, HasSubstr("contact c-1"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("jane")));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("Jane")));
}

}  // namespace
}  // namespace baton::codec
