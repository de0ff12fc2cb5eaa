#include "baton/core/event.h"

namespace baton::core {
namespace {

absl::string_view CrmAccountId(const baton::v1::CrmEvent& e) {
  switch (e.payload_case()) {
    case baton::v1::CrmEvent::kAccountUpsert:
      return e.account_upsert().account_id();
    case baton::v1::CrmEvent::kContactUpsert:
      return e.contact_upsert().account_id();
    case baton::v1::CrmEvent::kDealStageChange:
      return e.deal_stage_change().account_id();
    case baton::v1::CrmEvent::kSalesActivity:
      return e.sales_activity().account_id();
    case baton::v1::CrmEvent::kHandoffDisposition:
      return e.handoff_disposition().account_id();
    case baton::v1::CrmEvent::kOutreachPlan:
      return e.outreach_plan().account_id();
    case baton::v1::CrmEvent::kRepStatus:  // names a rep, not an account
    case baton::v1::CrmEvent::PAYLOAD_NOT_SET:
      break;
  }
  return {};
}

}  // namespace

absl::string_view AccountIdOf(const InputEvent& event) {
  if (const auto* e = std::get_if<baton::v1::EngagementEvent>(&event)) return e->account_id();
  return CrmAccountId(std::get<baton::v1::CrmEvent>(event));
}

absl::string_view EventIdOf(const InputEvent& event) {
  return std::visit([](const auto& e) -> absl::string_view { return e.event_id(); }, event);
}

absl::Time EventTimeOf(const InputEvent& event) {
  return std::visit([](const auto& e) { return ToTime(e.event_time()); }, event);
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1'000'000'000;
  int64_t rem = nanos % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rem));
  return ts;
}

}  // namespace baton::core
