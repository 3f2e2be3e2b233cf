//! Indicator tallies on SQLite: one writer at a time, so each change is added to its tally row at
//! once, in the transaction of the write that makes it.

use async_trait::async_trait;
use pingan_store::StoreResult;
use pingan_store::cases::{CASE_COLUMNS, CaseRow, Dialect};
use pingan_store::indicators::{
    COUNTERS, GridWorkload, GridWorkloadQuery, IndicatorStore, OverdueCount, OverdueQuery, PendingChanges, Tally,
    TallyKey, TallyQuery, TallyRow, add_sql, contributions, stored_month,
};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::statements::{bound, columns};
use crate::{SqliteStore, database_error};

/// Adds `changes` (see [`pingan_store::indicators::changes`]) to the tallies.
pub(crate) fn add_changes(connection: &Connection, changes: &[(TallyKey, Tally)]) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut statement = connection.prepare_cached(&add_sql(Dialect::Sqlite, "case_tallies")).map_err(database_error)?;
    for (key, tally) in changes {
        let mut values = vec![Value::Text(key.scope.clone()), Value::Integer(key.month.yyyymm().into())];
        values.extend(tally.values().map(Value::Integer));
        statement.execute(params_from_iter(values)).map_err(database_error)?;
    }
    Ok(())
}

/// Counts every stored case into the tallies (once, when the table is made).
pub(crate) fn fill_case_tallies(connection: &Connection) -> StoreResult<()> {
    let mut tallies = PendingChanges::default();
    let mut statement = connection.prepare(&format!("SELECT {CASE_COLUMNS} FROM cases")).map_err(database_error)?;
    for stored in statement.query_map([], columns).map_err(database_error)? {
        tallies.add(contributions(&CaseRow::from_columns(stored.map_err(database_error)?)?));
    }
    add_changes(connection, &tallies.into_changes())
}

#[async_trait]
impl IndicatorStore for SqliteStore {
    async fn tallies(&self, query: &TallyQuery) -> StoreResult<Vec<TallyRow>> {
        let (sql, values) = query.select_sql(Dialect::Sqlite, &["case_tallies"]);
        let rows: Vec<(String, i64, [i64; COUNTERS.len()])> = self
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = statement.query_map(params_from_iter(bound(values)), |row| {
                    let mut counters = [0i64; COUNTERS.len()];
                    for (index, counter) in counters.iter_mut().enumerate() {
                        *counter = row.get(index + 2)?;
                    }
                    Ok((row.get(0)?, row.get(1)?, counters))
                })?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(scope, month, counters)| {
                let key = TallyKey { scope, month: stored_month(month)? };
                Ok(TallyRow { key, tally: Tally::from_values(counters) })
            })
            .collect()
    }

    async fn overdue_counts(&self, query: &OverdueQuery) -> StoreResult<Vec<OverdueCount>> {
        let (sql, values) = query.to_sql(Dialect::Sqlite);
        type Row = ((String, i64, String), (String, Option<String>, i64));
        let rows: Vec<Row> = self
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = statement.query_map(params_from_iter(bound(values)), |row| {
                    Ok(((row.get(0)?, row.get(1)?, row.get(2)?), (row.get(3)?, row.get(4)?, row.get(5)?)))
                })?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|((division, month, channel), rest)| OverdueCount::of_row(query, (division, month, &channel), rest))
            .collect()
    }

    async fn grid_workloads(&self, query: &GridWorkloadQuery) -> StoreResult<Vec<GridWorkload>> {
        let (sql, values) = query.to_sql(Dialect::Sqlite);
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(params_from_iter(bound(values)), |row| {
                let (open, overdue): (i64, i64) = (row.get(1)?, row.get(2)?);
                Ok(GridWorkload { grid: row.get(0)?, open: open.unsigned_abs(), overdue: overdue.unsigned_abs() })
            })?;
            rows.collect()
        })
        .await
    }

    async fn fold_tallies(&self) -> StoreResult<()> {
        Ok(())
    }
}
