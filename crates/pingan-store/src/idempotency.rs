//! Idempotency keys of API requests: the first request with a key claims it; its answer is kept
//! (sealed: it may carry a secret) so that a retry with the same key gets the same answer instead
//! of doing the work twice.

use async_trait::async_trait;
use pingan_core::Timestamp;

use crate::sql::{SqlEngine, Statement, write_one};
use crate::{StoreError, StoreResult};

/// A key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// What the request was (method, path and a hash of its body): a key names one request only.
    pub fingerprint: String,
    pub created_at: Timestamp,
    /// None while the first request is still being answered.
    pub answer: Option<KeptAnswer>,
}

/// The answer kept for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptAnswer {
    pub status: u16,
    /// The body, sealed with the server's data key.
    pub sealed_body: String,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` of `account_id` for a request: None when this request has it now (a new key,
    /// one whose claim was made before `abandoned_before` and never answered, or one older than
    /// `expired_before`); otherwise the key as it stands.
    async fn claim_key(
        &self,
        account_id: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        abandoned_before: Timestamp,
        expired_before: Timestamp,
    ) -> StoreResult<Option<KeyRecord>>;

    /// Keeps the answer to the request that claimed `key`.
    async fn keep_answer(&self, account_id: &str, key: &str, answer: KeptAnswer) -> StoreResult<()>;

    /// Gives up a claim: the next request with the key does the work.
    async fn release_key(&self, account_id: &str, key: &str) -> StoreResult<()>;

    /// Forgets keys made before `before`; says how many.
    async fn forget_keys(&self, before: Timestamp) -> StoreResult<u64>;
}

/// How often a claim is made again when the key was given up while it was looked at.
const CLAIM_TRIES: usize = 5;

/// Inserts the key, or takes over an abandoned or expired one; returns a row only when this request
/// got the key.
const CLAIM: &str = "INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at, status, sealed_body)
     VALUES ($1, $2, $3, $4, NULL, NULL)
     ON CONFLICT (account_id, key) DO UPDATE
         SET fingerprint = excluded.fingerprint, created_at = excluded.created_at, status = NULL, sealed_body = NULL
         WHERE (idempotency_keys.status IS NULL AND idempotency_keys.created_at < $5)
            OR idempotency_keys.created_at < $6
     RETURNING created_at";

#[async_trait]
impl<E: SqlEngine> IdempotencyStore for E {
    async fn claim_key(
        &self,
        account_id: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        abandoned_before: Timestamp,
        expired_before: Timestamp,
    ) -> StoreResult<Option<KeyRecord>> {
        let values = vec![
            account_id.into(),
            key.into(),
            fingerprint.into(),
            now.into(),
            abandoned_before.into(),
            expired_before.into(),
        ];
        let sql = "SELECT fingerprint, created_at, status, sealed_body FROM idempotency_keys
                   WHERE account_id = $1 AND key = $2";
        // The claim and the look at the key's holder are two statements: a holder that gives the
        // key up between them leaves it free, and the claim is made again.
        let mut holder = None;
        for _ in 0..CLAIM_TRIES {
            if !write_one(self, Statement::new(CLAIM, values.clone())).await?.rows.is_empty() {
                return Ok(None);
            }
            holder = self.look_up(Statement::new(sql, vec![account_id.into(), key.into()])).await?;
            if holder.is_some() {
                break;
            }
        }
        let row = holder.ok_or_else(|| StoreError::Database(format!("idempotency key {key} kept changing hands")))?;
        let answer = match (row.get::<Option<i64>>("status")?, row.get::<Option<String>>("sealed_body")?) {
            (Some(status), Some(sealed_body)) => {
                Some(KeptAnswer { status: u16::try_from(status).unwrap_or(500), sealed_body })
            }
            _ => None,
        };
        Ok(Some(KeyRecord { fingerprint: row.get("fingerprint")?, created_at: row.get("created_at")?, answer }))
    }

    async fn keep_answer(&self, account_id: &str, key: &str, answer: KeptAnswer) -> StoreResult<()> {
        let sql = "UPDATE idempotency_keys SET status = $3, sealed_body = $4 WHERE account_id = $1 AND key = $2";
        let values = vec![account_id.into(), key.into(), i64::from(answer.status).into(), answer.sealed_body.into()];
        write_one(self, Statement::new(sql, values)).await?;
        Ok(())
    }

    async fn release_key(&self, account_id: &str, key: &str) -> StoreResult<()> {
        let sql = "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND status IS NULL";
        write_one(self, Statement::new(sql, vec![account_id.into(), key.into()])).await?;
        Ok(())
    }

    async fn forget_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM idempotency_keys WHERE created_at < $1";
        Ok(write_one(self, Statement::new(sql, vec![before.into()])).await?.changed)
    }
}
