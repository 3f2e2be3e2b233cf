//! Indicators (考核指标) as running tallies. A case counts, for the month it was reported in
//! (China Standard Time), towards the tally of its responsible division's own level, of the unit
//! it is dispatched to, and of each of the province, city and county subtrees that hold it. Every
//! write that changes a case moves its contribution in the same transaction. The figures of a
//! province, city or county then take one row per month, and those of a township or village the
//! sum of their few divisions' own rows, however many cases are stored; and they equal a recount of
//! the cases (`pingan audit verify` checks that they do). Subtrees below a county are not kept:
//! each would be one more row to change with every report, for little saved when reading.
//!
//! The subtrees and own levels also keep their figures broken down by the channel a case came in
//! through and by its category (a [`Facet`]), so that a command centre sees which channels and
//! which kinds of matter make up its figures without counting cases.
//!
//! What a case contributes depends only on its row, so the same function serves the writes, the
//! filling of the tallies when they are made, and the recount.

use async_trait::async_trait;
use pingan_core::case::Channel;
use pingan_core::lifecycle::{Satisfaction, Status};
use pingan_core::{DivisionCode, Level, Month, Timestamp};

use crate::StoreResult;
use crate::cases::{CaseRow, Dialect, Sql, SqlValue};

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
        let claim_ms = b.claimed_at.map(|at| at.millis_since(b.dispatched_at.unwrap_or(case.reported_at))).unwrap_or(0);
        let close_ms = match (closed, b.closed_at) {
            (true, Some(at)) => at.millis_since(case.reported_at),
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

/// One tally: of a scope (see [`Scope`]) in one month.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TallyKey {
    /// The scope as stored (`subtree:3603`, `own:360302`, `unit:department:360302:cg`).
    pub scope: String,
    /// The month of the report.
    pub month: Month,
}

/// The sets of cases that have tallies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Cases whose responsible division lies in the division's subtree: kept for the province,
    /// cities and counties ([`keeps_subtree`]).
    Subtree(DivisionCode),
    /// Cases the division's own centre is responsible for.
    Own(DivisionCode),
    /// Cases dispatched to the unit.
    Unit(String),
}

impl Scope {
    pub fn key(&self) -> String {
        match self {
            Scope::Subtree(code) => format!("subtree:{code}"),
            Scope::Own(code) => format!("own:{code}"),
            Scope::Unit(unit) => format!("unit:{unit}"),
        }
    }
}

/// A part of a scope's cases, with a tally of its own beside the scope's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    /// The cases that came in through the channel.
    Channel(Channel),
    /// The cases of the (leaf) category, by code.
    Category(String),
}

impl Facet {
    /// The key of `scope`'s tally of this facet: `facet:own:360302:channel:hotline`. It sorts
    /// apart from the scopes' own keys, so that a range of those never takes a facet's row.
    pub fn key(&self, scope: &Scope) -> String {
        match self {
            Facet::Channel(channel) => format!("facet:{}:channel:{}", scope.key(), channel.as_str()),
            Facet::Category(code) => format!("facet:{}:category:{code}", scope.key()),
        }
    }

    /// The scope's key and the facet of a stored facet key; None for any other key.
    pub fn of_key(key: &str) -> Option<(&str, Facet)> {
        let mut parts = key.strip_prefix("facet:")?.rsplitn(3, ':');
        let (value, kind, scope) = (parts.next()?, parts.next()?, parts.next()?);
        let facet = match kind {
            "channel" => Facet::Channel(Channel::parse(value)?),
            "category" => Facet::Category(value.to_owned()),
            _ => return None,
        };
        Some((scope, facet))
    }

    /// The first key of the facets of the subtree of `code`: those of its subtree tally where it
    /// keeps one, else those of the own levels of every division in it.
    fn subtree_prefix(code: &DivisionCode) -> String {
        match keeps_subtree(code.level()) {
            true => format!("facet:{}:", Scope::Subtree(code.clone()).key()),
            false => format!("facet:{}", Scope::Own(code.clone()).key()),
        }
    }
}

/// The levels whose subtrees have tallies of their own.
pub fn keeps_subtree(level: Level) -> bool {
    level <= Level::County
}

/// Every tally a case counts towards, with what it contributes.
pub fn contributions(case: &CaseRow) -> Vec<(TallyKey, Tally)> {
    let (month, tally) = (Month::of_instant(case.reported_at), Tally::of(case));
    let mut scopes: Vec<Scope> =
        case.division.lineage().into_iter().filter(|d| keeps_subtree(d.level())).map(Scope::Subtree).collect();
    scopes.push(Scope::Own(case.division.clone()));
    let facets = [Facet::Channel(case.channel), Facet::Category(case.category.clone())];
    let mut keys: Vec<String> = scopes.iter().flat_map(|scope| facets.iter().map(|facet| facet.key(scope))).collect();
    keys.extend(scopes.iter().map(Scope::key));
    if let Some(unit) = &case.handler {
        keys.push(Scope::Unit(unit.clone()).key());
    }
    keys.into_iter().map(|scope| (TallyKey { scope, month }, tally)).collect()
}

/// The change a write makes to the tallies: what `before` contributed is taken away and what
/// `after` contributes is added (nothing for a new case's `before`); tallies that come out
/// unchanged are left out.
pub fn changes(before: Option<&CaseRow>, after: &CaseRow) -> Vec<(TallyKey, Tally)> {
    let mut pending = PendingChanges::default();
    if let Some(before) = before {
        pending
            .add(contributions(before).into_iter().map(|(key, tally)| (key, Tally::default().minus(&tally))).collect());
    }
    pending.add(contributions(after));
    pending.into_changes()
}

/// Changes gathered over a batch of writes, one per tally, to be written together.
#[derive(Debug, Default)]
pub struct PendingChanges(std::collections::HashMap<TallyKey, Tally>);

impl PendingChanges {
    pub fn add(&mut self, changes: Vec<(TallyKey, Tally)>) {
        for (key, tally) in changes {
            self.0.entry(key).or_default().add(&tally);
        }
    }

    /// Takes `changes` back out: those of a write found not to be made after all.
    pub fn subtract(&mut self, changes: Vec<(TallyKey, Tally)>) {
        for (key, tally) in changes {
            let pending = self.0.entry(key).or_default();
            *pending = pending.minus(&tally);
        }
    }

    /// The gathered changes, without those that came to nothing.
    pub fn into_changes(self) -> Vec<(TallyKey, Tally)> {
        self.0.into_iter().filter(|(_, tally)| !tally.is_zero()).collect()
    }
}

/// The month a tally's row holds (YYYYMM).
pub fn stored_month(yyyymm: i64) -> StoreResult<Month> {
    i32::try_from(yyyymm)
        .ok()
        .and_then(Month::from_yyyymm)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("tally month {yyyymm}")))
}

/// The tallies asked for: those of the scopes (every scope when None), the own levels of every
/// division in the subtree `own_under`, and the facets of the subtree `facets_of`, for the months
/// `from..=to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyQuery {
    pub scopes: Option<Vec<Scope>>,
    pub own_under: Option<DivisionCode>,
    pub facets_of: Option<DivisionCode>,
    pub from: Month,
    pub to: Month,
}

/// A stored tally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyRow {
    pub key: TallyKey,
    pub tally: Tally,
}

impl TallyQuery {
    /// Every tally, of every scope and month.
    pub fn everything() -> TallyQuery {
        TallyQuery { scopes: None, own_under: None, facets_of: None, from: Month::FIRST, to: Month::LAST }
    }

    /// `SELECT scope, month, counters…` summed over every table in `tables` (which have the
    /// tallies' columns), one row per key, with the values to bind. Placeholders are numbered, so
    /// each table's part names the same values.
    pub fn select_sql(&self, dialect: Dialect, tables: &[&str]) -> (String, Vec<SqlValue>) {
        let mut sql = Sql::new(dialect);
        let (from, to) = (
            sql.bind(SqlValue::Integer(self.from.yyyymm().into())),
            sql.bind(SqlValue::Integer(self.to.yyyymm().into())),
        );
        let mut condition = format!("month >= {from} AND month <= {to}");
        if let Some(scopes) = &self.scopes {
            let mut listed = vec!["NULL".to_owned()];
            listed.extend(scopes.iter().map(|scope| sql.bind(SqlValue::Text(scope.key()))));
            let mut wanted = format!("scope IN ({})", listed.join(", "));
            if let Some(code) = &self.own_under {
                let (first, past) = sql.bind_prefix(&Scope::Own(code.clone()).key());
                wanted = format!("{wanted} OR (scope >= {first} AND scope < {past})");
            }
            if let Some(code) = &self.facets_of {
                let (first, past) = sql.bind_text_prefix(&Facet::subtree_prefix(code));
                wanted = format!("{wanted} OR (scope >= {first} AND scope < {past})");
            }
            condition.push_str(&format!(" AND ({wanted})"));
        }
        let counters = COUNTERS.join(", ");
        let parts: Vec<String> = tables
            .iter()
            .map(|table| format!("SELECT scope, month, {counters} FROM {table} WHERE {condition}"))
            .collect();
        let sums: Vec<String> = COUNTERS.iter().map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect();
        let select = format!(
            "SELECT scope, month, {} FROM ({}) AS tallies GROUP BY scope, month",
            sums.join(", "),
            parts.join(" UNION ALL ")
        );
        (select, sql.values)
    }
}

/// The open cases past their resolution deadline at `now`, reported in the months `from..=to`,
/// of a subtree or dispatched to a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueQuery {
    pub subtree: Option<DivisionCode>,
    pub handler: Option<String>,
    pub from: Month,
    pub to: Month,
    pub now: Timestamp,
}

impl OverdueQuery {
    /// `SELECT division_code, month, channel, category, handler, count` of the cases asked for, with the
    /// values to bind; `month` is the number of months after `from` the case was reported in.
    pub fn to_sql(&self, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let mut sql = Sql::new(dialect);
        let open: Vec<String> = Status::OPEN.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let mut conditions = vec![format!("status IN ({})", open.join(", "))];
        conditions.push(format!("resolve_due < {}", sql.bind(SqlValue::Integer(self.now.millis()))));
        let from = self.from.start().millis();
        let before = if self.to == Month::LAST { i64::MAX } else { self.to.next().start().millis() };
        let (from, before) = (sql.bind(SqlValue::Integer(from)), sql.bind(SqlValue::Integer(before)));
        conditions.push(format!("reported_at >= {from} AND reported_at < {before}"));
        if let Some(code) = &self.subtree {
            let (first, past) = sql.bind_prefix(code.as_str());
            conditions.push(format!("division_code >= {first} AND division_code < {past}"));
        }
        if let Some(handler) = &self.handler {
            conditions.push(format!("handler = {}", sql.bind(SqlValue::Text(handler.clone()))));
        }
        // The month of the report, as its distance from `from`: the first month whose end lies
        // after the report.
        let mut month = String::from("CASE");
        let (mut index, mut current) = (0, self.from);
        while current < self.to {
            let end = sql.bind(SqlValue::Integer(current.next().start().millis()));
            month.push_str(&format!(" WHEN reported_at < {end} THEN {index}"));
            (index, current) = (index + 1, current.next());
        }
        month = match index {
            0 => "0".to_owned(),
            _ => format!("{month} ELSE {index} END"),
        };
        let select = format!(
            "SELECT division_code, CAST({month} AS BIGINT) AS month_index, channel, category, handler, COUNT(*) \
             FROM cases WHERE {} GROUP BY division_code, month_index, channel, category, handler",
            conditions.join(" AND ")
        );
        (select, sql.values)
    }
}

/// The open cases whose responsible division lies in `subtree`, by the grid they lie in, with how
/// many are past their resolution deadline at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridWorkloadQuery {
    pub subtree: DivisionCode,
    pub now: Timestamp,
}

impl GridWorkloadQuery {
    /// `SELECT grid_code, open, overdue` with the values to bind.
    pub fn to_sql(&self, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let mut sql = Sql::new(dialect);
        let now = sql.bind(SqlValue::Integer(self.now.millis()));
        let (first, past) = sql.bind_prefix(self.subtree.as_str());
        let select = format!(
            "SELECT grid_code, COUNT(*), CAST(SUM(CASE WHEN resolve_due < {now} THEN 1 ELSE 0 END) AS BIGINT) \
             FROM cases WHERE {} AND division_code >= {first} AND division_code < {past} \
             AND grid_code IS NOT NULL GROUP BY grid_code",
            crate::cases::open_status_test()
        );
        (select, sql.values)
    }
}

/// A grid's open cases, and how many of them are overdue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridWorkload {
    pub grid: String,
    pub open: u64,
    pub overdue: u64,
}

/// `INSERT INTO table (scope, month, counters…) VALUES …` adding to the row of the same key if
/// there is one.
pub fn add_sql(dialect: Dialect, table: &str) -> String {
    format!("{} {} {}", insert_into(table), values_clause(dialect), add_on_conflict(table))
}

/// `VALUES (…)` with a placeholder for the scope, the month and each counter.
pub fn values_clause(dialect: Dialect) -> String {
    let placeholders: Vec<String> = (1..=COUNTERS.len() + 2).map(|n| dialect.placeholder(n)).collect();
    format!("VALUES ({})", placeholders.join(", "))
}

/// `INSERT INTO table (scope, month, counters…)`.
pub fn insert_into(table: &str) -> String {
    format!("INSERT INTO {table} (scope, month, {})", COUNTERS.join(", "))
}

/// The clause that makes an insert into the tallies add to the row of the same key.
pub fn add_on_conflict(table: &str) -> String {
    let updates: Vec<String> = COUNTERS.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    format!("ON CONFLICT (scope, month) DO UPDATE SET {}", updates.join(", "))
}

/// Open cases past their deadline in one responsible division, reported in one month, through one
/// channel, of one category, dispatched to one unit (or to none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueCount {
    pub division: String,
    pub month: Month,
    pub channel: Channel,
    pub category: String,
    pub handler: Option<String>,
    pub cases: u64,
}

impl OverdueCount {
    /// A row of [`OverdueQuery::to_sql`]'s answer to `query`.
    pub fn of_row(
        query: &OverdueQuery,
        (division, month_index, channel): (String, i64, &str),
        (category, handler, cases): (String, Option<String>, i64),
    ) -> StoreResult<OverdueCount> {
        let mut month = query.from;
        for _ in 0..month_index.clamp(0, i64::from(query.from.months_through(query.to)) - 1) {
            month = month.next();
        }
        let channel =
            Channel::parse(channel).ok_or_else(|| crate::StoreError::Corrupt(format!("channel {channel}")))?;
        Ok(OverdueCount { division, month, channel, category, handler, cases: cases.unsigned_abs() })
    }
}

#[async_trait]
pub trait IndicatorStore: Send + Sync {
    /// The stored tallies the query asks for, one row per key.
    async fn tallies(&self, query: &TallyQuery) -> StoreResult<Vec<TallyRow>>;

    /// The open cases past their resolution deadline the query asks for, by responsible division
    /// (this depends on the hour, so it is counted, from an index of the open cases).
    async fn overdue_counts(&self, query: &OverdueQuery) -> StoreResult<Vec<OverdueCount>>;

    /// The open cases by grid the query asks for (counted, from the open cases).
    async fn grid_workloads(&self, query: &GridWorkloadQuery) -> StoreResult<Vec<GridWorkload>>;

    /// Folds changes an engine keeps apart (to spare concurrent writers a shared row) into the
    /// tallies; a no-op where every change is folded as it is written.
    async fn fold_tallies(&self) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_follow_the_tables_columns() {
        let tally = Tally::from_values(std::array::from_fn(|i| i as i64 + 1));
        assert_eq!(tally.values(), std::array::from_fn(|i| i as i64 + 1));
        assert_eq!(tally.minus(&tally), Tally::default());
        assert!(add_sql(Dialect::Postgres, "t").contains("$16"));
        assert!(!add_sql(Dialect::Postgres, "t").contains("$17"));
    }
}
