// BusinessCalendar: working hours in a local time zone, minus holidays, for business-time SLAs.
//
// Baton counts follow-up SLAs ("Tier 1 sales-ready: 1 business hour") in the assignee's working
// hours and time zone. A BusinessCalendar answers "when has this much working time elapsed?" (Add)
// and "how much working time lies between these instants?" (Between).
//
// Example:
//   CalendarSpec spec;
//   spec.time_zone = "America/New_York";
//   for (int d = 0; d < 5; ++d) spec.hours[d] = {{9 * 60, 17 * 60}};  // Mon-Fri 09:00-17:00
//   spec.holidays = {absl::CivilDay(2026, 11, 26)};
//   absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(std::move(spec));
//   absl::Time due = cal->Add(received_at, absl::Hours(1));
//
// Thread-safety: a BusinessCalendar is an immutable value after Create; all methods are const and
// safe to call concurrently. It is cheap enough to copy (a zone handle, a week of intervals and a
// holiday set).
//
// Rationale:
// - Working hours are local wall-clock times, so each local day's interval boundaries are turned
//   into absolute instants with the real IANA rules (absl::TimeZone). On a DST day a 09:00-17:00
//   interval stays 8 hours when the change happens at 02:00, while a 00:00-24:00 day lasts 23 or
//   25 hours.
// - A local time that does not exist (skipped by a spring-forward change) maps to the instant of
//   the change, i.e. where the local clock resumes; a local time that occurs twice (fall-back)
//   maps to its first occurrence. This mapping never runs backwards as local time increases, so
//   intervals stay ordered and non-overlapping in absolute time; an interval lying wholly inside a
//   skipped hour simply has no working time that day.
// - The work is done a local day at a time, never a minute at a time, so Add(40h) or Between over
//   months costs a few conversions per day. The walk is bounded to kHorizonDays local days: Add
//   returns absl::InfiniteFuture() when the amount cannot be reached within the horizon, and
//   Between counts no further than the horizon.
// - The core does no I/O except that Create loads the zone from the system tz database.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace baton::core {

// CalendarSpec: a working week in local time plus holidays. Validated by BusinessCalendar::Create.
struct CalendarSpec {
  // IANA name, e.g. "America/New_York", loaded from the system tz database.
  std::string time_zone = "UTC";
  // Working intervals per weekday, index 0 = Monday ... 6 = Sunday, as [start, end) minutes since
  // local midnight (0..1440), sorted and non-overlapping (adjacent is fine). An empty vector means
  // not a working day. {{540, 720}, {780, 1020}} is 09:00-12:00 and 13:00-17:00.
  std::array<std::vector<std::pair<int, int>>, 7> hours;
  // Whole local days off, whatever the weekday's hours say.
  std::vector<absl::CivilDay> holidays;
};

class BusinessCalendar {
 public:
  // kHorizonDays bounds every day-by-day walk (about three years of local days).
  static constexpr int kHorizonDays = 3 * 366;

  // Create validates `spec` and loads its time zone. InvalidArgument for an unknown or
  // host-dependent zone name (`unknown time zone "Mars/Base"`), for an interval that is out of
  // 0..1440, empty, unsorted or overlapping (naming the weekday and interval), and for a week with
  // no working time at all.
  static absl::StatusOr<BusinessCalendar> Create(CalendarSpec spec);

  // Always is the 24x7 calendar in UTC: every instant is working time. It is the default when
  // nothing is configured; Add(t, d) == t + d and Between(a, b) == b - a exactly.
  static BusinessCalendar Always();

  // Add returns the instant at which `business` of working time has elapsed counting from
  // `start`. Add(t, 0) is t if t is working time, else the next working instant. When the amount
  // runs out exactly at the end of an interval the result is that end, not the next start.
  // A negative amount counts as zero. Returns absl::InfiniteFuture() if the amount is not reached
  // within kHorizonDays; an infinite `start` is returned unchanged.
  absl::Time Add(absl::Time start, absl::Duration business) const;

  // Between returns the working time in [from, to), or zero if to <= from. Only the first
  // kHorizonDays local days from `from` are counted; a `from` of absl::InfinitePast() yields
  // absl::InfiniteDuration(). For any d that Add reaches, Between(s, Add(s, d)) == d.
  absl::Duration Between(absl::Time from, absl::Time to) const;

  // IsWorking is true when `t` lies inside a working interval (start inclusive, end exclusive);
  // never for an infinite `t`.
  bool IsWorking(absl::Time t) const;

  // NextWorkingStart returns `t` if it is working time, else the start of the next working
  // interval (absl::InfiniteFuture() if none lies within kHorizonDays). Same as Add(t, 0).
  absl::Time NextWorkingStart(absl::Time t) const;

  const absl::TimeZone& zone() const { return zone_; }
  const std::string& zone_name() const { return zone_name_; }

 private:
  BusinessCalendar(absl::TimeZone zone, CalendarSpec spec);

  // ToAbsolute maps a local civil time to an instant (see Rationale for skipped/repeated times).
  absl::Time ToAbsolute(absl::CivilSecond local) const;
  // FirstDay is the local day to start a walk that must see every interval ending after `t`.
  absl::CivilDay FirstDay(absl::Time t) const;
  // Intervals returns the working intervals of one local day (none on a holiday).
  const std::vector<std::pair<int, int>>& Intervals(absl::CivilDay day) const;

  absl::TimeZone zone_;
  std::string zone_name_;
  std::array<std::vector<std::pair<int, int>>, 7> hours_;
  absl::flat_hash_set<absl::CivilDay> holidays_;
  // all_day_ is true when every minute of every local day is working, so instants map 1:1 to
  // working time and no walk is needed (Always, or 00:00-24:00 daily in any zone).
  bool all_day_ = false;
};

}  // namespace baton::core
