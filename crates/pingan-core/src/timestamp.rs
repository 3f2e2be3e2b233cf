//! Instants as Pingan stores them: whole milliseconds since the Unix epoch, UTC.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::china_standard_time;

/// An instant, to the millisecond. Stored and sent as the number of milliseconds since
/// 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    pub fn of(instant: DateTime<Utc>) -> Timestamp {
        Timestamp(instant.timestamp_millis())
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The instant this names. One beyond what a date can hold (a corrupt row) is taken as the
    /// earliest or latest date there is, never as 1970: a deadline so read is long past or far
    /// off, not a plausible date.
    pub fn instant(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// The instant `by` later (earlier, for a negative `by`), saturating at the ends of time.
    pub fn plus(self, by: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(by.num_milliseconds()))
    }

    /// Milliseconds from `earlier` to this (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The day it falls on in China Standard Time.
    pub fn china_date(self) -> NaiveDate {
        self.instant().with_timezone(&china_standard_time()).date_naive()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(instant: DateTime<Utc>) -> Timestamp {
        Timestamp::of(instant)
    }
}

/// RFC 3339 in UTC, to the millisecond.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.instant().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_time_reads_back_as_itself() {
        let at = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(Timestamp::of(at.instant()), at);
        assert_eq!(at.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(at.seconds(), 1_700_000_000);
        assert_eq!(Timestamp::from_millis(-1).seconds(), -1, "rounded down, not toward zero");
        assert_eq!(serde_json::to_string(&at).unwrap(), "1700000000123");
    }

    #[test]
    fn a_time_no_date_can_hold_is_never_1970() {
        assert_eq!(Timestamp::from_millis(i64::MAX).instant(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(Timestamp::from_millis(i64::MIN).instant(), DateTime::<Utc>::MIN_UTC);
        assert_eq!(Timestamp::from_millis(i64::MAX).plus(Duration::hours(1)), Timestamp::from_millis(i64::MAX));
    }

    #[test]
    fn the_china_date_turns_at_midnight_beijing_time() {
        // 2026-01-31T16:00Z is midnight in Beijing.
        let midnight = Timestamp::from_millis(1_769_875_200_000);
        assert_eq!(midnight.china_date(), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(
            midnight.plus(Duration::milliseconds(-1)).china_date(),
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
        );
    }
}
