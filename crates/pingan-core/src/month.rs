//! Calendar months in China Standard Time, by which indicators are counted: stored as YYYYMM,
//! written `YYYY-MM`.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};

use crate::Timestamp;
use crate::calendar::china_standard_time;
use crate::problem::Explain;

/// A month of the years 1 to 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i32);

/// A text that is no month `YYYY-MM`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is no month: write YYYY-MM")]
pub struct BadMonth(pub String);

impl Explain for BadMonth {
    fn code(&self) -> &'static str {
        "invalid_month"
    }

    fn message_zh(&self) -> String {
        format!("“{}”不是月份：应写作 YYYY-MM", self.0)
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

impl Month {
    /// January of the year 1 (YYYYMM 000101).
    pub const FIRST: Month = Month(101);
    /// December 9999.
    pub const LAST: Month = Month(999_912);

    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month)).then(|| Month(year * 100 + month as i32))
    }

    /// The month stored as YYYYMM, if it is one.
    pub fn from_yyyymm(yyyymm: i32) -> Option<Month> {
        Month::new(yyyymm / 100, u32::try_from(yyyymm % 100).ok()?)
    }

    pub fn yyyymm(self) -> i32 {
        self.0
    }

    pub fn year(self) -> i32 {
        self.0 / 100
    }

    /// 1 to 12.
    pub fn number(self) -> u32 {
        (self.0 % 100).unsigned_abs()
    }

    /// The month holding `at`; an instant before the year 1 or after 9999 falls in the first or
    /// the last month.
    pub fn of_instant(at: Timestamp) -> Month {
        let ms = at.millis();
        match DateTime::from_timestamp_millis(ms) {
            Some(at) => {
                let local = at.with_timezone(&china_standard_time());
                Month::new(local.year(), local.month()).unwrap_or(if ms < 0 { Month::FIRST } else { Month::LAST })
            }
            None if ms < 0 => Month::FIRST,
            None => Month::LAST,
        }
    }

    /// The month's first instant.
    pub fn start(self) -> Timestamp {
        let first = NaiveDate::from_ymd_opt(self.year(), self.number(), 1).and_then(|day| day.and_hms_opt(0, 0, 0));
        let local = first.and_then(|at| china_standard_time().from_local_datetime(&at).single());
        Timestamp::from_millis(local.map_or(i64::MIN, |at| at.timestamp_millis()))
    }

    /// The next month (the last stays the last).
    pub fn next(self) -> Month {
        match self.number() {
            12 => Month::new(self.year() + 1, 1).unwrap_or(Month::LAST),
            n => Month(self.year() * 100 + n as i32 + 1),
        }
    }

    /// The month before (the first stays the first).
    pub fn previous(self) -> Month {
        match self.number() {
            1 => Month::new(self.year() - 1, 12).unwrap_or(Month::FIRST),
            n => Month(self.year() * 100 + n as i32 - 1),
        }
    }

    /// Months from `self` to `to`, counting both (0 or less when `to` comes first).
    pub fn months_through(self, to: Month) -> i32 {
        (to.year() - self.year()) * 12 + (to.number() as i32 - self.number() as i32) + 1
    }

    /// `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Month, BadMonth> {
        let bad = || BadMonth(text.to_owned());
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
        if bytes.len() != 7 || bytes[4] != b'-' || !digits(0..4) || !digits(5..7) {
            return Err(bad());
        }
        let year = text[..4].parse().map_err(|_| bad())?;
        let month = text[5..].parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_counted_in_china_standard_time() {
        // 2026-02-01 00:30 in Beijing is still January in UTC.
        let at = china_standard_time().with_ymd_and_hms(2026, 2, 1, 0, 30, 0).single().expect("time");
        let february = Month::of_instant(Timestamp::of(at.to_utc()));
        assert_eq!(february.yyyymm(), 202602);
        assert_eq!(february.start(), Timestamp::of(at.to_utc()).plus(chrono::Duration::minutes(-30)));
        assert_eq!(Month::of_instant(february.start().plus(chrono::Duration::milliseconds(-1))).yyyymm(), 202601);
        assert_eq!(Month::from_yyyymm(202612).map(Month::next), Month::from_yyyymm(202701));
        assert_eq!(Month::from_yyyymm(202701).map(Month::previous), Month::from_yyyymm(202612));
        assert_eq!(Month::from_yyyymm(202613), None);
        assert_eq!(
            (Month::of_instant(Timestamp::from_millis(i64::MIN)), Month::of_instant(Timestamp::from_millis(i64::MAX))),
            (Month::FIRST, Month::LAST)
        );
        assert_eq!((Month::LAST.next(), Month::FIRST.previous()), (Month::LAST, Month::FIRST));
    }

    #[test]
    fn months_are_written_and_read_as_yyyy_mm() {
        let month = Month::parse("2026-03").expect("month");
        assert_eq!((month.yyyymm(), month.to_string()), (202603, "2026-03".to_owned()));
        assert_eq!(Month::parse("2025-12").expect("month").months_through(month), 4);
        for bad in ["2026-13", "2026-00", "2026-3", "202603", "2026/03", "0000-01", "２０２６-03", ""] {
            assert_eq!(Month::parse(bad).expect_err(bad).code(), "invalid_month");
        }
    }
}
