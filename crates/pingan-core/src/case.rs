//! Case identity and the tamper-evident history.
//!
//! A case number carries its city and local date and a sequence that restarts every day for every
//! city (`3603-20261128-000042`), so a deployment sharded by city issues numbers without a global
//! counter. Each history entry's hash covers its own fields and its predecessor's hash: changing,
//! removing or reordering an entry breaks every hash after it.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lifecycle::Satisfaction;
use crate::{DivisionCode, Explain, Level, Timestamp};

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case number {0:?} is not of the form CITY-YYYYMMDD-NNNNNN (e.g. 3603-20261128-000042)")]
pub struct BadCaseNumber(pub String);

impl Explain for BadCaseNumber {
    fn code(&self) -> &'static str {
        "invalid_case_number"
    }
    fn message_zh(&self) -> String {
        format!("事件编号“{}”格式有误，应为“市代码-日期-序号”，如 3603-20261128-000042", self.0)
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

impl CaseNumber {
    /// `sequence` counts from 1 within the city and day.
    pub fn new(city: &DivisionCode, date: NaiveDate, sequence: u32) -> Result<CaseNumber, BadCaseNumber> {
        let text = format!("{}-{}-{sequence:06}", city.as_str(), number_day(date));
        let valid = city.level() == Level::City && (0..=9999).contains(&date.year()) && sequence > 0;
        if valid { Ok(CaseNumber(text)) } else { Err(BadCaseNumber(text)) }
    }

    pub fn parse(text: &str) -> Result<CaseNumber, BadCaseNumber> {
        let bad = || BadCaseNumber(text.to_owned());
        let mut parts = text.split('-');
        let (Some(city), Some(date), Some(sequence), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let city_ok = DivisionCode::parse(city).is_ok_and(|c| c.level() == Level::City);
        // Read as digits (a format string's parser cost more than the rest of reading a list's rows).
        let digits = |range: std::ops::Range<usize>| date.get(range).and_then(|d| d.parse::<u32>().ok());
        let date_ok = date.len() == 8
            && date.bytes().all(|b| b.is_ascii_digit())
            && matches!((digits(0..4), digits(4..6), digits(6..8)),
                (Some(y), Some(m), Some(d)) if NaiveDate::from_ymd_opt(y as i32, m, d).is_some());
        let sequence_ok = sequence.len() >= 6
            && sequence.bytes().all(|b| b.is_ascii_digit())
            && sequence.parse::<u32>().is_ok_and(|n| n > 0);
        if city_ok && date_ok && sequence_ok { Ok(CaseNumber(text.to_owned())) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn city(&self) -> &str {
        &self.0[..4]
    }
}

/// A day as case numbers carry it, and as the stores key a city's daily counter: `YYYYMMDD`.
/// Written with integers, not a date format: every new case is numbered by the one writer.
pub fn number_day(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_form!(CaseNumber, BadCaseNumber, 0);

impl fmt::Debug for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseNumber({})", self.0)
    }
}

/// How a report reached Pingan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A resident, on the web or the mobile app.
    Resident,
    Volunteer,
    /// A grid worker on patrol.
    GridPatrol,
    Hotline,
    /// A village reception point (接待点).
    Reception,
    Survey,
    BatchImport,
    Open311,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Resident,
        Channel::Volunteer,
        Channel::GridPatrol,
        Channel::Hotline,
        Channel::Reception,
        Channel::Survey,
        Channel::BatchImport,
        Channel::Open311,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Resident => "resident",
            Channel::Volunteer => "volunteer",
            Channel::GridPatrol => "grid_patrol",
            Channel::Hotline => "hotline",
            Channel::Reception => "reception",
            Channel::Survey => "survey",
            Channel::BatchImport => "batch_import",
            Channel::Open311 => "open311",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Channel::Resident => "群众上报",
            Channel::Volunteer => "志愿者上报",
            Channel::GridPatrol => "网格员巡查",
            Channel::Hotline => "热线",
            Channel::Reception => "接待点",
            Channel::Survey => "走访排查",
            Channel::BatchImport => "批量导入",
            Channel::Open311 => "Open311",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Channel::Resident => "Residents",
            Channel::Volunteer => "Volunteers",
            Channel::GridPatrol => "Grid patrols",
            Channel::Hotline => "Hotline",
            Channel::Reception => "Reception desks",
            Channel::Survey => "Surveys",
            Channel::BatchImport => "Batch imports",
            Channel::Open311 => "Open311",
        }
    }
}

/// What a history entry says besides its action, as stored (JSON, each field only where the
/// action set it). Entries written before a field existed read back without it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionDetails {
    /// How a report came in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The grid a report was routed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why a case was rejected, sent back, returned, escalated or an extension asked or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The unit a case was dispatched or escalated to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Done by the rules or the deadline sweep, not by a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic: Option<bool>,
    /// The number of the case a duplicate was merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Working minutes of an extension asked for or granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Hashes of a result's photos.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// The deadline sweep's note that the case is past its deadline …
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overdue: bool,
    /// … or in warning …
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    /// … and the unit it tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// The login of the person who acted for the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl ActionDetails {
    /// The stored text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("details are plain data")
    }
}

/// The hash before a case's first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields of one history entry that its hash covers.
pub struct HistoryFields<'a> {
    pub case_id: &'a str,
    /// 1 for the first entry of a case, then 2, 3 …
    pub sequence: i64,
    pub at: Timestamp,
    pub actor: &'a str,
    pub action: &'a str,
    pub status_after: &'a str,
    /// The action's details as stored (JSON text).
    pub details: &'a str,
}

impl HistoryFields<'_> {
    /// SHA-256 over the predecessor's hash and every field, each length-prefixed so that no two
    /// different entries encode alike.
    pub fn hash(&self, previous: &[u8; 32]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        for field in [
            self.case_id.as_bytes(),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            self.status_after.as_bytes(),
            self.details.as_bytes(),
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field);
        }
        hasher.update(self.sequence.to_be_bytes());
        hasher.update(self.at.millis().to_be_bytes());
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers() {
        let city = DivisionCode::parse("3603").unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let number = CaseNumber::new(&city, date, 42).unwrap();
        assert_eq!(number.as_str(), "3603-20261128-000042");
        assert_eq!(number.city(), "3603");
        assert_eq!(CaseNumber::new(&city, date, 1_234_567).unwrap().as_str(), "3603-20261128-1234567");
        for bad in [
            "",
            "3603-20261128",
            "36-20261128-000001",
            "3603-20261332-000001",
            "3603-20260229-000001",
            "3603-2026+128-000001",
            "3603-２026112-000001",
            "3603-20261128-000000",
            "3603-20261128-42",
            "3603-20261128-00004x",
            "3603-20261128-000001-1",
        ] {
            assert!(CaseNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(CaseNumber::new(&DivisionCode::parse("360313").unwrap(), date, 1).is_err(), "a county is not a city");
        assert!(CaseNumber::new(&city, date, 0).is_err(), "numbers count from 1");
        // Every number made is one that reads back.
        for (day, sequence) in [(date, 1), (NaiveDate::from_ymd_opt(2028, 2, 29).unwrap(), 999_999)] {
            let made = CaseNumber::new(&city, day, sequence).unwrap();
            assert_eq!(CaseNumber::parse(made.as_str()), Ok(made));
        }
    }

    fn fields<'a>(details: &'a str, sequence: i64) -> HistoryFields<'a> {
        HistoryFields {
            case_id: "c1",
            sequence,
            at: Timestamp::from_millis(1_764_300_000_000),
            actor: "user:7",
            action: "accept",
            status_after: "accepted",
            details,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let base = fields("{}", 2).hash(&GENESIS);
        assert_ne!(fields("{ }", 2).hash(&GENESIS), base);
        assert_ne!(fields("{}", 3).hash(&GENESIS), base);
        assert_ne!(fields("{}", 2).hash(&[1; 32]), base);
        let moved = HistoryFields { actor: "user:7accept", action: "", ..fields("{}", 2) };
        assert_ne!(moved.hash(&GENESIS), base, "field boundaries count");
        assert_eq!(fields("{}", 2).hash(&GENESIS), base);
    }
}
