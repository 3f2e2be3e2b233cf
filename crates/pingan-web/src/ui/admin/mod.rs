//! The administration pages of the workbench (`/work/admin/…`), for administrators only: accounts,
//! units and their members, grid staff, dispatch rules, the category book, the calendar and the
//! personal-data access log. Each page reads and writes through the application's use cases,
//! which check the person administers and keep to their area; anyone else is refused (403).

pub mod access_log;
pub mod accounts;
pub mod calendar;
pub mod tables;

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::accounts::{AccessEvent, Who};
use pingan_core::Timestamp;
use pingan_core::calendar::china_standard_time;

use crate::ui::geography::Problem;
use crate::ui::shell::{Shell, Signed, problem_page};
use crate::{ApiError, AppState};

/// The path every administration page puts in the navigation.
pub const NAV: &str = "/work/admin";

/// One tab of the administration pages.
pub struct Tab {
    pub href: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub current: bool,
}

const TABS: [(&str, &str, &str); 7] = [
    ("/work/admin/accounts", "账号", "Accounts"),
    ("/work/admin/units", "单位与人员", "Units and members"),
    ("/work/admin/grid-staff", "网格人员", "Grid staff"),
    ("/work/admin/dispatch-rules", "派单规则", "Dispatch rules"),
    ("/work/admin/categories", "事项分类与时限", "Categories and deadlines"),
    ("/work/admin/calendar", "工作日历", "Calendar"),
    ("/work/admin/access-log", "个人信息访问日志", "Access log"),
];

/// The tabs, `current` marked.
pub fn tabs(current: &str) -> Vec<Tab> {
    TABS.iter().map(|&(href, zh, en)| Tab { href, zh, en, current: href == current }).collect()
}

/// The frame of an administration page for an administrator; anyone else gets the page that says
/// they may not (403).
pub fn administrator(state: &AppState, signed: &Signed, path: &str) -> Result<Shell, Box<Response>> {
    let mut shell = signed.shell(state, NAV);
    if let Err(error) = pingan_app::administration::area(&signed.principal) {
        return Err(Box::new(problem_page(&shell, ApiError::from(error))));
    }
    // The language switch comes back to this page, also after a form was posted.
    if shell.here.split('?').next() != Some(path) {
        shell.here = path.to_owned();
    }
    Ok(shell)
}

/// A form without the session's CSRF token: logged, and refused with a page that says so.
pub async fn refused_form(state: &AppState, signed: &Signed, path: &str) -> Response {
    let who = Some(Who::from(&signed.principal));
    state.accounts.log(who, None, AccessEvent::RefusedCsrf, path, signed.address).await;
    problem_page(&signed.shell(state, NAV), ApiError::from(AppError::from(AccessError::CsrfFailed)))
}

/// An error as a form shows it (message in either language and its stable code), with its status.
pub fn shown(error: impl Into<ApiError>) -> (StatusCode, Problem) {
    let error = error.into();
    (error.status, Problem::from(error))
}

pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

/// Text for a URL's query.
pub fn url_part(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A time as the offices read it: China Standard Time, to the second.
pub fn local_time(at: Timestamp) -> String {
    at.instant().with_timezone(&china_standard_time()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A form's field, trimmed; empty is not given.
pub fn given(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}
