//! `GET /api/v1/rankings`: the monthly ranking bulletin of a centre's sub-units, as JSON or as an
//! XLSX workbook; `PUT /api/v1/rankings/weights`: the weights an administrator sets. What they
//! mean: [`pingan_app::rankings`].

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use pingan_app::rankings::{Bulletin, BulletinRequest, RankingWeights};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::accounts::auth::Caller;
use crate::csv_export::export_failed;
use crate::error::{ErrorBody, json_body, query_params};
use crate::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BulletinQuery {
    /// The centre's division (the caller's own centre's if not given).
    #[param(example = "360302", pattern = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]
    division: Option<String>,
    /// `YYYY-MM` (this month if not given).
    #[param(example = "2026-11", pattern = r"^\d{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
    /// What to rank: `divisions` (the default), `grids` or `departments`.
    #[param(pattern = "^(divisions|grids|departments)$")]
    of: Option<String>,
    /// `xlsx` for the workbook (排名, 约谈名单, 权重); `json` (the default) otherwise.
    #[param(pattern = "^(json|xlsx)$")]
    format: Option<String>,
}

/// The bulletin asked for, as JSON or as XLSX.
pub async fn answer(state: &AppState, caller: &Caller, q: BulletinQuery) -> Result<Response, ApiError> {
    let request = BulletinRequest { division: q.division, month: q.month, ranked: q.of };
    let bulletin = pingan_app::rankings::bulletin(&state.context, &caller.principal, request).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(bulletin).into_response()),
        Some("xlsx") => workbook_response(&bulletin),
        Some(other) => Err(ApiError::invalid_parameter("format", other)),
    }
}

/// The bulletin as an XLSX attachment named for its place and month.
pub fn workbook_response(bulletin: &Bulletin) -> Result<Response, ApiError> {
    let bytes = crate::xlsx_export::bulletin_workbook(bulletin).map_err(|e| export_failed(&e))?;
    let name = format!("bulletin-{}-{}.xlsx", bulletin.division, bulletin.month);
    Ok((
        [
            (CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, operation_id = "rankings", path = "/api/v1/rankings", tag = "indicators", params(BulletinQuery), security(("bearer" = [])),
    responses((status = 200, description = "the bulletin; with format=xlsx, the workbook",
            content((Bulletin = "application/json"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// 排名通报: a centre's sub-units ranked for a month by a weighted score of their indicators, with
/// the laggards to summon (约谈).
///
/// Read with the rights of the indicators: a centre's staff, for its subtree.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<BulletinQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    answer(&state, &caller, query_params(query)?).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WeightsQuery {
    /// The division whose bulletins (and those of the divisions below it that set none) use the
    /// weights; the caller's centre's if not given.
    #[param(example = "360302", pattern = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]
    division: Option<String>,
}

#[utoipa::path(put, operation_id = "set_ranking_weights", path = "/api/v1/rankings/weights", tag = "indicators", params(WeightsQuery),
    request_body = RankingWeights, security(("bearer" = [])),
    responses((status = 200, body = RankingWeights), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
/// Sets the weights of a division's ranking bulletins: an administrator of a centre whose place
/// holds the division.
pub async fn set_weights(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<WeightsQuery>, QueryRejection>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<RankingWeights>, ApiError> {
    let q = query_params(query)?;
    let weights: RankingWeights = json_body(payload)?;
    let set =
        pingan_app::rankings::set_weights(&state.context, &caller.principal, q.division.as_deref(), weights).await?;
    Ok(Json(set))
}
