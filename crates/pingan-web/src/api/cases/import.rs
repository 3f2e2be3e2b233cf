//! Importing many reports at once (a survey's sheet, a hotline's day, an older system's backlog):
//! all become cases in one transaction, or none does and the answer names the first bad report.
//!
//! A retried import does nothing twice: each report is keyed by its own `idempotency_key`, or else
//! by the request's `Idempotency-Key` and its position, so the retry answers the same cases.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use pingan_app::AppError;
use pingan_core::lifecycle::Status;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accounts::auth::Caller;
use crate::api::cases::{CreateCaseRequest, account_key, client_key};
use crate::error::{ErrorBody, json_body};
use crate::{ApiError, AppState};

/// The most reports one import takes, all in one transaction: this bounds how long an import holds
/// the writer (BENCHMARKS.md, section 10).
pub const MAX_REPORTS: usize = 10_000;
/// The largest import body: room for [`MAX_REPORTS`] reports of a few hundred bytes each.
pub const MAX_IMPORT_BODY: usize = 16 * 1024 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// 1 to 10,000 reports, each what `POST /api/v1/cases` takes; the channel is one the caller's
    /// roles use (`batch_import`, or `hotline`, `reception`, `survey` ...).
    reports: Vec<CreateCaseRequest>,
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    /// How many reports became new cases.
    created: usize,
    /// How many had been imported before (their keys were known): their earlier cases are listed.
    existing: usize,
    /// One per report, in the order sent.
    cases: Vec<ImportedCase>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportedCase {
    id: String,
    number: Option<String>,
    status: Status,
    division: String,
    handler: Option<String>,
    /// False when the report's key was known: the case is the earlier one.
    created: bool,
    /// Open cases like it nearby (their numbers), among those the caller may see: an operator
    /// may merge them.
    possible_duplicates: Vec<String>,
    /// How many such cases there are, whoever may see them.
    similar_reports: usize,
}

#[utoipa::path(post, operation_id = "import_cases", path = "/api/v1/cases/import", tag = "cases", request_body = ImportRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Keys the reports that carry no key of their own, by position: a retried import answers the same cases")),
    security(("bearer" = [])),
    responses((status = 201, description = "Every report is a case", body = Imported),
        (status = 400, description = "A report is not acceptable (`details.index` names it); nothing was written", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "A report's channel is not one the caller's roles use", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "A report's point or address lies outside the served area (`details.index` names it); nothing was written", body = ErrorBody)))]
/// Imports many reports at once.
///
/// All become cases in one transaction, or none does: a bad report is named by its position
/// (`details.index`, from 0). Routed, checked for duplicates and dispatched like single reports.
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let request: ImportRequest = json_body(payload)?;
    if request.reports.is_empty() || request.reports.len() > MAX_REPORTS {
        let count = format!("{} reports; 1 to {MAX_REPORTS}", request.reports.len());
        return Err(ApiError::invalid_parameter("reports", &count));
    }
    let request_key = client_key(&headers, None)?;
    let account = &caller.principal.account_id;
    let mut submissions = Vec::with_capacity(request.reports.len());
    for (index, mut report) in request.reports.into_iter().enumerate() {
        let in_batch = |error: AppError| AppError::InBatch { index, error: Box::new(error) };
        caller.principal.check_channel(report.channel).map_err(|e| in_batch(e.into()))?;
        let key = match (report.idempotency_key.take(), &request_key) {
            (Some(own), _) => Some(crate::api::idempotency::checked_key(own.as_bytes())?),
            (None, Some(key)) => Some(format!("{key}#{index}")),
            (None, None) => None,
        };
        let key = key.map(|key| account_key(account, &key));
        submissions.push(report.into_submission(caller.principal.actor(), Some(account.clone()), key, None));
    }
    let submitted = state.engine.submit_batch(&submissions).await?;
    let created = submitted.iter().filter(|s| s.created).count();
    let mut cases = Vec::with_capacity(submitted.len());
    for s in submitted {
        let similar_reports = s.possible_duplicates.len();
        cases.push(ImportedCase {
            id: s.case.id,
            number: s.case.number.map(|n| n.to_string()),
            status: s.case.status,
            division: s.case.division.to_string(),
            handler: s.case.handler,
            created: s.created,
            possible_duplicates: state.engine.seen_by(Some(&caller.principal), s.possible_duplicates).await?,
            similar_reports,
        });
    }
    Ok((StatusCode::CREATED, Json(Imported { created, existing: cases.len() - created, cases })))
}
