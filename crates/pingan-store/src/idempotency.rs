//! Idempotency keys of API requests: the first request with a key claims it; its answer is kept
//! (sealed: it may carry a secret) so that a retry with the same key gets the same answer instead
//! of doing the work twice.

use async_trait::async_trait;

use crate::StoreResult;

/// A key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// What the request was (method, path and a hash of its body): a key names one request only.
    pub fingerprint: String,
    pub created_at: i64,
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
        now: i64,
        abandoned_before: i64,
        expired_before: i64,
    ) -> StoreResult<Option<KeyRecord>>;

    /// Keeps the answer to the request that claimed `key`.
    async fn keep_answer(&self, account_id: &str, key: &str, answer: KeptAnswer) -> StoreResult<()>;

    /// Gives up a claim: the next request with the key does the work.
    async fn release_key(&self, account_id: &str, key: &str) -> StoreResult<()>;

    /// Forgets keys made before `before`; says how many.
    async fn forget_keys(&self, before: i64) -> StoreResult<u64>;
}

/// The claim both engines make, with `?N`-style placeholders turned into the engine's by
/// `placeholder`: it inserts the key, or takes over an abandoned or expired one, and returns a
/// row only when this request got the key.
pub fn claim_sql(placeholder: impl Fn(usize) -> String) -> String {
    let p = |n| placeholder(n);
    format!(
        "INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at, status, sealed_body)
         VALUES ({}, {}, {}, {}, NULL, NULL)
         ON CONFLICT (account_id, key) DO UPDATE
             SET fingerprint = excluded.fingerprint, created_at = excluded.created_at, status = NULL, sealed_body = NULL
             WHERE (idempotency_keys.status IS NULL AND idempotency_keys.created_at < {})
                OR idempotency_keys.created_at < {}
         RETURNING created_at",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

/// A key's columns as both engines read them: fingerprint, created_at, status, sealed body.
pub type KeyRow = (String, i64, Option<i64>, Option<String>);

impl KeyRecord {
    pub fn from_row((fingerprint, created_at, status, sealed_body): KeyRow) -> KeyRecord {
        let answer = match (status, sealed_body) {
            (Some(status), Some(sealed_body)) => Some(KeptAnswer { status: status as u16, sealed_body }),
            _ => None,
        };
        KeyRecord { fingerprint, created_at, answer }
    }
}
