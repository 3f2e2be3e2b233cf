//! Idempotency keys on PostgreSQL.

use async_trait::async_trait;
use pingan_store::StoreResult;
use pingan_store::idempotency::{IdempotencyStore, KeptAnswer, KeyRecord, claim_sql};

use crate::{PostgresStore, database_error};

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn claim_key(
        &self,
        account_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        abandoned_before: i64,
        expired_before: i64,
    ) -> StoreResult<Option<KeyRecord>> {
        let client = self.client().await?;
        let claim = client.prepare_cached(&claim_sql(|n| format!("${n}"))).await.map_err(database_error)?;
        let claimed = client
            .query_opt(&claim, &[&account_id, &key, &fingerprint, &now, &abandoned_before, &expired_before])
            .await
            .map_err(database_error)?;
        if claimed.is_some() {
            return Ok(None);
        }
        let row = client
            .query_one(
                "SELECT fingerprint, created_at, status, sealed_body FROM idempotency_keys WHERE account_id = $1 AND key = $2",
                &[&account_id, &key],
            )
            .await
            .map_err(database_error)?;
        Ok(Some(KeyRecord::from_row((row.get(0), row.get(1), row.get(2), row.get(3)))))
    }

    async fn keep_answer(&self, account_id: &str, key: &str, answer: KeptAnswer) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE idempotency_keys SET status = $3, sealed_body = $4 WHERE account_id = $1 AND key = $2",
                &[&account_id, &key, &i64::from(answer.status), &answer.sealed_body],
            )
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn release_key(&self, account_id: &str, key: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND status IS NULL",
                &[&account_id, &key],
            )
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn forget_keys(&self, before: i64) -> StoreResult<u64> {
        let client = self.client().await?;
        client.execute("DELETE FROM idempotency_keys WHERE created_at < $1", &[&before]).await.map_err(database_error)
    }
}
