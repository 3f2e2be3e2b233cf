//! Webhook subscriptions and their outbox on SQLite.

use async_trait::async_trait;
use pingan_store::StoreResult;
use pingan_store::webhooks::{
    Attempt, Delivery, DeliveryState, NewWebhook, Outgoing, WebhookRow, WebhookStore, categories_json, with_categories,
    with_state,
};
use rusqlite::{Connection, Row, params};

use crate::{SqliteStore, database_error};

const WEBHOOK_COLUMNS: &str = "id, unit, url, secret, categories, created_by, created_at, active";
const DELIVERY_COLUMNS: &str = "id, webhook_id, case_id, sequence, event, created_at, state, attempts, \
     next_attempt_at, last_status, last_error, delivered_at";

fn webhook(row: &Row<'_>) -> rusqlite::Result<(WebhookRow, String)> {
    Ok((
        WebhookRow {
            id: row.get(0)?,
            unit: row.get(1)?,
            url: row.get(2)?,
            secret: row.get(3)?,
            categories: Vec::new(),
            created_by: row.get(5)?,
            created_at: row.get(6)?,
            active: row.get(7)?,
        },
        row.get(4)?,
    ))
}

fn delivery(row: &Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    Ok((
        Delivery {
            id: row.get(0)?,
            webhook_id: row.get(1)?,
            case_id: row.get(2)?,
            sequence: row.get(3)?,
            event: row.get(4)?,
            created_at: row.get(5)?,
            state: DeliveryState::Pending,
            attempts: row.get(7)?,
            next_attempt_at: row.get(8)?,
            last_status: row.get(9)?,
            last_error: row.get(10)?,
            delivered_at: row.get(11)?,
        },
        row.get(6)?,
    ))
}

/// Queues `outgoing` inside the writer's open transaction.
pub(crate) fn queue(connection: &Connection, outgoing: &[Outgoing]) -> StoreResult<()> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let mut statement = connection
        .prepare_cached(
            "INSERT INTO webhook_deliveries (webhook_id, case_id, sequence, event, created_at, state, attempts, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?5)",
        )
        .map_err(database_error)?;
    for o in outgoing {
        statement
            .execute(params![o.webhook_id, o.case_id, o.sequence, o.event, o.created_at])
            .map_err(database_error)?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<WebhookRow> {
        self.write(move |connection| {
            let categories = categories_json(&new.categories);
            let id: i64 = connection
                .query_row(
                    "INSERT INTO webhooks (unit, url, secret, categories, created_by, created_at, active)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) RETURNING id",
                    params![new.unit, new.url, new.secret, categories, new.created_by, new.created_at],
                    |row| row.get(0),
                )
                .map_err(database_error)?;
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
        })
        .await
    }

    async fn webhooks(&self) -> StoreResult<Vec<WebhookRow>> {
        let rows = self
            .read(|connection| {
                connection
                    .prepare_cached(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id"))?
                    .query_map([], webhook)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(|(row, categories)| with_categories(row, &categories)).collect()
    }

    async fn remove_webhook(&self, id: i64) -> StoreResult<bool> {
        self.write(move |connection| {
            let changed = connection
                .execute("UPDATE webhooks SET active = 0 WHERE id = ?1 AND active = 1", [id])
                .map_err(database_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn due_deliveries(&self, webhook_id: i64, now: i64, limit: u32) -> StoreResult<Vec<Delivery>> {
        let rows = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                         WHERE webhook_id = ?1 AND state = 'pending' AND next_attempt_at <= ?2
                         ORDER BY next_attempt_at, id LIMIT ?3"
                    ))?
                    .query_map(params![webhook_id, now, limit], delivery)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(|(row, state)| with_state(row, &state)).collect()
    }

    async fn record_attempt(&self, id: i64, attempt: Attempt) -> StoreResult<()> {
        self.write(move |connection| {
            let delivered_at = (attempt.state == DeliveryState::Delivered).then_some(attempt.at);
            connection
                .execute(
                    "UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3,
                     last_status = ?4, last_error = ?5, delivered_at = ?6 WHERE id = ?1",
                    params![
                        id,
                        attempt.state.as_str(),
                        attempt.next_attempt_at,
                        attempt.status,
                        attempt.error,
                        delivered_at
                    ],
                )
                .map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<Delivery>> {
        let rows = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2"
                    ))?
                    .query_map(params![webhook_id, limit], delivery)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(|(row, state)| with_state(row, &state)).collect()
    }
}
