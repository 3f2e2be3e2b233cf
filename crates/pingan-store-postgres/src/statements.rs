//! Statements run with owned values, and a case's columns read from a row: what the cases and the
//! indicators share.

use deadpool_postgres::GenericClient;
use pingan_store::StoreResult;
use pingan_store::cases::{CaseColumns, SqlValue};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::database_error;

/// A case's columns, in `CASE_COLUMNS` order.
pub(crate) fn columns(row: &Row) -> CaseColumns {
    CaseColumns {
        id: row.get(0),
        number: row.get(1),
        city_code: row.get(2),
        status: row.get(3),
        channel: row.get(4),
        category: row.get(5),
        priority: row.get(6),
        division_code: row.get(7),
        handler: row.get(8),
        grid_code: row.get(9),
        reported_at: row.get(10),
        claim_due: row.get(11),
        resolve_due: row.get(12),
        version: row.get(13),
        idempotency_key: row.get(14),
        body: row.get(15),
        lon: row.get(16),
        lat: row.get(17),
        alert_at: row.get(18),
        reporter_account: row.get(19),
    }
}

pub(crate) fn bound(values: Vec<SqlValue>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SqlValue::Text(text) => Box::new(text),
                SqlValue::Integer(number) => Box::new(number),
                SqlValue::Real(number) => Box::new(number),
            }
        })
        .collect()
}

/// Owned values as the parameters a statement takes.
pub(crate) fn parameters(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// Runs `sql` with `values`: as a statement kept for reuse when `reuse_plan`, else planned for
/// these values alone.
pub(crate) async fn query(
    client: &impl GenericClient,
    sql: &str,
    values: Vec<SqlValue>,
    reuse_plan: bool,
) -> StoreResult<Vec<Row>> {
    let values = bound(values);
    let parameters = parameters(&values);
    let rows = if reuse_plan {
        let statement = client.prepare_cached(sql).await.map_err(database_error)?;
        client.query(&statement, &parameters).await
    } else {
        client.query(sql, &parameters).await
    };
    rows.map_err(database_error)
}
