//! Working time on the official Chinese calendar.
//!
//! A day is a working day when it is Monday to Friday and not a listed rest day, or when it is a
//! listed make-up working day (调休). Rest and make-up days come from the State Council's yearly
//! notices, as data (`data/calendar/cn-official-calendar.csv`, extendable by another file); a year
//! with no notice falls back to plain weekends, and [`OfficialCalendar::covers`] says so. Working
//! time is counted in minutes inside the configured office hours, in China Standard Time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

use crate::Explain;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// A day off, even if it is a weekday.
    Rest,
    /// A working day, even if it is a weekend (调休).
    Work,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar line {line}: {reason}")]
pub struct CalendarError {
    pub line: usize,
    pub reason: String,
}

impl Explain for CalendarError {
    fn code(&self) -> &'static str {
        "invalid_calendar"
    }
    fn message_zh(&self) -> String {
        format!("节假日数据第 {} 行有误：{}", self.line, self.reason)
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

#[derive(Clone, Debug, Default)]
pub struct OfficialCalendar {
    days: BTreeMap<NaiveDate, DayKind>,
    /// The holiday each listed day belongs to, in Chinese and English, as the notice names it.
    holidays: BTreeMap<NaiveDate, (String, String)>,
    years: BTreeSet<i32>,
}

/// A day the State Council's notice lists: a day off or a make-up working day, and its holiday.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub holiday_zh: String,
    pub holiday_en: String,
}

impl OfficialCalendar {
    /// Reads `date,kind,...` rows (kind `rest` or `work`); `#` lines and the header are skipped.
    pub fn parse(text: &str) -> Result<OfficialCalendar, CalendarError> {
        let mut calendar = OfficialCalendar::default();
        calendar.extend(text)?;
        Ok(calendar)
    }

    /// Adds the rows of another file (a newly published year, say). A date given twice with
    /// different kinds is refused.
    pub fn extend(&mut self, text: &str) -> Result<(), CalendarError> {
        let mut parsed = BTreeMap::new();
        let mut holidays = BTreeMap::new();
        for row in crate::csv_rows(text, "date") {
            let (line_number, fields) = row.map_err(|(line, reason)| CalendarError { line, reason })?;
            let bad = |reason: String| CalendarError { line: line_number, reason };
            let date = fields.get(0).unwrap_or_default();
            let date =
                NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad(format!("{date:?} is not a date")))?;
            let kind = match fields.get(1) {
                Some("rest") => DayKind::Rest,
                Some("work") => DayKind::Work,
                other => return Err(bad(format!("kind {other:?} is neither rest nor work"))),
            };
            let is_weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            if kind == DayKind::Work && !is_weekend {
                return Err(bad(format!("{date} is a weekday; only weekend days can be made working days")));
            }
            let previous = self.days.get(&date).or_else(|| parsed.get(&date));
            if previous.is_some_and(|p| *p != kind) {
                return Err(bad(format!("{date} is listed both as a rest day and as a working day")));
            }
            parsed.insert(date, kind);
            let name = |index| fields.get(index).unwrap_or_default().to_owned();
            holidays.insert(date, (name(2), name(3)));
        }
        self.years.extend(parsed.keys().map(Datelike::year));
        self.days.extend(parsed);
        self.holidays.extend(holidays);
        Ok(())
    }

    /// The days the notice for `year` lists, in order (none for a year with no notice).
    pub fn listed(&self, year: i32) -> Vec<ListedDay> {
        let (Some(first), Some(last)) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31))
        else {
            return Vec::new();
        };
        self.days
            .range(first..=last)
            .map(|(&date, &kind)| {
                let (holiday_zh, holiday_en) = self.holidays.get(&date).cloned().unwrap_or_default();
                ListedDay { date, kind, holiday_zh, holiday_en }
            })
            .collect()
    }

    /// Whether the State Council's arrangement for `year` is known.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date) {
            Some(DayKind::Rest) => false,
            Some(DayKind::Work) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }
}

/// Office hours: the periods of a working day when working time runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficeHours {
    periods: Vec<(NaiveTime, NaiveTime)>,
}

impl OfficeHours {
    /// Periods must be non-empty, each start before its end, in order and not overlapping.
    pub fn new(periods: Vec<(NaiveTime, NaiveTime)>) -> Option<OfficeHours> {
        let ordered =
            periods.iter().all(|(start, end)| start < end) && periods.windows(2).all(|pair| pair[0].1 <= pair[1].0);
        (!periods.is_empty() && ordered).then_some(OfficeHours { periods })
    }

    /// The periods, in order.
    pub fn periods(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.periods
    }
}

impl Default for OfficeHours {
    /// 08:30–12:00 and 14:00–17:30: seven hours.
    fn default() -> OfficeHours {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or_else(|| unreachable!("{h}:{m} is a valid time"));
        OfficeHours { periods: vec![(at(8, 30), at(12, 0)), (at(14, 0), at(17, 30))] }
    }
}

/// China Standard Time, UTC+8 all year.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("UTC+8 is a valid offset"))
}

/// Counts working time: the calendar's working days, within office hours.
#[derive(Clone, Debug)]
pub struct WorkClock {
    calendar: OfficialCalendar,
    hours: OfficeHours,
}

/// The furthest a deadline is searched for: more than enough for any real deadline.
const MAX_DAYS: i64 = 366 * 5;

impl WorkClock {
    pub fn new(calendar: OfficialCalendar, hours: OfficeHours) -> WorkClock {
        WorkClock { calendar, hours }
    }

    pub fn calendar(&self) -> &OfficialCalendar {
        &self.calendar
    }

    pub fn hours(&self) -> &OfficeHours {
        &self.hours
    }

    fn local(instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&china_standard_time()).naive_local()
    }

    fn utc(local: NaiveDateTime) -> DateTime<Utc> {
        DateTime::<Utc>::from_naive_utc_and_offset(local - Duration::hours(8), Utc)
    }

    /// The working periods of `date` (none on a rest day) as local date-times.
    fn periods(&self, date: NaiveDate) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> + '_ {
        let working = self.calendar.is_working_day(date);
        self.hours
            .periods
            .iter()
            .filter(move |_| working)
            .map(move |(start, end)| (date.and_time(*start), date.and_time(*end)))
    }

    /// The instant when `minutes` of working time have passed since `start`.
    pub fn add(&self, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        let mut remaining = minutes.max(0);
        let start_local = Self::local(start);
        if remaining == 0 {
            return start;
        }
        let mut date = start_local.date();
        for _ in 0..MAX_DAYS {
            for (period_start, period_end) in self.periods(date) {
                if period_end <= start_local {
                    continue;
                }
                let begin = period_start.max(start_local);
                let available = (period_end - begin).num_minutes();
                if remaining <= available {
                    return Self::utc(begin + Duration::minutes(remaining));
                }
                remaining -= available;
            }
            date = date.succ_opt().unwrap_or(date);
        }
        Self::utc(start_local + Duration::days(MAX_DAYS))
    }

    /// Working minutes between `from` and `to` (zero if `to` is not after `from`).
    pub fn minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let (from, to) = (Self::local(from), Self::local(to));
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut date = from.date();
        while date <= to.date() {
            for (period_start, period_end) in self.periods(date) {
                let (begin, end) = (period_start.max(from), period_end.min(to));
                if begin < end {
                    total += (end - begin).num_minutes();
                }
            }
            date = match date.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
        total
    }
}

/// Where a case stands against one deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    OnTime,
    /// More than the warning share of the allowed working time is used.
    Warning,
    Overdue,
}

impl WorkClock {
    /// `allowed` working minutes from `start`; warn once `warn_at` (0..=1) of them are used.
    pub fn deadline_state(
        &self,
        start: DateTime<Utc>,
        allowed: i64,
        warn_at: f64,
        now: DateTime<Utc>,
    ) -> DeadlineState {
        if now >= self.add(start, allowed) {
            DeadlineState::Overdue
        } else if self.minutes_between(start, now) as f64 >= allowed as f64 * warn_at {
            DeadlineState::Warning
        } else {
            DeadlineState::OnTime
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const SHIPPED: &str = include_str!("../../../data/calendar/cn-official-calendar.csv");

    fn clock() -> WorkClock {
        WorkClock::new(OfficialCalendar::parse(SHIPPED).unwrap(), OfficeHours::default())
    }

    /// A local (UTC+8) time.
    fn at(date: &str, time: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M").unwrap();
        china_standard_time().from_local_datetime(&local).unwrap().with_timezone(&Utc)
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_years_listed_days_carry_their_holiday() {
        let calendar = OfficialCalendar::parse(SHIPPED).unwrap();
        let listed = calendar.listed(2025);
        let new_year = &listed[0];
        assert_eq!((new_year.date, new_year.kind), (day("2025-01-01"), DayKind::Rest));
        assert_eq!((new_year.holiday_zh.as_str(), new_year.holiday_en.as_str()), ("元旦", "New Year's Day"));
        let make_up = listed.iter().find(|d| d.date == day("2025-01-26")).unwrap();
        assert_eq!((make_up.kind, make_up.holiday_zh.as_str()), (DayKind::Work, "春节"));
        assert!(listed.iter().all(|d| d.date.year() == 2025));
        assert!(calendar.listed(1999).is_empty());
        assert_eq!(OfficeHours::default().periods().len(), 2);
    }

    #[test]
    fn real_rest_and_make_up_days() {
        let calendar = OfficialCalendar::parse(SHIPPED).unwrap();
        let cases = [
            ("2025-01-01", false), // 元旦, a Wednesday
            ("2025-01-26", true),  // Sunday made a working day before 春节
            ("2025-01-28", false), // 春节 eve
            ("2025-02-04", false), // last day of 春节
            ("2025-02-05", true),
            ("2025-02-08", true), // Saturday made a working day
            ("2025-05-05", false),
            ("2025-10-08", false), // 国庆 and 中秋 together
            ("2025-10-11", true),  // Saturday made a working day
            ("2026-01-02", false), // 元旦 2026, a Friday
            ("2026-01-04", true),  // Sunday made a working day
            ("2026-02-23", false), // last day of 春节 2026, a Monday
            ("2026-02-28", true),
            ("2026-06-19", false), // 端午
            ("2026-09-25", false), // 中秋, a Friday
            ("2026-10-10", true),
            ("2026-11-28", false), // an ordinary Saturday
            ("2026-11-30", true),  // an ordinary Monday
        ];
        for (date, working) in cases {
            assert_eq!(calendar.is_working_day(day(date)), working, "{date}");
        }
        assert!(calendar.covers(2024) && calendar.covers(2025) && calendar.covers(2026));
        assert!(!calendar.covers(2027), "no year is invented");
        assert!(calendar.is_working_day(day("2027-02-08")), "unknown years fall back to plain weekends");
    }

    #[test]
    fn working_time_skips_holidays_and_counts_make_up_days() {
        let clock = clock();
        let hours = 60;
        let cases = [
            // Before 春节 2025: 1.5 h on Monday, then nothing until Wednesday 5 February.
            (at("2025-01-27", "16:00"), 7 * hours, at("2025-02-05", "16:00")),
            // Friday 7 February 2025, then the make-up Saturday.
            (at("2025-02-07", "17:00"), hours, at("2025-02-08", "09:00")),
            // An ordinary weekend.
            (at("2025-03-07", "17:00"), hours, at("2025-03-10", "09:00")),
            // Lunch is not working time.
            (at("2025-03-10", "11:30"), hours, at("2025-03-10", "14:30")),
            // Starting at night counts from the next opening.
            (at("2025-03-10", "22:00"), 30, at("2025-03-11", "09:00")),
            // 国庆 2026: 30 September, then 8 October (Thursday); 10 October is a Saturday at work.
            (at("2026-09-30", "17:00"), 7 * hours, at("2026-10-08", "17:00")),
            (at("2026-10-09", "17:00"), hours, at("2026-10-10", "09:00")),
            (at("2025-03-10", "10:00"), 0, at("2025-03-10", "10:00")),
        ];
        for (start, minutes, expected) in cases {
            assert_eq!(clock.add(start, minutes), expected, "{start} + {minutes} min");
            if minutes > 0 {
                assert_eq!(clock.minutes_between(start, expected), minutes, "{start} → {expected}");
            }
        }
    }

    #[test]
    fn deadline_states() {
        let clock = clock();
        let start = at("2025-03-10", "08:30");
        let allowed = 7 * 60; // one working day
        assert_eq!(clock.deadline_state(start, allowed, 0.8, at("2025-03-10", "10:00")), DeadlineState::OnTime);
        assert_eq!(clock.deadline_state(start, allowed, 0.8, at("2025-03-10", "16:30")), DeadlineState::Warning);
        assert_eq!(clock.deadline_state(start, allowed, 0.8, at("2025-03-10", "17:30")), DeadlineState::Overdue);
        // Overnight no working time passes: still a warning, not overdue, at 07:00 the next day.
        assert_eq!(clock.deadline_state(start, allowed, 0.8, at("2025-03-10", "17:29")), DeadlineState::Warning);
    }

    #[test]
    fn bad_calendar_files_are_refused() {
        let cases = [
            ("2025-13-01,rest", "is not a date"),
            ("2025-01-01,holiday", "neither rest nor work"),
            ("2025-01-02,work", "is a weekday"),
            ("2025-01-01,rest\n2025-01-01,work", "is a weekday"),
        ];
        for (text, expected) in cases {
            let error = OfficialCalendar::parse(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
        let mut calendar = OfficialCalendar::parse("2025-01-26,work").unwrap();
        let error = calendar.extend("2025-01-26,rest").unwrap_err();
        assert!(error.to_string().contains("both"), "{error}");
        assert!(OfficeHours::new(vec![]).is_none());
    }
}
