//! The personal-data access log, for administrators: as JSON, or as CSV to export.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pingan_core::Timestamp;
use pingan_store::accounts::AccessEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::accounts::auth::Caller;
use crate::csv_export::{csv_attachment, inert_in_spreadsheets};
use crate::error::{ErrorBody, query_params};
use crate::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Milliseconds since the Unix epoch; default: the beginning.
    #[param(minimum = 0)]
    from: Option<i64>,
    /// Entries, 1 to 10,000 (default 1,000).
    #[param(minimum = 1, maximum = 10_000)]
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AccessEntryView {
    at: i64,
    account_id: Option<String>,
    unit: Option<String>,
    event: String,
    case_id: Option<String>,
    reason: String,
    address: Option<String>,
}

impl From<AccessEntry> for AccessEntryView {
    fn from(e: AccessEntry) -> AccessEntryView {
        AccessEntryView {
            at: e.at.millis(),
            account_id: e.account_id,
            unit: e.unit,
            event: e.event,
            case_id: e.case_id,
            reason: e.reason,
            address: e.address,
        }
    }
}

#[utoipa::path(get, operation_id = "read_access_log", path = "/api/v1/access-log", tag = "accounts", params(LogQuery), security(("bearer" = [])),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<AccessEntryView> = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// The access log of the administrator's subtree.
///
/// A province's administrator also sees requests made without an account.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query_params(query)?;
    let limit = query.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", &limit.to_string()));
    }
    let from = query.from.unwrap_or(0);
    if from < 0 {
        return Err(ApiError::invalid_parameter("from", &from.to_string()));
    }
    let entries = state.accounts.access_log(&caller.principal, Timestamp::from_millis(from), limit).await?;
    let views: Vec<AccessEntryView> = entries.into_iter().map(AccessEntryView::from).collect();
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(views).into_response()),
        Some("csv") => {
            let header = ["at", "account_id", "unit", "event", "case_id", "reason", "address"];
            let records = views
                .into_iter()
                .map(|v| {
                    let text = |value: Option<String>| value.unwrap_or_default();
                    vec![
                        v.at.to_string(),
                        text(v.account_id),
                        text(v.unit),
                        v.event,
                        text(v.case_id),
                        inert_in_spreadsheets(v.reason),
                        text(v.address),
                    ]
                })
                .collect();
            csv_attachment("access-log.csv", &header, records)
        }
        Some(other) => Err(ApiError::invalid_choice("format", other, &["json", "csv"])),
    }
}
