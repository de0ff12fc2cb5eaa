#include "baton/core/business_calendar.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace baton::core {
namespace {

constexpr int kMinutesPerDay = 24 * 60;
constexpr const char* kWeekdayNames[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};

// hours[] is indexed Monday = 0, which is also absl's Weekday order.
static_assert(static_cast<int>(absl::Weekday::monday) == 0);
static_assert(static_cast<int>(absl::Weekday::sunday) == 6);

int WeekdayIndex(absl::CivilDay day) { return static_cast<int>(absl::GetWeekday(day)); }

absl::CivilSecond AtMinute(absl::CivilDay day, int minute) {
  return absl::CivilSecond(day) + int64_t{minute} * 60;
}

// ValidateDay checks one weekday's intervals against the CalendarSpec contract.
absl::Status ValidateDay(int weekday, const std::vector<std::pair<int, int>>& intervals) {
  int previous_end = 0;
  for (size_t i = 0; i < intervals.size(); ++i) {
    const auto [start, end] = intervals[i];
    if (start < 0 || end > kMinutesPerDay) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s interval [%d, %d) is outside 0..%d minutes", kWeekdayNames[weekday],
                          start, end, kMinutesPerDay));
    }
    if (start >= end) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s interval [%d, %d) is empty", kWeekdayNames[weekday], start, end));
    }
    if (i > 0 && start < previous_end) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s interval [%d, %d) overlaps or precedes [%d, %d); intervals must be sorted and "
          "non-overlapping",
          kWeekdayNames[weekday], start, end, intervals[i - 1].first, previous_end));
    }
    previous_end = end;
  }
  return absl::OkStatus();
}

// Merge joins adjacent intervals ([9:00, 12:00) + [12:00, 17:00)) so that a fully working day is
// recognisable as the single interval [0, 1440). Input is already validated.
std::vector<std::pair<int, int>> Merge(const std::vector<std::pair<int, int>>& intervals) {
  std::vector<std::pair<int, int>> merged;
  for (const auto& interval : intervals) {
    if (!merged.empty() && merged.back().second == interval.first) {
      merged.back().second = interval.second;
    } else {
      merged.push_back(interval);
    }
  }
  return merged;
}

}  // namespace

absl::StatusOr<BusinessCalendar> BusinessCalendar::Create(CalendarSpec spec) {
  // "localtime" and paths load whatever the host has configured, which would make the calendar
  // differ between machines; only named zones from the tz database are accepted.
  const std::string& name = spec.time_zone;
  absl::TimeZone zone;
  if (name.empty() || name == "localtime" || absl::StartsWith(name, "/") ||
      absl::StartsWith(name, "file:") || !absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(absl::StrFormat("unknown time zone \"%s\"", name));
  }
  bool any_working = false;
  for (int d = 0; d < 7; ++d) {
    if (absl::Status status = ValidateDay(d, spec.hours[d]); !status.ok()) return status;
    any_working = any_working || !spec.hours[d].empty();
  }
  if (!any_working) {
    return absl::InvalidArgumentError(
        absl::StrFormat("calendar for time zone \"%s\" has no working hours on any weekday", name));
  }
  return BusinessCalendar(zone, std::move(spec));
}

BusinessCalendar BusinessCalendar::Always() {
  CalendarSpec spec;
  spec.time_zone = "UTC";
  spec.hours.fill({{0, kMinutesPerDay}});
  return BusinessCalendar(absl::UTCTimeZone(), std::move(spec));
}

BusinessCalendar::BusinessCalendar(absl::TimeZone zone, CalendarSpec spec)
    : zone_(zone),
      zone_name_(std::move(spec.time_zone)),
      holidays_(spec.holidays.begin(), spec.holidays.end()) {
  all_day_ = holidays_.empty();
  for (int d = 0; d < 7; ++d) {
    hours_[d] = Merge(spec.hours[d]);
    const std::vector<std::pair<int, int>> whole_day = {{0, kMinutesPerDay}};
    all_day_ = all_day_ && hours_[d] == whole_day;
  }
}

absl::Time BusinessCalendar::ToAbsolute(absl::CivilSecond local) const {
  const absl::TimeZone::TimeInfo info = zone_.At(local);
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::SKIPPED:
      return info.trans;  // Where the local clock resumes after the gap.
    case absl::TimeZone::TimeInfo::REPEATED:
    case absl::TimeZone::TimeInfo::UNIQUE:
      break;
  }
  return info.pre;  // For a repeated time, the first occurrence.
}

absl::CivilDay BusinessCalendar::FirstDay(absl::Time t) const {
  // The previous local day too: after a fall-back change across midnight, `t` can read as
  // yesterday's local date while today's intervals have already begun, and vice versa.
  return absl::CivilDay(zone_.At(t).cs) - 1;
}

const std::vector<std::pair<int, int>>& BusinessCalendar::Intervals(absl::CivilDay day) const {
  static const std::vector<std::pair<int, int>> kNone;
  if (holidays_.contains(day)) return kNone;
  return hours_[WeekdayIndex(day)];
}

absl::Time BusinessCalendar::Add(absl::Time start, absl::Duration business) const {
  if (start == absl::InfiniteFuture() || start == absl::InfinitePast()) return start;
  if (business < absl::ZeroDuration()) business = absl::ZeroDuration();
  if (all_day_) return start + business;

  absl::Duration remaining = business;
  absl::CivilDay day = FirstDay(start);
  for (int i = 0; i < kHorizonDays; ++i, ++day) {
    for (const auto& [start_minute, end_minute] : Intervals(day)) {
      const absl::Time end = ToAbsolute(AtMinute(day, end_minute));
      if (end <= start) continue;
      const absl::Time begin = std::max(ToAbsolute(AtMinute(day, start_minute)), start);
      if (begin >= end) continue;  // Lies inside a skipped hour.
      const absl::Duration available = end - begin;
      // `<=` so that an amount ending exactly at an interval's end returns that end.
      if (remaining <= available) return begin + remaining;
      remaining -= available;
    }
  }
  return absl::InfiniteFuture();
}

absl::Duration BusinessCalendar::Between(absl::Time from, absl::Time to) const {
  if (to <= from) return absl::ZeroDuration();
  if (all_day_) return to - from;
  if (from == absl::InfinitePast()) return absl::InfiniteDuration();

  absl::Duration total = absl::ZeroDuration();
  absl::CivilDay day = FirstDay(from);
  for (int i = 0; i < kHorizonDays; ++i, ++day) {
    if (ToAbsolute(absl::CivilSecond(day)) >= to) break;
    for (const auto& [start_minute, end_minute] : Intervals(day)) {
      const absl::Time begin = std::max(ToAbsolute(AtMinute(day, start_minute)), from);
      const absl::Time end = std::min(ToAbsolute(AtMinute(day, end_minute)), to);
      if (begin < end) total += end - begin;
    }
  }
  return total;
}

bool BusinessCalendar::IsWorking(absl::Time t) const {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return false;
  return NextWorkingStart(t) == t;
}

absl::Time BusinessCalendar::NextWorkingStart(absl::Time t) const {
  return Add(t, absl::ZeroDuration());
}

}  // namespace baton::core
