//! Idempotency keys of API requests: the first request with a key claims it for its account; its
//! answer is kept for a day, sealed (it may carry a secret, such as a first password), so that a
//! retry gets the same answer instead of doing the work twice.

use std::sync::Arc;

use chrono::TimeDelta;
use pingan_store::idempotency::KeptAnswer;

use crate::AppError;
use crate::context::Context;

/// How long an answer is kept.
pub const KEPT: TimeDelta = TimeDelta::days(1);
/// A claim not answered within this long was abandoned (its request died): a retry may take it.
pub const ABANDONED: TimeDelta = TimeDelta::minutes(1);

/// What a request with a key finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now: do the work, then keep or release its answer.
    Ours,
    /// The key was used for another request (another method, path or body).
    Reused,
    /// The first request with the key is still being answered.
    InFlight,
    /// The first request's answer, to give again.
    Answered { status: u16, body: Vec<u8> },
}

pub struct IdempotencyKeys {
    context: Arc<Context>,
}

impl IdempotencyKeys {
    /// Keys kept in `context`'s store, answers sealed with its vault (without one, answers are
    /// not kept).
    pub fn new(context: Arc<Context>) -> IdempotencyKeys {
        IdempotencyKeys { context }
    }

    /// What `key` of `account` holds for a request of `fingerprint` (its method, path and body).
    pub async fn claim(&self, account: &str, key: &str, fingerprint: &str) -> Result<Claim, AppError> {
        let now = self.context.timestamp();
        let found = self
            .context
            .store()
            .claim_key(account, key, fingerprint, now, now.plus(-ABANDONED), now.plus(-KEPT))
            .await?;
        Ok(match found {
            None => Claim::Ours,
            Some(record) if record.fingerprint != fingerprint => Claim::Reused,
            Some(record) => match record.answer {
                None => Claim::InFlight,
                Some(answer) => Claim::Answered {
                    status: answer.status,
                    body: self.context.vault()?.open_bytes(&answer.sealed_body, &context(account, key))?,
                },
            },
        })
    }

    /// Keeps the answer to the request that claimed `key`, sealed.
    pub async fn keep(&self, account: &str, key: &str, status: u16, body: &[u8]) -> Result<(), AppError> {
        let sealed_body = self.context.vault()?.seal_bytes(body, &context(account, key))?;
        Ok(self.context.store().keep_answer(account, key, KeptAnswer { status, sealed_body }).await?)
    }

    /// Gives up a claim: the next request with the key does the work.
    pub async fn release(&self, account: &str, key: &str) -> Result<(), AppError> {
        Ok(self.context.store().release_key(account, key).await?)
    }

    /// Forgets the keys whose answers were kept for their day; how many.
    pub async fn forget_expired(&self) -> Result<u64, AppError> {
        Ok(self.context.store().forget_keys(self.context.timestamp().plus(-KEPT)).await?)
    }
}

/// What a kept answer is sealed to: its account and key, so that it opens for no other.
fn context(account: &str, key: &str) -> String {
    format!("idempotency:{account}:{key}")
}
