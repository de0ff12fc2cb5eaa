// URL helpers for engagement events. Pure functions.
#pragma once

#include "absl/strings/string_view.h"

namespace baton::core {

// IsPricingPage is true when one segment of the URL's path is "pricing" (case-insensitive),
// e.g. "https://acme.com/pricing", "/en/pricing/?plan=team"; false for "/blog/pricing-tips".
bool IsPricingPage(absl::string_view url);

// HasPathSegment is true when one segment of the URL's path equals `segment`, ignoring case.
bool HasPathSegment(absl::string_view url, absl::string_view segment);

}  // namespace baton::core
