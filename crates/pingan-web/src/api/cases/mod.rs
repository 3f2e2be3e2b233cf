//! The case endpoints: submit, read, act, history, and revealing a reporter's contact.
//!
//! Who acts is the caller's account (its unit and roles); a case outside the caller's scope is
//! answered 404 like a case that does not exist, and the attempt is logged. Reporters' contact
//! details are shown masked; the clear text only through a logged reveal.

pub mod events;
pub mod import;
pub mod lists;
pub mod photos;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::accounts::AccessEvent;
use pingan_app::accounts::{Who, new_secret, secret_hash_hex};
use pingan_app::cases::{ActionRequest, CaseEngine, Submission};
use pingan_core::Actor;
use pingan_core::Timestamp;
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::{ActionKind, Satisfaction, Status};
use pingan_store::StoreError;
use pingan_store::cases::{CaseRow, Reporter, StoredAction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accounts::auth::{Caller, MaybeCaller, too_many_requests};
use crate::error::ErrorBody;
use crate::error::json_body;
use crate::{ApiError, AppState};

/// The header that carries a follow token.
pub const FOLLOW_HEADER: &str = "x-follow-token";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseRequest {
    pub(crate) channel: Channel,
    category: String,
    #[serde(default = "normal")]
    priority: Priority,
    /// WGS-84; with `lat`. Without a point: `grid`, or else an `address` that names the place's
    /// county, township or village (安源区光丰街道上柳源村), which places the report there.
    #[schema(minimum = -180, maximum = 180)]
    lon: Option<f64>,
    #[schema(minimum = -90, maximum = 90)]
    lat: Option<f64>,
    /// The grid's code, when there is no point.
    grid: Option<String>,
    address: Option<String>,
    description: String,
    reporter_name: Option<String>,
    reporter_phone: Option<String>,
    reporter_id_number: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    settled_on_spot: Option<String>,
    /// Hashes returned by POST /api/v1/photos.
    #[serde(default)]
    photos: Vec<String>,
}

fn normal() -> Priority {
    Priority::Normal
}

impl CreateCaseRequest {
    /// The submission this report makes, filed by `actor` with the key already scoped.
    pub(crate) fn into_submission(
        self,
        actor: Actor,
        reporter_account: Option<String>,
        idempotency_key: Option<String>,
        follow_token_hash: Option<String>,
    ) -> Submission {
        Submission {
            channel: self.channel,
            actor,
            category: self.category,
            priority: self.priority,
            lon: self.lon,
            lat: self.lat,
            grid: self.grid,
            address: self.address,
            description: self.description,
            reporter: Some(Reporter {
                name: self.reporter_name,
                phone: self.reporter_phone,
                id_number: self.reporter_id_number,
            }),
            idempotency_key,
            settled_on_spot: self.settled_on_spot,
            photos: self.photos,
            reporter_account,
            follow_token_hash,
            media_url: None,
            within: None,
            held_for_dispatch: false,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    action: ActionKind,
    /// The version the caller saw (or send it as `If-Match: "N"`); a case changed since is refused.
    expected_version: Option<i64>,
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
#[derive(Serialize, ToSchema)]
pub struct CaseView {
    id: String,
    /// The human case number: city, day and sequence (`3603-20261129-000042`).
    number: Option<String>,
    status: Status,
    channel: Channel,
    category: String,
    priority: Priority,
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
    /// The reporter's contact, masked.
    reporter: Option<Reporter>,
    version: i64,
}

impl From<CaseRow> for CaseView {
    fn from(case: CaseRow) -> CaseView {
        CaseView {
            number: case.number.map(|n| n.to_string()),
            status: case.status,
            channel: case.channel,
            priority: case.priority,
            division: case.division.to_string(),
            grid: case.grid.map(|g| g.to_string()),
            lon: case.body.lon,
            lat: case.body.lat,
            address: case.body.address,
            description: case.body.description,
            result: case.body.result,
            photos: case.body.photos,
            result_photos: case.body.result_photos,
            reporter: case.body.reporter_masked,
            id: case.id,
            category: case.category,
            handler: case.handler,
            reported_at: case.reported_at.millis(),
            claim_due: case.claim_due.map(Timestamp::millis),
            resolve_due: case.resolve_due.map(Timestamp::millis),
            version: case.version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Submitted {
    case: CaseView,
    /// Open cases of the same category reported nearby lately (their numbers), among those the
    /// caller may see: an operator may merge them.
    possible_duplicates: Vec<String>,
    /// How many such cases there are, whoever may see them: a resident learns that similar
    /// reports exist, not whose they are.
    similar_reports: usize,
    /// For a resident's new report: with the case number, lets the reporter follow the case
    /// without an account (`X-Follow-Token` header). Shown once, stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEntry {
    sequence: i64,
    at: i64,
    actor: String,
    action: String,
    status_after: Status,
    /// The action's details: reason, target unit, satisfaction ...
    #[schema(value_type = Object)]
    details: serde_json::Value,
    hash: String,
}

#[utoipa::path(post, operation_id = "create_case", path = "/api/v1/cases", tag = "cases", request_body = CreateCaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried submission return the same case")),
    security((), ("bearer" = [])),
    responses((status = 201, description = "A new case", body = Submitted), (status = 200, description = "The case of an idempotency key used before", body = Submitted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "The point lies outside the served area", body = ErrorBody), (status = 429, body = ErrorBody)))]
/// Submits a report.
///
/// 201 with the new case, or 200 with the earlier one for a reused idempotency key (also accepted
/// as an `Idempotency-Key` header). Residents may report without logging in (limited per address);
/// every other channel needs an account whose roles use it.
pub async fn create_case(
    State(state): State<AppState>,
    MaybeCaller { caller, address }: MaybeCaller,
    headers: HeaderMap,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let mut request: CreateCaseRequest = json_body(payload)?;
    let (actor, reporter_account) = match &caller {
        Some(caller) => {
            caller.principal.check_channel(request.channel).map_err(AppError::from)?;
            (caller.principal.actor(), Some(caller.principal.account_id.clone()))
        }
        None if request.channel == Channel::Resident => {
            if !crate::api::accounts::auth::public_write_allowed(&state, address) {
                return Err(too_many_requests());
            }
            (Actor::anonymous_resident(), None)
        }
        None => return Err(AppError::from(AccessError::NotAuthenticated).into()),
    };
    let client_key = client_key(&headers, request.idempotency_key.take())?;
    // A key belongs to its submitter: an account's keys are its own, and an anonymous key names
    // the report's content too, so guessing a key never returns somebody else's case.
    // A report placed by its address alone names the address too (written only then, so the keys
    // of reports with a point read as they always did).
    let placed_by = match (request.lon, request.lat, &request.grid, &request.address) {
        (None, None, None, Some(address)) => format!("\n{address}"),
        _ => String::new(),
    };
    let idempotency_key = client_key.map(|key| match &caller {
        Some(caller) => account_key(&caller.principal.account_id, &key),
        None => format!(
            "public:{}",
            secret_hash_hex(&format!(
                "{key}\n{}\n{:?}\n{:?}\n{:?}\n{}{placed_by}",
                request.category, request.lon, request.lat, request.grid, request.description
            ))
        ),
    });
    let follow_token = (request.channel == Channel::Resident).then(|| new_secret("pf_"));
    let follow_token_hash = follow_token.as_deref().map(secret_hash_hex);
    let submitted = state
        .engine
        .submit(request.into_submission(actor, reporter_account, idempotency_key, follow_token_hash))
        .await?;
    let status = if submitted.created { StatusCode::CREATED } else { StatusCode::OK };
    let similar_reports = submitted.possible_duplicates.len();
    let principal = caller.as_ref().map(|c| &c.principal);
    let possible_duplicates = state.engine.seen_by(principal, submitted.possible_duplicates).await?;
    Ok((
        status,
        Json(Submitted {
            case: submitted.case.into(),
            possible_duplicates,
            similar_reports,
            follow_token: follow_token.filter(|_| submitted.created),
        }),
    ))
}

/// A client's idempotency key: the body's, or else the `Idempotency-Key` header's. A malformed
/// one is refused, never ignored: ignored, a retry would make a second case.
pub(crate) fn client_key(headers: &HeaderMap, in_body: Option<String>) -> Result<Option<String>, ApiError> {
    let in_header = headers
        .get(crate::api::idempotency::HEADER)
        .map(|value| crate::api::idempotency::checked_key(value.as_bytes()));
    match (in_body, in_header) {
        (Some(key), _) => crate::api::idempotency::checked_key(key.as_bytes()).map(Some),
        (None, header) => header.transpose(),
    }
}

/// A key as stored for an account's report: an account's keys are its own.
pub(crate) fn account_key(account: &str, key: &str) -> String {
    format!("account:{account}:{key}")
}

/// The case `case` as the caller may see it; anyone else gets 404 and the attempt is logged.
pub(crate) async fn visible_case(
    state: &AppState,
    who: &MaybeCaller,
    headers: &HeaderMap,
    case: &str,
) -> Result<CaseRow, ApiError> {
    let found = match &who.caller {
        Some(caller) => state.engine.find_for(&caller.principal, case).await,
        None => {
            let token = headers.get(FOLLOW_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            match state.engine.find(case).await {
                Ok(row)
                    if !token.is_empty()
                        && row.body.follow_token_hash.as_deref() == Some(secret_hash_hex(token).as_str()) =>
                {
                    Ok(row)
                }
                Ok(_) => Err(AppError::CaseNotFound(case.to_owned())),
                Err(error) => Err(error),
            }
        }
    };
    if let Err(AppError::CaseNotFound(_)) = &found {
        // Each refusal writes a log line: without an account, they count against the address's
        // allowance of public writes, which also ends a guessing run.
        if who.caller.is_none() && !crate::api::accounts::auth::public_write_allowed(state, who.address) {
            return Err(too_many_requests());
        }
        let asker = who.caller.as_ref().map(|c| Who::from(&c.principal));
        state.accounts.log(asker, None, AccessEvent::RefusedCase, case, who.address).await;
    }
    Ok(found?)
}

#[utoipa::path(get, operation_id = "get_case", path = "/api/v1/cases/{case}", tag = "cases",
    params(("case" = String, Path, description = "Case number or id"), ("X-Follow-Token" = Option<String>, Header, description = "The reporter's follow token, without an account")),
    security((), ("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version, for If-None-Match and If-Match"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such case, or not one the caller may see", body = ErrorBody), (status = 429, body = ErrorBody)))]
/// One case; for its reporter without an account, with `X-Follow-Token`.
pub async fn get_case(
    State(state): State<AppState>,
    who: MaybeCaller,
    headers: HeaderMap,
    Path(case): Path<String>,
) -> Result<Response, ApiError> {
    let case = visible_case(&state, &who, &headers, &case).await?;
    let tag = entity_tag(case.version);
    let unchanged =
        headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response());
    }
    Ok(([(ETAG, tag)], Json(CaseView::from(case))).into_response())
}

/// A case's ETag: its version, which every action raises.
fn entity_tag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header names, if it names one.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    let version = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).and_then(|t| t.parse().ok());
    version.map(Some).ok_or_else(|| ApiError::invalid_parameter("If-Match", text))
}

#[utoipa::path(post, operation_id = "act_on_case", path = "/api/v1/cases/{case}/actions", tag = "cases", request_body = ActRequest,
    params(("case" = String, Path, description = "Case number or id"),
        ("If-Match" = Option<String>, Header, description = "The case's ETag as read, instead of expected_version")),
    security(("bearer" = [])),
    responses((status = 200, description = "The case after the action", body = CaseView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not this account's to take", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not possible in the case's state, or a stale expected_version", body = ErrorBody),
        (status = 412, description = "A stale If-Match", body = ErrorBody)))]
/// Takes an action on a case, at the version the caller saw.
pub async fn act_on_case(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(case): Path<String>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request: ActRequest = json_body(payload)?;
    let precondition = if_match(&headers)?;
    let expected_version = match (request.expected_version, precondition) {
        (Some(body), Some(header)) if body != header => {
            return Err(ApiError::invalid_parameter("If-Match", "differs from expected_version"));
        }
        (Some(version), _) | (None, Some(version)) => version,
        (None, None) => return Err(AppError::MissingField("expected_version (or an If-Match header)").into()),
    };
    let result = state
        .engine
        .act(ActionRequest {
            case: case.clone(),
            actor: caller.principal.actor(),
            action: Some(request.action),
            expected_version,
            reason: request.reason,
            target: request.target,
            satisfaction: request.satisfaction,
            extension_minutes: request.extension_minutes,
            result: request.result,
            master: request.master,
            photos: request.photos,
            by: Some(caller.principal.clone()),
        })
        .await;
    match result {
        Ok(case) => Ok(([(ETAG, entity_tag(case.version))], Json(CaseView::from(case))).into_response()),
        Err(AppError::CaseNotFound(_)) => {
            state
                .accounts
                .log(Some(Who::from(&caller.principal)), None, AccessEvent::RefusedCase, &case, caller.address)
                .await;
            Err(AppError::CaseNotFound(case).into())
        }
        // A stale If-Match is a failed precondition (412); a stale expected_version a conflict.
        Err(error @ AppError::Store(StoreError::Conflict { .. })) if precondition.is_some() => {
            Err(ApiError { status: StatusCode::PRECONDITION_FAILED, ..error.into() })
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    case: String,
    reporter: Option<Reporter>,
}

#[utoipa::path(post, operation_id = "reveal_reporter", path = "/api/v1/cases/{case}/reveal", tag = "cases", request_body = RevealRequest,
    params(("case" = String, Path, description = "Case number or id")), security(("bearer" = [])),
    responses((status = 200, body = Revealed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Reveals the reporter's contact in the clear.
///
/// For a role that may see it, with a reason; every reveal is written to the access log first.
pub async fn reveal_reporter(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(case): Path<String>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<Revealed>, ApiError> {
    let request: RevealRequest = json_body(payload)?;
    // Who may not reveal, or gives no reason, is refused before the case is looked at.
    CaseEngine::check_reveal(&caller.principal, &request.reason)?;
    let who = MaybeCaller { caller: Some(caller.clone()), address: caller.address };
    let row = visible_case(&state, &who, &headers, &case).await?;
    let reporter =
        state.engine.reveal_reporter(&state.accounts, &caller.principal, &row, &request.reason, caller.address).await?;
    Ok(Json(Revealed { case: row.number.map(|n| n.to_string()).unwrap_or(row.id), reporter }))
}

#[utoipa::path(get, operation_id = "case_history", path = "/api/v1/cases/{case}/history", tag = "cases",
    params(("case" = String, Path, description = "Case number or id"), ("X-Follow-Token" = Option<String>, Header, description = "The reporter's follow token, without an account")),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
/// The case's history, each entry hashed onto the one before.
pub async fn case_history(
    State(state): State<AppState>,
    who: MaybeCaller,
    headers: HeaderMap,
    Path(case): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let case = visible_case(&state, &who, &headers, &case).await?;
    let history = state.engine.history(&case).await?;
    // A reporter following the case without an account sees what was done, not which staff
    // member's login did it.
    let staff_names_shown = who.caller.is_some();
    Ok(Json(
        history
            .into_iter()
            .map(|entry: StoredAction| {
                let mut details = serde_json::from_str(&entry.record.details).unwrap_or(serde_json::Value::Null);
                if let (false, Some(fields)) = (staff_names_shown, details.as_object_mut()) {
                    fields.remove("by");
                }
                HistoryEntry {
                    sequence: entry.sequence,
                    at: entry.record.at.millis(),
                    actor: entry.record.actor,
                    action: entry.record.action,
                    status_after: entry.record.status_after,
                    details,
                    hash: pingan_core::hex(&entry.hash),
                }
            })
            .collect(),
    ))
}
