//! Webhook subscriptions over the API: an administrator subscribes another system's URL to the
//! cases of a unit of its subtree, lists the subscriptions and their latest deliveries, and
//! removes them. How deliveries are made and signed: [`pingan_app::webhooks`].

pub mod sender;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use pingan_app::webhooks::WebhookRequest;
use pingan_core::Timestamp;
use pingan_store::webhooks::{Delivery, WebhookRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::accounts::auth::Caller;
use crate::error::{ErrorBody, json_body, query_params};
use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where each case action is POSTed (http:// or https://).
    #[schema(example = "https://12345.example.gov.cn/pingan/events")]
    url: String,
    /// The unit whose cases it follows: `centre:CODE` (the division's subtree and what is
    /// dispatched to it), `department:COUNTY:KIND`, `provider:COUNTY:NAME` or `grid:CODE`.
    #[schema(example = "centre:360302")]
    unit: String,
    /// Category codes or families (`hazard`, `livelihood.water_supply`); none: every category.
    #[serde(default)]
    categories: Vec<String>,
}

/// A subscription; its secret is shown only when it is created.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: i64,
    unit: String,
    url: String,
    categories: Vec<String>,
    created_by: String,
    created_at: i64,
}

impl From<WebhookRow> for WebhookView {
    fn from(w: WebhookRow) -> WebhookView {
        WebhookView {
            id: w.id,
            unit: w.unit,
            url: w.url,
            categories: w.categories,
            created_by: w.created_by,
            created_at: w.created_at.millis(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    webhook: WebhookView,
    /// The HMAC-SHA256 key of the `X-Pingan-Signature` header, shown once: the signature is
    /// `sha256=` and the hex HMAC of `X-Pingan-Timestamp`, a dot and the body.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    id: i64,
    /// `CASE_ID:SEQUENCE` of the history entry announced.
    event_id: String,
    created_at: i64,
    /// `pending`, `delivered` or `failed` (given up).
    state: &'static str,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    delivered_at: Option<i64>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> DeliveryView {
        let pending = d.state == pingan_store::webhooks::DeliveryState::Pending;
        DeliveryView {
            id: d.id,
            event_id: format!("{}:{}", d.case_id, d.sequence),
            created_at: d.created_at.millis(),
            state: d.state.as_str(),
            attempts: d.attempts,
            next_attempt_at: pending.then_some(d.next_attempt_at.millis()),
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(Timestamp::millis),
        }
    }
}

fn webhook_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::invalid_parameter("id", raw))
}

#[utoipa::path(post, operation_id = "create_webhook", path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhook, security(("bearer" = [])),
    responses((status = 201, body = WebhookCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// Subscribes a URL to every action on the cases of a unit.
///
/// Each action is POSTed as JSON (`event_id`, `action`, `at`, `actor`, `status`, `details` and
/// the `case`, without reporters' details), signed with the secret answered here. Failed
/// deliveries are retried with back-off for about twelve hours; a delivery may come twice.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<WebhookCreated>), ApiError> {
    let request: CreateWebhook = json_body(payload)?;
    let request = WebhookRequest { url: request.url, unit: request.unit, categories: request.categories };
    let created = state.webhooks.create(&caller.principal, request).await?;
    let secret = created.secret.clone();
    Ok((StatusCode::CREATED, Json(WebhookCreated { webhook: created.into(), secret })))
}

#[utoipa::path(get, operation_id = "list_webhooks", path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// The subscriptions of the units the caller administers.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let rows = state.webhooks.list(&caller.principal)?;
    Ok(Json(rows.into_iter().map(WebhookView::from).collect()))
}

#[utoipa::path(delete, operation_id = "remove_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Removed: nothing more is sent"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Removes a subscription; deliveries not yet made are dropped, and it is not found from then on.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.webhooks.remove(&caller.principal, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// How many, newest first (100 if not given).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(get, operation_id = "webhook_deliveries", path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path), DeliveryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<DeliveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
/// The latest deliveries of a subscription: what was sent, what is waiting and why.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let limit = query_params(query)?.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", &limit.to_string()));
    }
    let rows = state.webhooks.deliveries(&caller.principal, webhook_id(&id)?, limit).await?;
    Ok(Json(rows.into_iter().map(DeliveryView::from).collect()))
}
