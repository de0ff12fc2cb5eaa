#include "baton/core/policy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "baton/core/event.h"
#include "baton/core/rules.h"

namespace baton::core {
namespace {

using baton::config::v1::Target;

const absl::Duration kDay = absl::Hours(24);

// ParseClock parses "HH:MM" (00:00 .. 24:00) into minutes since midnight.
std::optional<int> ParseClock(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  int h = 0;
  int m = 0;
  if (parts.size() != 2 || parts[0].size() != 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) || h < 0 || m < 0 ||
      m > 59 || h * 60 + m > 24 * 60) {
    return std::nullopt;
  }
  return h * 60 + m;
}

Target Owner(baton::config::v1::OwnerRole role) {
  Target t;
  t.set_owner(role);
  return t;
}
Target Backup() {
  Target t;
  t.set_backup(true);
  return t;
}
Target Manager() {
  Target t;
  t.set_manager(true);
  return t;
}
Target Queue(std::string name) {
  Target t;
  t.set_queue(std::move(name));
  return t;
}

template <typename List, typename Value>
bool Matches(const List& list, Value v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

baton::v1::Tier EffectiveTier(baton::v1::Tier tier) {
  return tier == baton::v1::TIER_UNSPECIFIED ? baton::v1::NOT_ABM : tier;
}

// Built-in routes, by index: 0 sales-ready, 1 early signal, 2 nurture.
enum BuiltIn { kSalesReady = 0, kEarlySignal = 1, kNurture = 2 };

}  // namespace

Policy Policy::Compile(const baton::config::v1::RuleFile& file, std::vector<RuleIssue>& issues) {
  auto issue = [&issues](std::string path, std::string problem) {
    issues.push_back({std::move(path), std::move(problem)});
  };
  Policy p;
  p.routing_ = file.routing();
  p.unmatched_queue_ = file.routing().unmatched_queue().empty() ? "queue:unmatched"
                                                                : file.routing().unmatched_queue();
  p.builtin_ = {
      {Owner(baton::config::v1::AE), Backup(), Manager()},
      {Owner(baton::config::v1::SDR), Owner(baton::config::v1::AE), Backup(), Manager()},
      {Queue("queue:nurture")},
  };

  // Calendars.
  for (int i = 0; i < file.calendars_size(); ++i) {
    const auto& c = file.calendars(i);
    const std::string path = absl::StrCat("calendars[", i, "]");
    if (c.name().empty()) {
      issue(path + ".name", "is required");
      continue;
    }
    if (p.calendars_.count(c.name())) {
      issue(path + ".name", absl::StrCat("'", c.name(), "' is used by an earlier calendar"));
      continue;
    }
    CalendarSpec spec;
    spec.time_zone = c.time_zone().empty() ? "UTC" : c.time_zone();
    bool ok = true;
    if (c.working_hours().empty()) {
      for (int d = 0; d < 5; ++d) spec.hours[d] = {{9 * 60, 17 * 60}};
    }
    for (int j = 0; j < c.working_hours_size(); ++j) {
      const auto& w = c.working_hours(j);
      const std::string wp = absl::StrCat(path, ".working_hours[", j, "]");
      const std::optional<int> from = ParseClock(w.from());
      const std::optional<int> to = ParseClock(w.to());
      if (!from) issue(wp + ".from", "must be a time of day \"HH:MM\", e.g. \"09:00\"");
      if (!to) issue(wp + ".to", "must be a time of day \"HH:MM\", e.g. \"17:00\" or \"24:00\"");
      if (w.days().empty()) issue(wp + ".days", "needs at least one day, e.g. [MON, TUE]");
      if (!from || !to || w.days().empty()) {
        ok = false;
        continue;
      }
      if (*to <= *from) {
        issue(wp + ".to", "must be after from");
        ok = false;
        continue;
      }
      for (int day : w.days()) {
        if (day < baton::config::v1::MON || day > baton::config::v1::SUN) {
          issue(wp + ".days", "must be weekdays MON..SUN");
          ok = false;
          continue;
        }
        spec.hours[day - 1].emplace_back(*from, *to);
      }
    }
    for (auto& day : spec.hours) std::sort(day.begin(), day.end());
    for (int j = 0; j < c.holidays_size(); ++j) {
      absl::CivilDay day;
      if (!absl::ParseCivilTime(c.holidays(j), &day)) {
        issue(absl::StrCat(path, ".holidays[", j, "]"), "must be a date \"YYYY-MM-DD\"");
        ok = false;
        continue;
      }
      spec.holidays.push_back(day);
    }
    if (!ok) continue;
    absl::StatusOr<BusinessCalendar> calendar = BusinessCalendar::Create(spec);
    if (!calendar.ok()) {
      issue(absl::StrContains(calendar.status().message(), "time zone") ? path + ".time_zone"
                                                                        : path + ".working_hours",
            std::string(calendar.status().message()));
      continue;
    }
    p.calendars_.emplace(c.name(), std::move(spec));
  }

  // Team.
  const auto& team = file.team();
  if (!team.default_calendar().empty()) {
    auto it = p.calendars_.find(team.default_calendar());
    if (it == p.calendars_.end()) {
      issue("team.default_calendar",
            absl::StrCat("names no calendar ('", team.default_calendar(), "')"));
    } else {
      p.default_calendar_ = it->second;
      p.default_always_ = false;
    }
  }
  for (int i = 0; i < team.reps_size(); ++i) {
    const auto& r = team.reps(i);
    const std::string path = absl::StrCat("team.reps[", i, "]");
    if (r.id().empty()) {
      issue(path + ".id", "is required");
      continue;
    }
    if (p.reps_.count(r.id())) {
      issue(path + ".id", absl::StrCat("'", r.id(), "' is listed twice"));
      continue;
    }
    if (!r.calendar().empty() && !p.calendars_.count(r.calendar())) {
      issue(path + ".calendar", absl::StrCat("names no calendar ('", r.calendar(), "')"));
    }
    if (!r.time_zone().empty()) {
      CalendarSpec spec;
      for (auto& day : spec.hours) day = {{0, 24 * 60}};
      spec.time_zone = r.time_zone();
      if (!BusinessCalendar::Create(spec).ok()) {
        issue(path + ".time_zone", absl::StrCat("unknown time zone \"", r.time_zone(), "\""));
      }
    }
    if (r.backup() == r.id()) issue(path + ".backup", "cannot be the rep themself");
    if (r.manager() == r.id()) issue(path + ".manager", "cannot be the rep themself");
    p.reps_.emplace(r.id(), r);
  }
  for (int i = 0; i < team.pools_size(); ++i) {
    const auto& pool = team.pools(i);
    const std::string path = absl::StrCat("team.pools[", i, "]");
    if (pool.name().empty()) {
      issue(path + ".name", "is required");
      continue;
    }
    if (p.pools_.count(pool.name())) {
      issue(path + ".name", absl::StrCat("'", pool.name(), "' is used by an earlier pool"));
      continue;
    }
    if (pool.members().empty()) issue(path + ".members", "needs at least one member");
    std::set<std::string> members;
    for (int j = 0; j < pool.members_size(); ++j) {
      const auto& m = pool.members(j);
      const std::string mp = absl::StrCat(path, ".members[", j, "]");
      if (m.rep().empty()) issue(mp + ".rep", "is required");
      if (!members.insert(m.rep()).second) issue(mp + ".rep", "is listed twice");
      if (m.weight() < 0 || m.weight() > 1000) issue(mp + ".weight", "must be 1..1000");
    }
    if (pool.max_open_per_rep() < 0) issue(path + ".max_open_per_rep", "must not be negative");
    p.pools_.emplace(pool.name(), pool);
  }

  // Routes.
  for (int i = 0; i < p.routing_.routes_size(); ++i) {
    const auto& route = p.routing_.routes(i);
    const std::string path = absl::StrCat("routing.routes[", i, "]");
    p.configured_.emplace_back(route.to().begin(), route.to().end());
    if (route.to().empty()) issue(path + ".to", "needs at least one target");
    for (int j = 0; j < route.to_size(); ++j) {
      const Target& t = route.to(j);
      const std::string tp = absl::StrCat(path, ".to[", j, "]");
      const int set = (t.owner() != 0) + !t.pool().empty() + !t.queue().empty() + !t.rep().empty() +
                      t.backup() + t.manager();
      if (set != 1) {
        issue(tp, "needs exactly one of owner, pool, queue, rep, backup, manager");
      } else if (!t.pool().empty() && !p.pools_.count(t.pool())) {
        issue(tp + ".pool", absl::StrCat("names no pool in team.pools ('", t.pool(), "')"));
      }
    }
  }

  // Follow-up SLA.
  p.sla_ = file.sla();
  for (int i = 0; i < p.sla_.policies_size(); ++i) {
    const auto& s = p.sla_.policies(i);
    const std::string path = absl::StrCat("sla.policies[", i, "]");
    const absl::Duration d = ToDuration(s.first_follow_up());
    if (!s.has_first_follow_up()) {
      issue(path + ".first_follow_up", "is required (business time, e.g. 1h)");
    } else if (d < absl::Seconds(1) || d > 30 * kDay) {
      issue(path + ".first_follow_up", "must be between 1s and 30d");
    }
    if (s.remind_at() < 0 || s.remind_at() >= 1 || std::isnan(s.remind_at())) {
      issue(path + ".remind_at", "must be a fraction of first_follow_up in [0, 1), e.g. 0.5");
    }
    for (int j = 0; j < s.escalation_size(); ++j) {
      const auto& step = s.escalation(j);
      const std::string sp = absl::StrCat(path, ".escalation[", j, "]");
      if (ToDuration(step.after()) > 30 * kDay) issue(sp + ".after", "must be at most 30d");
      if (step.notify().empty() && step.reassign_to() == 0) {
        issue(sp, "needs notify or reassign_to");
      }
      if (step.reassign_to() != 0 && step.reassign_to() != baton::config::v1::BACKUP &&
          step.reassign_to() != baton::config::v1::MANAGER) {
        issue(sp + ".reassign_to", "must be BACKUP or MANAGER");
      }
      for (int k = 0; k < step.notify_size(); ++k) {
        if (step.notify(k) == 0) issue(absl::StrCat(sp, ".notify[", k, "]"), "is not a recipient");
      }
    }
  }
  for (int kind : p.sla_.follow_up_kinds()) {
    p.follow_up_kinds_.push_back(static_cast<baton::v1::ActivityKind>(kind));
  }
  if (p.follow_up_kinds_.empty()) {
    p.follow_up_kinds_ = {baton::v1::CALL, baton::v1::EMAIL, baton::v1::MEETING};
  }

  // Rejection, stalls, decision date.
  p.recycle_queue_ =
      file.rejection().recycle_queue().empty() ? "queue:nurture" : file.rejection().recycle_queue();
  p.recycle_cooldown_ =
      file.rejection().has_cooldown() ? ToDuration(file.rejection().cooldown()) : 30 * kDay;
  if (p.recycle_cooldown_ > 365 * kDay) issue("rejection.cooldown", "must be at most 365d");
  for (int i = 0; i < file.stalls_size(); ++i) {
    const auto& s = file.stalls(i);
    const std::string path = absl::StrCat("stalls[", i, "]");
    const absl::Duration d = ToDuration(s.no_touch_for());
    if (s.stage_in().empty()) issue(path + ".stage_in", "needs at least one stage");
    if (d < absl::Hours(1) || d > 365 * kDay) {
      issue(path + ".no_touch_for", "must be between 1h and 365d");
    }
    p.stalls_.emplace_back(std::vector<std::string>(s.stage_in().begin(), s.stage_in().end()), d);
  }
  if (!file.decision_date().disabled()) {
    p.conversation_within_ = file.decision_date().has_conversation_within()
                                 ? ToDuration(file.decision_date().conversation_within())
                                 : 30 * kDay;
    if (*p.conversation_within_ < absl::Hours(1) || *p.conversation_within_ > 365 * kDay) {
      issue("decision_date.conversation_within", "must be between 1h and 365d");
    }
  }
  return p;
}

const std::vector<Target>& Policy::RouteFor(baton::v1::Tier tier,
                                            baton::v1::QualificationLevel level) const {
  tier = EffectiveTier(tier);
  for (size_t i = 0; i < configured_.size(); ++i) {
    const auto& route = routing_.routes(static_cast<int>(i));
    if (Matches(route.tier_in(), tier) && Matches(route.level_in(), level)) return configured_[i];
  }
  if (tier == baton::v1::TIER_3 || tier == baton::v1::NOT_ABM) return builtin_[kNurture];
  return builtin_[level == baton::v1::EARLY_SIGNAL ? kEarlySignal : kSalesReady];
}

const baton::config::v1::Rep* Policy::Rep(absl::string_view rep_id) const {
  auto it = reps_.find(rep_id);
  return it == reps_.end() ? nullptr : &it->second;
}

const baton::config::v1::Pool* Policy::Pool(absl::string_view name) const {
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : &it->second;
}

BusinessCalendar Policy::CalendarFor(absl::string_view rep_id,
                                     const baton::internal::v1::RepState* state) const {
  const baton::config::v1::Rep* rep = Rep(rep_id);
  std::string calendar_name = rep != nullptr ? rep->calendar() : "";
  std::string zone = rep != nullptr ? rep->time_zone() : "";
  if (state != nullptr) {
    // The CRM's word wins where it names a calendar this rule file has, or a known zone.
    if (!state->status().calendar().empty() && calendars_.count(state->status().calendar())) {
      calendar_name = state->status().calendar();
    }
    if (!state->status().time_zone().empty()) zone = state->status().time_zone();
  }
  std::optional<CalendarSpec> spec;
  if (auto it = calendars_.find(calendar_name); it != calendars_.end()) {
    spec = it->second;
  } else if (!default_always_) {
    spec = default_calendar_;
  }
  if (!spec) {
    if (zone.empty()) return BusinessCalendar::Always();
    spec.emplace();
    for (auto& day : spec->hours) day = {{0, 24 * 60}};
  }
  if (!zone.empty()) {
    CalendarSpec zoned = *spec;
    zoned.time_zone = zone;
    if (absl::StatusOr<BusinessCalendar> c = BusinessCalendar::Create(std::move(zoned)); c.ok()) {
      return *std::move(c);
    }
  }
  absl::StatusOr<BusinessCalendar> c = BusinessCalendar::Create(*std::move(spec));
  return c.ok() ? *std::move(c) : BusinessCalendar::Always();
}

std::string Policy::Unavailable(absl::string_view rep_id,
                                const baton::internal::v1::RepState* state, absl::Time at) const {
  const baton::config::v1::Rep* rep = Rep(rep_id);
  if (rep != nullptr && rep->deactivated()) return "deactivated";
  if (state != nullptr) {
    if (state->status().deactivated()) return "deactivated";
    for (const auto& period : state->status().out_of_office()) {
      if (ToTime(period.start()) <= at && at < ToTime(period.end())) {
        return absl::StrCat(
            "out of office until ",
            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToTime(period.end()), absl::UTCTimeZone()));
      }
    }
  }
  if (routing_.require_working_hours() && !CalendarFor(rep_id, state).IsWorking(at)) {
    return "outside working hours";
  }
  return "";
}

const baton::config::v1::SlaPolicy* Policy::SlaFor(baton::v1::Tier tier,
                                                   baton::v1::QualificationLevel level) const {
  tier = EffectiveTier(tier);
  for (const auto& s : sla_.policies()) {
    if (Matches(s.tier_in(), tier) && Matches(s.level_in(), level)) return &s;
  }
  return nullptr;
}

bool Policy::CountsAsFollowUp(baton::v1::ActivityKind kind, bool automated) const {
  if (automated && !sla_.count_automated()) return false;
  return std::find(follow_up_kinds_.begin(), follow_up_kinds_.end(), kind) !=
         follow_up_kinds_.end();
}

std::optional<absl::Duration> Policy::StallAfter(absl::string_view canonical_stage) const {
  for (const auto& [stages, after] : stalls_) {
    if (std::find(stages.begin(), stages.end(), canonical_stage) != stages.end()) return after;
  }
  return std::nullopt;
}

}  // namespace baton::core
