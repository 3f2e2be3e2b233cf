//! The ordinary domains' statements (`pingan_store::sql`) on PostgreSQL: each prepared once per
//! connection, bound by the types the server says its parameters have; a write of several
//! statements in one transaction.

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::GenericClient;
use pingan_store::sql::{SqlEngine, SqlRow, Statement, Value, Written};
use pingan_store::{StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::{PostgresStore, database_error};

/// A value as the parameter's type wants it: an integer of the column's width, a boolean for a
/// BOOLEAN column.
#[derive(Debug)]
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let mut integer = |n: i64| -> Result<IsNull, Box<dyn Error + Sync + Send>> {
            match *ty {
                Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
                Type::BOOL => (n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            }
        };
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => integer(*n),
            Value::Bool(b) if *ty == Type::BOOL => b.to_sql(ty, out),
            Value::Bool(b) => integer(i64::from(*b)),
            Value::Text(text) => text.to_sql(ty, out),
            Value::Bytes(bytes) => bytes.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value(row: &Row, index: usize) -> Result<Value, String> {
    let column = &row.columns()[index];
    let read = |error: tokio_postgres::Error| format!("column {}: {error}", column.name());
    let value = match *column.type_() {
        Type::INT2 => row.try_get::<_, Option<i16>>(index).map_err(read)?.map(|n| Value::Int(n.into())),
        Type::INT4 => row.try_get::<_, Option<i32>>(index).map_err(read)?.map(|n| Value::Int(n.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(index).map_err(read)?.map(Value::Int),
        Type::BOOL => row.try_get::<_, Option<bool>>(index).map_err(read)?.map(Value::Bool),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index).map_err(read)?.map(Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index).map_err(read)?.map(Value::Bytes),
        ref other => return Err(format!("column {} is of type {other}, which no domain reads", column.name())),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A broken key of `statement` as the domain names it; any other failure as it is.
fn failure(statement: &Statement, error: tokio_postgres::Error) -> StoreError {
    let detail = error.as_db_error().and_then(|e| e.detail()).unwrap_or_default().to_owned();
    match error.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => statement.already_exists(&detail),
        Some(&SqlState::FOREIGN_KEY_VIOLATION) => statement.missing_division(&detail),
        _ => database_error(error),
    }
}

/// Runs `statement`; its rows (those it returns) and how many rows it changed.
async fn run(client: &impl GenericClient, statement: &Statement) -> StoreResult<Written> {
    let prepared = client.prepare_cached(&statement.sql).await.map_err(|e| failure(statement, e))?;
    let bound: Vec<Bound<'_>> = statement.values.iter().map(Bound).collect();
    let parameters: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
    if prepared.columns().is_empty() {
        let changed = client.execute(&prepared, &parameters).await.map_err(|e| failure(statement, e))?;
        return Ok(Written { rows: Vec::new(), changed });
    }
    let rows = client.query(&prepared, &parameters).await.map_err(|e| failure(statement, e))?;
    let columns: Arc<[String]> = prepared.columns().iter().map(|c| c.name().to_owned()).collect();
    let rows = rows
        .iter()
        .map(|row| {
            let values = (0..columns.len()).map(|i| value(row, i)).collect::<Result<Vec<Value>, String>>();
            Ok(SqlRow::new(columns.clone(), values.map_err(StoreError::Corrupt)?))
        })
        .collect::<StoreResult<Vec<SqlRow>>>()?;
    Ok(Written { changed: rows.len() as u64, rows })
}

#[async_trait]
impl SqlEngine for PostgresStore {
    async fn write(&self, statements: Vec<Statement>) -> StoreResult<Vec<Written>> {
        let mut client = self.client().await?;
        if let [statement] = statements.as_slice() {
            return Ok(vec![run(&client, statement).await?]);
        }
        let transaction = client.transaction().await.map_err(database_error)?;
        let mut written = Vec::with_capacity(statements.len());
        for statement in &statements {
            written.push(run(&transaction, statement).await?);
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(written)
    }

    async fn read(&self, statement: Statement) -> StoreResult<Vec<SqlRow>> {
        Ok(run(&self.client().await?, &statement).await?.rows)
    }

    async fn look_up(&self, statement: Statement) -> StoreResult<Option<SqlRow>> {
        Ok(self.read(statement).await?.into_iter().next())
    }
}
