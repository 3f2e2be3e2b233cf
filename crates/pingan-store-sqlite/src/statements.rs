//! A case's columns read from a row, and values bound to a statement: what the cases and the
//! indicators share.

use pingan_store::cases::{CaseColumns, SqlValue};
use rusqlite::Row;
use rusqlite::types::Value;

/// A case's columns, in `CASE_COLUMNS` order.
pub(crate) fn columns(row: &Row<'_>) -> rusqlite::Result<CaseColumns> {
    Ok(CaseColumns {
        id: row.get(0)?,
        number: row.get(1)?,
        city_code: row.get(2)?,
        status: row.get(3)?,
        channel: row.get(4)?,
        category: row.get(5)?,
        priority: row.get(6)?,
        division_code: row.get(7)?,
        handler: row.get(8)?,
        grid_code: row.get(9)?,
        reported_at: row.get(10)?,
        claim_due: row.get(11)?,
        resolve_due: row.get(12)?,
        version: row.get(13)?,
        idempotency_key: row.get(14)?,
        body: row.get(15)?,
        lon: row.get(16)?,
        lat: row.get(17)?,
        alert_at: row.get(18)?,
        reporter_account: row.get(19)?,
    })
}

pub(crate) fn bound(values: Vec<SqlValue>) -> impl Iterator<Item = Value> {
    values.into_iter().map(|v| match v {
        SqlValue::Text(text) => Value::Text(text),
        SqlValue::Integer(number) => Value::Integer(number),
        SqlValue::Real(number) => Value::Real(number),
    })
}
