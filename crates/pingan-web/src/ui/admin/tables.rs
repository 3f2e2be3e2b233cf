//! The tables an administrator keeps: units and their members (`/work/admin/units`), grid staff,
//! dispatch rules and the category book with its deadlines. The last three are downloadable as the
//! CSV their importer reads, and replaced by uploading one: the file is checked whole, and a bad
//! line refuses it (named in the answer) with nothing changed.

use std::collections::HashMap;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use pingan_app::administration;
use pingan_core::category::Priority;
use pingan_core::{Level, Unit};
use serde::Deserialize;

use super::{Tab, administrator, given, refused_form, see_other, shown, tabs};
use crate::api::accounts::auth::same_secret;
use crate::csv_export::{csv_attachment, inert_in_spreadsheets};
use crate::ui::geography::Problem;
use crate::ui::shell::{Shell, Signed, problem_page, render};
use crate::{ApiError, AppState};

/// Rows a table page shows at once.
const PAGE: usize = 200;

/// The upload form of a table, and what the last upload did.
pub struct Upload {
    pub action: &'static str,
    pub csv: String,
    /// Whether this person may replace the table.
    pub allowed: bool,
    /// What the last upload stored (a count of rows, or a version).
    pub done: Option<String>,
    pub problem: Option<Problem>,
}

impl Upload {
    fn new(action: &'static str, csv: String, done: &Option<String>) -> Upload {
        let done = done.as_deref().filter(|d| d.chars().all(|c| c.is_ascii_digit()) && !d.is_empty());
        Upload { action, csv, allowed: true, done: done.map(str::to_owned), problem: None }
    }
}

/// A division to narrow by: (code, name with its level's indent).
pub type DivisionChoice = (String, String);

/// The divisions of the administrator's area down to townships, to narrow a table by.
fn division_choices(state: &AppState, signed: &Signed) -> Vec<DivisionChoice> {
    let Ok(area) = administration::area(&signed.principal) else { return Vec::new() };
    state
        .atlas
        .divisions_under(area.as_str())
        .into_iter()
        .filter(|d| d.level <= Level::Township)
        .map(|d| {
            let depth = d.code.len().saturating_sub(area.as_str().len()) / 3;
            (d.code, format!("{}{}", "　".repeat(depth), d.name))
        })
        .collect()
}

/// Which page of `rows` to show, and whether there is another.
fn paged<T>(rows: Vec<T>, page: usize) -> (Vec<T>, Option<usize>, usize) {
    let total = rows.len();
    let shown: Vec<T> = rows.into_iter().skip(page * PAGE).take(PAGE).collect();
    let next = ((page + 1) * PAGE < total).then_some(page + 1);
    (shown, next, total)
}

// ---- Units and their members -------------------------------------------------------------

pub struct UnitLine {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub division: String,
    pub division_name: String,
    /// Its accounts: login, name and roles.
    pub members: Vec<String>,
}

const KINDS: [(&str, &str, &str); 5] = [
    ("centre", "综治中心", "governance centre"),
    ("department", "职能部门", "department"),
    ("provider", "服务商", "service provider"),
    ("leader", "领导岗位", "leader's post"),
    ("grid", "网格", "grid"),
];

#[derive(Template)]
#[template(path = "work/admin/units.html")]
struct UnitsPage {
    shell: Shell,
    tabs: Vec<Tab>,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    divisions: Vec<DivisionChoice>,
    kind: String,
    division: String,
    units: Vec<UnitLine>,
    total: usize,
    next: Option<usize>,
    problem: Option<Problem>,
}

#[derive(Deserialize, Default)]
pub struct UnitsQuery {
    kind: Option<String>,
    division: Option<String>,
    page: Option<usize>,
}

/// GET /work/admin/units — the units of the area (centres, departments, providers, leaders'
/// posts, grids), narrowed by kind and division, each with its accounts.
pub async fn units(State(state): State<AppState>, signed: Signed, Query(query): Query<UnitsQuery>) -> Response {
    let shell = match administrator(&state, &signed, "/work/admin/units") {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let kind = given(&query.kind).unwrap_or_default();
    if !kind.is_empty() && !KINDS.iter().any(|(k, _, _)| *k == kind) {
        let allowed: Vec<&str> = KINDS.iter().map(|(k, _, _)| *k).collect();
        return problem_page(&shell, ApiError::invalid_choice("kind", &kind, &allowed));
    }
    let division = given(&query.division).unwrap_or_default();
    let prefix = match administration::within(&signed.principal, &division) {
        Ok(prefix) => prefix,
        Err(error) => return problem_page(&shell, error.into()),
    };
    let wants = |k: &str| kind.is_empty() || kind == k;
    let mut lines = Vec::new();
    let mut problem = None;
    if wants("centre") {
        lines.extend(state.atlas.divisions_under(&prefix).into_iter().map(|d| UnitLine {
            kind: "centre",
            id: format!("centre:{}", d.code),
            name: format!("{}综治中心", d.name),
            division: d.code,
            division_name: d.name,
            members: Vec::new(),
        }));
    }
    if wants("department") || wants("provider") || wants("leader") {
        match administration::units(&state.context, &signed.principal, &prefix).await {
            Ok(stored) => lines.extend(stored.into_iter().filter(|u| wants(u.kind.as_str())).map(|u| UnitLine {
                kind: KINDS.iter().find(|(k, _, _)| *k == u.kind.as_str()).map_or("department", |(k, _, _)| *k),
                division_name: state.atlas.division_name(u.division.as_str()).unwrap_or_default(),
                division: u.division.to_string(),
                id: u.id,
                name: u.name,
                members: Vec::new(),
            })),
            Err(error) => problem = Some(shown(error).1),
        }
    }
    if wants("grid") {
        lines.extend(state.atlas.grids_in(&prefix).into_iter().map(|(code, name, _)| UnitLine {
            kind: "grid",
            id: Unit::Grid(code.clone()).to_string(),
            division: code.village().to_string(),
            division_name: state.atlas.division_name(code.village().as_str()).unwrap_or_default(),
            name,
            members: Vec::new(),
        }));
    }
    let order = |kind: &str| KINDS.iter().position(|(k, _, _)| *k == kind).unwrap_or(0);
    lines.sort_by(|a, b| (a.division.as_str(), order(a.kind), &a.id).cmp(&(b.division.as_str(), order(b.kind), &b.id)));
    let (mut lines, next, total) = paged(lines, query.page.unwrap_or(0));
    match state.accounts.managed_by(&signed.principal).await {
        Ok(accounts) => {
            let mut by_unit: HashMap<String, Vec<String>> = HashMap::new();
            for account in accounts {
                let roles: Vec<&str> = account.roles.iter().map(|r| r.label_zh()).collect();
                let state_zh = if account.disabled { "（已停用）" } else { "" };
                let member = format!("{} {}（{}）{state_zh}", account.login, account.name, roles.join("、"));
                by_unit.entry(account.unit.unwrap_or_default()).or_default().push(member);
            }
            for line in &mut lines {
                line.members = by_unit.remove(&line.id).unwrap_or_default();
            }
        }
        Err(error) => problem = Some(shown(error).1),
    }
    let page = UnitsPage {
        tabs: tabs("/work/admin/units"),
        kinds: KINDS.to_vec(),
        divisions: division_choices(&state, &signed),
        kind,
        division,
        units: lines,
        total,
        next,
        problem,
        shell,
    };
    render(&page, StatusCode::OK)
}

// ---- Uploads -----------------------------------------------------------------------------

/// The largest CSV accepted (a city's grid staff is a few hundred kilobytes).
pub const MAX_UPLOAD: usize = 8 * 1024 * 1024;

/// An uploaded CSV: the form's CSRF token, the file's name and its text.
struct Uploaded {
    csrf: String,
    name: String,
    text: String,
}

/// Reads an upload form (`csrf` and `file`).
async fn uploaded(multipart: Result<Multipart, MultipartRejection>) -> Result<Uploaded, ApiError> {
    let unreadable = |reason: String| ApiError::invalid_parameter("file", &reason);
    let mut multipart = multipart.map_err(|e| unreadable(e.body_text()))?;
    let mut upload = Uploaded { csrf: String::new(), name: String::new(), text: String::new() };
    let mut had_file = false;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(e.body_text()))? {
        match field.name() {
            Some("csrf") => upload.csrf = field.text().await.map_err(|e| unreadable(e.body_text()))?,
            Some("file") => {
                upload.name = field.file_name().unwrap_or("upload.csv").to_owned();
                let bytes = field.bytes().await.map_err(|e| unreadable(e.body_text()))?;
                upload.text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError {
                    status: StatusCode::BAD_REQUEST,
                    code: "invalid_file",
                    message_zh: format!("{} 不是 UTF-8 编码的文本：请另存为“CSV UTF-8”后再上传", upload.name),
                    message_en: format!(
                        "{} is not UTF-8 text: save it as \"CSV UTF-8\" and upload it again",
                        upload.name
                    ),
                    details: None,
                })?;
                had_file = true;
            }
            _ => {}
        }
    }
    if !had_file || upload.text.trim().is_empty() {
        return Err(ApiError::missing_parameter("file"));
    }
    Ok(upload)
}

/// What an upload form answered: on to the table (post/redirect/get), the table with the refusal,
/// or the page for a form without the session's token.
enum Answer {
    Stored(String),
    Refused(StatusCode, Problem),
    NoToken,
}

async fn take_upload<F, Fut>(signed: &Signed, multipart: Result<Multipart, MultipartRejection>, import: F) -> Answer
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<String, pingan_app::AppError>>,
{
    let upload = match uploaded(multipart).await {
        Ok(upload) => upload,
        Err(error) => {
            let (status, problem) = shown(error);
            return Answer::Refused(status, problem);
        }
    };
    if !same_secret(&signed.csrf, &upload.csrf) {
        return Answer::NoToken;
    }
    // The importers' messages name the file and its line.
    let source = if upload.name.is_empty() { "upload.csv".to_owned() } else { upload.name };
    match import(upload.text, source).await {
        Ok(done) => Answer::Stored(done),
        Err(error) => {
            let (status, problem) = shown(error);
            Answer::Refused(status, problem)
        }
    }
}

fn csv_text(filename: &str, text: String) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, disposition)], text).into_response()
}

// ---- Grid staff --------------------------------------------------------------------------

pub struct StaffLine {
    pub grid: String,
    pub grid_name: String,
    pub role: &'static str,
    pub name: String,
}

#[derive(Template)]
#[template(path = "work/admin/grid_staff.html")]
struct GridStaffPage {
    shell: Shell,
    tabs: Vec<Tab>,
    divisions: Vec<DivisionChoice>,
    division: String,
    staff: Vec<StaffLine>,
    total: usize,
    next: Option<usize>,
    upload: Upload,
}

#[derive(Deserialize, Default)]
pub struct TableQuery {
    division: Option<String>,
    page: Option<usize>,
    done: Option<String>,
}

const GRID_STAFF: &str = "/work/admin/grid-staff";

async fn grid_staff_page(
    state: &AppState,
    signed: &Signed,
    shell: Shell,
    query: &TableQuery,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let division = given(&query.division).unwrap_or_default();
    let staff = match administration::grid_staff(&state.context, &signed.principal, &division).await {
        Ok(staff) => staff,
        Err(error) => return problem_page(&shell, error.into()),
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let lines = staff
        .into_iter()
        .map(|member| {
            let code = member.grid.to_string();
            let grid_name = names
                .entry(code.clone())
                .or_insert_with(|| state.atlas.grid(&member.grid).map(|g| g.grid.name).unwrap_or_default())
                .clone();
            StaffLine { grid: code, grid_name, role: member.role.as_str(), name: member.name }
        })
        .collect();
    let (staff, next, total) = paged(lines, query.page.unwrap_or(0));
    let csv = format!("{GRID_STAFF}.csv?division={}", super::url_part(&division));
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(status, problem)| (status, Some(problem)));
    let page = GridStaffPage {
        tabs: tabs(GRID_STAFF),
        divisions: division_choices(state, signed),
        division,
        staff,
        total,
        next,
        upload: Upload { problem, ..Upload::new(GRID_STAFF, csv, &query.done) },
        shell,
    };
    render(&page, status)
}

/// GET /work/admin/grid-staff — the staff of the area's grids (网格长, 网格员).
pub async fn grid_staff(State(state): State<AppState>, signed: Signed, Query(query): Query<TableQuery>) -> Response {
    match administrator(&state, &signed, GRID_STAFF) {
        Ok(shell) => grid_staff_page(&state, &signed, shell, &query, None).await,
        Err(refused) => *refused,
    }
}

/// GET /work/admin/grid-staff.csv — the same rows as the CSV `pingan import grid-staff` reads.
pub async fn grid_staff_csv(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<TableQuery>,
) -> Result<Response, ApiError> {
    let division = given(&query.division).unwrap_or_default();
    let staff = administration::grid_staff(&state.context, &signed.principal, &division).await?;
    let records = staff
        .into_iter()
        .map(|m| vec![m.grid.to_string(), m.role.as_str().to_owned(), inert_in_spreadsheets(m.name)])
        .collect();
    csv_attachment("grid-staff.csv", &["grid", "role", "name"], records)
}

/// POST /work/admin/grid-staff — replaces the staff of the grids the uploaded CSV names.
pub async fn upload_grid_staff(
    State(state): State<AppState>,
    signed: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let shell = match administrator(&state, &signed, GRID_STAFF) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let import = |text: String, source: String| {
        let (context, by) = (state.context.clone(), signed.principal.clone());
        async move { administration::import_grid_staff(&context, &by, &text, &source).await.map(|count| count.to_string()) }
    };
    match take_upload(&signed, multipart, import).await {
        Answer::Stored(count) => see_other(&format!("{GRID_STAFF}?done={count}")),
        Answer::Refused(status, problem) => {
            grid_staff_page(&state, &signed, shell, &TableQuery::default(), Some((status, problem))).await
        }
        Answer::NoToken => refused_form(&state, &signed, GRID_STAFF).await,
    }
}

// ---- Dispatch rules ----------------------------------------------------------------------

pub struct RuleLine {
    pub category: String,
    pub category_name: String,
    pub division: String,
    pub division_name: String,
    pub unit: String,
    pub unit_name: String,
}

#[derive(Template)]
#[template(path = "work/admin/dispatch_rules.html")]
struct DispatchRulesPage {
    shell: Shell,
    tabs: Vec<Tab>,
    rules: Vec<RuleLine>,
    upload: Upload,
}

const DISPATCH_RULES: &str = "/work/admin/dispatch-rules";

async fn dispatch_rules_page(
    state: &AppState,
    signed: &Signed,
    shell: Shell,
    done: &Option<String>,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let rules = match administration::dispatch_rules(&state.context, &signed.principal).await {
        Ok(rules) => rules,
        Err(error) => return problem_page(&shell, error.into()),
    };
    let book = state.context.categories();
    let rules = rules
        .into_iter()
        .map(|rule| RuleLine {
            category_name: book
                .leaf(&rule.category)
                .map(|c| shell.t(&c.name_zh, &c.name_en).to_owned())
                .unwrap_or_default(),
            division_name: state.atlas.division_name(rule.division.as_str()).unwrap_or_default(),
            unit_name: state.unit_name(&rule.unit).unwrap_or_default(),
            category: rule.category,
            division: rule.division.to_string(),
            unit: rule.unit,
        })
        .collect();
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(status, problem)| (status, Some(problem)));
    let upload = Upload { problem, ..Upload::new(DISPATCH_RULES, format!("{DISPATCH_RULES}.csv"), done) };
    let page = DispatchRulesPage { tabs: tabs(DISPATCH_RULES), rules, upload, shell };
    render(&page, status)
}

/// GET /work/admin/dispatch-rules — the rules for the area's divisions: which unit cases of a
/// category go to.
pub async fn dispatch_rules(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<TableQuery>,
) -> Response {
    match administrator(&state, &signed, DISPATCH_RULES) {
        Ok(shell) => dispatch_rules_page(&state, &signed, shell, &query.done, None).await,
        Err(refused) => *refused,
    }
}

/// GET /work/admin/dispatch-rules.csv — as `pingan import dispatch-rules` reads them.
pub async fn dispatch_rules_csv(State(state): State<AppState>, signed: Signed) -> Result<Response, ApiError> {
    let rules = administration::dispatch_rules(&state.context, &signed.principal).await?;
    let records = rules.into_iter().map(|r| vec![r.category, r.division.to_string(), r.unit]).collect();
    csv_attachment("dispatch-rules.csv", &["category", "division", "unit"], records)
}

/// POST /work/admin/dispatch-rules — adds or replaces the rules the uploaded CSV gives.
pub async fn upload_dispatch_rules(
    State(state): State<AppState>,
    signed: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let shell = match administrator(&state, &signed, DISPATCH_RULES) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let import = |text: String, source: String| {
        let (context, by) = (state.context.clone(), signed.principal.clone());
        async move {
            administration::import_dispatch_rules(&context, &by, &text, &source).await.map(|count| count.to_string())
        }
    };
    match take_upload(&signed, multipart, import).await {
        Answer::Stored(count) => see_other(&format!("{DISPATCH_RULES}?done={count}")),
        Answer::Refused(status, problem) => {
            dispatch_rules_page(&state, &signed, shell, &None, Some((status, problem))).await
        }
        Answer::NoToken => refused_form(&state, &signed, DISPATCH_RULES).await,
    }
}

// ---- The category book -------------------------------------------------------------------

pub struct CategoryLine {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub family: bool,
    pub level: &'static str,
    pub department: String,
    /// Claim and resolution deadlines in working hours, for normal, urgent and critical priority.
    pub deadlines: Vec<(i64, i64)>,
    pub served_by: &'static str,
}

#[derive(Template)]
#[template(path = "work/admin/categories.html")]
struct CategoriesPage {
    shell: Shell,
    tabs: Vec<Tab>,
    version: i64,
    categories: Vec<CategoryLine>,
    upload: Upload,
}

const CATEGORIES: &str = "/work/admin/categories";

async fn categories_page(
    state: &AppState,
    signed: &Signed,
    shell: Shell,
    done: &Option<String>,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let version = match administration::category_book(&state.context, &signed.principal).await {
        Ok((version, _)) => version,
        Err(error) => return problem_page(&shell, error.into()),
    };
    let book = state.context.categories();
    let categories = book
        .grouped()
        .into_iter()
        .map(|c| CategoryLine {
            code: c.code.clone(),
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
            family: c.parent.is_none(),
            level: c.level.as_str(),
            department: c.department.clone().unwrap_or_default(),
            deadlines: [Priority::Normal, Priority::Urgent, Priority::Critical]
                .into_iter()
                .filter_map(|p| c.deadlines(p))
                .map(|d| (d.claim_minutes / 60, d.resolve_minutes / 60))
                .collect(),
            served_by: c.served_by.map_or("", |post| post.as_str()),
        })
        .collect();
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(status, problem)| (status, Some(problem)));
    let upload = Upload {
        allowed: administration::may_change_categories(&signed.principal),
        problem,
        ..Upload::new(CATEGORIES, format!("{CATEGORIES}.csv"), done)
    };
    let page = CategoriesPage { tabs: tabs(CATEGORIES), version, categories, upload, shell };
    render(&page, status)
}

/// GET /work/admin/categories — the category book in force: each category's family, handling
/// level, department, deadlines per priority and the post that serves it.
pub async fn categories(State(state): State<AppState>, signed: Signed, Query(query): Query<TableQuery>) -> Response {
    match administrator(&state, &signed, CATEGORIES) {
        Ok(shell) => categories_page(&state, &signed, shell, &query.done, None).await,
        Err(refused) => *refused,
    }
}

/// GET /work/admin/categories.csv — the book in force, as stored: what `pingan import categories`
/// reads.
pub async fn categories_csv(State(state): State<AppState>, signed: Signed) -> Result<Response, ApiError> {
    let (version, text) = administration::category_book(&state.context, &signed.principal).await?;
    Ok(csv_text(&format!("categories-v{version}.csv"), text))
}

/// POST /work/admin/categories — stores the uploaded CSV as the next version of the book.
pub async fn upload_categories(
    State(state): State<AppState>,
    signed: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let shell = match administrator(&state, &signed, CATEGORIES) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let import = |text: String, source: String| {
        let (context, by) = (state.context.clone(), signed.principal.clone());
        async move {
            administration::import_categories(&context, &by, &text, &source).await.map(|version| version.to_string())
        }
    };
    match take_upload(&signed, multipart, import).await {
        Answer::Stored(version) => see_other(&format!("{CATEGORIES}?done={version}")),
        Answer::Refused(status, problem) => {
            categories_page(&state, &signed, shell, &None, Some((status, problem))).await
        }
        Answer::NoToken => refused_form(&state, &signed, CATEGORIES).await,
    }
}
