//! Indicator tallies on PostgreSQL. Writers run side by side here, and adding to a shared tally
//! row (the city's, say) would make every submission wait for the one before it to commit; so each
//! write appends its change to `case_tally_changes`, the server folds the changes into
//! `case_tallies` every minute, and reads add up both.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use futures_util::TryStreamExt;
use pingan_store::StoreResult;
use pingan_store::cases::{CASE_COLUMNS, CaseRow, Dialect};
use pingan_store::indicators::{
    COUNTERS, GridWorkload, GridWorkloadQuery, IndicatorStore, OverdueCount, OverdueQuery, PendingChanges, Tally,
    TallyKey, TallyQuery, TallyRow, add_on_conflict, add_sql, contributions, insert_into, stored_month, values_clause,
};
use tokio_postgres::types::ToSql;

use crate::statements::{self, columns, parameters};
use crate::{PostgresStore, database_error};

/// Appends one change.
pub(crate) fn append_sql() -> String {
    format!("{} {}", insert_into("case_tally_changes"), values_clause(Dialect::Postgres))
}

/// The values of [`append_sql`] or [`add_sql`] for one change.
pub(crate) fn change_values((key, tally): &(TallyKey, Tally)) -> Vec<Box<dyn ToSql + Sync + Send>> {
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> =
        vec![Box::new(key.scope.clone()), Box::new(i64::from(key.month.yyyymm()))];
    values.extend(tally.values().map(|v| Box::new(v) as Box<dyn ToSql + Sync + Send>));
    values
}

/// Runs `sql` once for each change.
async fn write_changes(client: &impl GenericClient, sql: &str, changes: &[(TallyKey, Tally)]) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(sql).await.map_err(database_error)?;
    for change in changes {
        let values = change_values(change);
        client.execute(&statement, &parameters(&values)).await.map_err(database_error)?;
    }
    Ok(())
}

/// Appends `changes` (see [`pingan_store::indicators::changes`]) for the next fold.
pub(crate) async fn append_changes(client: &impl GenericClient, changes: &[(TallyKey, Tally)]) -> StoreResult<()> {
    write_changes(client, &append_sql(), changes).await
}

/// Counts every stored case into the tallies (once, when the table is made).
pub(crate) async fn fill_case_tallies(client: &impl GenericClient) -> StoreResult<()> {
    let mut tallies = PendingChanges::default();
    // Streamed: a large database's cases are never held at once.
    let no_values: [&(dyn ToSql + Sync); 0] = [];
    let rows =
        client.query_raw(&format!("SELECT {CASE_COLUMNS} FROM cases"), no_values).await.map_err(database_error)?;
    let mut rows = std::pin::pin!(rows);
    while let Some(stored) = rows.try_next().await.map_err(database_error)? {
        tallies.add(contributions(&CaseRow::from_columns(columns(&stored))?));
    }
    write_changes(client, &add_sql(Dialect::Postgres, "case_tallies"), &tallies.into_changes()).await
}

#[async_trait]
impl IndicatorStore for PostgresStore {
    async fn tallies(&self, query: &TallyQuery) -> StoreResult<Vec<TallyRow>> {
        let (sql, values) = query.select_sql(Dialect::Postgres, &["case_tallies", "case_tally_changes"]);
        let client = self.client().await?;
        let rows = statements::query(&client, &sql, values, true).await?;
        rows.iter()
            .map(|row| {
                let key = TallyKey { scope: row.get(0), month: stored_month(row.get(1))? };
                Ok(TallyRow { key, tally: Tally::from_values(std::array::from_fn(|index| row.get(index + 2))) })
            })
            .collect()
    }

    async fn overdue_counts(&self, query: &OverdueQuery) -> StoreResult<Vec<OverdueCount>> {
        let (sql, values) = query.to_sql(Dialect::Postgres);
        let client = self.client().await?;
        let rows = statements::query(&client, &sql, values, true).await?;
        rows.iter()
            .map(|row| {
                OverdueCount::of_row(query, (row.get(0), row.get(1), row.get(2)), (row.get(3), row.get(4), row.get(5)))
            })
            .collect()
    }

    async fn grid_workloads(&self, query: &GridWorkloadQuery) -> StoreResult<Vec<GridWorkload>> {
        let (sql, values) = query.to_sql(Dialect::Postgres);
        let client = self.client().await?;
        let rows = statements::query(&client, &sql, values, true).await?;
        Ok(rows
            .iter()
            .map(|row| GridWorkload {
                grid: row.get(0),
                open: row.get::<_, i64>(1).unsigned_abs(),
                overdue: row.get::<_, i64>(2).unsigned_abs(),
            })
            .collect())
    }

    async fn fold_tallies(&self) -> StoreResult<()> {
        let counters = COUNTERS.join(", ");
        let sums: Vec<String> = COUNTERS.iter().map(|c| format!("SUM({c})")).collect();
        // A change appended while this runs is not in its snapshot and waits for the next fold;
        // two folds at once each move only the rows they deleted.
        let fold = format!(
            "WITH moved AS (DELETE FROM case_tally_changes RETURNING scope, month, {counters})
             {} SELECT scope, month, {} FROM moved GROUP BY scope, month
             {}",
            insert_into("case_tallies"),
            sums.join(", "),
            add_on_conflict("case_tallies")
        );
        let client = self.client().await?;
        client.batch_execute(&fold).await.map_err(database_error)
    }
}
