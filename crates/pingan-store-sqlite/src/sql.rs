//! The ordinary domains' statements (`pingan_store::sql`) on SQLite: writes through the group
//! writer, each write in its own savepoint; reads on the reader pool, a lookup by key on the
//! calling thread.

use std::sync::Arc;

use async_trait::async_trait;
use pingan_store::sql::{SqlEngine, SqlRow, Statement, Value, Written, question_marks};
use pingan_store::{StoreError, StoreResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};

use crate::{SqliteStore, database_error};

/// A value as SQLite binds it (booleans as 0 and 1).
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}

fn value(column: ValueRef<'_>) -> rusqlite::Result<Value> {
    Ok(match column {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
        ValueRef::Real(_) => {
            return Err(rusqlite::Error::InvalidColumnType(0, "real".into(), rusqlite::types::Type::Real));
        }
    })
}

/// Runs `statement`; its rows (those it returns) and how many rows it changed.
fn run(connection: &Connection, statement: &Statement) -> rusqlite::Result<Written> {
    let mut prepared = connection.prepare_cached(&question_marks(&statement.sql))?;
    let columns: Arc<[String]> = prepared.column_names().map(str::to_owned).collect();
    let bound: Vec<Bound<'_>> = statement.values.iter().map(Bound).collect();
    let params: Vec<&dyn ToSql> = bound.iter().map(|b| b as &dyn ToSql).collect();
    let mut rows = Vec::new();
    let mut cursor = prepared.query(params.as_slice())?;
    while let Some(row) = cursor.next()? {
        let values = (0..columns.len()).map(|i| value(row.get_ref(i)?)).collect::<rusqlite::Result<Vec<Value>>>()?;
        rows.push(SqlRow::new(columns.clone(), values));
    }
    drop(cursor);
    Ok(Written { rows, changed: connection.changes() })
}

/// A broken key of `statement` as the domain names it; any other failure as it is.
fn failure(statement: &Statement, error: rusqlite::Error) -> StoreError {
    let rusqlite::Error::SqliteFailure(failure, _) = &error else { return database_error(error) };
    if failure.code != ErrorCode::ConstraintViolation {
        return database_error(error);
    }
    match failure.extended_code {
        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            statement.already_exists(&error.to_string())
        }
        rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => statement.missing_division(&error.to_string()),
        _ => database_error(error),
    }
}

#[async_trait]
impl SqlEngine for SqliteStore {
    async fn write(&self, statements: Vec<Statement>) -> StoreResult<Vec<Written>> {
        self.writer
            .write(move |connection| {
                statements
                    .iter()
                    .map(|statement| run(connection, statement).map_err(|e| failure(statement, e)))
                    .collect()
            })
            .await
    }

    async fn read(&self, statement: Statement) -> StoreResult<Vec<SqlRow>> {
        Ok(SqliteStore::read(self, move |connection| run(connection, &statement)).await?.rows)
    }

    async fn look_up(&self, statement: Statement) -> StoreResult<Option<SqlRow>> {
        Ok(self.read_here(|connection| run(connection, &statement)).await?.rows.into_iter().next())
    }
}
