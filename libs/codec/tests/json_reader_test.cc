// Differential tests of the fast JSON reader against protobuf's JsonStringToMessage: whenever the
// fast reader accepts an input, protobuf must accept it too and yield the same bytes; and the
// inputs Baton sees every day must take the fast path.
#include "json_reader.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "baton/codec/codec.h"
#include "baton/v1/events.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace baton::codec {
namespace {

using baton::v1::CrmEvent;
using baton::v1::EngagementEvent;
using google::protobuf::Message;

// Bytes is the deterministic binary form: equal bytes, equal messages (-0.0 and 0.0 differ).
std::string Bytes(const Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializePartialToCodedStream(&coded);
  }
  return out;
}

absl::Status ProtobufParse(absl::string_view json, Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out, options);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(status.message().as_string());
}

// FastReaderAgrees runs both readers on `json` and checks the contract; it returns whether the
// fast reader accepted the input.
bool FastReaderAgrees(const Message& prototype, absl::string_view json) {
  std::unique_ptr<Message> fast(prototype.New());
  const bool accepted = FastJsonToMessage(json, fast.get());
  std::unique_ptr<Message> reference(prototype.New());
  const absl::Status status = ProtobufParse(json, reference.get());
  if (accepted) {
    EXPECT_TRUE(status.ok()) << "the fast reader accepted what protobuf refuses: " << status;
    EXPECT_EQ(Bytes(*fast), Bytes(*reference))
        << "fast: " << fast->ShortDebugString() << "\nprotobuf: " << reference->ShortDebugString();
  }
  return accepted;
}

enum class Expect {
  kFastPath,  // an everyday input: the fast reader must take it
  kAgree,     // only the contract: if the fast reader accepts, protobuf agrees
};

struct Case {
  bool crm;
  std::string json;
  Expect expect;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    const Message& prototype = c.crm ? static_cast<const Message&>(CrmEvent::default_instance())
                                     : EngagementEvent::default_instance();
    const bool accepted = FastReaderAgrees(prototype, c.json);
    if (c.expect == Expect::kFastPath) {
      EXPECT_TRUE(accepted) << "the fast path was not taken";
    }
  }
}

constexpr bool kEngagement = false;
constexpr bool kCrm = true;

TEST(JsonReaderTest, EverydayEngagementEventsTakeTheFastPath) {
  RunCases({
      {kEngagement,
       R"({"event_id": "ev-1", "event_time": "2026-11-20T10:00:00Z", "source": "marketo",
           "account_id": "acme", "contact_id": "c-1", "contact_email": "jane@acme.example",
           "type": "PAGE_VISIT", "url": "https://acme.example/pricing", "campaign_id": "q4",
           "content_id": "wp-7", "intent_topic": "crm", "intent_score": 72.5,
           "matched_by": "ACCOUNT_ID"})",
       Expect::kFastPath},
      // protobuf's default JSON names (lowerCamelCase), and a mix of both spellings.
      {kEngagement,
       R"({"eventId": "ev-1", "eventTime": "2026-11-20T10:00:00Z", "source": "marketo",
           "accountId": "acme", "contactId": "c-1", "contactEmail": "jane@acme.example",
           "type": "EMAIL_CLICK", "url": "u", "campaignId": "q4", "contentId": "wp-7",
           "intentTopic": "crm", "intentScore": 72, "matchedBy": "EMAIL_DOMAIN"})",
       Expect::kFastPath},
      {kEngagement, R"({"event_id": "ev-1", "eventTime": "2026-11-20T10:00:00Z"})",
       Expect::kFastPath},
      {kEngagement, R"({})", Expect::kFastPath},
      {kEngagement, " \t\r\n{ \"source\" : \"x\" } \n", Expect::kFastPath},
      // Enums by name and by number, declared or not (proto3 enums keep unknown numbers).
      {kEngagement, R"({"type": "INTENT_SIGNAL"})", Expect::kFastPath},
      {kEngagement, R"({"type": 3})", Expect::kFastPath},
      {kEngagement, R"({"type": 0})", Expect::kFastPath},
      {kEngagement, R"({"type": 99})", Expect::kFastPath},
      {kEngagement, R"({"type": -5})", Expect::kFastPath},
      {kEngagement, R"({"type": "ENGAGEMENT_TYPE_UNSPECIFIED"})", Expect::kFastPath},
      // Doubles.
      {kEngagement, R"({"intent_score": 0})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": -0})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": -0.0})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 0.1})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 1e2})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 1E+2})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 1.5e-3})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": -17.25})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 1.7976931348623157e308})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 4.9e-324})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 9007199254740993})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 18446744073709551615})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": -9223372036854775808})", Expect::kFastPath},
      {kEngagement, R"({"intent_score": 0.30000000000000004})", Expect::kFastPath},
      // Strings: every JSON escape, \u escapes with surrogate pairs, raw UTF-8, NUL.
      {kEngagement, R"({"url": "a\"b\\c\/d\b\f\n\r\te"})", Expect::kFastPath},
      {kEngagement, R"({"url": "\u00e9\u4e2d\ud83d\ude00\u0041\u2028"})", Expect::kFastPath},
      {kEngagement, "{\"url\": \"Z\xC3\xBCrich \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80\"}",
       Expect::kFastPath},
      {kEngagement, R"({"event_id": "a\u0000b"})", Expect::kFastPath},
      {kEngagement, R"({"event_id": ""})", Expect::kFastPath},
      {kEngagement, R"({"event\u005fid": "escaped key"})", Expect::kFastPath},
  });
}

TEST(JsonReaderTest, TimestampsTakeTheFastPath) {
  std::vector<Case> cases;
  for (const char* t : {
           "2026-01-02T03:04:05Z",
           "2026-01-02T03:04:05.1Z",
           "2026-01-02T03:04:05.123Z",
           "2026-01-02T03:04:05.123456Z",
           "2026-01-02T03:04:05.123456789Z",
           "2026-01-02T03:04:05.000000000Z",
           "2026-01-02T03:04:05+01:00",
           "2026-01-02T03:04:05.5-08:30",
           "2026-01-02T00:30:00+02:00",  // the previous day in UTC
           "2026-12-31T23:30:00-01:00",  // the next year in UTC
           "2026-01-02T03:04:05+00:00",
           "2026-01-02T03:04:05-00:00",
           "2024-02-29T12:00:00Z",
           "1970-01-01T00:00:00Z",
           "1969-12-31T23:59:59.5Z",
           "1900-03-01T00:00:00Z",
           "0001-01-01T00:00:00Z",
           "9999-12-31T23:59:59.999999999Z",
       }) {
    cases.push_back(
        {kEngagement, absl::StrCat(R"({"event_time": ")", t, R"("})"), Expect::kFastPath});
  }
  RunCases(cases);
}

TEST(JsonReaderTest, EverydayCrmEventsTakeTheFastPath) {
  RunCases({
      {kCrm,
       R"({"event_id": "crm-1", "event_time": "2026-11-20T10:00:00.250Z", "source": "sfdc",
           "account_upsert": {"account_id": "acme", "name": "Acme Corp",
             "domains": ["acme.example", "acme.test"], "tier": "TIER_1",
             "owners": {"ae_id": "ae-1", "sdr_id": "sdr-1", "marketing_owner_id": "m-1"},
             "selection_reason": "expansion", "icp_fit": 87.5, "stage": "MQA",
             "decision_date": "2027-03-31T00:00:00Z"}})",
       Expect::kFastPath},
      {kCrm,
       R"({"eventId": "crm-1", "accountUpsert": {"accountId": "acme", "domains": [],
             "owners": {"aeId": "ae-1", "marketingOwnerId": "m-1"}, "icpFit": 3,
             "decisionDate": "2027-03-31T00:00:00+02:00"}})",
       Expect::kFastPath},
      {kCrm, R"({"account_upsert": {}})", Expect::kFastPath},
      {kCrm, R"({"account_upsert": {"owners": {}}})", Expect::kFastPath},
      {kCrm,
       R"({"contact_upsert": {"contact_id": "c-1", "account_id": "acme",
             "email": "jane@acme.example", "full_name": "Jane Doe", "title": "CFO",
             "role": "DECISION_MAKER"}})",
       Expect::kFastPath},
      {kCrm,
       R"({"deal_stage_change": {"deal_id": "d-1", "account_id": "acme", "stage": "Won",
             "amount_minor": "1250000", "currency": "EUR"}})",
       Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": 1250000}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": "-42"}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": -42}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": "0"}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": "9223372036854775807"}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": "-9223372036854775808"}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": 9223372036854775807}})", Expect::kFastPath},
      {kCrm, R"({"dealStageChange": {"amountMinor": -9223372036854775808}})", Expect::kFastPath},
      {kCrm,
       R"({"sales_activity": {"account_id": "acme", "rep_id": "r-1", "contact_id": "c-1",
             "kind": "MEETING", "automated": true}})",
       Expect::kFastPath},
      {kCrm, R"({"salesActivity": {"automated": false, "kind": 2}})", Expect::kFastPath},
      {kCrm,
       R"({"handoff_disposition": {"handoff_id": "h-1", "account_id": "acme", "rep_id": "r-1",
             "disposition": "REJECTED", "reason": "BAD_TIMING", "note": "next quarter"}})",
       Expect::kFastPath},
      {kCrm,
       R"({"rep_status": {"rep_id": "r-1", "deactivated": false, "time_zone": "Europe/Berlin",
             "calendar": "emea", "out_of_office": [
               {"start": "2026-12-24T00:00:00Z", "end": "2027-01-02T00:00:00Z"},
               {"start": "2027-02-01T09:00:00+01:00"}, {}]}})",
       Expect::kFastPath},
      {kCrm, R"({"repStatus": {"repId": "r-1", "outOfOffice": []}})", Expect::kFastPath},
      {kCrm,
       R"({"outreach_plan": {"plan_id": "p-1", "account_id": "acme",
             "kind": "MARKETING_CAMPAIGN", "owner_id": "m-1", "cancelled": true, "name": "Q1",
             "period": {"start": "2027-01-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}}})",
       Expect::kFastPath},
  });
}

const std::string kNul(1, '\0');

// None of these is required to take the fast path; most must not (protobuf refuses them, or
// reads them in a way the fast reader leaves to it). The contract must hold for all.
TEST(JsonReaderTest, TrickyAndInvalidInputsAgreeWithProtobuf) {
  RunCases({
      // Not an object, or not JSON.
      {kEngagement, "", Expect::kAgree},
      {kEngagement, "   ", Expect::kAgree},
      {kEngagement, "[]", Expect::kAgree},
      {kEngagement, R"([{"event_id": "x"}])", Expect::kAgree},
      {kEngagement, R"("x")", Expect::kAgree},
      {kEngagement, "42", Expect::kAgree},
      {kEngagement, "null", Expect::kAgree},
      {kEngagement, R"({"event_id": "x"} x)", Expect::kAgree},
      {kEngagement, R"({"event_id": "x"}{})", Expect::kAgree},
      {kEngagement, R"({"event_id": "x",})", Expect::kAgree},
      {kEngagement, R"({"event_id": "x")", Expect::kAgree},
      {kEngagement, R"({'event_id': 'x'})", Expect::kAgree},
      {kEngagement, R"({event_id: "x"})", Expect::kAgree},
      {kEngagement, R"({"event_id": "x" /* c */})", Expect::kAgree},
      {kEngagement, "\xEF\xBB\xBF{\"event_id\": \"x\"}", Expect::kAgree},  // BOM
      // Unknown names, including near misses of real ones.
      {kEngagement, R"({"evnt_id": "x"})", Expect::kAgree},
      {kEngagement, R"({"EventId": "x"})", Expect::kAgree},
      {kEngagement, R"({"event_ID": "x"})", Expect::kAgree},
      {kEngagement, R"({"": "x"})", Expect::kAgree},
      {kEngagement, R"({"[baton.v1.ext]": "x"})", Expect::kAgree},
      {kCrm, R"({"accountUpsert": {"account": "x"}})", Expect::kAgree},
      // Repeated keys, also under both spellings; two members of one oneof.
      {kEngagement, R"({"event_id": "a", "event_id": "b"})", Expect::kAgree},
      {kEngagement, R"({"event_id": "a", "eventId": "b"})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"name": "a"}, "accountUpsert": {"stage": "b"}})",
       Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {}, "account_upsert": {}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": ["a"], "domains": ["b"]}})", Expect::kAgree},
      // null, which protobuf reads as "not set".
      {kEngagement, R"({"event_id": null})", Expect::kAgree},
      {kEngagement, R"({"event_time": null})", Expect::kAgree},
      {kEngagement, R"({"type": null})", Expect::kAgree},
      {kEngagement, R"({"intent_score": null})", Expect::kAgree},
      {kCrm, R"({"account_upsert": null})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": null}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": ["a", null]}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"owners": null}})", Expect::kAgree},
      // Wrong types.
      {kEngagement, R"({"event_id": 5})", Expect::kAgree},
      {kEngagement, R"({"event_id": true})", Expect::kAgree},
      {kEngagement, R"({"event_id": ["x"]})", Expect::kAgree},
      {kEngagement, R"({"event_id": {}})", Expect::kAgree},
      {kEngagement, R"({"event_time": 1700000000})", Expect::kAgree},
      {kEngagement, R"({"event_time": {"seconds": 1}})", Expect::kAgree},
      {kEngagement, R"({"intent_score": "72.5"})", Expect::kAgree},
      {kEngagement, R"({"intent_score": "NaN"})", Expect::kAgree},
      {kEngagement, R"({"intent_score": "Infinity"})", Expect::kAgree},
      {kEngagement, R"({"intent_score": "-Infinity"})", Expect::kAgree},
      {kEngagement, R"({"intent_score": true})", Expect::kAgree},
      {kEngagement, R"({"intent_score": 1e400})", Expect::kAgree},
      {kEngagement, R"({"intent_score": -1e400})", Expect::kAgree},
      {kEngagement, R"({"intent_score": 1e-400})", Expect::kAgree},
      {kEngagement, R"({"intent_score": -1e-400})", Expect::kAgree},
      {kEngagement, R"({"intent_score": 18446744073709551616})", Expect::kAgree},
      {kEngagement, R"({"intent_score": 01})", Expect::kAgree},
      {kEngagement, R"({"intent_score": .5})", Expect::kAgree},
      {kEngagement, R"({"intent_score": +1})", Expect::kAgree},
      {kEngagement, R"({"intent_score": 0x10})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": "a"}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": [["a"]]}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"domains": [1]}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"owners": "x"}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"owners": []}})", Expect::kAgree},
      {kCrm, R"({"account_upsert": []})", Expect::kAgree},
      {kCrm, R"({"sales_activity": {"automated": "true"}})", Expect::kAgree},
      {kCrm, R"({"sales_activity": {"automated": 1}})", Expect::kAgree},
      {kCrm, R"({"rep_status": {"out_of_office": {"start": "2026-01-01T00:00:00Z"}}})",
       Expect::kAgree},
      // Enums.
      {kEngagement, R"({"type": "NOT_A_TYPE"})", Expect::kAgree},
      {kEngagement, R"({"type": "email_open"})", Expect::kAgree},
      {kEngagement, R"({"type": "Email-Open"})", Expect::kAgree},
      {kEngagement, R"({"type": "3"})", Expect::kAgree},
      {kEngagement, R"({"type": "99"})", Expect::kAgree},
      {kEngagement, R"({"type": ""})", Expect::kAgree},
      {kEngagement, R"({"type": 1.0})", Expect::kAgree},
      {kEngagement, R"({"type": 1.5})", Expect::kAgree},
      {kEngagement, R"({"type": 2147483647})", Expect::kAgree},
      {kEngagement, R"({"type": 2147483648})", Expect::kAgree},
      {kEngagement, R"({"type": -2147483649})", Expect::kAgree},
      {kEngagement, R"({"type": 18446744073709551615})", Expect::kAgree},
      {kEngagement, R"({"type": true})", Expect::kAgree},
      {kCrm, R"({"account_upsert": {"tier": "TIER_1 "}})", Expect::kAgree},
      // 64-bit integers in every form protobuf might take or refuse.
      {kCrm, R"({"deal_stage_change": {"amount_minor": 1.5}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": 1.0}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": 1e3}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": -0}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": 9223372036854775808}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": -9223372036854775809}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": 18446744073709551615}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": 1e19}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "9223372036854775808"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "-9223372036854775809"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "99999999999999999999999"}})",
       Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "+12"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "012"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "-0"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": " 12"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "12 "}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "1.0"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "1e3"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "0x10"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": ""}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "-"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": "\u0031\u0032"}})", Expect::kAgree},
      {kCrm, R"({"deal_stage_change": {"amount_minor": true}})", Expect::kAgree},
      // Timestamps protobuf refuses, or reads in ways the fast reader leaves to it.
      {kEngagement, R"({"event_time": ""})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-02-30T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2025-02-29T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-13-01T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-00-01T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-00T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T24:00:00Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:60:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:60Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02t03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02 03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-1-2T3:4:5Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "02026-01-02T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "0000-01-01T00:00:00Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05.Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05.1234567891Z"})", Expect::kAgree},
      // A fraction of ten nines once overflowed an int in the fast reader.
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05.9999999999Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05,5Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05+24:00"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05+01:60"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05+0100"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05+01"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05Z "})", Expect::kAgree},
      {kEngagement, R"({"event_time": " 2026-01-02T03:04:05Z"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05ZZ"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "2026-01-02T03:04:05Z\u0000junk"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "0001-01-01T00:00:00+01:00"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "9999-12-31T23:59:59-01:00"})", Expect::kAgree},
      {kEngagement, R"({"event_time": "-2026-01-02T03:04:05Z"})", Expect::kAgree},
      // Strings protobuf or simdjson refuse: invalid UTF-8, lone surrogates, raw control
      // characters, bad escapes.
      {kEngagement, "{\"url\": \"\xC3\"}", Expect::kAgree},
      {kEngagement, "{\"url\": \"\xFF\xFE\"}", Expect::kAgree},
      {kEngagement, "{\"url\": \"\xED\xA0\x80\"}", Expect::kAgree},  // UTF-8 encoded surrogate
      {kEngagement, "{\"url\": \"\xC0\xAF\"}", Expect::kAgree},      // overlong
      {kEngagement, "{\"u\xC3rl\": \"x\"}", Expect::kAgree},
      {kEngagement, R"({"url": "\ud800"})", Expect::kAgree},
      {kEngagement, R"({"url": "\udc00"})", Expect::kAgree},
      {kEngagement, R"({"url": "\ud800\u0041"})", Expect::kAgree},
      {kEngagement, R"({"url": "\ude00\ud83d"})", Expect::kAgree},
      {kEngagement, R"({"url": "\x41"})", Expect::kAgree},
      {kEngagement, R"({"url": "\u00G0"})", Expect::kAgree},
      {kEngagement, R"({"url": "\'"})", Expect::kAgree},
      {kEngagement, "{\"url\": \"a\tb\"}", Expect::kAgree},
      {kEngagement, "{\"url\": \"a\nb\"}", Expect::kAgree},
      {kEngagement, absl::StrCat(R"({"url": "a)", kNul, R"(b"})"), Expect::kAgree},
      {kEngagement, absl::StrCat(R"({"url": "ab"})", kNul), Expect::kAgree},
      // Deep nesting in a value.
      {kEngagement,
       absl::StrCat(R"({"event_id": )", std::string(200, '['), std::string(200, ']'), "}"),
       Expect::kAgree},
  });
}

// Declined inputs still decode exactly as protobuf reads them, even when the fast reader had
// filled part of the message before it gave up.
TEST(JsonReaderTest, DecodeInputFallsBackToProtobufOnDeclinedInputs) {
  for (const char* json : {
           // protobuf reads null as "not set" and lets the last of repeated keys win.
           R"({"event_id": "ev-1", "event_time": "2026-11-20T10:00:00Z", "source": "marketo",
               "account_id": "acme", "contact_id": "c-1", "type": "EMAIL_OPEN",
               "campaign_id": null})",
           R"({"event_id": "ev-0", "event_time": "2026-11-20T10:00:00Z", "source": "marketo",
               "account_id": "acme", "contact_id": "c-1", "type": "EMAIL_OPEN",
               "event_id": "ev-1"})",
           // A short timestamp, and an enum number given as a string.
           R"({"event_id": "ev-1", "event_time": "2026-1-2T3:4:5Z", "source": "marketo",
               "account_id": "acme", "contact_id": "c-1", "type": "1"})",
       }) {
    SCOPED_TRACE(json);
    EngagementEvent fast;
    EXPECT_FALSE(FastJsonToMessage(json, &fast));
    EngagementEvent reference;
    ASSERT_TRUE(ProtobufParse(json, &reference).ok());
    const absl::StatusOr<core::InputEvent> decoded =
        DecodeInput(InputKind::kEngagement, json, PayloadFormat::kJson);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(Bytes(std::get<EngagementEvent>(*decoded)), Bytes(reference));
  }
}

TEST(JsonReaderTest, DecodeInputKeepsProtobufsErrorForDeclinedInputs) {
  const absl::string_view json = R"({"event_id": "ev-1", "type": "NOT_A_TYPE"})";
  EngagementEvent reference;
  const absl::Status expected = ProtobufParse(json, &reference);
  ASSERT_FALSE(expected.ok());
  const absl::StatusOr<core::InputEvent> decoded =
      DecodeInput(InputKind::kEngagement, json, PayloadFormat::kJson);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(),
            absl::StrCat("bad_json: not a valid baton.v1.EngagementEvent: ", expected.message()));
}

// RandomEvents makes messages with every field kind Baton's inputs have, filled with values
// chosen to stress the JSON mapping: escapes, control characters, every UTF-8 length, extreme
// numbers, unknown enum numbers, timestamps at the ends of the range.
class RandomEvents {
 public:
  explicit RandomEvents(uint64_t seed) : rng_(seed) {}

  EngagementEvent Engagement() {
    EngagementEvent e;
    MaybeString(e.mutable_event_id());
    if (Chance(0.9)) Time(e.mutable_event_time());
    MaybeString(e.mutable_source());
    MaybeString(e.mutable_account_id());
    MaybeString(e.mutable_contact_id());
    MaybeString(e.mutable_contact_email());
    e.set_type(static_cast<baton::v1::EngagementType>(Enum(11)));
    MaybeString(e.mutable_url());
    MaybeString(e.mutable_campaign_id());
    MaybeString(e.mutable_content_id());
    MaybeString(e.mutable_intent_topic());
    if (Chance(0.5)) e.set_intent_score(Double());
    e.set_matched_by(static_cast<baton::v1::MatchMethod>(Enum(3)));
    return e;
  }

  CrmEvent Crm() {
    CrmEvent e;
    MaybeString(e.mutable_event_id());
    if (Chance(0.9)) Time(e.mutable_event_time());
    MaybeString(e.mutable_source());
    switch (Uniform(0, 7)) {
      case 0: {
        auto* a = e.mutable_account_upsert();
        MaybeString(a->mutable_account_id());
        MaybeString(a->mutable_name());
        for (int i = Uniform(0, 4); i > 0; --i) *a->add_domains() = String();
        a->set_tier(static_cast<baton::v1::Tier>(Enum(4)));
        if (Chance(0.7)) {
          MaybeString(a->mutable_owners()->mutable_ae_id());
          MaybeString(a->mutable_owners()->mutable_sdr_id());
          MaybeString(a->mutable_owners()->mutable_marketing_owner_id());
        }
        MaybeString(a->mutable_selection_reason());
        if (Chance(0.5)) a->set_icp_fit(Double());
        MaybeString(a->mutable_stage());
        if (Chance(0.5)) Time(a->mutable_decision_date());
        break;
      }
      case 1: {
        auto* c = e.mutable_contact_upsert();
        MaybeString(c->mutable_contact_id());
        MaybeString(c->mutable_account_id());
        MaybeString(c->mutable_email());
        MaybeString(c->mutable_full_name());
        MaybeString(c->mutable_title());
        c->set_role(static_cast<baton::v1::BuyingGroupRole>(Enum(8)));
        break;
      }
      case 2: {
        auto* d = e.mutable_deal_stage_change();
        MaybeString(d->mutable_deal_id());
        MaybeString(d->mutable_account_id());
        MaybeString(d->mutable_stage());
        d->set_amount_minor(Int64());
        MaybeString(d->mutable_currency());
        break;
      }
      case 3: {
        auto* a = e.mutable_sales_activity();
        MaybeString(a->mutable_account_id());
        MaybeString(a->mutable_rep_id());
        MaybeString(a->mutable_contact_id());
        a->set_kind(static_cast<baton::v1::ActivityKind>(Enum(3)));
        a->set_automated(Chance(0.5));
        break;
      }
      case 4: {
        auto* d = e.mutable_handoff_disposition();
        MaybeString(d->mutable_handoff_id());
        MaybeString(d->mutable_account_id());
        MaybeString(d->mutable_rep_id());
        d->set_disposition(static_cast<baton::v1::Disposition>(Enum(2)));
        d->set_reason(static_cast<baton::v1::RejectionReason>(Enum(6)));
        MaybeString(d->mutable_note());
        break;
      }
      case 5: {
        auto* r = e.mutable_rep_status();
        MaybeString(r->mutable_rep_id());
        r->set_deactivated(Chance(0.5));
        for (int i = Uniform(0, 3); i > 0; --i) {
          auto* p = r->add_out_of_office();
          if (Chance(0.8)) Time(p->mutable_start());
          if (Chance(0.8)) Time(p->mutable_end());
        }
        MaybeString(r->mutable_time_zone());
        MaybeString(r->mutable_calendar());
        break;
      }
      case 6: {
        auto* p = e.mutable_outreach_plan();
        MaybeString(p->mutable_plan_id());
        MaybeString(p->mutable_account_id());
        p->set_kind(static_cast<baton::v1::OutreachKind>(Enum(2)));
        MaybeString(p->mutable_owner_id());
        if (Chance(0.8)) {
          auto* period = p->mutable_period();
          if (Chance(0.9)) Time(period->mutable_start());
          if (Chance(0.9)) Time(period->mutable_end());
        }
        p->set_cancelled(Chance(0.5));
        MaybeString(p->mutable_name());
        break;
      }
      default:
        break;  // no payload
    }
    return e;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  // Enum is mostly a declared value, sometimes an undeclared number (negative too).
  int Enum(int max) {
    if (Chance(0.9)) return Uniform(0, max);
    return std::uniform_int_distribution<int>(std::numeric_limits<int>::min(),
                                              std::numeric_limits<int>::max())(rng_);
  }

  int64_t Int64() {
    switch (Uniform(0, 3)) {
      case 0:
        return Uniform(-1000, 1000);
      case 1:
        return Chance(0.5) ? std::numeric_limits<int64_t>::max()
                           : std::numeric_limits<int64_t>::min();
      default:
        return static_cast<int64_t>(rng_());
    }
  }

  // Double is any finite value but -0.0, which protobuf prints as "-0" and reads back as 0.0.
  double Double() {
    double v = 0;
    switch (Uniform(0, 4)) {
      case 0:
        v = Uniform(0, 100);
        break;
      case 1:
        v = Uniform(0, 10000) / 100.0;
        break;
      case 2:
        v = std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
        break;
      default: {
        // Any bit pattern: subnormals, huge values, integers above 2^53.
        const uint64_t bits = rng_();
        std::memcpy(&v, &bits, sizeof v);
        if (!std::isfinite(v)) v = 1.5;
        break;
      }
    }
    return (v == 0 && std::signbit(v)) ? 0.0 : v;
  }

  // Time is within the range JSON can say, with 0, 3, 6 or 9 fractional digits as printed.
  void Time(google::protobuf::Timestamp* t) {
    constexpr int64_t kMin = -62'135'596'800;  // 0001-01-01T00:00:00Z
    constexpr int64_t kMax = 253'402'300'799;  // 9999-12-31T23:59:59Z
    switch (Uniform(0, 3)) {
      case 0:
        t->set_seconds(std::uniform_int_distribution<int64_t>(1'700'000'000, 1'900'000'000)(rng_));
        break;
      case 1:
        t->set_seconds(Chance(0.5) ? kMin : kMax);
        break;
      default:
        t->set_seconds(std::uniform_int_distribution<int64_t>(kMin, kMax)(rng_));
        break;
    }
    const int nanos = std::uniform_int_distribution<int>(0, 999'999'999)(rng_);
    switch (Uniform(0, 3)) {
      case 0:
        t->set_nanos(0);
        break;
      case 1:
        t->set_nanos(nanos / 1'000'000 * 1'000'000);
        break;
      case 2:
        t->set_nanos(nanos / 1000 * 1000);
        break;
      default:
        t->set_nanos(nanos);
        break;
    }
  }

  void MaybeString(std::string* s) {
    if (Chance(0.8)) *s = String();
  }

  // String is valid UTF-8 mixing ASCII, characters JSON must escape, and 2-, 3- and 4-byte
  // sequences.
  std::string String() {
    std::string s;
    for (int n = Uniform(0, 12); n > 0; --n) {
      uint32_t cp;
      switch (Uniform(0, 5)) {
        case 0:
          cp = static_cast<uint32_t>(Uniform(0, 0x1f));
          break;
        case 1:
          cp = static_cast<uint32_t>("\"\\/<>&='\x7f"[Uniform(0, 8)]);
          break;
        case 2:
          cp = static_cast<uint32_t>(Uniform(0x80, 0x7ff));
          break;
        case 3:
          cp = static_cast<uint32_t>(Uniform(0x800, 0xfffd));
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x2028;  // surrogates are not characters
          break;
        case 4:
          cp = static_cast<uint32_t>(Uniform(0x10000, 0x10ffff));
          break;
        default:
          cp = static_cast<uint32_t>(Uniform(0x20, 0x7e));
          break;
      }
      AppendUtf8(cp, &s);
    }
    return s;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  std::mt19937_64 rng_;
};

// CheckPrinted prints `message` the ways protobuf can and checks that the fast reader reads
// every form back to the same message.
void CheckPrinted(const Message& message) {
  for (int variant = 0; variant < 3; ++variant) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = variant == 1;
    options.always_print_primitive_fields = variant == 2;
    options.add_whitespace = variant == 2;
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(message, &json, options).ok());
    SCOPED_TRACE(json);
    std::unique_ptr<Message> fast(message.New());
    ASSERT_TRUE(FastJsonToMessage(json, fast.get())) << "the fast path was not taken";
    EXPECT_EQ(Bytes(*fast), Bytes(message))
        << "fast: " << fast->ShortDebugString() << "\nwant: " << message.ShortDebugString();
    FastReaderAgrees(message, json);
  }
}

TEST(JsonReaderTest, RandomEventsPrintedByProtobufTakeTheFastPathAndRoundTrip) {
  RandomEvents random(20260102);
  for (int i = 0; i < 3000; ++i) {
    CheckPrinted(random.Engagement());
    CheckPrinted(random.Crm());
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace baton::codec
