//! Lists, counts and exports of cases. Each goes through the engine's `list_for` / `count_for`,
//! which narrow the filter to the caller's scope whatever the query asks: a filter can only ever
//! shrink what the caller sees.
//!
//! The query string is read strictly: an unknown parameter, a repeated one or a value out of range
//! is an error, never silently ignored (a mistyped `stauts=closed` must not list every case).

use pingan_core::Reason;
use pingan_core::Timestamp;
use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::accounts::AccessEvent;
use pingan_app::accounts::Who;
use pingan_app::cases::CaseEngine;
use pingan_app::personal::Vault;
use pingan_core::calendar::china_standard_time;
use pingan_core::case::Channel;
use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, GridCode};
use pingan_store::cases::{CaseFilter, CaseRow, MAX_LIST, search_grams};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::api::accounts::auth::Caller;
use crate::api::cases::CaseView;
use crate::csv_export::{csv_attachment, export_failed, inert_in_spreadsheets, xlsx_attachment};
use crate::error::{ErrorBody, query_params};
use crate::{ApiError, AppState};

/// A page holds 50 cases unless `limit` says otherwise (at most 1,000).
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1000;

/// The most rows one export may hold: beyond it, narrow the filter (by month, say).
pub const MAX_EXPORT_ROWS: u64 = MAX_LIST as u64;

/// The query string as it came.
type Pairs = Vec<(String, String)>;

/// The filters every list, count and export takes; each narrows the caller's cases. Values are
/// read as text and checked here, so that a bad one is named in the error.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// Statuses, comma-separated: `dispatched,in_progress`.
    status: Option<String>,
    /// A category code (`dispute.neighbour`), or a family's (`dispute`: all of its categories).
    category: Option<String>,
    #[param(value_type = Option<Channel>)]
    channel: Option<String>,
    /// Cases whose responsible division lies in this division's subtree.
    division: Option<String>,
    /// A grid's code, or a village's (its grids).
    grid: Option<String>,
    /// The unit the case is dispatched to (`department:360302:cg`).
    handler: Option<String>,
    /// Reported at or after (milliseconds since the Unix epoch).
    #[param(value_type = Option<i64>, minimum = 0)]
    from: Option<String>,
    /// Reported before (milliseconds since the Unix epoch).
    #[param(value_type = Option<i64>, minimum = 0)]
    to: Option<String>,
    /// `true`: only open cases past their resolution deadline (`false`, the default: all).
    #[param(value_type = Option<bool>)]
    overdue: Option<String>,
    /// Text the description or address contains (`楼道堆物`, `漏水`): 2 to 50 characters, with two
    /// letters or characters side by side; ASCII letters in any case.
    #[param(min_length = 2, max_length = 50)]
    q: Option<String>,
}

/// The most characters a text search takes.
const MAX_QUERY_CHARS: usize = 50;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Cases per page, 1 to 1,000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportOptions {
    /// `csv` (the default) or `xlsx` (one sheet, the same columns).
    #[param(pattern = "^(csv|xlsx)$")]
    format: Option<String>,
    /// `true` adds reporters' contact details, for roles that may read them, with a `reason`.
    #[param(value_type = Option<bool>)]
    personal: Option<String>,
    /// Why the contact details are needed: written to the access log with every exported case.
    reason: Option<String>,
}

/// Refuses a query that names a parameter none of `known` documents, or one twice.
fn only_known(query: Result<Query<Pairs>, QueryRejection>, known: &[Vec<Parameter>]) -> Result<(), ApiError> {
    let pairs = query_params(query)?;
    let mut seen = HashSet::new();
    for (name, _) in pairs {
        if !known.iter().flatten().any(|p| p.name == name) {
            return Err(ApiError::unknown_parameter(&name));
        }
        if !seen.insert(name.clone()) {
            return Err(ApiError::invalid_parameter(&name, "given more than once"));
        }
    }
    Ok(())
}

fn documented<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

fn instant(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|text| {
            text.parse::<i64>()
                .ok()
                .filter(|&ms| ms >= 0)
                .map(Timestamp::from_millis)
                .ok_or_else(|| ApiError::invalid_parameter(name, text))
        })
        .transpose()
}

impl Filters {
    /// The store's filter, each code checked against what exists.
    fn to_case_filter(&self, state: &AppState) -> Result<CaseFilter, ApiError> {
        let mut filter = CaseFilter::default();
        if let Some(list) = self.status.as_deref() {
            filter.statuses = list
                .split(',')
                .map(|s| {
                    let allowed = Status::ALL.map(Status::as_str);
                    Status::parse(s.trim()).ok_or_else(|| ApiError::invalid_choice("status", s, &allowed))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(category) = self.category.as_deref() {
            filter.categories = state
                .context
                .categories()
                .codes_under(category)
                .ok_or_else(|| AppError::UnknownCategory(category.to_owned()))?;
        }
        if let Some(channel) = self.channel.as_deref() {
            filter.channel = Some(
                Channel::parse(channel)
                    .ok_or_else(|| ApiError::invalid_choice("channel", channel, &Channel::ALL.map(Channel::as_str)))?,
            );
        }
        if let Some(code) = self.division.as_deref() {
            filter.division =
                Some(state.atlas.known_division(code).ok_or_else(|| AppError::UnknownDivision(code.to_owned()))?);
        }
        if let Some(code) = self.grid.as_deref() {
            // A grid, or a village: its grids.
            let village = DivisionCode::parse(code).ok().filter(|c| c.level() == pingan_core::Level::Village);
            let grid = GridCode::parse(code).ok().map(|g| g.to_string());
            let prefix = village.map(|v| v.to_string()).or(grid);
            filter.grid_prefix = Some(prefix.ok_or_else(|| ApiError::invalid_parameter("grid", code))?);
        }
        filter.handler = self.handler.clone();
        filter.reported_from = instant("from", self.from.as_deref())?;
        filter.reported_before = instant("to", self.to.as_deref())?;
        match self.overdue.as_deref() {
            None | Some("false") => {}
            Some("true") => filter.overdue_at = Some(state.context.timestamp()),
            Some(other) => return Err(ApiError::invalid_choice("overdue", other, &["true", "false"])),
        }
        if let Some(text) = self.q.as_deref().map(str::trim) {
            let length = text.chars().count();
            if !(2..=MAX_QUERY_CHARS).contains(&length) || search_grams(text).is_empty() {
                return Err(ApiError::invalid_parameter("q", text));
            }
            filter.text = Some(text.to_owned());
        }
        Ok(filter)
    }
}

/// Where a page ends: the last case's report time and id, opaque to clients.
pub(crate) fn encode_cursor(case: &CaseRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", case.reported_at.millis(), case.id))
}

pub(crate) fn decode_cursor(text: &str) -> Result<(Timestamp, String), ApiError> {
    let invalid = || ApiError::invalid_cursor();
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once('.').ok_or_else(invalid)?;
    let at: i64 = at.parse().map_err(|_| invalid())?;
    let id_is_plain = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !id_is_plain || at < 0 {
        return Err(invalid());
    }
    Ok((Timestamp::from_millis(at), id.to_owned()))
}

#[derive(Serialize, ToSchema)]
pub struct CasePage {
    cases: Vec<CaseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[utoipa::path(get, operation_id = "list_cases", path = "/api/v1/cases", tag = "cases", params(Filters, Page), security(("bearer" = [])),
    responses((status = 200, body = CasePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
/// The caller's cases, newest first, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    raw: Result<Query<Pairs>, QueryRejection>,
    filters: Result<Query<Filters>, QueryRejection>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    only_known(raw, &[documented::<Filters>(), documented::<Page>()])?;
    let (filters, page) = (query_params(filters)?, query_params(page)?);
    let mut filter = filters.to_case_filter(&state)?;
    filter.limit = match page.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid_parameter("limit", text))?,
    };
    filter.after = page.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = filter.limit as usize;
    let cases = state.engine.list_for(&caller.principal, filter).await?;
    let next_cursor = cases.last().filter(|_| cases.len() == limit).map(encode_cursor);
    Ok(Json(CasePage { cases: cases.into_iter().map(CaseView::from).collect(), next_cursor }))
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    count: u64,
}

#[utoipa::path(get, operation_id = "count_cases", path = "/api/v1/cases/count", tag = "cases", params(Filters), security(("bearer" = [])),
    responses((status = 200, body = Count), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
/// How many of the caller's cases match.
pub async fn count(
    State(state): State<AppState>,
    caller: Caller,
    raw: Result<Query<Pairs>, QueryRejection>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Json<Count>, ApiError> {
    only_known(raw, &[documented::<Filters>()])?;
    let filter = query_params(filters)?.to_case_filter(&state)?;
    Ok(Json(Count { count: state.engine.count_for(&caller.principal, filter).await? }))
}

#[utoipa::path(get, operation_id = "export_cases", path = "/api/v1/cases/export", tag = "cases", params(Filters, ExportOptions), security(("bearer" = [])),
    responses((status = 200, description = "CSV, UTF-8 with a byte-order mark; with format=xlsx, a workbook of one sheet",
            content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "More rows than one export holds", body = ErrorBody)))]
/// Exports the caller's matching cases as CSV or XLSX.
///
/// Reporters' contact details are left out, unless `personal=true` with a `reason` from a role that
/// may reveal them: then they are in the clear, and every exported case with a reporter is written
/// to the access log first.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    raw: Result<Query<Pairs>, QueryRejection>,
    filters: Result<Query<Filters>, QueryRejection>,
    options: Result<Query<ExportOptions>, QueryRejection>,
) -> Result<Response, ApiError> {
    only_known(raw, &[documented::<Filters>(), documented::<ExportOptions>()])?;
    let (filters, options) = (query_params(filters)?, query_params(options)?);
    let filter = filters.to_case_filter(&state)?;
    let xlsx = match options.format.as_deref() {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(other) => return Err(ApiError::invalid_choice("format", other, &["csv", "xlsx"])),
    };
    let personal = match options.personal.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::invalid_choice("personal", other, &["true", "false"])),
    };
    let reason = options.reason.as_deref().map(str::trim).unwrap_or("");
    if personal {
        if !caller.principal.may_reveal() {
            return Err(AppError::from(AccessError::Forbidden(Reason::new(
                "查看报告人个人信息",
                "reading reporters' personal data",
            )))
            .into());
        }
        if reason.chars().count() < 2 {
            return Err(AppError::from(AccessError::ReasonRequired).into());
        }
    }
    let total = state.engine.count_for(&caller.principal, filter.clone()).await?;
    if total > MAX_EXPORT_ROWS {
        return Err(ApiError::export_too_large(total, MAX_EXPORT_ROWS));
    }
    let cases = state.engine.list_for(&caller.principal, CaseFilter { limit: MAX_LIST, ..filter }).await?;
    if personal {
        let revealed: Vec<&str> =
            cases.iter().filter(|c| c.body.reporter_sealed.is_some()).map(|c| c.id.as_str()).collect();
        if !revealed.is_empty() {
            let who = Who::from(&caller.principal);
            state.accounts.record_cases(who, &revealed, AccessEvent::ExportReporter, reason, caller.address).await?;
        }
    }
    let mut header = vec![
        "number",
        "status",
        "channel",
        "category",
        "priority",
        "division",
        "grid",
        "handler",
        "lon",
        "lat",
        "address",
        "description",
        "reported_at",
        "resolve_due",
        "closed_at",
        "satisfaction",
        "result",
    ];
    if personal {
        header.extend(["reporter_name", "reporter_phone", "reporter_id_number"]);
    }
    // Opening up to 100,000 sealed contacts and writing their rows takes a while: off the async
    // workers, which would otherwise answer nothing else meanwhile.
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let records = cases.iter().map(|case| export_record(&engine, case, personal)).collect();
        if xlsx {
            xlsx_attachment("cases.xlsx", &header, records)
        } else {
            csv_attachment("cases.csv", &header, records)
        }
    })
    .await
    .map_err(|error| export_failed(&error))?
}

/// A case's row of an export, with its reporter's contact in the clear when `personal`.
fn export_record(engine: &CaseEngine, case: &CaseRow, personal: bool) -> Vec<String> {
    let mut record = row(case);
    if personal {
        match engine.open_reporter(case) {
            Ok(reporter) => {
                let reporter = reporter.unwrap_or_default();
                record.extend(
                    [reporter.name, reporter.phone, reporter.id_number]
                        .map(|f| inert_in_spreadsheets(f.unwrap_or_default())),
                );
            }
            // One record the key file cannot open is marked, not the whole export lost.
            Err(error) => {
                tracing::error!(case = %case.id, %error, "a reporter's contact could not be opened for an export");
                let key = case.body.reporter_sealed.as_deref().map(Vault::key_of).unwrap_or_default();
                record.extend([format!("[无法解密 unreadable: key {key}]"), String::new(), String::new()]);
            }
        }
    }
    record
}

/// A case's columns for a spreadsheet: times in China Standard Time, free text made inert.
fn row(case: &CaseRow) -> Vec<String> {
    let time = |at: Option<Timestamp>| {
        at.map(Timestamp::instant)
            .map(|t| t.with_timezone(&china_standard_time()).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let text = |value: Option<&String>| inert_in_spreadsheets(value.cloned().unwrap_or_default());
    let number = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    vec![
        case.number.as_ref().map(|n| n.to_string()).unwrap_or_default(),
        case.status.as_str().to_owned(),
        case.channel.as_str().to_owned(),
        case.category.clone(),
        case.priority.as_str().to_owned(),
        case.division.to_string(),
        case.grid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
        case.handler.clone().unwrap_or_default(),
        number(case.body.lon),
        number(case.body.lat),
        text(case.body.address.as_ref()),
        inert_in_spreadsheets(case.body.description.clone()),
        time(Some(case.reported_at)),
        time(case.resolve_due),
        time(case.body.closed_at),
        case.body.satisfaction.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        text(case.body.result.as_ref()),
    ]
}
