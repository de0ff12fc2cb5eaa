#include "baton/core/rules.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "baton/core/url.h"
#include "text.h"

namespace baton::core {
namespace {

using baton::config::v1::Condition;
using baton::config::v1::Count;
using baton::config::v1::Rule;
using baton::config::v1::RuleFile;

const absl::Duration kDay = absl::Hours(24);
const absl::Duration kMaxWindow = absl::Hours(24 * 90);
const absl::Duration kDefaultCooldown = absl::Hours(24 * 30);
const absl::Duration kDefaultHalfLife = absl::Hours(24 * 14);
const absl::Duration kMinRetention = absl::Hours(24 * 14);

constexpr absl::string_view kPlaceholders[] = {"account_name", "tier",   "stage", "contact_title",
                                               "contact_role", "reason", "rule"};

// TypePhrase names an engagement type the way a rep reads it: "email open", "page visit".
std::string TypePhrase(baton::v1::EngagementType type, bool plural) {
  switch (type) {
    case baton::v1::EMAIL_OPEN:
      return plural ? "email opens" : "email open";
    case baton::v1::EMAIL_CLICK:
      return plural ? "email clicks" : "email click";
    case baton::v1::PAGE_VISIT:
      return plural ? "page visits" : "page visit";
    case baton::v1::CONTENT_DOWNLOAD:
      return plural ? "content downloads" : "content download";
    case baton::v1::WEBINAR_REGISTRATION:
      return plural ? "webinar registrations" : "webinar registration";
    case baton::v1::WEBINAR_ATTENDANCE:
      return plural ? "webinar attendances" : "webinar attendance";
    case baton::v1::FORM_FILL:
      return plural ? "form fills" : "form fill";
    case baton::v1::INTENT_SIGNAL:
      return plural ? "intent signals" : "intent signal";
    case baton::v1::REPLY:
      return plural ? "replies" : "reply";
    case baton::v1::MEETING_REQUEST:
      return plural ? "meeting requests" : "meeting request";
    case baton::v1::MEETING_HELD:
      return plural ? "meetings held" : "meeting held";
    default:
      return plural ? "events" : "event";
  }
}

std::string CountPhrase(const Count& c, bool plural) {
  std::string phrase = TypePhrase(c.type(), plural);
  if (!c.url_segment().empty()) phrase = absl::StrCat(c.url_segment(), " ", phrase);
  if (!c.campaign().empty()) absl::StrAppend(&phrase, " (campaign ", c.campaign(), ")");
  if (!c.content().empty()) absl::StrAppend(&phrase, " (content ", c.content(), ")");
  return phrase;
}

bool Matches(const Count& c, Engagement r) {
  if (r.type() != c.type()) return false;
  if (!c.url_segment().empty() && !HasPathSegment(r.url(), c.url_segment())) return false;
  if (!c.campaign().empty() && r.campaign_id() != c.campaign()) return false;
  if (!c.content().empty() && r.content_id() != c.content()) return false;
  return true;
}

// Validator walks a rule file and collects every issue with its field path.
class Validator {
 public:
  explicit Validator(std::vector<RuleIssue>& issues) : issues_(issues) {}

  void Issue(std::string path, std::string problem) {
    issues_.push_back({std::move(path), std::move(problem)});
  }

  void Window(const google::protobuf::Duration& d, const std::string& path, bool required) {
    const absl::Duration w = ToDuration(d);
    if (w == absl::ZeroDuration()) {
      if (required) Issue(path, "is required (e.g. 14d)");
      return;
    }
    if (w < absl::Minutes(1) || w > kMaxWindow) Issue(path, "must be between 1m and 90d");
    longest_ = std::max(longest_, w);
  }

  void Condition(const baton::config::v1::Condition& c, const std::string& path) {
    int set = 0;
    set += c.all_size() > 0;
    set += c.any_size() > 0;
    set += c.has_not_();
    set += c.tier_in_size() > 0;
    set += c.stage_in_size() > 0;
    set += c.has_count();
    set += c.has_distinct_contacts();
    set += c.has_roles_covered();
    set += c.score_at_least() != 0;
    set += c.has_days_since_sales_touch();
    set += c.decision_date() != baton::config::v1::DECISION_DATE_STATE_UNSPECIFIED;
    if (set != 1) {
      Issue(path, set == 0 ? "needs one condition (all, any, not, tier_in, stage_in, count, "
                             "distinct_contacts, roles_covered, score_at_least, "
                             "days_since_sales_touch, decision_date)"
                           : "has more than one condition; combine them with all or any");
      return;
    }
    for (int i = 0; i < c.all_size(); ++i) Condition(c.all(i), absl::StrCat(path, ".all[", i, "]"));
    for (int i = 0; i < c.any_size(); ++i) Condition(c.any(i), absl::StrCat(path, ".any[", i, "]"));
    if (c.has_not_()) Condition(c.not_(), absl::StrCat(path, ".not"));
    for (int i = 0; i < c.tier_in_size(); ++i) {
      if (c.tier_in(i) == baton::v1::TIER_UNSPECIFIED) {
        Issue(absl::StrCat(path, ".tier_in[", i, "]"), "must be a tier");
      }
    }
    for (int i = 0; i < c.stage_in_size(); ++i) {
      if (c.stage_in(i).empty()) Issue(absl::StrCat(path, ".stage_in[", i, "]"), "is empty");
    }
    if (c.has_count()) {
      const Count& n = c.count();
      const std::string p = path + ".count";
      if (n.type() == baton::v1::ENGAGEMENT_TYPE_UNSPECIFIED) Issue(p + ".type", "is required");
      if (n.at_least() < 1) Issue(p + ".at_least", "must be at least 1");
      Window(n.within(), p + ".within", true);
      if (absl::StrContains(n.url_segment(), "/")) {
        Issue(p + ".url_segment", "is one path segment, without '/' (e.g. pricing)");
      }
      if (!n.url_segment().empty() && n.type() != baton::v1::PAGE_VISIT &&
          n.type() != baton::v1::EMAIL_CLICK && n.type() != baton::v1::FORM_FILL) {
        Issue(p + ".url_segment", "applies to PAGE_VISIT, EMAIL_CLICK and FORM_FILL only");
      }
    }
    if (c.has_distinct_contacts()) {
      const std::string p = path + ".distinct_contacts";
      if (c.distinct_contacts().at_least() < 1) Issue(p + ".at_least", "must be at least 1");
      Window(c.distinct_contacts().within(), p + ".within", true);
    }
    if (c.has_roles_covered()) {
      const auto& r = c.roles_covered();
      const std::string p = path + ".roles_covered";
      if (r.roles_size() == 0) Issue(p + ".roles", "needs at least one role");
      std::set<int> seen;
      for (int i = 0; i < r.roles_size(); ++i) {
        if (r.roles(i) == baton::v1::BUYING_GROUP_ROLE_UNSPECIFIED) {
          Issue(absl::StrCat(p, ".roles[", i, "]"), "must be a buying-group role");
        } else if (!seen.insert(r.roles(i)).second) {
          Issue(absl::StrCat(p, ".roles[", i, "]"), "is listed twice");
        }
      }
      if (r.at_least() < 0 || r.at_least() > r.roles_size()) {
        Issue(p + ".at_least",
              absl::StrCat("must be between 1 and the number of roles (", r.roles_size(), ")"));
      }
      Window(r.within(), p + ".within", true);
    }
    if (c.score_at_least() < 0 || std::isnan(c.score_at_least())) {
      Issue(path + ".score_at_least", "must be positive");
    }
    if (c.score_at_least() > 0) uses_score_ = true;
    if (c.has_days_since_sales_touch() && c.days_since_sales_touch().at_least_days() < 1) {
      Issue(path + ".days_since_sales_touch.at_least_days", "must be at least 1");
    }
  }

  absl::Duration longest() const { return longest_; }
  bool uses_score() const { return uses_score_; }

 private:
  std::vector<RuleIssue>& issues_;
  absl::Duration longest_ = absl::ZeroDuration();
  bool uses_score_ = false;
};

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return true;
}

// Context is what conditions are evaluated against.
struct Context {
  const RuleSet& rules;
  const Account& account;
  int64_t now_ms;
};

bool Holds(const Condition& c, const Context& ctx, RuleMatch* match);

bool HoldsCount(const Count& c, const Context& ctx, RuleMatch* match) {
  const int64_t from = ctx.now_ms - absl::ToInt64Milliseconds(ToDuration(c.within()));
  const absl::Duration within = ToDuration(c.within());
  match->summary_window = std::max(match->summary_window, within);
  if (c.per() == baton::config::v1::CONTACT) {
    std::map<absl::string_view, std::vector<Engagement>> by_contact;
    ctx.account.ForEachRecord(from, ctx.now_ms, [&](Engagement r) {
      if (!r.contact_id().empty() && Matches(c, r)) by_contact[r.contact_id()].push_back(r);
    });
    // The contact with the most wins; ties go to the most recent, then the smaller id.
    const std::vector<Engagement>* best = nullptr;
    absl::string_view best_contact;
    for (const auto& [contact, records] : by_contact) {
      if (static_cast<int>(records.size()) < c.at_least()) continue;
      if (best == nullptr || records.size() > best->size() ||
          (records.size() == best->size() && records.back().time_ms() > best->back().time_ms())) {
        best = &records;
        best_contact = contact;
      }
    }
    if (best == nullptr) return false;
    match->facts.push_back(absl::StrFormat("%d %s by contact %s in %s", best->size(),
                                           CountPhrase(c, best->size() != 1), best_contact,
                                           FormatWindow(within)));
    match->triggers.insert(match->triggers.end(), best->begin(), best->end());
    if (match->contact.empty()) match->contact = std::string(best_contact);
    return true;
  }
  std::vector<Engagement> found;
  ctx.account.ForEachRecord(from, ctx.now_ms, [&](Engagement r) {
    if (Matches(c, r)) found.push_back(r);
  });
  if (static_cast<int>(found.size()) < c.at_least()) return false;
  if (c.at_least() == 1) {
    const Engagement latest = found.back();
    match->facts.push_back(absl::StrCat(CountPhrase(c, false), " ",
                                        Ago(absl::Milliseconds(ctx.now_ms - latest.time_ms()))));
    match->triggers.push_back(latest);
  } else {
    match->facts.push_back(
        absl::StrFormat("%d %s in %s", found.size(), CountPhrase(c, true), FormatWindow(within)));
    // The most recent ones tell the story; a lead need not list a hundred page visits.
    const size_t keep = std::min<size_t>(found.size(), 20);
    match->triggers.insert(match->triggers.end(), found.end() - static_cast<long>(keep),
                           found.end());
  }
  return true;
}

// EngagedRoles returns, for contacts engaged in (from, now], each role's contacts.
std::map<int, std::set<absl::string_view>> EngagedRoles(const Context& ctx, int64_t from) {
  std::map<int, std::set<absl::string_view>> roles;
  const auto& contacts = ctx.account.contacts();
  ctx.account.ForEachRecord(from, ctx.now_ms, [&](Engagement r) {
    for (const auto& c : contacts) {
      if (c.contact_id() == r.contact_id() &&
          c.role() != baton::v1::BUYING_GROUP_ROLE_UNSPECIFIED) {
        roles[c.role()].insert(c.contact_id());
      }
    }
  });
  return roles;
}

// Cost ranks conditions: profile checks are O(1), engagement checks scan the window.
int Cost(const Condition& c) {
  int cost = (c.has_count() || c.has_distinct_contacts() || c.has_roles_covered() ||
              c.score_at_least() > 0)
                 ? 1
                 : 0;
  for (const Condition& sub : c.all()) cost = std::max(cost, Cost(sub));
  for (const Condition& sub : c.any()) cost = std::max(cost, Cost(sub));
  if (c.has_not_()) cost = std::max(cost, Cost(c.not_()));
  return cost;
}

void Merge(RuleMatch& into, RuleMatch&& part) {
  into.facts.insert(into.facts.end(), part.facts.begin(), part.facts.end());
  into.triggers.insert(into.triggers.end(), part.triggers.begin(), part.triggers.end());
  if (into.contact.empty()) into.contact = std::move(part.contact);
  into.summary_window = std::max(into.summary_window, part.summary_window);
}

bool Holds(const Condition& c, const Context& ctx, RuleMatch* match) {
  const auto& head = ctx.account.head();
  if (c.all_size() > 0) {
    // Cheap conditions first, so most accounts are ruled out without scanning engagement; the
    // facts still read in the order the rule file gives them.
    std::vector<int> order(c.all_size());
    for (int i = 0; i < c.all_size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&c](int a, int b) { return Cost(c.all(a)) < Cost(c.all(b)); });
    std::vector<RuleMatch> parts(c.all_size());
    for (int i : order) {
      if (!Holds(c.all(i), ctx, &parts[i])) return false;
    }
    for (RuleMatch& part : parts) Merge(*match, std::move(part));
    return true;
  }
  if (c.any_size() > 0) {
    for (const Condition& sub : c.any()) {
      RuleMatch branch;
      if (Holds(sub, ctx, &branch)) {
        Merge(*match, std::move(branch));
        return true;
      }
    }
    return false;
  }
  if (c.has_not_()) {
    RuleMatch ignored;
    return !Holds(c.not_(), ctx, &ignored);
  }
  if (c.tier_in_size() > 0) {
    const baton::v1::Tier tier = head.profile().tier();
    if (std::find(c.tier_in().begin(), c.tier_in().end(), tier) == c.tier_in().end()) {
      return false;
    }
    match->facts.push_back(TierName(tier));
    return true;
  }
  if (c.stage_in_size() > 0) {
    const std::string stage = ctx.rules.CanonicalStage(head.profile().stage());
    if (std::find(c.stage_in().begin(), c.stage_in().end(), stage) == c.stage_in().end()) {
      return false;
    }
    match->facts.push_back(absl::StrCat("stage ", stage));
    return true;
  }
  if (c.has_count()) return HoldsCount(c.count(), ctx, match);
  if (c.has_distinct_contacts()) {
    const absl::Duration within = ToDuration(c.distinct_contacts().within());
    absl::flat_hash_set<absl::string_view> contacts;
    ctx.account.ForEachRecord(ctx.now_ms - absl::ToInt64Milliseconds(within), ctx.now_ms,
                              [&](Engagement r) {
                                if (!r.contact_id().empty()) contacts.insert(r.contact_id());
                              });
    if (static_cast<int>(contacts.size()) < c.distinct_contacts().at_least()) return false;
    match->facts.push_back(
        absl::StrFormat("%d contacts engaged in %s", contacts.size(), FormatWindow(within)));
    match->summary_window = std::max(match->summary_window, within);
    return true;
  }
  if (c.has_roles_covered()) {
    const auto& r = c.roles_covered();
    const absl::Duration within = ToDuration(r.within());
    const auto engaged = EngagedRoles(ctx, ctx.now_ms - absl::ToInt64Milliseconds(within));
    std::vector<std::string> covered;
    for (int role : r.roles()) {
      if (engaged.contains(role)) {
        covered.push_back(RoleName(static_cast<baton::v1::BuyingGroupRole>(role)));
      }
    }
    const int needed = r.at_least() > 0 ? r.at_least() : r.roles_size();
    if (static_cast<int>(covered.size()) < needed) return false;
    match->facts.push_back(absl::StrCat("roles engaged in ", FormatWindow(within), ": ",
                                        absl::StrJoin(covered, ", ")));
    match->summary_window = std::max(match->summary_window, within);
    return true;
  }
  if (c.score_at_least() > 0) {
    const double score = ctx.rules.Score(ctx.account);
    if (score < c.score_at_least()) return false;
    match->facts.push_back(absl::StrFormat("engagement score %.1f", score));
    return true;
  }
  if (c.has_days_since_sales_touch()) {
    const int64_t last = head.last_sales_touch_ms();
    if (last == 0) {
      match->facts.push_back("no sales touch yet");
      return true;
    }
    const int64_t days = (ctx.now_ms - last) / absl::ToInt64Milliseconds(kDay);
    if (days < c.days_since_sales_touch().at_least_days()) return false;
    match->facts.push_back(absl::StrCat("last sales touch ", days, "d ago"));
    return true;
  }
  if (c.decision_date() != baton::config::v1::DECISION_DATE_STATE_UNSPECIFIED) {
    const bool set = head.profile().has_decision_date();
    const int64_t date_ms = set ? head.profile().decision_date().seconds() * 1000 : 0;
    const bool passed = set && date_ms <= ctx.now_ms;
    if (passed != (c.decision_date() == baton::config::v1::PASSED)) return false;
    match->facts.push_back(passed ? absl::StrCat("decision date passed ",
                                                 Ago(absl::Milliseconds(ctx.now_ms - date_ms)))
                                  : std::string("decision date not passed"));
    return true;
  }
  return false;
}

std::string ExplainCondition(const Condition& c) {
  auto join = [](const auto& subs, absl::string_view op) {
    std::vector<std::string> parts;
    for (const Condition& sub : subs) parts.push_back(ExplainCondition(sub));
    return parts.size() == 1 ? parts[0] : absl::StrCat("(", absl::StrJoin(parts, op), ")");
  };
  if (c.all_size() > 0) return join(c.all(), " AND ");
  if (c.any_size() > 0) return join(c.any(), " OR ");
  if (c.has_not_()) return absl::StrCat("NOT ", ExplainCondition(c.not_()));
  if (c.tier_in_size() > 0) {
    std::vector<std::string> tiers;
    for (int t : c.tier_in()) tiers.push_back(TierName(static_cast<baton::v1::Tier>(t)));
    return absl::StrCat("tier is ", absl::StrJoin(tiers, " or "));
  }
  if (c.stage_in_size() > 0) return absl::StrCat("stage is ", absl::StrJoin(c.stage_in(), " or "));
  if (c.has_count()) {
    const Count& n = c.count();
    return absl::StrFormat(">=%d %s%s within %s", n.at_least(), CountPhrase(n, n.at_least() != 1),
                           n.per() == baton::config::v1::CONTACT ? " by one contact" : "",
                           FormatWindow(ToDuration(n.within())));
  }
  if (c.has_distinct_contacts()) {
    return absl::StrFormat(">=%d distinct contacts engaged within %s",
                           c.distinct_contacts().at_least(),
                           FormatWindow(ToDuration(c.distinct_contacts().within())));
  }
  if (c.has_roles_covered()) {
    const auto& r = c.roles_covered();
    std::vector<std::string> roles;
    for (int role : r.roles())
      roles.push_back(RoleName(static_cast<baton::v1::BuyingGroupRole>(role)));
    return absl::StrFormat("%s of [%s] engaged within %s",
                           r.at_least() > 0 ? absl::StrCat(">=", r.at_least()) : "all",
                           absl::StrJoin(roles, ", "), FormatWindow(ToDuration(r.within())));
  }
  if (c.score_at_least() > 0) return absl::StrFormat("engagement score >= %g", c.score_at_least());
  if (c.has_days_since_sales_touch()) {
    return absl::StrFormat("no sales touch for >=%d days",
                           c.days_since_sales_touch().at_least_days());
  }
  if (c.decision_date() == baton::config::v1::PASSED) return "decision date has passed";
  if (c.decision_date() == baton::config::v1::NOT_PASSED) return "decision date has not passed";
  return "?";
}

}  // namespace

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string FormatWindow(absl::Duration d) {
  if (d % kDay == absl::ZeroDuration()) return absl::StrCat(d / kDay, "d");
  if (d % absl::Hours(1) == absl::ZeroDuration()) return absl::StrCat(d / absl::Hours(1), "h");
  if (d % absl::Minutes(1) == absl::ZeroDuration()) return absl::StrCat(d / absl::Minutes(1), "m");
  return absl::FormatDuration(d);
}

std::optional<RuleSet> RuleSet::Compile(RuleFile file, std::vector<RuleIssue>& issues) {
  issues.clear();
  Validator v(issues);
  if (file.version() < 1) v.Issue("version", "must be at least 1");
  if (file.rules_size() == 0) v.Issue("rules", "needs at least one rule");
  std::set<std::string> names;
  for (int i = 0; i < file.rules_size(); ++i) {
    const Rule& r = file.rules(i);
    const std::string p = absl::StrCat("rules[", i, "]");
    if (!ValidName(r.name())) {
      v.Issue(p + ".name", "must be 1-64 characters of a-z, 0-9 and '-'");
    } else if (!names.insert(r.name()).second) {
      v.Issue(p + ".name", absl::StrCat("'", r.name(), "' is used by an earlier rule"));
    }
    if (r.level() == baton::v1::QUALIFICATION_LEVEL_UNSPECIFIED) {
      v.Issue(p + ".level", "is required (EARLY_SIGNAL or SALES_READY)");
    }
    if (!r.has_when()) {
      v.Issue(p + ".when", "is required");
    } else {
      v.Condition(r.when(), p + ".when");
    }
    if (r.has_cooldown()) {
      const absl::Duration d = ToDuration(r.cooldown());
      if (d < absl::Minutes(1) || d > absl::Hours(24 * 365)) {
        v.Issue(p + ".cooldown", "must be between 1m and 365d");
      }
    }
    // Every {placeholder} in the message must be one Baton fills in.
    absl::string_view rest = r.message();
    for (size_t open = rest.find('{'); open != absl::string_view::npos; open = rest.find('{')) {
      const size_t close = rest.find('}', open);
      if (close == absl::string_view::npos) {
        v.Issue(p + ".message", "has a '{' without a closing '}'");
        break;
      }
      const absl::string_view name = rest.substr(open + 1, close - open - 1);
      if (std::find(std::begin(kPlaceholders), std::end(kPlaceholders), name) ==
          std::end(kPlaceholders)) {
        v.Issue(p + ".message", absl::StrCat("unknown placeholder {", name, "}; known: {",
                                             absl::StrJoin(kPlaceholders, "}, {"), "}"));
      }
      rest.remove_prefix(close + 1);
    }
  }

  const auto& model = file.engagement();
  RuleSet set;
  for (const auto& [type, points] : model.points()) {
    baton::v1::EngagementType t;
    if (!baton::v1::EngagementType_Parse(type, &t) || t == baton::v1::ENGAGEMENT_TYPE_UNSPECIFIED) {
      v.Issue(absl::StrCat("engagement.points[", type, "]"), "is not an engagement type");
    } else if (points < 0 || std::isnan(points)) {
      v.Issue(absl::StrCat("engagement.points[", type, "]"), "must not be negative");
    } else {
      set.points_[t] = points;
    }
  }
  if (v.uses_score() && model.points().empty()) {
    v.Issue("engagement.points", "must be set when a rule uses score_at_least");
  }
  set.half_life_ =
      model.has_score_half_life() ? ToDuration(model.score_half_life()) : kDefaultHalfLife;
  if (set.half_life_ < absl::Hours(1) || set.half_life_ > kMaxWindow) {
    v.Issue("engagement.score_half_life", "must be between 1h and 90d");
  }
  set.retention_ = std::max(kMinRetention, v.longest());
  if (model.has_retention()) {
    const absl::Duration r = ToDuration(model.retention());
    if (r < v.longest() || r > kMaxWindow) {
      v.Issue("engagement.retention",
              absl::StrCat("must cover the longest rule window (", FormatWindow(v.longest()),
                           ") and be at most 90d"));
    }
    set.retention_ = r;
  }
  for (int i = 0; i < file.matching().free_mail_domains_size(); ++i) {
    const std::string& d = file.matching().free_mail_domains(i);
    if (d.empty() || absl::StrContains(d, "@") || absl::AsciiStrToLower(d) != d) {
      v.Issue(absl::StrCat("matching.free_mail_domains[", i, "]"),
              "must be a lowercase domain such as gmail.com");
    }
  }
  set.policy_ = Policy::Compile(file, issues);
  if (!issues.empty()) return std::nullopt;

  set.file_ = std::move(file);
  for (int i = 0; i < set.file_.rules_size(); ++i) set.order_.push_back(i);
  std::stable_sort(set.order_.begin(), set.order_.end(), [&set](int a, int b) {
    return set.file_.rules(a).priority() > set.file_.rules(b).priority();
  });
  return set;
}

absl::Duration RuleSet::cooldown(const Rule& rule) const {
  return rule.has_cooldown() ? ToDuration(rule.cooldown()) : kDefaultCooldown;
}

std::string RuleSet::CanonicalStage(absl::string_view crm_stage) const {
  const auto& aliases = file_.engagement().stage_aliases();
  auto it = aliases.find(std::string(crm_stage));
  return it == aliases.end() ? std::string(crm_stage) : it->second;
}

double RuleSet::Score(const Account& account) const {
  const int64_t now = account.head().watermark_ms();
  const double half_life_ms = static_cast<double>(absl::ToInt64Milliseconds(half_life_));
  double score = 0;
  account.ForEachRecord(now - absl::ToInt64Milliseconds(retention_), now, [&](Engagement r) {
    const int type = r.type();
    if (type <= 0 || type >= 16 || points_[type] == 0) return;
    score += points_[type] * std::exp2(-static_cast<double>(now - r.time_ms()) / half_life_ms);
  });
  return score;
}

std::optional<RuleMatch> RuleSet::Evaluate(const Rule& rule, const Account& account) const {
  RuleMatch match;
  Context ctx{*this, account, account.head().watermark_ms()};
  if (!Holds(rule.when(), ctx, &match)) return std::nullopt;
  // A record can satisfy two conditions; list it once, in time order.
  std::sort(match.triggers.begin(), match.triggers.end());
  match.triggers.erase(std::unique(match.triggers.begin(), match.triggers.end()),
                       match.triggers.end());
  if (match.contact.empty()) {
    // No per-contact count: the contact behind the most recent trigger.
    for (auto it = match.triggers.rbegin(); it != match.triggers.rend(); ++it) {
      if (!it->contact_id().empty()) {
        match.contact = std::string(it->contact_id());
        break;
      }
    }
  }
  if (match.summary_window == absl::ZeroDuration()) match.summary_window = absl::Hours(24 * 14);
  return match;
}

std::string RuleSet::Explain(const Rule& rule) const {
  return absl::StrFormat("%s: priority %d, %s, cooldown %s: when %s", rule.name(), rule.priority(),
                         baton::v1::QualificationLevel_Name(rule.level()),
                         FormatWindow(cooldown(rule)), ExplainCondition(rule.when()));
}

}  // namespace baton::core
