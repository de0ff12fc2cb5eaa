// Lead-to-account matching: the pure parts. An engagement event that names no account is matched
// first by its contact (a contact id or email the CRM linked to an account), else by its email
// domain against the accounts' domains — the domain itself or a parent domain, so
// "eu.acme.example" matches an account owning "acme.example" — and never by a free-mail domain.
//
// Thread-safety: pure functions; FreeMailDomains is immutable.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace baton::core {

// EmailDomain returns the lowercased domain of an email address, or "" if it has none.
std::string EmailDomain(absl::string_view email);

// DomainCandidates returns the domain and its parents down to two labels, most specific first:
// "a.eu.acme.example" -> {"a.eu.acme.example", "eu.acme.example", "acme.example"}.
std::vector<std::string> DomainCandidates(absl::string_view domain);

// NormalizeDomain lowercases a domain and strips a leading "www." and a trailing dot.
std::string NormalizeDomain(absl::string_view domain);

// ReversedDomain writes a domain's labels in reverse, each followed by '.':
// "eu.acme.example" -> "example.acme.eu.". A domain and all its subdomains share the prefix
// ReversedDomain(domain), and no other domain does.
std::string ReversedDomain(absl::string_view domain);

// FreeMailDomains is the set of domains never matched to an account.
class FreeMailDomains {
 public:
  // With an empty list, Baton's built-in list (gmail.com, outlook.com, yahoo.com, …).
  explicit FreeMailDomains(const std::vector<std::string>& domains = {});
  // Contains is true for a listed domain or a subdomain of one (mail.yahoo.com).
  bool Contains(absl::string_view domain) const;

 private:
  absl::flat_hash_set<std::string> domains_;
};

}  // namespace baton::core
