//! The case endpoints: submit, read, act, history.
//!
//! Until accounts exist, the acting unit is named in the request (`actor`); personal data of
//! reporters is never returned.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use pingan_app::engine::{ActionRequest, Submission};
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::{ActionKind, Satisfaction};
use pingan_store::cases::{CaseRow, Reporter, StoredAction};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseRequest {
    channel: Channel,
    actor: String,
    category: String,
    #[serde(default = "normal")]
    priority: Priority,
    lon: Option<f64>,
    lat: Option<f64>,
    grid: Option<String>,
    address: Option<String>,
    description: String,
    reporter_name: Option<String>,
    reporter_phone: Option<String>,
    idempotency_key: Option<String>,
    settled_on_spot: Option<String>,
    /// Hashes returned by POST /api/v1/photos.
    #[serde(default)]
    photos: Vec<String>,
}

fn normal() -> Priority {
    Priority::Normal
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    actor: String,
    action: ActionKind,
    expected_version: i64,
    reason: Option<String>,
    target: Option<String>,
    satisfaction: Option<Satisfaction>,
    extension_minutes: Option<i64>,
    result: Option<String>,
    master: Option<String>,
    #[serde(default)]
    photos: Vec<String>,
}

/// A case as the API shows it: no reporter contact details.
#[derive(Serialize)]
pub struct CaseView {
    id: String,
    number: Option<String>,
    status: &'static str,
    channel: &'static str,
    category: String,
    priority: &'static str,
    division: String,
    handler: Option<String>,
    grid: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    address: Option<String>,
    description: String,
    reported_at: i64,
    claim_due: Option<i64>,
    resolve_due: Option<i64>,
    result: Option<String>,
    photos: Vec<String>,
    result_photos: Vec<String>,
    version: i64,
}

impl From<CaseRow> for CaseView {
    fn from(case: CaseRow) -> CaseView {
        CaseView {
            number: case.number.map(|n| n.to_string()),
            status: case.status.as_str(),
            channel: case.channel.as_str(),
            priority: case.priority.as_str(),
            division: case.division.to_string(),
            grid: case.grid.map(|g| g.to_string()),
            lon: case.body.lon,
            lat: case.body.lat,
            address: case.body.address,
            description: case.body.description,
            result: case.body.result,
            photos: case.body.photos,
            result_photos: case.body.result_photos,
            id: case.id,
            category: case.category,
            handler: case.handler,
            reported_at: case.reported_at,
            claim_due: case.claim_due,
            resolve_due: case.resolve_due,
            version: case.version,
        }
    }
}

#[derive(Serialize)]
pub struct Submitted {
    case: CaseView,
    possible_duplicates: Vec<String>,
}

#[derive(Serialize)]
pub struct HistoryEntry {
    sequence: i64,
    at: i64,
    actor: String,
    action: String,
    status_after: &'static str,
    details: serde_json::Value,
    hash: String,
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(|rejection| {
        let (status, code) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            _ => (StatusCode::BAD_REQUEST, "malformed_json"),
        };
        ApiError {
            status,
            code,
            message_zh: format!("请求体无效：{}", rejection.body_text()),
            message_en: format!("the request body is not acceptable: {}", rejection.body_text()),
            details: None,
        }
    })
}

/// POST /api/v1/cases — 201 with the new case, or 200 with the earlier one for a reused
/// idempotency key (also accepted as an `Idempotency-Key` header).
pub async fn create_case(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: Result<Json<CreateCaseRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let request = body(payload)?;
    let header_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reporter = (request.reporter_name.is_some() || request.reporter_phone.is_some()).then_some(Reporter {
        name: request.reporter_name,
        phone: request.reporter_phone,
        id_number: None,
    });
    let submitted = state
        .engine
        .submit(Submission {
            channel: request.channel,
            actor: request.actor,
            category: request.category,
            priority: request.priority,
            lon: request.lon,
            lat: request.lat,
            grid: request.grid,
            address: request.address,
            description: request.description,
            reporter,
            idempotency_key: request.idempotency_key.or(header_key),
            settled_on_spot: request.settled_on_spot,
            photos: request.photos,
            reporter_account: None,
        })
        .await?;
    let status = if submitted.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Submitted { case: submitted.case.into(), possible_duplicates: submitted.possible_duplicates })))
}

/// GET /api/v1/cases/{id or number}
pub async fn get_case(State(state): State<AppState>, Path(case): Path<String>) -> Result<Json<CaseView>, ApiError> {
    Ok(Json(state.engine.find(&case).await?.into()))
}

/// POST /api/v1/cases/{id or number}/actions
pub async fn act_on_case(
    State(state): State<AppState>,
    Path(case): Path<String>,
    payload: Result<Json<ActRequest>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let request = body(payload)?;
    let updated = state
        .engine
        .act(ActionRequest {
            case,
            actor: request.actor,
            action: Some(request.action),
            expected_version: request.expected_version,
            reason: request.reason,
            target: request.target,
            satisfaction: request.satisfaction,
            extension_minutes: request.extension_minutes,
            result: request.result,
            master: request.master,
            photos: request.photos,
        })
        .await?;
    Ok(Json(updated.into()))
}

/// GET /api/v1/cases/{id or number}/history
pub async fn case_history(
    State(state): State<AppState>,
    Path(case): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let case = state.engine.find(&case).await?;
    let history = state.store.history(&case.id).await.map_err(pingan_app::AppError::from)?;
    Ok(Json(
        history
            .into_iter()
            .map(|entry: StoredAction| HistoryEntry {
                sequence: entry.sequence,
                at: entry.record.at,
                actor: entry.record.actor,
                action: entry.record.action,
                status_after: entry.record.status_after.as_str(),
                details: serde_json::from_str(&entry.record.details).unwrap_or(serde_json::Value::Null),
                hash: entry.hash.iter().map(|b| format!("{b:02x}")).collect(),
            })
            .collect(),
    ))
}
