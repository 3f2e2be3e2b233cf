//! Accounts, credentials and the access log on PostgreSQL.

use async_trait::async_trait;
use pingan_core::unit::place_code_of;
use pingan_store::accounts::{
    ACCESS_COLUMNS, ACCOUNT_COLUMNS, AccessEntry, AccountRow, AccountStore, CREDENTIAL_COLUMNS, CredentialKind,
    CredentialRow,
};
use pingan_store::{StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::{PostgresStore, database_error};

fn account(row: &Row) -> StoreResult<AccountRow> {
    AccountRow::from_columns((
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
        row.get(7),
        row.get(8),
        row.get(9),
        row.get(10),
    ))
}

fn credential(row: &Row) -> StoreResult<CredentialRow> {
    CredentialRow::from_columns((
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
        row.get(7),
        row.get(8),
    ))
}

fn already_exists(error: tokio_postgres::Error, what: String) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::AlreadyExists(what)
    } else {
        database_error(error)
    }
}

impl PostgresStore {
    async fn accounts_where(&self, condition: &str, value: &(dyn ToSql + Sync)) -> StoreResult<Vec<AccountRow>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition} ORDER BY login"))
            .await
            .map_err(database_error)?;
        client.query(&statement, &[value]).await.map_err(database_error)?.iter().map(account).collect()
    }

    async fn execute(&self, sql: &str, values: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(database_error)?;
        client.execute(&statement, values).await.map_err(database_error)
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(&self, account: AccountRow) -> StoreResult<()> {
        let c = account.to_columns();
        let division = account.unit.as_deref().and_then(place_code_of);
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO accounts ({ACCOUNT_COLUMNS}, division_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[&c.0, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &c.7, &c.8, &c.9, &c.10, &division],
            )
            .await
            .map_err(|e| already_exists(e, format!("login {}", c.1)))?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<AccountRow>> {
        Ok(self.accounts_where("id = $1", &id).await?.pop())
    }

    async fn account_by_login(&self, login: &str) -> StoreResult<Option<AccountRow>> {
        Ok(self.accounts_where("login = $1", &login).await?.pop())
    }

    async fn accounts(&self, prefix: &str) -> StoreResult<Vec<AccountRow>> {
        self.accounts_where("($1 = '' OR division_code LIKE $1 || '%')", &prefix).await
    }

    async fn set_password(&self, id: &str, password_hash: String, must_change: bool) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE accounts SET password_hash = $2, must_change_password = $3, failed_logins = 0, slowed_until = NULL
                 WHERE id = $1",
                &[&id, &password_hash, &must_change],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool> {
        Ok(self.execute("UPDATE accounts SET disabled = $2 WHERE id = $1", &[&id, &disabled]).await? > 0)
    }

    async fn count_failed_login(&self, id: &str, slow_after: u32, slowed_until: i64) -> StoreResult<Option<u32>> {
        let client = self.client().await?;
        let slow_after = i64::from(slow_after);
        let row = client
            .query_opt(
                "UPDATE accounts SET
                     slowed_until = CASE WHEN failed_logins + 1 >= $2 THEN GREATEST(coalesce(slowed_until, 0), $3)
                                    ELSE slowed_until END,
                     failed_logins = failed_logins + 1
                 WHERE id = $1 RETURNING failed_logins",
                &[&id, &slow_after, &slowed_until],
            )
            .await
            .map_err(database_error)?;
        Ok(row.map(|r| u32::try_from(r.get::<_, i64>(0)).unwrap_or(u32::MAX)))
    }

    async fn set_login_state(&self, id: &str, failed_logins: u32, slowed_until: Option<i64>) -> StoreResult<()> {
        let failed = i64::from(failed_logins);
        self.execute(
            "UPDATE accounts SET failed_logins = $2, slowed_until = $3 WHERE id = $1",
            &[&id, &failed, &slowed_until],
        )
        .await?;
        Ok(())
    }

    async fn put_credential(&self, credential: CredentialRow) -> StoreResult<()> {
        let c = credential.to_columns();
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[&c.0, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &c.7, &c.8],
            )
            .await
            .map_err(|e| already_exists(e, format!("credential {}", c.0)))?;
        Ok(())
    }

    async fn credential(&self, secret_hash: &[u8]) -> StoreResult<Option<CredentialRow>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE secret_hash = $1"))
            .await
            .map_err(database_error)?;
        client
            .query_opt(&statement, &[&secret_hash])
            .await
            .map_err(database_error)?
            .as_ref()
            .map(credential)
            .transpose()
    }

    async fn credentials(&self, account_id: &str, kind: CredentialKind) -> StoreResult<Vec<CredentialRow>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = $1 AND kind = $2
                     ORDER BY created_at DESC, id DESC"
                ),
                &[&account_id, &kind.as_str()],
            )
            .await
            .map_err(database_error)?;
        rows.iter().map(credential).collect()
    }

    async fn revoke_credential(&self, account_id: &str, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE credentials SET revoked_at = $3 WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL",
                &[&account_id, &id, &at],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn revoke_all_credentials(&self, account_id: &str, at: i64) -> StoreResult<u64> {
        self.execute(
            "UPDATE credentials SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
            &[&account_id, &at],
        )
        .await
    }

    async fn log_access(&self, entries: Vec<AccessEntry>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        let statement = transaction
            .prepare_cached(&format!(
                "INSERT INTO access_log ({ACCESS_COLUMNS}, division_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await
            .map_err(database_error)?;
        for entry in entries {
            let division = entry.unit.as_deref().and_then(place_code_of);
            let c = entry.to_columns();
            transaction
                .execute(&statement, &[&c.0, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &division])
                .await
                .map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn access_log(&self, prefix: &str, from: i64, limit: u32) -> StoreResult<Vec<AccessEntry>> {
        let client = self.client().await?;
        let limit = i64::from(limit);
        let rows = client
            .query(
                &format!(
                    "SELECT {ACCESS_COLUMNS} FROM access_log WHERE ($1 = '' OR division_code LIKE $1 || '%') AND at >= $2
                     ORDER BY at, seq LIMIT $3"
                ),
                &[&prefix, &from, &limit],
            )
            .await
            .map_err(database_error)?;
        Ok(rows
            .iter()
            .map(|r| AccessEntry::from_columns((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6))))
            .collect())
    }
}
