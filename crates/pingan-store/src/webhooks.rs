//! Webhook subscriptions and their outbox. A case write that concerns a subscription adds one
//! delivery per history entry in the same transaction as the entry itself, so a notification
//! exists exactly when its action does; a dispatcher then sends the deliveries and records each
//! attempt.

use async_trait::async_trait;
use pingan_core::Timestamp;
use serde_json::json;

use crate::cases::{ActionRecord, CaseRow};
use crate::sql::{SqlEngine, SqlRow, Statement, write_one};
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
    pub created_at: Timestamp,
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
    pub created_at: Timestamp,
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
    pub created_at: Timestamp,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    /// The receiver's HTTP status of the last attempt, if it answered.
    pub last_status: Option<i64>,
    /// What went wrong on the last attempt.
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    pub status: Option<i64>,
    pub error: Option<String>,
    /// `Delivered`, `Pending` (try again at `next_attempt_at`) or `Failed` (give up).
    pub state: DeliveryState,
    pub next_attempt_at: Timestamp,
}

/// A delivery to queue with a history entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub webhook_id: i64,
    pub case_id: String,
    pub sequence: i64,
    pub event: String,
    pub created_at: Timestamp,
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
    async fn due_deliveries(&self, webhook_id: i64, now: Timestamp, limit: u32) -> StoreResult<Vec<Delivery>>;

    /// Records an attempt at delivery `id`, which counts as one more.
    async fn record_attempt(&self, id: i64, attempt: Attempt) -> StoreResult<()>;

    /// The latest deliveries of `webhook_id`, newest first.
    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<Delivery>>;
}

/// Queues one delivery inside a case write's transaction: webhook, case, sequence, event, time.
pub const QUEUE: &str =
    "INSERT INTO webhook_deliveries (webhook_id, case_id, sequence, event, created_at, state, attempts, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)";

const WEBHOOK_COLUMNS: &str = "id, unit, url, secret, categories, created_by, created_at, active";

const DELIVERY_COLUMNS: &str = "id, webhook_id, case_id, sequence, event, created_at, state, attempts, \
     next_attempt_at, last_status, last_error, delivered_at";

impl WebhookRow {
    fn read(row: &SqlRow) -> StoreResult<WebhookRow> {
        let categories: String = row.get("categories")?;
        Ok(WebhookRow {
            id: row.get("id")?,
            unit: row.get("unit")?,
            url: row.get("url")?,
            secret: row.get("secret")?,
            categories: serde_json::from_str(&categories)
                .map_err(|e| StoreError::Corrupt(format!("webhook categories: {e}")))?,
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
            active: row.get("active")?,
        })
    }
}

impl Delivery {
    fn read(row: &SqlRow) -> StoreResult<Delivery> {
        let state: String = row.get("state")?;
        Ok(Delivery {
            id: row.get("id")?,
            webhook_id: row.get("webhook_id")?,
            case_id: row.get("case_id")?,
            sequence: row.get("sequence")?,
            event: row.get("event")?,
            created_at: row.get("created_at")?,
            state: DeliveryState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
            attempts: row.get("attempts")?,
            next_attempt_at: row.get("next_attempt_at")?,
            last_status: row.get("last_status")?,
            last_error: row.get("last_error")?,
            delivered_at: row.get("delivered_at")?,
        })
    }
}

#[async_trait]
impl<E: SqlEngine> WebhookStore for E {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<WebhookRow> {
        let sql = "INSERT INTO webhooks (unit, url, secret, categories, created_by, created_at, active)
                   VALUES ($1, $2, $3, $4, $5, $6, TRUE) RETURNING id";
        let values = vec![
            new.unit.as_str().into(),
            new.url.as_str().into(),
            new.secret.as_str().into(),
            serde_json::Value::from(new.categories.clone()).to_string().into(),
            new.created_by.as_str().into(),
            new.created_at.into(),
        ];
        let written = write_one(self, Statement::new(sql, values)).await?;
        let id = written.rows.first().map(|row| row.get("id")).transpose()?;
        let id = id.ok_or_else(|| StoreError::Database("a new webhook came back without its id".into()))?;
        Ok(WebhookRow {
            id,
            unit: new.unit,
            url: new.url,
            secret: new.secret,
            categories: new.categories,
            created_by: new.created_by,
            created_at: new.created_at,
            active: true,
        })
    }

    async fn webhooks(&self) -> StoreResult<Vec<WebhookRow>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id");
        self.read(Statement::new(sql, Vec::new())).await?.iter().map(WebhookRow::read).collect()
    }

    async fn remove_webhook(&self, id: i64) -> StoreResult<bool> {
        let sql = "UPDATE webhooks SET active = FALSE WHERE id = $1 AND active";
        Ok(write_one(self, Statement::new(sql, vec![id.into()])).await?.changed == 1)
    }

    async fn due_deliveries(&self, webhook_id: i64, now: Timestamp, limit: u32) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE webhook_id = $1 AND state = 'pending' AND next_attempt_at <= $2
             ORDER BY next_attempt_at, id LIMIT $3"
        );
        let rows = self.read(Statement::new(sql, vec![webhook_id.into(), now.into(), limit.into()])).await?;
        rows.iter().map(Delivery::read).collect()
    }

    async fn record_attempt(&self, id: i64, attempt: Attempt) -> StoreResult<()> {
        let delivered_at = (attempt.state == DeliveryState::Delivered).then_some(attempt.at);
        let sql = "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3,
                   last_status = $4, last_error = $5, delivered_at = $6 WHERE id = $1";
        let values = vec![
            id.into(),
            attempt.state.as_str().into(),
            attempt.next_attempt_at.into(),
            attempt.status.into(),
            attempt.error.into(),
            delivered_at.into(),
        ];
        write_one(self, Statement::new(sql, values)).await?;
        Ok(())
    }

    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = self.read(Statement::new(sql, vec![webhook_id.into(), limit.into()])).await?;
        rows.iter().map(Delivery::read).collect()
    }
}
