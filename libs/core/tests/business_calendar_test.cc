#include "baton/core/business_calendar.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::core {
namespace {

using ::testing::HasSubstr;

constexpr int kMonday = 0;
constexpr int kTuesday = 1;
constexpr int kFriday = 4;
constexpr int kSaturday = 5;
constexpr int kSunday = 6;

absl::Time Utc(int y, int mo, int d, int h, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
}

// Local is for unambiguous local times; DST edges are written in UTC so the instant is explicit.
absl::Time Local(const BusinessCalendar& cal, int y, int mo, int d, int h, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), cal.zone());
}

BusinessCalendar MustCreate(CalendarSpec spec) {
  absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(std::move(spec));
  if (!cal.ok()) {
    ADD_FAILURE() << cal.status();
    return BusinessCalendar::Always();
  }
  return *std::move(cal);
}

// Weekdays returns a spec with the same intervals Monday to Friday.
CalendarSpec Weekdays(std::string zone, std::vector<std::pair<int, int>> intervals) {
  CalendarSpec spec;
  spec.time_zone = std::move(zone);
  for (int d = kMonday; d <= kFriday; ++d) spec.hours[d] = intervals;
  return spec;
}

CalendarSpec SundaysOnly(std::string zone, int start_minute, int end_minute) {
  CalendarSpec spec;
  spec.time_zone = std::move(zone);
  spec.hours[kSunday] = {{start_minute, end_minute}};
  return spec;
}

// New York office: Mon-Fri 09:00-17:00.
BusinessCalendar NewYorkOffice(std::vector<absl::CivilDay> holidays = {}) {
  CalendarSpec spec = Weekdays("America/New_York", {{9 * 60, 17 * 60}});
  spec.holidays = std::move(holidays);
  return MustCreate(std::move(spec));
}

TEST(BusinessCalendarTest, FridayAfternoonRollsOverTheWeekend) {
  const BusinessCalendar cal = NewYorkOffice();
  // Friday 2026-01-16 16:30 EST: 30 minutes on Friday, 30 on Monday.
  const absl::Time due = cal.Add(Local(cal, 2026, 1, 16, 16, 30), absl::Hours(1));
  EXPECT_EQ(due, Local(cal, 2026, 1, 19, 9, 30));
  EXPECT_EQ(due, Utc(2026, 1, 19, 14, 30));
}

TEST(BusinessCalendarTest, StartBeforeHoursCountsFromOpening) {
  const BusinessCalendar cal = NewYorkOffice();
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 20, 7, 0), absl::Hours(1)), Local(cal, 2026, 1, 20, 10, 0));
}

TEST(BusinessCalendarTest, AmountEndingAtIntervalEndReturnsThatEnd) {
  const BusinessCalendar cal = NewYorkOffice();
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 20, 16, 0), absl::Hours(1)),
            Local(cal, 2026, 1, 20, 17, 0));
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 20, 9, 0), absl::Hours(8)), Local(cal, 2026, 1, 20, 17, 0));
}

TEST(BusinessCalendarTest, StartingExactlyAtIntervalEndCountsFromNextStart) {
  const BusinessCalendar cal = NewYorkOffice();
  const absl::Time tuesday_close = Local(cal, 2026, 1, 20, 17, 0);
  EXPECT_FALSE(cal.IsWorking(tuesday_close));
  EXPECT_EQ(cal.Add(tuesday_close, absl::Hours(1)), Local(cal, 2026, 1, 21, 10, 0));
  EXPECT_EQ(cal.Add(tuesday_close, absl::ZeroDuration()), Local(cal, 2026, 1, 21, 9, 0));
}

TEST(BusinessCalendarTest, ZeroAmountInsideHoursIsStartOutsideIsNextStart) {
  const BusinessCalendar cal = NewYorkOffice();
  const absl::Time tuesday_noon = Local(cal, 2026, 1, 20, 12, 0) + absl::Milliseconds(5);
  EXPECT_EQ(cal.Add(tuesday_noon, absl::ZeroDuration()), tuesday_noon);
  EXPECT_TRUE(cal.IsWorking(tuesday_noon));
  EXPECT_EQ(cal.NextWorkingStart(tuesday_noon), tuesday_noon);

  const absl::Time saturday_noon = Local(cal, 2026, 1, 17, 12, 0);
  EXPECT_FALSE(cal.IsWorking(saturday_noon));
  EXPECT_EQ(cal.Add(saturday_noon, absl::ZeroDuration()), Local(cal, 2026, 1, 19, 9, 0));
  EXPECT_EQ(cal.NextWorkingStart(saturday_noon), Local(cal, 2026, 1, 19, 9, 0));
  EXPECT_TRUE(cal.IsWorking(Local(cal, 2026, 1, 19, 9, 0)));
}

TEST(BusinessCalendarTest, NegativeAmountCountsAsZero) {
  const BusinessCalendar cal = NewYorkOffice();
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 17, 12, 0), absl::Hours(-3)),
            Local(cal, 2026, 1, 19, 9, 0));
}

TEST(BusinessCalendarTest, BetweenCountsOnlyWorkingTime) {
  const BusinessCalendar cal = NewYorkOffice();
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 16, 16, 0), Local(cal, 2026, 1, 19, 10, 0)),
            absl::Hours(2));
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 17, 0, 0), Local(cal, 2026, 1, 18, 23, 0)),
            absl::ZeroDuration());
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 19, 10, 0), Local(cal, 2026, 1, 16, 16, 0)),
            absl::ZeroDuration());
}

TEST(BusinessCalendarTest, LongSpansAreCountedByDay) {
  const BusinessCalendar cal = NewYorkOffice();
  // Mon 09:00 + a 40-hour week ends Friday at closing.
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 5, 9, 0), absl::Hours(40)), Local(cal, 2026, 1, 9, 17, 0));
  // 2026-01-01 .. 2026-07-01 holds 129 weekdays (the March DST change does not touch 09-17).
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 1, 0, 0), Local(cal, 2026, 7, 1, 0, 0)),
            absl::Hours(129 * 8));
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 1, 0, 0), absl::Hours(129 * 8)),
            Local(cal, 2026, 6, 30, 17, 0));
}

TEST(BusinessCalendarTest, BeyondTheHorizonIsInfiniteFuture) {
  const BusinessCalendar cal = NewYorkOffice();
  EXPECT_EQ(cal.Add(Utc(2026, 1, 5, 12), absl::InfiniteDuration()), absl::InfiniteFuture());
  // Four years of 8-hour weekdays is more than the ~3-year horizon holds.
  EXPECT_EQ(cal.Add(Utc(2026, 1, 5, 12), absl::Hours(4 * 261 * 8)), absl::InfiniteFuture());
  // Between stops counting at the horizon rather than walking forever.
  const absl::Duration capped = cal.Between(Utc(2026, 1, 5, 12), absl::InfiniteFuture());
  EXPECT_GT(capped, absl::Hours(2 * 250 * 8));
  EXPECT_LT(capped, absl::Hours(4 * 261 * 8));
}

TEST(BusinessCalendarTest, ThanksgivingIsSkipped) {
  const BusinessCalendar cal = NewYorkOffice({absl::CivilDay(2026, 11, 26)});
  // Wednesday 16:30 + 1h: Thursday is a holiday, so Friday 09:30.
  EXPECT_EQ(cal.Add(Local(cal, 2026, 11, 25, 16, 30), absl::Hours(1)),
            Local(cal, 2026, 11, 27, 9, 30));
  EXPECT_FALSE(cal.IsWorking(Local(cal, 2026, 11, 26, 12, 0)));
  EXPECT_EQ(cal.Between(Local(cal, 2026, 11, 25, 0, 0), Local(cal, 2026, 11, 28, 0, 0)),
            absl::Hours(16));
}

TEST(BusinessCalendarTest, MondayHolidayAfterWeekendIsSkipped) {
  // Martin Luther King Jr. Day, Monday 2026-01-19.
  const BusinessCalendar cal = NewYorkOffice({absl::CivilDay(2026, 1, 19)});
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 16, 16, 30), absl::Hours(1)),
            Local(cal, 2026, 1, 20, 9, 30));
  EXPECT_EQ(cal.NextWorkingStart(Local(cal, 2026, 1, 17, 8, 0)), Local(cal, 2026, 1, 20, 9, 0));
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 16, 16, 0), Local(cal, 2026, 1, 20, 10, 0)),
            absl::Hours(2));
}

TEST(BusinessCalendarTest, NewYorkSpringForwardWholeDayIs23Hours) {
  // Only Sunday 2026-03-08 is worked around the change: 00:00 EST (05:00Z) .. 24:00 EDT (04:00Z).
  const BusinessCalendar cal = MustCreate(SundaysOnly("America/New_York", 0, 24 * 60));
  EXPECT_EQ(cal.Between(Utc(2026, 3, 7, 0), Utc(2026, 3, 10, 0)), absl::Hours(23));
  EXPECT_EQ(cal.Add(Utc(2026, 3, 7, 12), absl::Hours(23)), Utc(2026, 3, 9, 4));
  EXPECT_EQ(cal.Add(Utc(2026, 3, 7, 12), absl::Hours(24)), Utc(2026, 3, 15, 5));
}

TEST(BusinessCalendarTest, NewYorkFallBackWholeDayIs25Hours) {
  // Sunday 2026-11-01: 00:00 EDT (04:00Z) .. 24:00 EST (05:00Z next day).
  const BusinessCalendar cal = MustCreate(SundaysOnly("America/New_York", 0, 24 * 60));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 31, 0), Utc(2026, 11, 3, 0)), absl::Hours(25));
  EXPECT_EQ(cal.Add(Utc(2026, 10, 31, 12), absl::Hours(25)), Utc(2026, 11, 2, 5));
}

TEST(BusinessCalendarTest, NewYorkAllWeekMatchesWallClockAcrossDst) {
  // 24x7 in New York is every instant; with a far-off holiday the day walk must agree.
  CalendarSpec spec;
  spec.time_zone = "America/New_York";
  spec.hours.fill({{0, 24 * 60}});
  const BusinessCalendar fast = MustCreate(spec);
  spec.holidays = {absl::CivilDay(2030, 1, 1)};
  const BusinessCalendar walked = MustCreate(spec);
  for (const BusinessCalendar* cal : {&fast, &walked}) {
    EXPECT_EQ(cal->Between(Utc(2026, 3, 8, 5), Utc(2026, 3, 9, 4)), absl::Hours(23));
    EXPECT_EQ(cal->Add(Utc(2026, 3, 8, 5), absl::Hours(24)), Utc(2026, 3, 9, 5));
    EXPECT_EQ(cal->Between(Utc(2026, 11, 1, 4), Utc(2026, 11, 2, 5)), absl::Hours(25));
    EXPECT_EQ(cal->Add(Utc(2026, 10, 31, 22), absl::Hours(30)), Utc(2026, 11, 2, 4));
  }
}

TEST(BusinessCalendarTest, NewYorkSundayOfficeHoursStayEightHoursOnDstDays) {
  const BusinessCalendar cal = MustCreate(SundaysOnly("America/New_York", 9 * 60, 17 * 60));
  // Spring forward: 09:00-17:00 EDT is 13:00Z-21:00Z.
  EXPECT_EQ(cal.NextWorkingStart(Utc(2026, 3, 8, 0)), Utc(2026, 3, 8, 13));
  EXPECT_EQ(cal.Add(Utc(2026, 3, 8, 0), absl::Hours(8)), Utc(2026, 3, 8, 21));
  EXPECT_EQ(cal.Between(Utc(2026, 3, 7, 0), Utc(2026, 3, 10, 0)), absl::Hours(8));
  // Fall back: 09:00-17:00 EST is 14:00Z-22:00Z.
  EXPECT_EQ(cal.NextWorkingStart(Utc(2026, 11, 1, 0)), Utc(2026, 11, 1, 14));
  EXPECT_EQ(cal.Add(Utc(2026, 11, 1, 0), absl::Hours(8)), Utc(2026, 11, 1, 22));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 31, 0), Utc(2026, 11, 3, 0)), absl::Hours(8));
}

TEST(BusinessCalendarTest, BoundariesInsideSkippedOrRepeatedHours) {
  // Skipped 02:00-03:00 on 2026-03-08 maps to the change instant 07:00Z, so 02:00-03:00 has no
  // working time and 02:30-04:00 is the single hour 03:00-04:00 EDT.
  EXPECT_EQ(MustCreate(SundaysOnly("America/New_York", 2 * 60, 3 * 60))
                .Between(Utc(2026, 3, 7, 0), Utc(2026, 3, 10, 0)),
            absl::ZeroDuration());
  const BusinessCalendar gap = MustCreate(SundaysOnly("America/New_York", 150, 4 * 60));
  EXPECT_EQ(gap.NextWorkingStart(Utc(2026, 3, 8, 0)), Utc(2026, 3, 8, 7));
  EXPECT_EQ(gap.Between(Utc(2026, 3, 7, 0), Utc(2026, 3, 10, 0)), absl::Hours(1));
  // Repeated 01:00-02:00 on 2026-11-01: 01:00 is its first occurrence (EDT, 05:00Z) and 02:00
  // EST is 07:00Z, so the interval holds both copies of the hour.
  const BusinessCalendar repeat = MustCreate(SundaysOnly("America/New_York", 60, 2 * 60));
  EXPECT_EQ(repeat.NextWorkingStart(Utc(2026, 11, 1, 0)), Utc(2026, 11, 1, 5));
  EXPECT_EQ(repeat.Between(Utc(2026, 10, 31, 0), Utc(2026, 11, 3, 0)), absl::Hours(2));
}

TEST(BusinessCalendarTest, SaoPauloChangesAtMidnight) {
  // Brazil (2018) changed clocks at midnight, so the local day itself starts late or runs long.
  // 2018-11-04 00:00 was skipped: Sunday runs 01:00 -02 (03:00Z) .. 24:00 -02, 23 hours.
  const BusinessCalendar sunday = MustCreate(SundaysOnly("America/Sao_Paulo", 0, 24 * 60));
  EXPECT_EQ(sunday.NextWorkingStart(Utc(2018, 11, 3, 12)), Utc(2018, 11, 4, 3));
  EXPECT_EQ(sunday.Between(Utc(2018, 11, 2, 0), Utc(2018, 11, 6, 0)), absl::Hours(23));
  // 2018-02-17 23:00-24:00 ran twice: Saturday runs 00:00 -02 (02:00Z) .. 24:00 -03 (03:00Z on
  // the 18th), 25 hours, including the second 23:30.
  CalendarSpec spec;
  spec.time_zone = "America/Sao_Paulo";
  spec.hours[kSaturday] = {{0, 24 * 60}};
  const BusinessCalendar saturday = MustCreate(spec);
  EXPECT_EQ(saturday.Between(Utc(2018, 2, 16, 0), Utc(2018, 2, 20, 0)), absl::Hours(25));
  EXPECT_TRUE(saturday.IsWorking(Utc(2018, 2, 18, 2, 30)));
  EXPECT_EQ(saturday.Add(Utc(2018, 2, 17, 0), absl::Hours(25)), Utc(2018, 2, 18, 3));
}

TEST(BusinessCalendarTest, BerlinDstDays) {
  const BusinessCalendar whole = MustCreate(SundaysOnly("Europe/Berlin", 0, 24 * 60));
  // 2026-03-29: 00:00 CET (23:00Z on the 28th) .. 24:00 CEST (22:00Z on the 29th).
  EXPECT_EQ(whole.NextWorkingStart(Utc(2026, 3, 28, 12)), Utc(2026, 3, 28, 23));
  EXPECT_EQ(whole.Between(Utc(2026, 3, 27, 0), Utc(2026, 3, 31, 0)), absl::Hours(23));
  EXPECT_EQ(whole.Add(Utc(2026, 3, 28, 12), absl::Hours(23)), Utc(2026, 3, 29, 22));
  // 2026-10-25: 00:00 CEST (22:00Z on the 24th) .. 24:00 CET (23:00Z on the 25th).
  EXPECT_EQ(whole.Between(Utc(2026, 10, 23, 0), Utc(2026, 10, 27, 0)), absl::Hours(25));
  EXPECT_EQ(whole.Add(Utc(2026, 10, 24, 12), absl::Hours(25)), Utc(2026, 10, 25, 23));

  const BusinessCalendar office = MustCreate(SundaysOnly("Europe/Berlin", 9 * 60, 17 * 60));
  EXPECT_EQ(office.NextWorkingStart(Utc(2026, 3, 29, 0)), Utc(2026, 3, 29, 7));
  EXPECT_EQ(office.Add(Utc(2026, 3, 29, 0), absl::Hours(8)), Utc(2026, 3, 29, 15));
  EXPECT_EQ(office.NextWorkingStart(Utc(2026, 10, 25, 0)), Utc(2026, 10, 25, 8));
  EXPECT_EQ(office.Add(Utc(2026, 10, 25, 0), absl::Hours(8)), Utc(2026, 10, 25, 16));
}

TEST(BusinessCalendarTest, KolkataHalfHourOffsetWithLunchBreak) {
  const BusinessCalendar cal =
      MustCreate(Weekdays("Asia/Kolkata", {{9 * 60, 12 * 60}, {13 * 60, 17 * 60}}));
  // Monday 2026-01-05, IST = UTC+05:30: 11:30 IST is 06:00Z; + 1h skips lunch to 13:30 IST.
  EXPECT_EQ(cal.Add(Utc(2026, 1, 5, 6, 0), absl::Hours(1)), Utc(2026, 1, 5, 8, 0));
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 5, 9, 0), absl::Hours(3)), Local(cal, 2026, 1, 5, 12, 0));
  EXPECT_EQ(cal.Add(Local(cal, 2026, 1, 5, 9, 0), absl::Hours(7)), Local(cal, 2026, 1, 5, 17, 0));
  EXPECT_FALSE(cal.IsWorking(Local(cal, 2026, 1, 5, 12, 30)));
  EXPECT_EQ(cal.NextWorkingStart(Local(cal, 2026, 1, 5, 12, 30)), Utc(2026, 1, 5, 7, 30));
  EXPECT_EQ(cal.Between(Local(cal, 2026, 1, 5, 0, 0), Local(cal, 2026, 1, 6, 0, 0)),
            absl::Hours(7));
}

TEST(BusinessCalendarTest, BetweenIsTheInverseOfAdd) {
  std::vector<BusinessCalendar> calendars = {
      NewYorkOffice({absl::CivilDay(2026, 3, 9), absl::CivilDay(2026, 11, 2)}),
      MustCreate(Weekdays("Asia/Kolkata", {{9 * 60, 12 * 60}, {13 * 60, 17 * 60}})),
      MustCreate(SundaysOnly("Europe/Berlin", 0, 24 * 60)),
      MustCreate(SundaysOnly("America/New_York", 150, 4 * 60)),
      BusinessCalendar::Always(),
  };
  const std::vector<absl::Duration> amounts = {
      absl::ZeroDuration(), absl::Seconds(1),   absl::Minutes(30), absl::Hours(1),  absl::Hours(3),
      absl::Hours(8),       absl::Minutes(479), absl::Hours(40),   absl::Hours(100)};
  const std::vector<absl::Time> weeks = {Utc(2026, 3, 5, 0), Utc(2026, 3, 26, 0),
                                         Utc(2026, 10, 22, 0), Utc(2026, 10, 29, 0)};
  for (const BusinessCalendar& cal : calendars) {
    for (absl::Time week : weeks) {
      // Every 97 minutes for a week hits opening, closing and off-hours starts at odd offsets.
      for (absl::Time start = week; start < week + absl::Hours(24 * 7);
           start += absl::Minutes(97)) {
        for (absl::Duration amount : amounts) {
          const absl::Time end = cal.Add(start, amount);
          ASSERT_GE(end, start);
          EXPECT_EQ(cal.Between(start, end), amount)
              << cal.zone_name() << " start " << start << " amount " << amount;
        }
      }
    }
  }
}

TEST(BusinessCalendarTest, CreateRejectsUnknownTimeZone) {
  CalendarSpec spec = Weekdays("Mars/Base", {{9 * 60, 17 * 60}});
  absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(spec);
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.status().message(), HasSubstr("unknown time zone \"Mars/Base\""));

  // The host's zone would make the calendar differ between machines.
  spec.time_zone = "localtime";
  EXPECT_THAT(BusinessCalendar::Create(spec).status().message(),
              HasSubstr("unknown time zone \"localtime\""));
}

TEST(BusinessCalendarTest, CreateRejectsOverlappingIntervals) {
  CalendarSpec spec = Weekdays("UTC", {{9 * 60, 17 * 60}});
  spec.hours[kTuesday] = {{9 * 60, 12 * 60}, {11 * 60, 17 * 60}};
  absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(spec);
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.status().message(), HasSubstr("Tuesday interval [660, 1020) overlaps"));
}

TEST(BusinessCalendarTest, CreateRejectsUnsortedEmptyAndOutOfRangeIntervals) {
  CalendarSpec spec = Weekdays("UTC", {{13 * 60, 17 * 60}, {9 * 60, 12 * 60}});
  EXPECT_THAT(BusinessCalendar::Create(spec).status().message(),
              HasSubstr("Monday interval [540, 720) overlaps or precedes [780, 1020)"));

  spec = Weekdays("UTC", {{17 * 60, 9 * 60}});
  EXPECT_THAT(BusinessCalendar::Create(spec).status().message(),
              HasSubstr("Monday interval [1020, 540) is empty"));

  spec = Weekdays("UTC", {{9 * 60, 17 * 60}});
  spec.hours[kSunday] = {{0, 1441}};
  EXPECT_EQ(BusinessCalendar::Create(spec).status(),
            absl::InvalidArgumentError("Sunday interval [0, 1441) is outside 0..1440 minutes"));
}

TEST(BusinessCalendarTest, CreateRejectsWeekWithoutWorkingTime) {
  CalendarSpec spec;
  spec.time_zone = "Europe/Berlin";
  absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(spec);
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.status().message(), HasSubstr("no working hours"));
}

TEST(BusinessCalendarTest, AlwaysIsWallClockTime) {
  const BusinessCalendar cal = BusinessCalendar::Always();
  EXPECT_EQ(cal.zone_name(), "UTC");
  const absl::Time t = Utc(2026, 3, 8, 6, 59) + absl::Nanoseconds(7);
  for (absl::Duration d :
       {absl::ZeroDuration(), absl::Nanoseconds(1), absl::Hours(1), absl::Hours(24 * 365 * 10)}) {
    EXPECT_EQ(cal.Add(t, d), t + d);
    EXPECT_EQ(cal.Between(t, t + d), d);
  }
  EXPECT_TRUE(cal.IsWorking(t));
  EXPECT_EQ(cal.NextWorkingStart(t), t);
}

TEST(BusinessCalendarTest, CopiesAnswerTheSame) {
  const BusinessCalendar original = NewYorkOffice({absl::CivilDay(2026, 11, 26)});
  BusinessCalendar copy = BusinessCalendar::Always();
  copy = original;
  EXPECT_EQ(copy.zone_name(), "America/New_York");
  const absl::Time start = Local(original, 2026, 11, 25, 16, 30);
  EXPECT_EQ(copy.Add(start, absl::Hours(1)), original.Add(start, absl::Hours(1)));
}

}  // namespace
}  // namespace baton::core
