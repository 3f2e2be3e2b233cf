//! Webhook subscriptions and their outbox. A case write that concerns a subscription adds one
//! delivery per history entry in the same transaction as the entry itself, so a notification
//! exists exactly when its action does; a dispatcher then sends the deliveries and records each
//! attempt.

use async_trait::async_trait;
use serde_json::json;

use crate::cases::{ActionRecord, CaseRow};
use crate::{StoreError, StoreResult};

/// A subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    /// The unit whose cases it follows (`centre:CODE`, `department:COUNTY:KIND` …).
    pub unit: String,
    pub url: String,
    /// The key its deliveries are signed with (HMAC-SHA256).
    pub secret: String,
    /// Category codes or families (`hazard`, `dispute.neighbour`); empty: every category.
    pub categories: Vec<String>,
    /// The account that created it.
    pub created_by: String,
    pub created_at: i64,
    /// False once removed: nothing more is queued or sent for it.
    pub active: bool,
}

/// A subscription to store; the store gives it its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhook {
    pub unit: String,
    pub url: String,
    pub secret: String,
    pub categories: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet accepted by the receiver; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up after the last attempt the back-off allows.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One notification of one history entry to one subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub case_id: String,
    /// The history entry's sequence number within its case.
    pub sequence: i64,
    /// The JSON body sent, as written with the entry (see [`event_json`]).
    pub event: String,
    pub created_at: i64,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// The receiver's HTTP status of the last attempt, if it answered.
    pub last_status: Option<i64>,
    /// What went wrong on the last attempt.
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    /// `Delivered`, `Pending` (try again at `next_attempt_at`) or `Failed` (give up).
    pub state: DeliveryState,
    pub next_attempt_at: i64,
}

/// A delivery to queue with a history entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub webhook_id: i64,
    pub case_id: String,
    pub sequence: i64,
    pub event: String,
    pub created_at: i64,
}

/// The deliveries to each of `notify` of `records`, entries `first_sequence`, … of `case`.
pub fn outgoing(notify: &[i64], case: &CaseRow, first_sequence: i64, records: &[ActionRecord]) -> Vec<Outgoing> {
    let mut queued = Vec::with_capacity(notify.len() * records.len());
    if notify.is_empty() {
        // Nobody to tell: spare building the event bodies, a JSON document per entry.
        return queued;
    }
    for (offset, record) in records.iter().enumerate() {
        let sequence = first_sequence + offset as i64;
        let event = event_json(case, sequence, record);
        for &webhook_id in notify {
            queued.push(Outgoing {
                webhook_id,
                case_id: case.id.clone(),
                sequence,
                event: event.clone(),
                created_at: record.at,
            });
        }
    }
    queued
}

/// The body of a case event, written with its history entry so that what is sent is what the
/// case was then. Reporters' details are never part of it.
pub fn event_json(case: &CaseRow, sequence: i64, record: &ActionRecord) -> String {
    let details: serde_json::Value = serde_json::from_str(&record.details).unwrap_or(serde_json::Value::Null);
    json!({
        "event_id": format!("{}:{}", case.id, sequence),
        "action": record.action,
        "at": record.at,
        "actor": record.actor,
        "status": record.status_after.as_str(),
        "details": details,
        "case": {
            "id": case.id,
            "number": case.number.as_ref().map(ToString::to_string),
            "version": sequence,
            "category": case.category,
            "priority": case.priority.as_str(),
            "channel": case.channel.as_str(),
            "division": case.division.as_str(),
            "handler": case.handler,
            "grid": case.grid.as_ref().map(|g| g.as_str()),
            "reported_at": case.reported_at,
            "resolve_due": case.resolve_due,
            "lon": case.body.lon,
            "lat": case.body.lat,
            "address": case.body.address,
            "description": case.body.description,
        },
    })
    .to_string()
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<WebhookRow>;

    /// Every subscription, removed ones too, by id.
    async fn webhooks(&self) -> StoreResult<Vec<WebhookRow>>;

    /// Marks a subscription removed; its pending deliveries are not sent. False if there is none.
    async fn remove_webhook(&self, id: i64) -> StoreResult<bool>;

    /// Pending deliveries of `webhook_id` due at `now`, oldest first.
    async fn due_deliveries(&self, webhook_id: i64, now: i64, limit: u32) -> StoreResult<Vec<Delivery>>;

    /// Records an attempt at delivery `id`, which counts as one more.
    async fn record_attempt(&self, id: i64, attempt: Attempt) -> StoreResult<()>;

    /// The latest deliveries of `webhook_id`, newest first.
    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<Delivery>>;
}

/// `row` with its categories read from their stored JSON.
pub fn with_categories(row: WebhookRow, stored: &str) -> StoreResult<WebhookRow> {
    let categories =
        serde_json::from_str(stored).map_err(|e| StoreError::Corrupt(format!("webhook categories: {e}")))?;
    Ok(WebhookRow { categories, ..row })
}

/// `row` with its state read from its stored name.
pub fn with_state(row: Delivery, stored: &str) -> StoreResult<Delivery> {
    let state =
        DeliveryState::parse(stored).ok_or_else(|| StoreError::Corrupt(format!("delivery state {stored:?}")))?;
    Ok(Delivery { state, ..row })
}

/// A subscription's categories as stored (a JSON array).
pub fn categories_json(categories: &[String]) -> String {
    serde_json::Value::from(categories.to_vec()).to_string()
}
