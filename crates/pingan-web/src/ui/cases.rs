//! The cases on the workbench: a unit's queue of cases with its filters, and a case's page with
//! its history and the actions the person may take now, each a small form. Lists go through the
//! same scope as the API: a case outside it is "not found".

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::accounts::{AccessEvent, Who};
use pingan_app::cases::ActionRequest;
use pingan_app::cases::photos::Uploader;
use pingan_core::calendar::{DeadlineState, china_standard_time};
use pingan_core::lifecycle::{ActionKind, Satisfaction, Status};
use pingan_core::{GridCode, Timestamp};
use pingan_store::StoreError;
use pingan_store::cases::{CaseFilter, CaseRow, Reporter, search_grams};
use serde::Deserialize;

use crate::api::accounts::auth::same_secret;
use crate::api::cases::lists::{decode_cursor, encode_cursor};
use crate::ui::map::{MapLayers, render_svg};
use crate::ui::shell::{Shell, Signed, local_path, problem_page, render};
use crate::{ApiError, AppState};

/// Cases per page of a queue.
const PAGE: usize = 50;

/// A time as the offices read it: China Standard Time, to the minute.
fn local(at: Timestamp) -> String {
    at.instant().with_timezone(&china_standard_time()).format("%Y-%m-%d %H:%M").to_string()
}

/// A case as a list row or a page heading shows it.
pub struct CaseLine {
    pub number: String,
    pub category: String,
    pub status_zh: &'static str,
    pub status_en: String,
    pub place: String,
    pub handler: String,
    pub reported: String,
    pub due: String,
    /// `overdue`, `warning` or empty.
    pub deadline: &'static str,
    pub description: String,
}

impl CaseLine {
    pub(crate) fn of(state: &AppState, shell: &Shell, case: &CaseRow) -> CaseLine {
        let book = state.context.categories();
        let category =
            book.leaf(&case.category).map_or(case.category.clone(), |c| shell.t(&c.name_zh, &c.name_en).to_owned());
        let deadline = match Status::OPEN.contains(&case.status).then(|| state.engine.resolution_state(case)).flatten()
        {
            Some(DeadlineState::Overdue) => "overdue",
            Some(DeadlineState::Warning) => "warning",
            _ => "",
        };
        CaseLine {
            number: case.number.as_ref().map_or(case.id.clone(), ToString::to_string),
            category,
            status_zh: case.status.name_zh(),
            status_en: case.status.as_str().replace('_', " "),
            place: state.atlas.division_name(case.division.as_str()).unwrap_or_else(|| case.division.to_string()),
            handler: case
                .handler
                .as_deref()
                .map(|h| state.unit_name(h).unwrap_or_else(|| h.to_owned()))
                .unwrap_or_default(),
            reported: local(case.reported_at),
            due: case.resolve_due.map(local).unwrap_or_default(),
            deadline,
            description: case.body.description.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    /// `open` (the default), `all` or one status.
    status: Option<String>,
    category: Option<String>,
    q: Option<String>,
    /// `1`: only the cases handled by the person's own unit.
    mine: Option<String>,
    /// Only the cases that lie in this grid (the command centre's map leads here).
    grid: Option<String>,
    /// `overdue`: only the open cases past their resolution deadline.
    deadline: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "work/queue.html")]
struct QueuePage {
    shell: Shell,
    cases: Vec<CaseLine>,
    statuses: Vec<(&'static str, &'static str, String)>,
    /// Every family, then its categories: (code, name, is a family).
    categories: Vec<(String, String, bool)>,
    status: String,
    category: String,
    q: String,
    mine: bool,
    grid: String,
    overdue: bool,
    /// The same filter as the export's query (`/api/v1/cases/export?…`).
    export_query: String,
    next: Option<String>,
    problem: Option<String>,
}

/// The filter a queue's query asks for; a value that names nothing is refused.
fn queue_filter(state: &AppState, signed: &Signed, query: &QueueQuery) -> Result<CaseFilter, ApiError> {
    let mut filter = CaseFilter { limit: PAGE as u32 + 1, ..CaseFilter::default() };
    filter.statuses = match query.status.as_deref().unwrap_or("open") {
        "open" | "" => Status::OPEN.to_vec(),
        "all" => Vec::new(),
        other => vec![Status::parse(other).ok_or_else(|| ApiError::invalid_parameter("status", other))?],
    };
    if let Some(category) = query.category.as_deref().filter(|c| !c.is_empty()) {
        let book = state.context.categories();
        filter.categories = book.codes_under(category).ok_or_else(|| AppError::UnknownCategory(category.to_owned()))?;
    }
    if let Some(text) = query.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if search_grams(text).is_empty() {
            return Err(ApiError::invalid_parameter("q", text));
        }
        filter.text = Some(text.to_owned());
    }
    if query.mine.as_deref() == Some("1") {
        filter.handler = signed.principal.unit.clone();
    }
    if let Some(grid) = query.grid.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        filter.grid_prefix =
            Some(GridCode::parse(grid).map_err(|_| ApiError::invalid_parameter("grid", grid))?.to_string());
    }
    match query.deadline.as_deref().unwrap_or("") {
        "" => {}
        "overdue" => filter.overdue_at = Some(state.context.timestamp()),
        other => return Err(ApiError::invalid_choice("deadline", other, &["overdue"])),
    }
    filter.after = query.after.as_deref().filter(|a| !a.is_empty()).map(decode_cursor).transpose()?;
    Ok(filter)
}

/// The export's query for the cases `filter` lists (the API's own filters: the export goes
/// through the same scope as the list).
fn export_query(filter: &CaseFilter, category: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !filter.statuses.is_empty() {
        query.append_pair("status", &filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","));
    }
    // The category (or family) as the queue was asked for it: the export expands it the same way.
    if let Some(category) = category.filter(|c| !c.is_empty()) {
        query.append_pair("category", category);
    }
    for (name, value) in [("q", &filter.text), ("grid", &filter.grid_prefix), ("handler", &filter.handler)] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    if filter.overdue_at.is_some() {
        query.append_pair("overdue", "true");
    }
    query.finish()
}

/// GET /work — the cases the person's unit works on, newest first, fifty a page.
pub async fn queue(State(state): State<AppState>, signed: Signed, Query(query): Query<QueueQuery>) -> Response {
    let shell = signed.shell(&state, "/work");
    let filter = queue_filter(&state, &signed, &query);
    let export = filter.as_ref().map(|filter| export_query(filter, query.category.as_deref())).unwrap_or_default();
    let listed = match filter {
        Ok(filter) => state.engine.list_for(&signed.principal, filter).await.map_err(ApiError::from),
        Err(error) => Err(error),
    };
    let (mut rows, problem) = match listed {
        Ok(rows) => (rows, None),
        Err(error) => (Vec::new(), Some(shell.t(&error.message_zh, &error.message_en).to_owned())),
    };
    let next = (rows.len() > PAGE).then(|| {
        rows.truncate(PAGE);
        rows.last().map(encode_cursor).unwrap_or_default()
    });
    let statuses = Status::ALL.iter().map(|s| (s.as_str(), s.name_zh(), s.as_str().replace('_', " "))).collect();
    let book = state.context.categories();
    let categories = book
        .grouped()
        .into_iter()
        .map(|c| (c.code.clone(), shell.t(&c.name_zh, &c.name_en).to_owned(), c.parent.is_none()))
        .collect();
    let page = QueuePage {
        cases: rows.iter().map(|case| CaseLine::of(&state, &shell, case)).collect(),
        statuses,
        categories,
        status: query.status.clone().unwrap_or_else(|| "open".into()),
        category: query.category.clone().unwrap_or_default(),
        q: query.q.clone().unwrap_or_default(),
        mine: query.mine.as_deref() == Some("1"),
        grid: query.grid.clone().unwrap_or_default(),
        overdue: query.deadline.as_deref() == Some("overdue"),
        export_query: export,
        next,
        problem,
        shell,
    };
    render(&page, StatusCode::OK)
}

/// One action the person may take, as its form asks for it.
pub struct ActionForm {
    pub action: &'static str,
    pub name_zh: &'static str,
    pub name_en: String,
    pub reason: bool,
    pub reason_required: bool,
    pub target: bool,
    pub result: bool,
    pub satisfaction: bool,
    /// An extension asks for working hours.
    pub hours: bool,
    pub master: bool,
}

impl ActionForm {
    fn of(action: ActionKind) -> ActionForm {
        use ActionKind::*;
        ActionForm {
            action: action.as_str(),
            name_zh: action.name_zh(),
            name_en: action.as_str().replace('_', " "),
            reason: !matches!(action, Merge | Dispatch | Redispatch | ApproveExtension | Resolve | SettleOnSpot),
            reason_required: matches!(
                action,
                Reject | SendBack | Return | Escalate | RequestExtension | RefuseExtension | Supervise | Note
            ),
            target: matches!(action, Dispatch | Redispatch),
            result: matches!(action, Resolve | SettleOnSpot),
            satisfaction: action == CallBack,
            hours: action == RequestExtension,
            master: action == Merge,
        }
    }
}

/// A history entry as the timeline shows it.
pub struct Entry {
    pub at: String,
    pub actor: String,
    pub action_zh: String,
    pub action_en: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "work/case.html")]
struct CasePage {
    shell: Shell,
    case: CaseLine,
    version: i64,
    address: String,
    result: String,
    history: Vec<Entry>,
    actions: Vec<ActionForm>,
    suggested_target: String,
    /// The reporter's contact as lists show it (masked), if the report gave one.
    reporter_masked: Option<String>,
    /// The contact in the clear, right after a logged reveal.
    reporter: Option<String>,
    may_reveal: bool,
    /// Hashes of the report's photos and of the latest result's.
    photos: Vec<String>,
    result_photos: Vec<String>,
    /// The case's spot on a map of its village's grids, if it has a point or a grid.
    map_svg: Option<String>,
    done: Option<String>,
    problem: Option<String>,
}

/// The map of a case's village, its grid marked, and its point if it has one.
fn case_map(state: &AppState, case: &CaseRow) -> Option<String> {
    let grid = case.grid.as_ref()?;
    let grids = state.atlas.grids_in(grid.village().as_str());
    let layers = MapLayers {
        grids: &grids,
        boundaries: &[],
        marker: case.body.lon.zip(case.body.lat),
        highlight: Some(grid.as_str()),
    };
    Some(render_svg(&layers))
}

#[derive(Deserialize, Default)]
pub struct CaseQuery {
    /// The action just taken, to say so.
    done: Option<String>,
}

/// The details of a history entry in a line: its fields joined, the login of who acted left out
/// (the actor column names their unit).
fn details_line(details: &str) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(details) else {
        return String::new();
    };
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "by")
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key}: {text}"),
            other => format!("{key}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A reporter's contact in a line.
fn contact_line(reporter: &Reporter) -> String {
    [&reporter.name, &reporter.phone, &reporter.id_number]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a case page says besides the case: the action just taken, a problem, a revealed contact.
#[derive(Default)]
struct Said {
    done: Option<String>,
    problem: Option<(StatusCode, String)>,
    reporter: Option<String>,
}

/// The page of `case` for `signed`, with what is to be `said`.
async fn case_page(state: &AppState, signed: &Signed, case: &str, said: Said) -> Response {
    let Said { done, problem, reporter } = said;
    let mut shell = signed.shell(state, "");
    // Also when an action's form was posted: the language switch comes back to the case.
    shell.here = format!("/work/cases/{case}");
    let found = match state.engine.find_for(&signed.principal, case).await {
        Ok(found) => found,
        Err(error) => {
            if matches!(error, AppError::CaseNotFound(_)) {
                let who = Some(Who::from(&signed.principal));
                state.accounts.log(who, None, AccessEvent::RefusedCase, case, signed.address).await;
            }
            return problem_page(&shell, error.into());
        }
    };
    let history = match state.engine.history(&found).await {
        Ok(entries) => entries,
        Err(error) => return problem_page(&shell, error.into()),
    };
    let history = history
        .into_iter()
        .map(|entry| {
            let action_zh = match ActionKind::parse(&entry.record.action) {
                Some(action) => action.name_zh().to_owned(),
                None if entry.record.action == "report" => "上报".to_owned(),
                None => entry.record.action.clone(),
            };
            Entry {
                at: local(entry.record.at),
                actor: state.unit_name(&entry.record.actor).unwrap_or_else(|| entry.record.actor.clone()),
                action_zh,
                action_en: entry.record.action.replace('_', " "),
                details: details_line(&entry.record.details),
            }
        })
        .collect();
    let actions = state.engine.actions_for(&signed.principal, &found).into_iter().map(ActionForm::of).collect();
    let suggested_target = state.engine.suggested_target(&found).ok().flatten().unwrap_or_default();
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(status, text)| (status, Some(text)));
    let page = CasePage {
        case: CaseLine::of(state, &shell, &found),
        version: found.version,
        address: found.body.address.clone().unwrap_or_default(),
        result: found.body.result.clone().unwrap_or_default(),
        history,
        actions,
        suggested_target,
        reporter_masked: found.body.reporter_masked.as_ref().map(contact_line),
        reporter,
        may_reveal: signed.principal.may_reveal(),
        photos: found.body.photos.clone(),
        result_photos: found.body.result_photos.clone(),
        map_svg: case_map(state, &found),
        done,
        problem,
        shell,
    };
    render(&page, status)
}

/// GET /work/cases/{case} — a case: what it is, where it stands, its history, what one may do.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(case): Path<String>,
    Query(query): Query<CaseQuery>,
) -> Response {
    let done = query.done.as_deref().and_then(ActionKind::parse).map(|a| a.as_str().to_owned());
    case_page(&state, &signed, &case, Said { done, ..Said::default() }).await
}

#[derive(Deserialize)]
pub struct RevealForm {
    csrf: String,
    reason: String,
}

/// POST /work/cases/{case}/reveal — the reporter's contact in the clear, for a role that may read
/// it and a reason, written to the access log first. Shown on this answer only, never in a link.
pub async fn reveal(
    State(state): State<AppState>,
    signed: Signed,
    Path(case): Path<String>,
    form: Result<Form<RevealForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) if same_secret(&signed.csrf, &form.csrf) => form,
        _ => return refused_form(&state, &signed, &case).await,
    };
    let found = match state.engine.find_for(&signed.principal, &case).await {
        Ok(found) => found,
        Err(error) => return problem_page(&signed.shell(&state, ""), error.into()),
    };
    let revealed =
        state.engine.reveal_reporter(&state.accounts, &signed.principal, &found, &form.reason, signed.address).await;
    let said = match revealed {
        Ok(reporter) => {
            let shown = reporter
                .as_ref()
                .map(contact_line)
                .unwrap_or_else(|| signed.lang.pick("未留联系方式", "no contact given").to_owned());
            Said { reporter: Some(shown), ..Said::default() }
        }
        Err(error) => {
            let error = ApiError::from(error);
            Said {
                problem: Some((error.status, signed.lang.pick(&error.message_zh, &error.message_en).to_owned())),
                ..Said::default()
            }
        }
    };
    case_page(&state, &signed, &case, said).await
}

/// A form without the session's CSRF token: logged (naming what it was for), and refused with a
/// page that says so.
pub(crate) async fn refused_form(state: &AppState, signed: &Signed, case: &str) -> Response {
    let who = Some(Who::from(&signed.principal));
    state.accounts.log(who, None, AccessEvent::RefusedCsrf, case, signed.address).await;
    let error = ApiError::from(AppError::from(pingan_app::access::AccessError::CsrfFailed));
    problem_page(&signed.shell(state, ""), error)
}

#[derive(Deserialize)]
pub struct ActForm {
    csrf: String,
    action: String,
    version: String,
    reason: Option<String>,
    target: Option<String>,
    result: Option<String>,
    satisfaction: Option<String>,
    hours: Option<String>,
    master: Option<String>,
    /// The page to go back to once done (a path of this site), instead of the case's.
    back: Option<String>,
}

/// The largest action form: a result with a few photos.
pub const MAX_ACT_BODY: usize = 4 * pingan_app::cases::photos::MAX_PHOTO_BYTES;

/// An action's form as sent: URL-encoded, or multipart when it carries photos (each `photo`
/// field's file). None when it cannot be read.
async fn read_act_form(state: &AppState, request: Request) -> Option<(ActForm, Vec<Vec<u8>>)> {
    let multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if !multipart {
        let Form(form) = Form::<ActForm>::from_request(request, state).await.ok()?;
        return Some((form, Vec::new()));
    }
    let mut parts = Multipart::from_request(request, state).await.ok()?;
    let (mut fields, mut photos) = (serde_json::Map::new(), Vec::new());
    while let Some(part) = parts.next_field().await.ok()? {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "photo" {
            let bytes = part.bytes().await.ok()?;
            // A file input left empty still sends a part, with nothing in it.
            if !bytes.is_empty() {
                photos.push(bytes.to_vec());
            }
        } else {
            fields.insert(name, part.text().await.ok()?.into());
        }
    }
    Some((serde_json::from_value(fields.into()).ok()?, photos))
}

/// Empty form fields are fields not given.
pub(crate) fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// POST /work/cases/{case}/act — takes one action at the version the person saw, then shows the
/// case again (a reload does not act twice). Someone who acted first is said plainly, with the
/// case as it is now.
pub async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path(case): Path<String>,
    request: Request,
) -> Response {
    let (form, photos, version) = match read_act_form(&state, request).await {
        Some((form, photos)) => match form.version.trim().parse::<i64>() {
            Ok(version) => (form, photos, version),
            Err(_) => {
                return problem_page(&signed.shell(&state, ""), ApiError::invalid_parameter("version", &form.version));
            }
        },
        None => {
            let problem = signed.lang.pick("表单不完整", "the form is incomplete").to_owned();
            let said = Said { problem: Some((StatusCode::BAD_REQUEST, problem)), ..Said::default() };
            return case_page(&state, &signed, &case, said).await;
        }
    };
    if !same_secret(&signed.csrf, &form.csrf) {
        return refused_form(&state, &signed, &case).await;
    }
    let Some(action) = ActionKind::parse(&form.action) else {
        let error = ApiError::invalid_parameter("action", &form.action);
        return problem_page(&signed.shell(&state, ""), error);
    };
    // The photos are stored first, by content: a refused action leaves them unattached, and
    // the hourly tidy-up removes them.
    let mut hashes = Vec::with_capacity(photos.len());
    for photo in photos {
        match state.engine.store_photo(photo, Uploader::Account(&signed.principal.account_id)).await {
            Ok(stored) => hashes.push(stored.hash),
            Err(error) => {
                let error = ApiError::from(error);
                let problem = signed.lang.pick(&error.message_zh, &error.message_en).to_owned();
                let said = Said { problem: Some((error.status, problem)), ..Said::default() };
                return case_page(&state, &signed, &case, said).await;
            }
        }
    }
    let satisfaction = given(form.satisfaction).and_then(|s| serde_json::from_value::<Satisfaction>(s.into()).ok());
    let hours = given(form.hours).and_then(|h| h.parse::<i64>().ok());
    let request = ActionRequest {
        reason: given(form.reason),
        target: given(form.target),
        result: given(form.result),
        satisfaction,
        extension_minutes: hours.map(|hours| hours * 60),
        master: given(form.master),
        photos: hashes,
        by: Some(signed.principal.clone()),
        ..ActionRequest::new(case.clone(), signed.principal.actor(), action, version)
    };
    match state.engine.act(request).await {
        Ok(_) => {
            let location = match given(form.back) {
                Some(back) => local_path(Some(&back)),
                None => format!("/work/cases/{case}?done={}", action.as_str()),
            };
            (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
        }
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            let problem = signed.lang.pick(
                "有人已先处理了这个案件：下面是它现在的样子，请再看一下再操作。",
                "Someone acted on this case first: here it is as it stands now; look again before acting.",
            );
            let said = Said { problem: Some((StatusCode::CONFLICT, problem.to_owned())), ..Said::default() };
            case_page(&state, &signed, &case, said).await
        }
        Err(error) => {
            let error = ApiError::from(error);
            let problem = signed.lang.pick(&error.message_zh, &error.message_en).to_owned();
            case_page(&state, &signed, &case, Said { problem: Some((error.status, problem)), ..Said::default() }).await
        }
    }
}
