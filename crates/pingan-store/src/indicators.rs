//! Indicators (考核指标) as running tallies. Each case counts towards one tally, keyed by the month
//! it was reported in (China Standard Time), its responsible division and the unit it is
//! dispatched to; every write that changes a case moves its contribution in the same transaction.
//! A question such as "the county's figures for the first half-year" then sums a few hundred
//! tallies instead of reading every case, and the sum equals a recount of the cases
//! (`pingan audit verify` checks that it does).
//!
//! What a case contributes depends only on its row, so the same function serves the writes, the
//! filling of the tallies when they are made, and the recount.

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, TimeZone};
use pingan_core::DivisionCode;
use pingan_core::calendar::china_standard_time;
use pingan_core::lifecycle::{Satisfaction, Status};

use crate::StoreResult;
use crate::cases::{CaseRow, Dialect, SqlValue};

/// The counters of a tally, in the order of [`Tally::values`] and of the tables' columns.
pub const COUNTERS: [&str; 14] = [
    "reported",
    "accepted",
    "open",
    "closed",
    "closed_on_time",
    "called_back",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "returned",
    "reopened",
    "claimed",
    "claim_ms",
    "close_ms",
];

/// Sums over a set of cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub reported: i64,
    /// Accepted and not since rejected or merged into another case.
    pub accepted: i64,
    /// Still to be worked on (reported, accepted, dispatched or in progress).
    pub open: i64,
    pub closed: i64,
    /// Closed, and resolved no later than the resolution deadline in force.
    pub closed_on_time: i64,
    /// With a satisfaction recorded by a call-back.
    pub called_back: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub unsatisfied: i64,
    /// Returned by a handler at least once.
    pub returned: i64,
    /// Reopened at least once.
    pub reopened: i64,
    /// Claimed by a handler.
    pub claimed: i64,
    /// Milliseconds from dispatch (or report) to claim, summed over the claimed cases.
    pub claim_ms: i64,
    /// Milliseconds from report to close, summed over the closed cases.
    pub close_ms: i64,
}

impl Tally {
    pub fn values(&self) -> [i64; 14] {
        [
            self.reported,
            self.accepted,
            self.open,
            self.closed,
            self.closed_on_time,
            self.called_back,
            self.satisfied,
            self.basically_satisfied,
            self.unsatisfied,
            self.returned,
            self.reopened,
            self.claimed,
            self.claim_ms,
            self.close_ms,
        ]
    }

    pub fn from_values(v: [i64; 14]) -> Tally {
        Tally {
            reported: v[0],
            accepted: v[1],
            open: v[2],
            closed: v[3],
            closed_on_time: v[4],
            called_back: v[5],
            satisfied: v[6],
            basically_satisfied: v[7],
            unsatisfied: v[8],
            returned: v[9],
            reopened: v[10],
            claimed: v[11],
            claim_ms: v[12],
            close_ms: v[13],
        }
    }

    pub fn add(&mut self, other: &Tally) {
        *self = self.combined(other, |a, b| a + b);
    }

    /// `self - other`, counter by counter.
    pub fn minus(&self, other: &Tally) -> Tally {
        self.combined(other, |a, b| a - b)
    }

    pub fn is_zero(&self) -> bool {
        self.values().iter().all(|&v| v == 0)
    }

    fn combined(&self, other: &Tally, f: impl Fn(i64, i64) -> i64) -> Tally {
        let (a, b) = (self.values(), other.values());
        Tally::from_values(std::array::from_fn(|i| f(a[i], b[i])))
    }

    /// What one case contributes.
    pub fn of(case: &CaseRow) -> Tally {
        let b = &case.body;
        let flag = |yes: bool| i64::from(yes);
        let closed = case.status == Status::Closed;
        let finished = b.resolved_at.or(b.closed_at);
        let on_time = closed
            && match (finished, case.resolve_due) {
                (_, None) => true,
                (Some(at), Some(due)) => at <= due,
                (None, Some(_)) => false,
            };
        let claim_ms = b.claimed_at.map(|at| at - b.dispatched_at.unwrap_or(case.reported_at)).unwrap_or(0);
        let close_ms = match (closed, b.closed_at) {
            (true, Some(at)) => at - case.reported_at,
            _ => 0,
        };
        Tally {
            reported: 1,
            accepted: flag(!matches!(case.status, Status::Reported | Status::Rejected | Status::Merged)),
            open: flag(Status::OPEN.contains(&case.status)),
            closed: flag(closed),
            closed_on_time: flag(on_time),
            called_back: flag(b.satisfaction.is_some()),
            satisfied: flag(b.satisfaction == Some(Satisfaction::Satisfied)),
            basically_satisfied: flag(b.satisfaction == Some(Satisfaction::BasicallySatisfied)),
            unsatisfied: flag(b.satisfaction == Some(Satisfaction::Unsatisfied)),
            returned: flag(b.returns > 0),
            reopened: flag(b.reopenings > 0),
            claimed: flag(b.claimed_at.is_some()),
            claim_ms,
            close_ms,
        }
    }
}

/// Which tally a case counts towards.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TallyKey {
    /// Year and month of the report, as YYYYMM, in China Standard Time.
    pub month: i32,
    pub division: String,
    /// The unit the case is dispatched to; empty when none.
    pub handler: String,
}

impl TallyKey {
    pub fn of(case: &CaseRow) -> TallyKey {
        TallyKey {
            month: month_of(case.reported_at),
            division: case.division.to_string(),
            handler: case.handler.clone().unwrap_or_default(),
        }
    }
}

/// The change a write makes to the tallies: what `before` contributed is taken away and what
/// `after` contributes is added (nothing for a new case's `before`). At most two tallies change.
pub fn changes(before: Option<&CaseRow>, after: &CaseRow) -> Vec<(TallyKey, Tally)> {
    let added = (TallyKey::of(after), Tally::of(after));
    let Some(before) = before else { return vec![added] };
    let taken = (TallyKey::of(before), Tally::default().minus(&Tally::of(before)));
    let mut changes =
        if taken.0 == added.0 { vec![(added.0, added.1.minus(&Tally::of(before)))] } else { vec![taken, added] };
    changes.retain(|(_, tally)| !tally.is_zero());
    changes
}

/// YYYYMM of the instant `ms` (milliseconds since the Unix epoch) in China Standard Time.
pub fn month_of(ms: i64) -> i32 {
    let local = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&china_standard_time());
    local.year() * 100 + local.month() as i32
}

/// The first instant of month `yyyymm` in China Standard Time, in milliseconds; None for a month
/// that does not exist.
pub fn month_start(yyyymm: i32) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(yyyymm / 100, (yyyymm % 100) as u32, 1)?;
    let local = china_standard_time().from_local_datetime(&date.and_hms_opt(0, 0, 0)?).single()?;
    Some(local.timestamp_millis())
}

/// The month after `yyyymm`.
pub fn next_month(yyyymm: i32) -> i32 {
    if yyyymm % 100 == 12 { (yyyymm / 100 + 1) * 100 + 1 } else { yyyymm + 1 }
}

/// The tallies asked for: those of a subtree (everything when None), of one handling unit or all,
/// for the months `from..=to` (YYYYMM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyQuery {
    pub subtree: Option<DivisionCode>,
    pub handler: Option<String>,
    pub from: i32,
    pub to: i32,
}

/// A stored tally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyRow {
    pub key: TallyKey,
    pub tally: Tally,
}

impl TallyQuery {
    /// Every tally, of every place and month.
    pub fn everything() -> TallyQuery {
        TallyQuery { subtree: None, handler: None, from: 0, to: 999_912 }
    }

    /// The conditions on a table with `month`, `division_code` and `handler` columns (the tallies)
    /// or `reported_at`, `division_code` and `handler` (the cases, `by_report_time`), with their
    /// values: placeholders are numbered, so one condition may be written twice in a statement.
    pub fn condition(&self, dialect: Dialect, by_report_time: bool) -> (String, Vec<SqlValue>) {
        let mut values = Vec::new();
        let mut bind = |value: SqlValue| {
            values.push(value);
            dialect.placeholder(values.len())
        };
        let mut conditions = Vec::new();
        if let Some(code) = &self.subtree {
            // Codes are digits, and ':' sorts right after '9'.
            let (from, to) = (bind(SqlValue::Text(code.to_string())), bind(SqlValue::Text(format!("{code}:"))));
            conditions.push(format!("division_code >= {from} AND division_code < {to}"));
        }
        if let Some(handler) = &self.handler {
            conditions.push(format!("handler = {}", bind(SqlValue::Text(handler.clone()))));
        }
        if by_report_time {
            let from = month_start(self.from).unwrap_or(i64::MIN);
            let before = month_start(next_month(self.to)).unwrap_or(i64::MAX);
            let (from, before) = (bind(SqlValue::Integer(from)), bind(SqlValue::Integer(before)));
            conditions.push(format!("reported_at >= {from} AND reported_at < {before}"));
        } else {
            let (from, to) = (bind(SqlValue::Integer(self.from.into())), bind(SqlValue::Integer(self.to.into())));
            conditions.push(format!("month >= {from} AND month <= {to}"));
        }
        (conditions.join(" AND "), values)
    }

    /// `SELECT month, division_code, handler, counters…` summed over every table in `tables`
    /// (which have the tallies' columns), one row per key.
    pub fn select_sql(&self, dialect: Dialect, tables: &[&str]) -> (String, Vec<SqlValue>) {
        let (condition, values) = self.condition(dialect, false);
        let counters = COUNTERS.join(", ");
        let parts: Vec<String> = tables
            .iter()
            .map(|table| format!("SELECT month, division_code, handler, {counters} FROM {table} WHERE {condition}"))
            .collect();
        let sums: Vec<String> = COUNTERS.iter().map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect();
        let sql = format!(
            "SELECT month, division_code, handler, {} FROM ({}) AS tallies GROUP BY month, division_code, handler",
            sums.join(", "),
            parts.join(" UNION ALL ")
        );
        (sql, values)
    }

    /// `SELECT division_code, handler, count` of the open cases past their resolution deadline at
    /// `now`, reported in the query's months.
    pub fn overdue_sql(&self, dialect: Dialect, now: i64) -> (String, Vec<SqlValue>) {
        let (condition, mut values) = self.condition(dialect, true);
        values.push(SqlValue::Integer(now));
        let now = dialect.placeholder(values.len());
        let open: Vec<String> = Status::OPEN.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT division_code, COALESCE(handler, ''), COUNT(*) FROM cases
             WHERE status IN ({}) AND resolve_due < {now} AND {condition}
             GROUP BY division_code, handler",
            open.join(", ")
        );
        (sql, values)
    }
}

/// `INSERT INTO table (month, division_code, handler, counters…) VALUES …` adding to the row
/// of the same key if there is one.
pub fn add_sql(dialect: Dialect, table: &str) -> String {
    let placeholders: Vec<String> = (1..=COUNTERS.len() + 3).map(|n| dialect.placeholder(n)).collect();
    format!("{} VALUES ({}) {}", insert_into(table), placeholders.join(", "), add_on_conflict(table))
}

/// `INSERT INTO table (month, division_code, handler, counters…)`.
pub fn insert_into(table: &str) -> String {
    format!("INSERT INTO {table} (month, division_code, handler, {})", COUNTERS.join(", "))
}

/// The clause that makes an insert into the tallies add to the row of the same key.
pub fn add_on_conflict(table: &str) -> String {
    let updates: Vec<String> = COUNTERS.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    format!("ON CONFLICT (division_code, month, handler) DO UPDATE SET {}", updates.join(", "))
}

/// Open cases past their deadline, per responsible division and handling unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueCount {
    pub division: String,
    /// Empty when not dispatched.
    pub handler: String,
    pub cases: u64,
}

#[async_trait]
pub trait IndicatorStore: Send + Sync {
    /// The stored tallies the query asks for, one row per key.
    async fn tallies(&self, query: &TallyQuery) -> StoreResult<Vec<TallyRow>>;

    /// The open cases the query covers that are past their resolution deadline at `now` (this
    /// depends on the time, so it is counted, from an index of the open cases).
    async fn overdue_counts(&self, query: &TallyQuery, now: i64) -> StoreResult<Vec<OverdueCount>>;

    /// Folds changes an engine keeps apart (to spare concurrent writers a shared row) into the
    /// tallies; a no-op where every change is folded as it is written.
    async fn fold_tallies(&self) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_counted_in_china_standard_time() {
        // 2026-01-31 16:30 UTC is 2026-02-01 00:30 in Beijing.
        let ms = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap().and_hms_opt(16, 30, 0).unwrap().and_utc();
        assert_eq!(month_of(ms.timestamp_millis()), 202602);
        assert_eq!(month_start(202602), Some(ms.timestamp_millis() - 30 * 60 * 1000));
        assert_eq!(next_month(202612), 202701);
        assert_eq!(next_month(202602), 202603);
        assert_eq!(month_start(202613), None);
    }

    #[test]
    fn the_counters_follow_the_tables_columns() {
        let tally = Tally::from_values(std::array::from_fn(|i| i as i64 + 1));
        assert_eq!(tally.values(), std::array::from_fn(|i| i as i64 + 1));
        assert_eq!(tally.minus(&tally), Tally::default());
        assert!(add_sql(Dialect::Postgres, "t").contains("$17"));
        assert!(!add_sql(Dialect::Postgres, "t").contains("$18"));
    }
}
