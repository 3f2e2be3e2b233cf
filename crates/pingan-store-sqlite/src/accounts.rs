//! Accounts, credentials and the access log on SQLite.

use async_trait::async_trait;
use pingan_core::unit::place_code_of;
use pingan_store::accounts::{
    ACCESS_COLUMNS, ACCOUNT_COLUMNS, AccessColumns, AccessEntry, AccountColumns, AccountRow, AccountStore,
    CREDENTIAL_COLUMNS, CredentialColumns, CredentialKind, CredentialRow,
};
use pingan_store::{StoreError, StoreResult};
use rusqlite::{ErrorCode, OptionalExtension, Row, params};

use crate::{SqliteStore, database_error, prefix_end};

/// Rows whose division lies under ?1 (its end is ?2); an empty ?1 takes every row.
const IN_SUBTREE: &str = "(?1 = '' OR (division_code >= ?1 AND division_code < ?2))";

// Rows convert to the column tuples directly (rusqlite reads tuples of up to 16 columns).
fn account_columns(row: &Row<'_>) -> rusqlite::Result<AccountColumns> {
    row.try_into()
}

fn credential_columns(row: &Row<'_>) -> rusqlite::Result<CredentialColumns> {
    row.try_into()
}

fn access_columns(row: &Row<'_>) -> rusqlite::Result<AccessColumns> {
    row.try_into()
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation
        && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
}

impl SqliteStore {
    /// The accounts of a unique key: a lookup short enough to run on the calling thread.
    async fn accounts_where(&self, condition: &'static str, value: &str) -> StoreResult<Vec<AccountRow>> {
        let rows: Vec<AccountColumns> = self
            .read_here(|connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition} ORDER BY login"
                    ))?
                    .query_map([value], account_columns)?
                    .collect()
            })
            .await?;
        rows.into_iter().map(AccountRow::from_columns).collect()
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: AccountRow) -> StoreResult<()> {
        self.write(move |connection| {
            let c = account.to_columns();
            let division = account.unit.as_deref().and_then(place_code_of);
            connection
                .execute(
                    &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}, division_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                    params![c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10, division],
                )
                .map_err(|e| {
                    if is_unique_violation(&e) { StoreError::AlreadyExists(format!("login {}", c.1)) } else { database_error(e) }
                })?;
            Ok(())
        })
        .await
    }

    async fn account(&self, id: &str) -> StoreResult<Option<AccountRow>> {
        Ok(self.accounts_where("id = ?1", id).await?.pop())
    }

    async fn account_by_login(&self, login: &str) -> StoreResult<Option<AccountRow>> {
        Ok(self.accounts_where("login = ?1", login).await?.pop())
    }

    async fn accounts(&self, prefix: &str) -> StoreResult<Vec<AccountRow>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<AccountColumns> = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {IN_SUBTREE} ORDER BY login"
                    ))?
                    .query_map([start, end], account_columns)?
                    .collect()
            })
            .await?;
        rows.into_iter().map(AccountRow::from_columns).collect()
    }

    async fn set_password(&self, id: &str, password_hash: String, must_change: bool) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |connection| {
            let changed = connection
                .execute(
                    "UPDATE accounts SET password_hash = ?2, must_change_password = ?3, failed_logins = 0, slowed_until = NULL
                     WHERE id = ?1",
                    params![id, password_hash, must_change],
                )
                .map_err(database_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |connection| {
            let changed = connection
                .execute("UPDATE accounts SET disabled = ?2 WHERE id = ?1", params![id, disabled])
                .map_err(database_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn count_failed_login(&self, id: &str, slow_after: u32, slowed_until: i64) -> StoreResult<Option<u32>> {
        let id = id.to_owned();
        self.write(move |connection| {
            connection
                .query_row(
                    "UPDATE accounts SET
                         slowed_until = CASE WHEN failed_logins + 1 >= ?2 THEN max(coalesce(slowed_until, 0), ?3)
                                        ELSE slowed_until END,
                         failed_logins = failed_logins + 1
                     WHERE id = ?1 RETURNING failed_logins",
                    params![id, slow_after, slowed_until],
                    |row| row.get(0),
                )
                .optional()
                .map_err(database_error)
        })
        .await
    }

    async fn set_login_state(&self, id: &str, failed_logins: u32, slowed_until: Option<i64>) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |connection| {
            connection
                .execute(
                    "UPDATE accounts SET failed_logins = ?2, slowed_until = ?3 WHERE id = ?1",
                    params![id, failed_logins, slowed_until],
                )
                .map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn put_credential(&self, credential: CredentialRow) -> StoreResult<()> {
        self.write(move |connection| {
            let c = credential.to_columns();
            connection
                .execute(
                    &format!(
                        "INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                    ),
                    params![c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8],
                )
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::AlreadyExists(format!("credential {}", c.0))
                    } else {
                        database_error(e)
                    }
                })?;
            Ok(())
        })
        .await
    }

    async fn credential(&self, secret_hash: &[u8]) -> StoreResult<Option<CredentialRow>> {
        self.read_here(|connection| {
            connection
                .prepare_cached(&format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE secret_hash = ?1"))?
                .query_row([secret_hash], credential_columns)
                .optional()
        })
        .await?
        .map(CredentialRow::from_columns)
        .transpose()
    }

    async fn credentials(&self, account_id: &str, kind: CredentialKind) -> StoreResult<Vec<CredentialRow>> {
        let account_id = account_id.to_owned();
        let rows: Vec<CredentialColumns> = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = ?1 AND kind = ?2
                         ORDER BY created_at DESC, id DESC"
                    ))?
                    .query_map(params![account_id, kind.as_str()], credential_columns)?
                    .collect()
            })
            .await?;
        rows.into_iter().map(CredentialRow::from_columns).collect()
    }

    async fn revoke_credential(&self, account_id: &str, id: &str, at: i64) -> StoreResult<bool> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        self.write(move |connection| {
            let changed = connection
                .execute(
                    "UPDATE credentials SET revoked_at = ?3 WHERE account_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                    params![account_id, id, at],
                )
                .map_err(database_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_all_credentials(&self, account_id: &str, at: i64) -> StoreResult<u64> {
        let account_id = account_id.to_owned();
        self.write(move |connection| {
            let changed = connection
                .execute(
                    "UPDATE credentials SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
                    params![account_id, at],
                )
                .map_err(database_error)?;
            Ok(changed as u64)
        })
        .await
    }

    async fn log_access(&self, entries: Vec<AccessEntry>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "INSERT INTO access_log ({ACCESS_COLUMNS}, division_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ))
                .map_err(database_error)?;
            for entry in entries {
                let division = entry.unit.as_deref().and_then(place_code_of);
                let c = entry.to_columns();
                statement.execute(params![c.0, c.1, c.2, c.3, c.4, c.5, c.6, division]).map_err(database_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn access_log(&self, prefix: &str, from: i64, limit: u32) -> StoreResult<Vec<AccessEntry>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<AccessColumns> = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {ACCESS_COLUMNS} FROM access_log WHERE {IN_SUBTREE} AND at >= ?3 ORDER BY at, seq LIMIT ?4"
                    ))?
                    .query_map(params![start, end, from, limit], access_columns)?
                    .collect()
            })
            .await?;
        Ok(rows.into_iter().map(AccessEntry::from_columns).collect())
    }
}
