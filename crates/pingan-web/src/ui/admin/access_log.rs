//! The personal-data access log (`/work/admin/access-log`): reads of reporters' contacts, exports,
//! refused attempts and account changes in the administrator's area, newest first, narrowed by
//! dates, account, event and case, a hundred lines a page; and the same lines as CSV.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate, TimeZone};
use pingan_app::accounts::AccessEvent;
use pingan_core::Timestamp;
use pingan_core::calendar::china_standard_time;
use pingan_store::accounts::{AccessEntry, AccessQuery};
use serde::Deserialize;

use super::{Tab, administrator, given, local_time, shown, tabs};
use crate::csv_export::{csv_attachment, inert_in_spreadsheets};
use crate::ui::geography::Problem;
use crate::ui::shell::{Shell, Signed, render};
use crate::{ApiError, AppState};

const PATH: &str = "/work/admin/access-log";
/// Lines a page shows.
const PAGE: u32 = 100;
/// Lines an export holds at most.
const MOST_EXPORTED: u32 = 10_000;

/// An event's name in Chinese.
fn event_zh(event: AccessEvent) -> &'static str {
    match event {
        AccessEvent::RevealReporter => "查看报告人联系方式",
        AccessEvent::ExportReporter => "导出报告人联系方式",
        AccessEvent::RefusedCase => "越权访问案件被拒",
        AccessEvent::RefusedCredential => "令牌或会话被拒",
        AccessEvent::RefusedCsrf => "表单校验失败",
        AccessEvent::LoginFailed => "登录失败",
        AccessEvent::LoginSlowed => "登录被延缓",
        AccessEvent::LoginThrottled => "登录被限流",
        AccessEvent::AccountCreated => "创建账号",
        AccessEvent::PasswordReset => "重置密码",
        AccessEvent::AccountDisabled => "停用账号",
        AccessEvent::AccountEnabled => "启用账号",
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct LogQuery {
    /// First day, YYYY-MM-DD (China Standard Time).
    from: Option<String>,
    /// Last day, included.
    to: Option<String>,
    login: Option<String>,
    event: Option<String>,
    /// A case's number (or id).
    case: Option<String>,
    page: Option<u32>,
}

/// The start of `day` (YYYY-MM-DD) in China Standard Time, `days` later.
fn day_start(name: &str, day: &str, days: i64) -> Result<Timestamp, ApiError> {
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| ApiError::invalid_parameter(name, day))?;
    let midnight =
        (date + Duration::days(days)).and_hms_opt(0, 0, 0).ok_or_else(|| ApiError::invalid_parameter(name, day))?;
    let local = china_standard_time().from_local_datetime(&midnight).single();
    local.map(|at| Timestamp::of(at.to_utc())).ok_or_else(|| ApiError::invalid_parameter(name, day))
}

/// The store's query for what the form asks; a value that names nothing is refused.
async fn access_query(state: &AppState, signed: &Signed, query: &LogQuery) -> Result<AccessQuery, ApiError> {
    let mut filter = AccessQuery::default();
    if let Some(from) = given(&query.from) {
        filter.from = Some(day_start("from", &from, 0)?);
    }
    if let Some(to) = given(&query.to) {
        filter.until = Some(day_start("to", &to, 1)?);
    }
    if let Some(login) = given(&query.login) {
        filter.account_id = Some(state.accounts.account_managed_by(&signed.principal, &login).await?.id);
    }
    if let Some(event) = given(&query.event) {
        if !AccessEvent::ALL.iter().any(|e| e.as_str() == event) {
            let allowed: Vec<&str> = AccessEvent::ALL.iter().map(|e| e.as_str()).collect();
            return Err(ApiError::invalid_choice("event", &event, &allowed));
        }
        filter.event = Some(event);
    }
    if let Some(case) = given(&query.case) {
        // A number names the case by its id, as the log keeps it; what names no case the person
        // sees is looked for as written.
        let id = state.engine.find_for(&signed.principal, &case).await.map(|row| row.id).unwrap_or(case);
        filter.case_id = Some(id);
    }
    Ok(filter)
}

pub struct LogLine {
    pub at: String,
    pub login: String,
    pub unit: String,
    pub event: String,
    pub event_zh: &'static str,
    pub case_id: String,
    /// The case's number, for a case the administrator sees.
    pub case_number: String,
    pub reason: String,
    pub address: String,
}

/// What the lines name by id, by name: logins of the accounts `signed` administers, numbers of
/// the cases they see.
struct Names {
    logins: HashMap<String, String>,
    cases: HashMap<String, String>,
}

async fn names(state: &AppState, signed: &Signed, entries: &[AccessEntry]) -> Names {
    let accounts = state.accounts.managed_by(&signed.principal).await.unwrap_or_default();
    let logins = accounts.into_iter().map(|a| (a.id, a.login)).collect();
    let mut cases = HashMap::new();
    for id in entries.iter().filter_map(|e| e.case_id.as_deref()) {
        if !cases.contains_key(id)
            && let Ok(Some(number)) = state.engine.find_for(&signed.principal, id).await.map(|case| case.number)
        {
            cases.insert(id.to_owned(), number.to_string());
        }
    }
    Names { logins, cases }
}

fn line(state: &AppState, names: &Names, entry: AccessEntry) -> LogLine {
    let logins = &names.logins;
    let event_zh = AccessEvent::ALL.iter().find(|e| e.as_str() == entry.event).map_or("", |&e| event_zh(e));
    LogLine {
        at: local_time(entry.at),
        login: entry
            .account_id
            .as_ref()
            .map(|id| logins.get(id).cloned().unwrap_or_else(|| id.clone()))
            .unwrap_or_default(),
        unit: entry.unit.as_deref().map(|u| state.unit_name(u).unwrap_or_else(|| u.to_owned())).unwrap_or_default(),
        event: entry.event,
        event_zh,
        case_number: entry.case_id.as_ref().and_then(|id| names.cases.get(id)).cloned().unwrap_or_default(),
        case_id: entry.case_id.unwrap_or_default(),
        reason: entry.reason,
        address: entry.address.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "work/admin/access_log.html")]
struct LogPage {
    shell: Shell,
    tabs: Vec<Tab>,
    events: Vec<(&'static str, &'static str)>,
    from: String,
    to: String,
    login: String,
    event: String,
    case: String,
    /// The filter as a query, for the export and the next page.
    filter: String,
    lines: Vec<LogLine>,
    page: u32,
    next: bool,
    problem: Option<Problem>,
}

/// The filter as a URL's query.
fn filter_query(query: &LogQuery) -> String {
    let text = |value: &Option<String>| super::url_part(value.as_deref().unwrap_or("").trim());
    format!(
        "from={}&to={}&login={}&event={}&case={}",
        text(&query.from),
        text(&query.to),
        text(&query.login),
        text(&query.event),
        text(&query.case)
    )
}

/// GET /work/admin/access-log
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<LogQuery>) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let page = query.page.unwrap_or(0);
    let read = match access_query(&state, &signed, &query).await {
        Ok(filter) => {
            let filter = AccessQuery { offset: page.saturating_mul(PAGE), limit: PAGE + 1, ..filter };
            state.accounts.access_log_page(&signed.principal, filter).await.map_err(ApiError::from)
        }
        Err(error) => Err(error),
    };
    let (mut entries, problem, status) = match read {
        Ok(entries) => (entries, None, StatusCode::OK),
        Err(error) => {
            let (status, problem) = shown(error);
            (Vec::new(), Some(problem), status)
        }
    };
    let next = entries.len() > PAGE as usize;
    entries.truncate(PAGE as usize);
    let names = names(&state, &signed, &entries).await;
    let value = |field: &Option<String>| field.clone().unwrap_or_default();
    let page = LogPage {
        tabs: tabs(PATH),
        events: AccessEvent::ALL.iter().map(|&e| (e.as_str(), event_zh(e))).collect(),
        from: value(&query.from),
        to: value(&query.to),
        login: value(&query.login),
        event: value(&query.event),
        case: value(&query.case),
        filter: filter_query(&query),
        lines: entries.into_iter().map(|entry| line(&state, &names, entry)).collect(),
        page,
        next,
        problem,
        shell,
    };
    render(&page, status)
}

/// GET /work/admin/access-log.csv — what the same filter shows, every page of it (at most
/// 10,000 lines), newest first.
pub async fn export(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    pingan_app::administration::area(&signed.principal)?;
    let filter = AccessQuery { offset: 0, limit: MOST_EXPORTED, ..access_query(&state, &signed, &query).await? };
    let entries = state.accounts.access_log_page(&signed.principal, filter).await?;
    let names = names(&state, &signed, &entries).await;
    let records = entries
        .into_iter()
        .map(|entry| {
            let account_id = entry.account_id.clone().unwrap_or_default();
            let unit = entry.unit.clone().unwrap_or_default();
            let shown = line(&state, &names, entry);
            vec![
                shown.at,
                shown.login,
                account_id,
                unit,
                shown.event,
                shown.case_id,
                shown.case_number,
                inert_in_spreadsheets(shown.reason),
                shown.address,
            ]
        })
        .collect();
    let header = ["at", "login", "account_id", "unit", "event", "case_id", "case_number", "reason", "address"];
    csv_attachment("access-log.csv", &header, records)
}
