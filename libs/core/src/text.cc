#include "text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace baton::core {

std::string TierName(baton::v1::Tier tier) {
  switch (tier) {
    case baton::v1::TIER_1:
      return "Tier 1";
    case baton::v1::TIER_2:
      return "Tier 2";
    case baton::v1::TIER_3:
      return "Tier 3";
    case baton::v1::NOT_ABM:
      return "Not ABM";
    default:
      return "no tier";
  }
}

std::string RoleName(baton::v1::BuyingGroupRole role) {
  if (role == baton::v1::BUYING_GROUP_ROLE_UNSPECIFIED) return "role unknown";
  std::string name = baton::v1::BuyingGroupRole_Name(role);
  absl::AsciiStrToLower(&name);
  absl::StrReplaceAll({{"_", " "}}, &name);
  return name;
}

std::string Ago(absl::Duration d) {
  if (d < absl::Minutes(1)) return "just now";
  if (d < absl::Hours(1)) return absl::StrCat(absl::ToInt64Minutes(d), "m ago");
  if (d < absl::Hours(24)) return absl::StrCat(absl::ToInt64Hours(d), "h ago");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d ago");
}

}  // namespace baton::core
