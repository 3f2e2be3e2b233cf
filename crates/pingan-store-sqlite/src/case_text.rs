//! The cases' text index (FTS5), written by the cases and, for a group's deferred entries, by the
//! writer.

use pingan_store::StoreResult;
use rusqlite::{Connection, params};

use crate::database_error;

/// Writes `entries` (case id, grams) into the text index.
pub(crate) fn index_texts(connection: &Connection, entries: &[(String, String)]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut statement =
        connection.prepare_cached("INSERT INTO case_text (case_id, grams) VALUES (?1, ?2)").map_err(database_error)?;
    for (case_id, grams) in entries {
        statement.execute(params![case_id, grams]).map_err(database_error)?;
    }
    Ok(())
}
