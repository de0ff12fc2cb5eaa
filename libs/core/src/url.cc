#include "baton/core/url.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace baton::core {

bool IsPricingPage(absl::string_view url) { return HasPathSegment(url, "pricing"); }

bool HasPathSegment(absl::string_view url, absl::string_view wanted) {
  absl::string_view path = url;
  if (size_t scheme = path.find("://"); scheme != absl::string_view::npos) {
    path.remove_prefix(scheme + 3);
    size_t slash = path.find('/');
    path = slash == absl::string_view::npos ? absl::string_view() : path.substr(slash);
  }
  path = path.substr(0, path.find_first_of("?#"));
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (absl::EqualsIgnoreCase(segment, wanted)) return true;
  }
  return false;
}

}  // namespace baton::core
