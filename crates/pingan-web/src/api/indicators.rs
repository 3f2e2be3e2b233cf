//! Indicators over the API: the figures of a division's subtree, with each child division's, or of
//! one handling unit, for a span of months. What they mean: [`pingan_app::indicators`].

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use pingan_app::indicators::{IndicatorReport, IndicatorRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::accounts::auth::Caller;
use crate::error::{ErrorBody, query_params};
use crate::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IndicatorQuery {
    /// A division code: its subtree's figures and each child's (a centre's staff: their own if
    /// neither this nor `unit` is given).
    #[param(example = "360302", pattern = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]
    division: Option<String>,
    /// A handling unit (`department:360302:cg`, `grid:…`): the cases dispatched to it (anyone
    /// else's default: their own unit).
    unit: Option<String>,
    /// First month, `YYYY-MM` (this month if not given).
    #[param(example = "2026-01", pattern = r"^20\d{2}-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    /// Last month, `YYYY-MM`, counted in (`from`, or this month, if not given); at most 120 months.
    #[param(example = "2026-06", pattern = r"^20\d{2}-(0[1-9]|1[0-2])$")]
    to: Option<String>,
}

#[utoipa::path(get, operation_id = "indicators", path = "/api/v1/indicators", tag = "indicators", params(IndicatorQuery), security(("bearer" = [])),
    responses((status = 200, body = IndicatorReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
/// 考核指标: reported, accepted, closed, the closure, on-time, satisfaction, return and reopen
/// rates, the overdue cases and the mean hours to claim and to close.
///
/// Every figure concerns the cases reported in the months asked for (China Standard Time) as
/// they stand now; rates are fractions (0.9731), null where nothing was there to count. Staff
/// read their centre's subtree and the units in it, or their own unit.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<IndicatorQuery>, QueryRejection>,
) -> Result<Json<IndicatorReport>, ApiError> {
    let q = query_params(query)?;
    let request =
        IndicatorRequest { division: q.division, unit: q.unit, from: q.from, to: q.to, without_children: false };
    Ok(Json(pingan_app::indicators::indicators(&state.context, &caller.principal, request).await?))
}
