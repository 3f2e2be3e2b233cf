//! The statements of the ordinary domains (accounts, units, webhooks, idempotency keys), written
//! once. A domain writes each statement in PostgreSQL's form (`$1`, `$2` …, the same text for both
//! engines), binds [`Value`]s and reads the columns of its rows by name; an engine runs them by
//! implementing [`SqlEngine`] (SQLite reads `$N` as its own `?N`), and every domain's store trait
//! follows. The case engine's measured paths keep statements of their own in each engine crate.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{StoreError, StoreResult};

/// A value bound to a statement or read from a row. Both engines' types map onto these few:
/// integers of every width, booleans (SQLite's 0 and 1), text and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<pingan_core::Timestamp> for Value {
    fn from(value: pingan_core::Timestamp) -> Value {
        Value::Int(value.millis())
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Value {
        Value::Int(i64::from(value))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_owned())
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Value {
        Value::Bytes(value)
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Value {
        Value::Bytes(value.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// A column's value as the type a domain reads it as; None when it cannot be.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<i64> {
        match value {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromValue for pingan_core::Timestamp {
    fn from_value(value: &Value) -> Option<pingan_core::Timestamp> {
        i64::from_value(value).map(pingan_core::Timestamp::from_millis)
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Option<u32> {
        i64::from_value(value).and_then(|n| u32::try_from(n).ok())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::Int(n) => Some(*n != 0),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<String> {
        match value {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Bytes(bytes) => Some(bytes.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// A row an engine read, its columns named.
#[derive(Clone, Debug)]
pub struct SqlRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl SqlRow {
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> SqlRow {
        SqlRow { columns, values }
    }

    /// The value of `column`, as `T`; a missing column or a value of another type is corrupt data.
    pub fn get<T: FromValue>(&self, column: &str) -> StoreResult<T> {
        let value = self
            .columns
            .iter()
            .position(|name| name == column)
            .and_then(|index| self.values.get(index))
            .ok_or_else(|| StoreError::Corrupt(format!("no column {column} in a row read")))?;
        T::from_value(value).ok_or_else(|| StoreError::Corrupt(format!("column {column} holds {value:?}")))
    }
}

/// One statement, its values in `$N` order, and what it writes (named in the error when it breaks
/// a unique key or names a division that does not exist).
#[derive(Clone, Debug)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub values: Vec<Value>,
    pub subject: Option<String>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, values: Vec<Value>) -> Statement {
        Statement { sql: sql.into(), values, subject: None }
    }

    pub fn about(mut self, subject: impl Into<String>) -> Statement {
        self.subject = Some(subject.into());
        self
    }

    /// The error for a broken unique key: the subject already exists.
    pub fn already_exists(&self, detail: &str) -> StoreError {
        StoreError::AlreadyExists(self.subject.clone().unwrap_or_else(|| detail.to_owned()))
    }

    /// The error for a broken foreign key: the subject names a division that does not exist.
    pub fn missing_division(&self, detail: &str) -> StoreError {
        StoreError::MissingDivision(self.subject.clone().unwrap_or_else(|| detail.to_owned()))
    }
}

/// What a statement of a write did: the rows it returned (`RETURNING`), and how many it changed.
#[derive(Debug)]
pub struct Written {
    pub rows: Vec<SqlRow>,
    pub changed: u64,
}

/// An engine that runs the ordinary domains' statements.
#[async_trait]
pub trait SqlEngine: Send + Sync {
    /// Runs `statements` in order, in one transaction: all of them or none.
    async fn write(&self, statements: Vec<Statement>) -> StoreResult<Vec<Written>>;

    /// Runs a query that may read many rows.
    async fn read(&self, statement: Statement) -> StoreResult<Vec<SqlRow>>;

    /// Runs a lookup by a unique key, short enough that an engine may run it on the calling
    /// thread (one is made for every authenticated request).
    async fn look_up(&self, statement: Statement) -> StoreResult<Option<SqlRow>>;
}

/// Runs one statement as a write of its own.
pub async fn write_one(engine: &(impl SqlEngine + ?Sized), statement: Statement) -> StoreResult<Written> {
    engine
        .write(vec![statement])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Database("a write of one statement answered none".into()))
}

/// The first code after every code that starts with `prefix` (digits sort before `:`): a subtree
/// is the codes in `prefix .. prefix_end(prefix)`, which either engine finds in an index.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}:")
}

/// A `$N` statement with SQLite's `?N` placeholders: a `$` followed by a digit outside quotes.
pub fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_question_marks_outside_quotes_only() {
        assert_eq!(
            question_marks("UPDATE t SET a = $2, b = '$1 stays' WHERE id = $1 AND c = $12"),
            "UPDATE t SET a = ?2, b = '$1 stays' WHERE id = ?1 AND c = ?12"
        );
    }

    #[test]
    fn columns_are_read_by_name_and_type() {
        let row = SqlRow::new(
            Arc::from(vec!["id".to_owned(), "active".to_owned(), "note".to_owned()]),
            vec![Value::Int(7), Value::Int(1), Value::Null],
        );
        assert_eq!(row.get::<i64>("id").unwrap(), 7);
        assert!(row.get::<bool>("active").unwrap(), "SQLite's 1 is true");
        assert_eq!(row.get::<Option<String>>("note").unwrap(), None);
        assert!(matches!(row.get::<String>("id"), Err(StoreError::Corrupt(_))), "an integer is not text");
        assert!(matches!(row.get::<i64>("missing"), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.get::<String>("note"), Err(StoreError::Corrupt(_))), "a null is not text");
    }
}
