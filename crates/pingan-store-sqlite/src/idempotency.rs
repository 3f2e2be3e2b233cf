//! Idempotency keys on SQLite.

use async_trait::async_trait;
use pingan_store::StoreResult;
use pingan_store::idempotency::{IdempotencyStore, KeptAnswer, KeyRecord, KeyRow, claim_sql};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, database_error};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_key(
        &self,
        account_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        abandoned_before: i64,
        expired_before: i64,
    ) -> StoreResult<Option<KeyRecord>> {
        let (account_id, key, fingerprint) = (account_id.to_owned(), key.to_owned(), fingerprint.to_owned());
        self.write(move |connection| {
            let claimed: Option<i64> = connection
                .prepare_cached(&claim_sql(|n| format!("?{n}")))
                .and_then(|mut claim| {
                    claim
                        .query_row(params![account_id, key, fingerprint, now, abandoned_before, expired_before], |row| {
                            row.get(0)
                        })
                        .optional()
                })
                .map_err(database_error)?;
            if claimed.is_some() {
                return Ok(None);
            }
            let row: KeyRow = connection
                .query_row(
                    "SELECT fingerprint, created_at, status, sealed_body FROM idempotency_keys WHERE account_id = ?1 AND key = ?2",
                    params![account_id, key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .map_err(database_error)?;
            Ok(Some(KeyRecord::from_row(row)))
        })
        .await
    }

    async fn keep_answer(&self, account_id: &str, key: &str, answer: KeptAnswer) -> StoreResult<()> {
        let (account_id, key) = (account_id.to_owned(), key.to_owned());
        self.write(move |connection| {
            connection
                .execute(
                    "UPDATE idempotency_keys SET status = ?3, sealed_body = ?4 WHERE account_id = ?1 AND key = ?2",
                    params![account_id, key, i64::from(answer.status), answer.sealed_body],
                )
                .map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn release_key(&self, account_id: &str, key: &str) -> StoreResult<()> {
        let (account_id, key) = (account_id.to_owned(), key.to_owned());
        self.write(move |connection| {
            connection
                .execute(
                    "DELETE FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND status IS NULL",
                    params![account_id, key],
                )
                .map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn forget_keys(&self, before: i64) -> StoreResult<u64> {
        self.write(move |connection| {
            let forgotten = connection
                .execute("DELETE FROM idempotency_keys WHERE created_at < ?1", [before])
                .map_err(database_error)?;
            Ok(forgotten as u64)
        })
        .await
    }
}
