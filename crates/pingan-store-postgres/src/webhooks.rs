//! Webhook subscriptions and their outbox on PostgreSQL.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use pingan_store::StoreResult;
use pingan_store::webhooks::{
    Attempt, Delivery, DeliveryState, NewWebhook, Outgoing, WebhookRow, WebhookStore, categories_json, with_categories,
    with_state,
};
use tokio_postgres::Row;

use crate::{PostgresStore, database_error};

const WEBHOOK_COLUMNS: &str = "id, unit, url, secret, categories, created_by, created_at, active";
const DELIVERY_COLUMNS: &str = "id, webhook_id, case_id, sequence, event, created_at, state, attempts, \
     next_attempt_at, last_status, last_error, delivered_at";

pub(crate) const QUEUE: &str =
    "INSERT INTO webhook_deliveries (webhook_id, case_id, sequence, event, created_at, state, attempts, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)";

fn webhook(row: &Row) -> StoreResult<WebhookRow> {
    let categories: String = row.get(4);
    with_categories(
        WebhookRow {
            id: row.get(0),
            unit: row.get(1),
            url: row.get(2),
            secret: row.get(3),
            categories: Vec::new(),
            created_by: row.get(5),
            created_at: row.get(6),
            active: row.get(7),
        },
        &categories,
    )
}

fn delivery(row: &Row) -> StoreResult<Delivery> {
    let state: String = row.get(6);
    with_state(
        Delivery {
            id: row.get(0),
            webhook_id: row.get(1),
            case_id: row.get(2),
            sequence: row.get(3),
            event: row.get(4),
            created_at: row.get(5),
            state: DeliveryState::Pending,
            attempts: row.get(7),
            next_attempt_at: row.get(8),
            last_status: row.get(9),
            last_error: row.get(10),
            delivered_at: row.get(11),
        },
        &state,
    )
}

/// Queues `outgoing` inside the caller's transaction.
pub(crate) async fn queue(client: &impl GenericClient, outgoing: &[Outgoing]) -> StoreResult<()> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(QUEUE).await.map_err(database_error)?;
    for o in outgoing {
        client
            .execute(&statement, &[&o.webhook_id, &o.case_id, &o.sequence, &o.event, &o.created_at])
            .await
            .map_err(database_error)?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<WebhookRow> {
        let categories = categories_json(&new.categories);
        let client = self.client().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO webhooks (unit, url, secret, categories, created_by, created_at, active)
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE) RETURNING id",
                &[&new.unit, &new.url, &new.secret, &categories, &new.created_by, &new.created_at],
            )
            .await
            .map_err(database_error)?
            .get(0);
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
        let client = self.client().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id");
        client.query(&sql, &[]).await.map_err(database_error)?.iter().map(webhook).collect()
    }

    async fn remove_webhook(&self, id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = client
            .execute("UPDATE webhooks SET active = FALSE WHERE id = $1 AND active", &[&id])
            .await
            .map_err(database_error)?;
        Ok(changed == 1)
    }

    async fn due_deliveries(&self, webhook_id: i64, now: i64, limit: u32) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                 WHERE webhook_id = $1 AND state = 'pending' AND next_attempt_at <= $2
                 ORDER BY next_attempt_at, id LIMIT $3"
            ))
            .await
            .map_err(database_error)?;
        let rows = client.query(&statement, &[&webhook_id, &now, &i64::from(limit)]).await.map_err(database_error)?;
        rows.iter().map(delivery).collect()
    }

    async fn record_attempt(&self, id: i64, attempt: Attempt) -> StoreResult<()> {
        let client = self.client().await?;
        let delivered_at = (attempt.state == DeliveryState::Delivered).then_some(attempt.at);
        client
            .execute(
                "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3,
                 last_status = $4, last_error = $5, delivered_at = $6 WHERE id = $1",
                &[
                    &id,
                    &attempt.state.as_str(),
                    &attempt.next_attempt_at,
                    &attempt.status,
                    &attempt.error,
                    &delivered_at,
                ],
            )
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = client.query(&sql, &[&webhook_id, &i64::from(limit)]).await.map_err(database_error)?;
        rows.iter().map(delivery).collect()
    }
}
