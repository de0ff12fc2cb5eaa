#include "baton/core/matching.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace baton::core {
namespace {

constexpr absl::string_view kBuiltInFreeMail[] = {
    "gmail.com", "googlemail.com", "outlook.com",  "hotmail.com", "live.com",    "msn.com",
    "yahoo.com", "ymail.com",      "aol.com",      "icloud.com",  "me.com",      "mac.com",
    "proton.me", "protonmail.com", "gmx.com",      "gmx.de",      "gmx.net",     "web.de",
    "mail.com",  "yandex.com",     "yandex.ru",    "mail.ru",     "zoho.com",    "qq.com",
    "163.com",   "126.com",        "fastmail.com", "hey.com",     "tutanota.com"};

}  // namespace

std::string NormalizeDomain(absl::string_view domain) {
  std::string d = absl::AsciiStrToLower(absl::StripAsciiWhitespace(domain));
  while (!d.empty() && d.back() == '.') d.pop_back();
  if (absl::StartsWith(d, "www.")) d.erase(0, 4);
  return d;
}

std::string EmailDomain(absl::string_view email) {
  const size_t at = email.rfind('@');
  if (at == absl::string_view::npos || at + 1 >= email.size()) return {};
  return NormalizeDomain(email.substr(at + 1));
}

std::vector<std::string> DomainCandidates(absl::string_view domain) {
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.', absl::SkipEmpty());
  std::vector<std::string> out;
  for (size_t first = 0; first + 2 <= labels.size(); ++first) {
    out.push_back(absl::StrJoin(labels.begin() + static_cast<long>(first), labels.end(), "."));
  }
  return out;
}

std::string ReversedDomain(absl::string_view domain) {
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.', absl::SkipEmpty());
  std::reverse(labels.begin(), labels.end());
  std::string out;
  for (absl::string_view label : labels) {
    out.append(label.data(), label.size());
    out.push_back('.');
  }
  return out;
}

FreeMailDomains::FreeMailDomains(const std::vector<std::string>& domains) {
  if (domains.empty()) {
    for (absl::string_view d : kBuiltInFreeMail) domains_.insert(std::string(d));
  } else {
    for (const std::string& d : domains) domains_.insert(NormalizeDomain(d));
  }
}

bool FreeMailDomains::Contains(absl::string_view domain) const {
  for (const std::string& candidate : DomainCandidates(domain)) {
    if (domains_.contains(candidate)) return true;
  }
  return false;
}

}  // namespace baton::core
