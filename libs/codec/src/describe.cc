#include "baton/codec/describe.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace baton::codec {

std::string OneLine(const baton::v1::RoutedLead& lead) {
  return absl::StrCat("LEAD  ", lead.account_id(), "  ", lead.account_name(), " (",
                      baton::v1::Tier_Name(lead.tier()), ") -> ", lead.assignee_role(), " ",
                      lead.assignee_id(), " | ", lead.rule_name(), " v", lead.rule_version(), " ",
                      baton::v1::QualificationLevel_Name(lead.qualification_level()), " | ",
                      lead.reason(), " | contact ", lead.contact().contact_id(), " ",
                      baton::v1::BuyingGroupRole_Name(lead.contact().role()), " | ",
                      lead.handoff_id());
}

std::string OneLine(const baton::v1::Alert& alert) {
  return absl::StrCat("ALERT ", baton::v1::AlertKind_Name(alert.kind()), " ",
                      baton::v1::Severity_Name(alert.severity()), " ", alert.account_id(), " -> ",
                      absl::StrJoin(alert.recipients(), ","), " | ", alert.summary(), " | ",
                      alert.alert_id());
}

}  // namespace baton::codec
