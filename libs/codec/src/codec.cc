#include "baton/codec/codec.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "json_reader.h"

namespace baton::codec {
namespace {

using baton::v1::CrmEvent;
using baton::v1::EngagementEvent;

constexpr size_t kMaxIdBytes = 256;

absl::Status Invalid(absl::string_view code, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(code, ": ", detail));
}

absl::Status RequireId(const std::string& value, absl::string_view field) {
  if (value.empty()) return Invalid("missing_field", absl::StrCat(field, " is required"));
  if (value.size() > kMaxIdBytes) {
    return Invalid("invalid_value", absl::StrCat(field, " is longer than ", kMaxIdBytes, " bytes"));
  }
  // Ids become storage keys and log fields: control characters (NUL above all) are refused.
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Invalid("invalid_value", absl::StrCat(field, " contains a control character"));
    }
  }
  return absl::OkStatus();
}

// RequireEnum rejects UNSPECIFIED and values this build does not know (binary protobuf keeps
// unknown enum numbers).
template <typename IsValid>
absl::Status RequireEnum(int value, IsValid is_valid, absl::string_view field) {
  if (value == 0) return Invalid("missing_field", absl::StrCat(field, " is required"));
  if (!is_valid(value)) {
    return Invalid("invalid_value", absl::StrCat(field, " has unknown value ", value));
  }
  return absl::OkStatus();
}

// IsTimeZoneName accepts what an IANA zone name looks like ("Europe/Berlin", "Etc/GMT+5",
// "America/Argentina/Buenos_Aires"): at most 64 bytes of '/'-separated components of letters,
// digits and "._+-", none empty, "." or "..". Only such names may reach absl::LoadTimeZone: it
// opens whatever file a name maps to ("file:/etc/passwd" and "../" escape the zoneinfo
// directory) and caches every name it is given, found or not, for the life of the process.
bool IsTimeZoneName(absl::string_view name) {
  constexpr size_t kMaxTimeZoneNameBytes = 64;
  if (name.empty() || name.size() > kMaxTimeZoneNameBytes) return false;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+' &&
          c != '.') {
        return false;
      }
    }
  }
  return true;
}

absl::Status ValidateCommon(const std::string& event_id, bool has_time, const std::string& source) {
  if (absl::Status s = RequireId(event_id, "event_id"); !s.ok()) return s;
  if (!has_time) return Invalid("missing_field", "event_time is required");
  return RequireId(source, "source");
}

absl::Status ValidateEngagement(const EngagementEvent& e) {
  if (absl::Status s = ValidateCommon(e.event_id(), e.has_event_time(), e.source()); !s.ok()) {
    return s;
  }
  // The account id is optional (Baton matches the event by contact or email domain), but what
  // is given must be usable as a key.
  for (const auto& [value, field] :
       {std::pair{&e.account_id(), "account_id"}, std::pair{&e.contact_id(), "contact_id"},
        std::pair{&e.contact_email(), "contact_email"}}) {
    if (value->empty()) continue;
    if (absl::Status s = RequireId(*value, field); !s.ok()) return s;
  }
  if (absl::Status s = RequireEnum(e.type(), baton::v1::EngagementType_IsValid, "type"); !s.ok()) {
    return s;
  }
  if (e.type() != baton::v1::INTENT_SIGNAL && e.contact_id().empty() && e.contact_email().empty()) {
    return Invalid("missing_field", "contact_id or contact_email is required");
  }
  if (e.account_id().empty() && e.contact_id().empty() && e.contact_email().empty()) {
    return Invalid("missing_field",
                   "account_id is required for an INTENT_SIGNAL without a contact");
  }
  if (!baton::v1::MatchMethod_IsValid(e.matched_by())) {
    return Invalid("invalid_value", absl::StrCat("matched_by has unknown value ", e.matched_by()));
  }
  if (e.type() == baton::v1::PAGE_VISIT && e.url().empty()) {
    return Invalid("missing_field", "url is required for PAGE_VISIT");
  }
  if (e.type() == baton::v1::INTENT_SIGNAL && e.intent_topic().empty()) {
    return Invalid("missing_field", "intent_topic is required for INTENT_SIGNAL");
  }
  // Written so that NaN, which compares false with everything, is refused too.
  if (!(e.intent_score() >= 0 && e.intent_score() <= 100)) {
    return Invalid("invalid_value", "intent_score must be within 0..100");
  }
  return absl::OkStatus();
}

// ValidatePeriod requires both ends, in Baton's accepted time range, start before end.
absl::Status ValidatePeriod(const baton::v1::Period& p, absl::string_view field) {
  if (!p.has_start() || !p.has_end()) {
    return Invalid("missing_field", absl::StrCat(field, ".start and .end are required"));
  }
  const absl::Time start = core::ToTime(p.start());
  const absl::Time end = core::ToTime(p.end());
  if (start < absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone()) ||
      end > absl::FromCivil(absl::CivilDay(2200, 1, 1), absl::UTCTimeZone())) {
    return Invalid("bad_timestamp", absl::StrCat(field, " must lie between 2000 and 2200"));
  }
  if (end <= start) return Invalid("invalid_value", absl::StrCat(field, " ends before it starts"));
  return absl::OkStatus();
}

absl::Status ValidateCrm(const CrmEvent& e) {
  if (absl::Status s = ValidateCommon(e.event_id(), e.has_event_time(), e.source()); !s.ok()) {
    return s;
  }
  switch (e.payload_case()) {
    case CrmEvent::kAccountUpsert: {
      const auto& a = e.account_upsert();
      if (absl::Status s = RequireId(a.account_id(), "account_upsert.account_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s = RequireEnum(a.tier(), baton::v1::Tier_IsValid, "account_upsert.tier");
          !s.ok()) {
        return s;
      }
      if (!(a.icp_fit() >= 0 && a.icp_fit() <= 100)) {  // NaN too
        return Invalid("invalid_value", "account_upsert.icp_fit must be within 0..100");
      }
      return absl::OkStatus();
    }
    case CrmEvent::kContactUpsert: {
      const auto& c = e.contact_upsert();
      if (absl::Status s = RequireId(c.contact_id(), "contact_upsert.contact_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s = RequireId(c.account_id(), "contact_upsert.account_id"); !s.ok()) {
        return s;
      }
      if (!c.email().empty()) {
        if (absl::Status s = RequireId(c.email(), "contact_upsert.email"); !s.ok()) return s;
      }
      if (!baton::v1::BuyingGroupRole_IsValid(c.role())) {
        return Invalid("invalid_value",
                       absl::StrCat("contact_upsert.role has unknown value ", c.role()));
      }
      return absl::OkStatus();
    }
    case CrmEvent::kDealStageChange: {
      const auto& d = e.deal_stage_change();
      if (absl::Status s = RequireId(d.deal_id(), "deal_stage_change.deal_id"); !s.ok()) return s;
      if (absl::Status s = RequireId(d.account_id(), "deal_stage_change.account_id"); !s.ok()) {
        return s;
      }
      return RequireId(d.stage(), "deal_stage_change.stage");
    }
    case CrmEvent::kSalesActivity: {
      const auto& a = e.sales_activity();
      if (absl::Status s = RequireId(a.account_id(), "sales_activity.account_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s = RequireId(a.rep_id(), "sales_activity.rep_id"); !s.ok()) return s;
      return RequireEnum(a.kind(), baton::v1::ActivityKind_IsValid, "sales_activity.kind");
    }
    case CrmEvent::kHandoffDisposition: {
      const auto& d = e.handoff_disposition();
      if (absl::Status s = RequireId(d.handoff_id(), "handoff_disposition.handoff_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s = RequireId(d.account_id(), "handoff_disposition.account_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s = RequireEnum(d.disposition(), baton::v1::Disposition_IsValid,
                                       "handoff_disposition.disposition");
          !s.ok()) {
        return s;
      }
      if (!baton::v1::RejectionReason_IsValid(d.reason())) {
        return Invalid("invalid_value",
                       absl::StrCat("handoff_disposition.reason has unknown value ", d.reason()));
      }
      return absl::OkStatus();
    }
    case CrmEvent::kRepStatus: {
      const auto& r = e.rep_status();
      if (absl::Status s = RequireId(r.rep_id(), "rep_status.rep_id"); !s.ok()) return s;
      absl::TimeZone zone;
      if (!r.time_zone().empty() &&
          (!IsTimeZoneName(r.time_zone()) || r.time_zone() == "localtime" ||
           !absl::LoadTimeZone(r.time_zone(), &zone))) {
        return Invalid("invalid_value",
                       "rep_status.time_zone is not an IANA time zone such as Europe/Berlin");
      }
      for (int i = 0; i < r.out_of_office_size(); ++i) {
        if (absl::Status s = ValidatePeriod(r.out_of_office(i),
                                            absl::StrCat("rep_status.out_of_office[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    case CrmEvent::kOutreachPlan: {
      const auto& p = e.outreach_plan();
      if (absl::Status s = RequireId(p.plan_id(), "outreach_plan.plan_id"); !s.ok()) return s;
      if (absl::Status s = RequireId(p.account_id(), "outreach_plan.account_id"); !s.ok()) {
        return s;
      }
      if (absl::Status s =
              RequireEnum(p.kind(), baton::v1::OutreachKind_IsValid, "outreach_plan.kind");
          !s.ok()) {
        return s;
      }
      if (!p.has_period()) return Invalid("missing_field", "outreach_plan.period is required");
      return ValidatePeriod(p.period(), "outreach_plan.period");
    }
    case CrmEvent::PAYLOAD_NOT_SET:
      break;
  }
  return Invalid("missing_field",
                 "one of account_upsert, contact_upsert, deal_stage_change, sales_activity, "
                 "handoff_disposition, rep_status, outreach_plan is required");
}

template <typename Message>
absl::StatusOr<core::InputEvent> Parse(absl::string_view payload, PayloadFormat format) {
  Message message;
  if (format == PayloadFormat::kProtobuf) {
    if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return Invalid("bad_protobuf",
                     absl::StrCat("not a valid ", Message::descriptor()->full_name(),
                                  " (set content-type: application/json for JSON)"));
    }
  } else if (!FastJsonToMessage(payload, &message)) {
    // The fast reader declined: protobuf's parser decides, and words the error.
    message.Clear();
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(payload.data(), payload.size()), &message, options);
    if (!status.ok()) {
      return Invalid("bad_json", absl::StrCat("not a valid ", Message::descriptor()->full_name(),
                                              ": ", status.message().as_string()));
    }
  }
  core::InputEvent event = std::move(message);
  if (absl::Status s = Validate(event); !s.ok()) return s;
  return event;
}

}  // namespace

absl::StatusOr<PayloadFormat> ParseContentType(const std::string* header_value) {
  if (header_value == nullptr) return PayloadFormat::kProtobuf;
  absl::string_view value = *header_value;
  value = absl::StripAsciiWhitespace(value.substr(0, value.find(';')));
  if (value.empty()) return PayloadFormat::kProtobuf;
  const std::string lower = absl::AsciiStrToLower(value);
  if (lower == kProtobufContentType || lower == "application/protobuf") {
    return PayloadFormat::kProtobuf;
  }
  if (lower == kJsonContentType) return PayloadFormat::kJson;
  return Invalid("unknown_content_type",
                 absl::StrCat("content-type '", value.substr(0, 64), "' is not ",
                              kProtobufContentType, " or ", kJsonContentType));
}

absl::StatusOr<core::InputEvent> DecodeInput(InputKind kind, absl::string_view payload,
                                             PayloadFormat format, const DecodeOptions& options) {
  if (payload.size() > options.max_payload_bytes) {
    return Invalid("oversized", absl::StrCat("payload of ", payload.size(), " bytes exceeds ",
                                             options.max_payload_bytes));
  }
  if (kind == InputKind::kEngagement) return Parse<EngagementEvent>(payload, format);
  return Parse<CrmEvent>(payload, format);
}

absl::Status Validate(const core::InputEvent& event) {
  if (const auto* e = std::get_if<EngagementEvent>(&event)) return ValidateEngagement(*e);
  return ValidateCrm(std::get<CrmEvent>(event));
}

absl::string_view ReasonCode(const absl::Status& status) {
  absl::string_view message = status.message();
  return message.substr(0, message.find(':'));
}

std::string Encode(const google::protobuf::Message& message, PayloadFormat format) {
  std::string out;
  if (format == PayloadFormat::kProtobuf) {
    message.SerializeToString(&out);
    return out;
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace baton::codec
