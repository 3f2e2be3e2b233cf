//! Webhooks: other systems subscribe a URL to the cases of a unit (and, if they like, of some
//! categories); every action on such a case is POSTed to it as JSON, signed with the
//! subscription's secret.
//!
//! Durable: the engine writes a delivery for each subscription a case action concerns in the same
//! transaction as the action (the outbox), so a notification exists exactly when its action does
//! and a crash loses none. The web layer's sender (`pingan_web::api::webhooks::sender`) sends them: one
//! task per subscription, deliveries in order, each attempt recorded as [`DeliverySettings::attempt`]
//! says, failures retried with exponential back-off. A slow or dead receiver only delays its own
//! deliveries; case writes never wait for any. A delivery may arrive more than once (sent, then the
//! server stopped before recording it): receivers deduplicate by the `X-Pingan-Delivery` header or
//! the event's `event_id`.
//!
//! Signature: `X-Pingan-Signature: sha256=HEX`, the HMAC-SHA256 under the secret of
//! `TIMESTAMP.BODY`, with `TIMESTAMP` (Unix seconds) in `X-Pingan-Timestamp`.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::TimeDelta;
use tokio::sync::Notify;

use pingan_core::{Reason, Timestamp};

use hmac::{Hmac, Mac};
use pingan_core::access::Role;
use pingan_core::unit::place_code_of;
use pingan_store::cases::CaseRow;
use pingan_store::webhooks::{Attempt, Delivery, DeliveryState, NewWebhook, WebhookRow};
use sha2::Sha256;

use crate::AppError;
use crate::access::{AccessError, Principal};
use crate::context::Context;
use crate::targets::TargetPolicy;

/// The most categories one subscription may name.
const MAX_CATEGORIES: usize = 50;

#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    /// How often each subscription looks for due deliveries when nothing wakes it.
    pub poll: Duration,
    /// The wait after the first failed attempt; it doubles with each further one …
    pub first_retry: Duration,
    /// … up to this.
    pub max_retry: Duration,
    /// Attempts before a delivery is given up as failed.
    pub max_attempts: i64,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
}

impl Default for DeliverySettings {
    /// Retries after 10 s, 20 s, 40 s … then hourly: 20 attempts span about 12 hours.
    fn default() -> DeliverySettings {
        DeliverySettings {
            poll: Duration::from_secs(1),
            first_retry: Duration::from_secs(10),
            max_retry: Duration::from_secs(3600),
            max_attempts: 20,
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliverySettings {
    /// When to try again after `attempts` failed attempts (None: give up).
    fn retry_after(&self, attempts: i64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doubled = self.first_retry.saturating_mul(1 << (attempts - 1).clamp(0, 30));
        Some(doubled.min(self.max_retry))
    }

    /// The attempt to record for `delivery` sent at `at`: a 2xx answer delivers it; anything else
    /// is tried again after the back-off, or given up after the last attempt.
    pub fn attempt(&self, delivery: &Delivery, at: Timestamp, sent: Sent) -> Attempt {
        let (status, error) = match sent {
            Sent::Answered(status) if (200..300).contains(&status) => {
                let status = Some(i64::from(status));
                return Attempt { at, status, error: None, state: DeliveryState::Delivered, next_attempt_at: at };
            }
            Sent::Answered(status) => (Some(i64::from(status)), format!("the receiver answered HTTP {status}")),
            Sent::NoAnswer(error) => (None, error),
        };
        let retry = self.retry_after(delivery.attempts + 1);
        Attempt {
            at,
            status,
            error: Some(error),
            state: if retry.is_some() { DeliveryState::Pending } else { DeliveryState::Failed },
            next_attempt_at: at.plus(retry.and_then(|wait| TimeDelta::from_std(wait).ok()).unwrap_or_default()),
        }
    }
}

/// A subscription as asked for.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    pub url: String,
    pub unit: String,
    pub categories: Vec<String>,
}

/// Only an administrator manages subscriptions, for units of their own subtree.
fn check_manages(by: &Principal, unit: &str) -> Result<(), AppError> {
    if crate::accounts::administers(by, place_code_of(unit).as_deref()) {
        Ok(())
    } else {
        Err(AccessError::Forbidden(Reason::new("管理该单位的订阅", "managing webhooks of this unit")).into())
    }
}

fn check_administrator(by: &Principal) -> Result<(), AppError> {
    if by.has(Role::Administrator) {
        Ok(())
    } else {
        Err(AccessError::Forbidden(Reason::new("管理订阅", "managing webhooks")).into())
    }
}

/// The subscriptions, their outbox and where deliveries may go.
pub struct Webhooks {
    context: Arc<Context>,
    /// The active subscriptions, read again when they change and with [`Webhooks::reload`].
    active: ArcSwap<Vec<WebhookRow>>,
    /// Woken when a write queued deliveries.
    outbox: Notify,
    /// Where deliveries may go.
    targets: TargetPolicy,
}

impl Webhooks {
    /// Subscriptions kept in `context`'s store, delivered where `targets` allows (besides public
    /// addresses). None is active until the first [`Webhooks::reload`].
    pub fn new(context: Arc<Context>, targets: TargetPolicy) -> Webhooks {
        Webhooks { context, active: ArcSwap::default(), outbox: Notify::new(), targets }
    }

    /// The active subscriptions.
    pub fn active(&self) -> Arc<Vec<WebhookRow>> {
        self.active.load_full()
    }

    /// Reads the active subscriptions again.
    pub async fn reload(&self) -> Result<(), AppError> {
        let active: Vec<WebhookRow> = self.context.store().webhooks().await?.into_iter().filter(|w| w.active).collect();
        self.active.store(Arc::new(active));
        self.outbox.notify_waiters();
        Ok(())
    }

    /// Where deliveries may go.
    pub fn targets(&self) -> &TargetPolicy {
        &self.targets
    }

    /// The subscriptions an action that took a case from `before` to `after` concerns: the
    /// deliveries to queue with it.
    pub fn concerned(&self, before: Option<&CaseRow>, after: &CaseRow) -> Vec<i64> {
        self.active()
            .iter()
            .filter(|w| crate::access::concerns(w, after) || before.is_some_and(|b| crate::access::concerns(w, b)))
            .map(|w| w.id)
            .collect()
    }

    /// Says that a write queued deliveries.
    pub fn queued(&self) {
        self.outbox.notify_waiters();
    }

    /// Resolves when a write next queues deliveries (or the subscriptions change).
    pub async fn outbox_filled(&self) {
        self.outbox.notified().await;
    }

    /// Subscribes `request.url` to the cases of `request.unit`; answers the subscription with its
    /// secret, which is shown only here.
    pub async fn create(&self, by: &Principal, request: WebhookRequest) -> Result<WebhookRow, AppError> {
        check_administrator(by)?;
        let url = crate::fields::checked_url("url", &request.url)?;
        self.targets.check_url(&url)?;
        let unit = crate::fields::checked_unit(request.unit.trim())?;
        check_manages(by, &unit)?;
        if !crate::units::unit_exists(self.context.store(), &unit).await? {
            return Err(AppError::UnknownUnit(unit));
        }
        if request.categories.len() > MAX_CATEGORIES {
            return Err(AppError::InvalidField {
                field: "categories",
                reason: Reason::new("最多 50 个", "at most 50"),
            });
        }
        let book = self.context.categories();
        if let Some(unknown) = request.categories.iter().find(|code| book.codes_under(code).is_none()) {
            return Err(AppError::UnknownCategory(unknown.clone()));
        }
        let new = NewWebhook {
            unit,
            url,
            secret: crate::accounts::new_secret("whsec_"),
            categories: request.categories,
            created_by: by.login.clone(),
            created_at: self.context.timestamp(),
        };
        let created = self.context.store().create_webhook(new).await?;
        self.reload().await?;
        Ok(created)
    }

    /// The active subscriptions of units in `by`'s subtree.
    pub fn list(&self, by: &Principal) -> Result<Vec<WebhookRow>, AppError> {
        check_administrator(by)?;
        Ok(self.active().iter().filter(|w| check_manages(by, &w.unit).is_ok()).cloned().collect())
    }

    /// Subscription `id` if `by` manages it; any other is "not found".
    pub fn find(&self, by: &Principal, id: i64) -> Result<WebhookRow, AppError> {
        self.list(by)?.into_iter().find(|w| w.id == id).ok_or(AppError::UnknownWebhook(id))
    }

    /// Removes subscription `id`: nothing more is queued or sent for it, and it is "not found"
    /// from then on (its row and deliveries stay in the database for the record).
    pub async fn remove(&self, by: &Principal, id: i64) -> Result<(), AppError> {
        self.find(by, id)?;
        if !self.context.store().remove_webhook(id).await? {
            // Removed meanwhile.
            return Err(AppError::UnknownWebhook(id));
        }
        self.reload().await
    }

    /// The latest `limit` deliveries of subscription `id`, newest first.
    pub async fn deliveries(&self, by: &Principal, id: i64, limit: u32) -> Result<Vec<Delivery>, AppError> {
        self.find(by, id)?;
        Ok(self.context.store().deliveries(id, limit).await?)
    }

    /// Up to `limit` deliveries of `webhook` due now, oldest first, for the sender.
    pub async fn due(&self, webhook: i64, limit: u32) -> Result<Vec<Delivery>, AppError> {
        Ok(self.context.store().due_deliveries(webhook, self.context.timestamp(), limit).await?)
    }

    /// Records an attempt at a delivery.
    pub async fn record(&self, delivery: i64, attempt: Attempt) -> Result<(), AppError> {
        Ok(self.context.store().record_attempt(delivery, attempt).await?)
    }

    /// Now, by the context's clock (the sender stamps its attempts with it).
    pub fn now(&self) -> Timestamp {
        self.context.timestamp()
    }
}

/// `sha256=HEX` of `timestamp.body` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("sha256={}", pingan_core::hex(&mac.finalize().into_bytes()))
}

/// What came of sending a delivery once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this HTTP status.
    Answered(u16),
    /// No answer: the connection failed or timed out.
    NoAnswer(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_its_ceiling_then_gives_up() {
        let settings = DeliverySettings::default();
        let waits: Vec<Option<u64>> = (1..=21).map(|n| settings.retry_after(n).map(|d| d.as_secs())).collect();
        assert_eq!(&waits[..4], &[Some(10), Some(20), Some(40), Some(80)]);
        assert_eq!(waits[9], Some(3600), "2^9 × 10 s is past an hour");
        assert_eq!(waits[18], Some(3600));
        assert_eq!(waits[19], None, "the 20th failure is the last");
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        // As a receiver computes it, e.g. Python's
        // hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest().
        let body = r#"{"action":"report"}"#;
        assert_eq!(
            signature("whsec_test", 1_700_000_000, body),
            "sha256=c6c6f2967b72413650a11703d54be1242ce0d4fee2051acbe932397376a5a6d5"
        );
        assert_ne!(signature("whsec_test", 1_700_000_001, body), signature("whsec_test", 1_700_000_000, body));
    }
}
