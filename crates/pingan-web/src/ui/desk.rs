//! The case desk (受理派单台) of hotline operators and centre dispatchers, after Guixi's 3651890
//! branch that both takes and dispatches orders (接单派单): a call taken in one form — the place
//! picked on the map or typed (townships and villages suggested), the category found in Chinese or
//! by its pinyin initials, the caller's name and phone, open cases like it shown while typing and
//! merged in one click — then the cases waiting for acceptance or dispatch, each row with its one
//! next action. The form works without script; the script adds the map, the suggestions and the
//! duplicate search while typing.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::cases::desk::CallPlace;
use pingan_app::cases::{ActionRequest, Submission};
use pingan_core::access::Role;
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::{ActionKind, Status};
use pingan_core::{DivisionCode, Level, Reason, Unit};
use pingan_store::cases::{CaseFilter, CaseRow, Reporter};
use pinyin::ToPinyin;
use serde::{Deserialize, Serialize};

use crate::api::accounts::auth::same_secret;
use crate::api::cases::account_key;
use crate::api::idempotency::checked_key;
use crate::ui::cases::{CaseLine, given, refused_form};
use crate::ui::map::{Place, Workload, render_workload_svg};
use crate::ui::shell::{Shell, Signed, problem_page, render};
use crate::{ApiError, AppState};

/// The roles that work at the desk.
const DESK_ROLES: [Role; 3] = [Role::HotlineOperator, Role::CentreDispatcher, Role::CentreLeader];
/// Cases waiting for acceptance or dispatch shown at once.
const WAITING: u32 = 50;
/// Open cases like a call shown at once.
const SIMILAR: usize = 8;
/// Places suggested at once.
const SUGGESTED: usize = 10;
/// The channels a desk takes calls on.
const DESK_CHANNELS: [Channel; 2] = [Channel::Hotline, Channel::Reception];

/// The division of the centre whose desk `signed` works at; anyone else may not use it.
fn desk_division(signed: &Signed) -> Result<DivisionCode, ApiError> {
    let principal = &signed.principal;
    match principal.unit.as_deref().map(Unit::parse) {
        Some(Ok(Unit::Centre(code))) if DESK_ROLES.iter().any(|&role| principal.has(role)) => Ok(code),
        _ => {
            let reason = Reason::new(
                "受理派单台仅供热线话务员和综治中心调度员使用",
                "the case desk is for hotline operators and centres' dispatchers",
            );
            Err(AppError::from(AccessError::Forbidden(reason)).into())
        }
    }
}

/// A call as the form holds it, kept as typed so that a refused call comes back whole.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CallForm {
    csrf: String,
    /// Chosen when the form was drawn: the same call sent twice files one case.
    key: String,
    channel: String,
    caller_name: String,
    caller_phone: String,
    address: String,
    lon: String,
    lat: String,
    category: String,
    priority: String,
    description: String,
    /// `hold`: the case waits here for the operator to dispatch it; else the dispatch rules
    /// dispatch it where they are clear.
    dispatch: String,
    /// The open case this call is about: the call is filed and merged into it.
    merge_into: String,
}

/// A category as the chooser lists it, with what the search matches.
pub struct CategoryChoice {
    pub code: String,
    pub name: String,
    /// The pinyin initials of its Chinese name (道路破损 → dlps).
    pub initials: String,
}

/// A family and its categories.
pub struct CategoryGroup {
    pub name: String,
    pub categories: Vec<CategoryChoice>,
}

/// The first letters of the pinyin of `text`'s Chinese characters, other letters and digits as
/// they are (lower case).
fn pinyin_initials(text: &str) -> String {
    text.chars()
        .zip(text.to_pinyin())
        .filter_map(|(c, pinyin)| match pinyin {
            Some(pinyin) => pinyin.first_letter().chars().next(),
            None => c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase()),
        })
        .collect()
}

fn category_groups(state: &AppState, shell: &Shell) -> Vec<CategoryGroup> {
    let book = state.context.categories();
    let mut groups: Vec<CategoryGroup> = Vec::new();
    for category in book.grouped() {
        let name = shell.t(&category.name_zh, &category.name_en).to_owned();
        if category.parent.is_none() {
            groups.push(CategoryGroup { name, categories: Vec::new() });
        } else if let Some(group) = groups.last_mut() {
            let initials = pinyin_initials(&category.name_zh);
            group.categories.push(CategoryChoice { code: category.code.clone(), name, initials });
        }
    }
    groups
}

/// A case waiting at the desk and its one next action.
pub struct WaitingRow {
    pub line: CaseLine,
    pub version: i64,
    /// `accept`, `dispatch`, or empty when this person may do neither.
    pub action: &'static str,
    /// For a dispatch: the units it may go to (id, name), the rules' choice first.
    pub targets: Vec<(String, String)>,
}

/// The units `case` may be dispatched to, by name.
fn named_targets(state: &AppState, case: &CaseRow) -> Vec<(String, String)> {
    let targets = state.engine.dispatch_targets(case).unwrap_or_default();
    targets
        .into_iter()
        .map(|id| {
            let name = state.unit_name(&id).unwrap_or_else(|| id.clone());
            (id, name)
        })
        .collect()
}

/// A case just filed or acted on, the open cases like it it may be merged into, and where it may
/// be dispatched if it waits for that.
pub struct Filed {
    pub line: CaseLine,
    pub version: i64,
    pub merged: bool,
    pub similar: Vec<CaseLine>,
    pub targets: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "work/desk.html")]
struct DeskPage {
    shell: Shell,
    call: CallForm,
    channels: Vec<(&'static str, &'static str, &'static str)>,
    priorities: Vec<(&'static str, &'static str, &'static str)>,
    categories: Vec<CategoryGroup>,
    map_svg: String,
    filed: Option<Filed>,
    problem: Option<String>,
    waiting: Vec<WaitingRow>,
}

#[derive(Deserialize, Default)]
pub struct DeskQuery {
    /// The case just filed.
    filed: Option<String>,
}

/// GET /work/desk — a new call's form, the case just filed, and the cases waiting for dispatch.
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<DeskQuery>) -> Response {
    let filed = query.filed.filter(|n| !n.is_empty());
    desk_page(&state, &signed, CallForm::default(), filed.as_deref(), None).await
}

/// The desk with `call` in its form (a new one when its key is empty), `filed` shown, and
/// `problem` said.
async fn desk_page(
    state: &AppState,
    signed: &Signed,
    mut call: CallForm,
    filed: Option<&str>,
    problem: Option<ApiError>,
) -> Response {
    let shell = signed.shell(state, "/work/desk");
    let division = match desk_division(signed) {
        Ok(division) => division,
        Err(error) => return problem_page(&shell, error),
    };
    if call.key.is_empty() {
        call = CallForm { key: pingan_app::accounts::new_secret("call_"), ..CallForm::default() };
    }
    let filed = match filed {
        Some(number) => match filed_case(state, signed, &shell, number).await {
            Ok(filed) => Some(filed),
            Err(error) => return problem_page(&shell, error),
        },
        None => None,
    };
    let waiting = match waiting_rows(state, signed, &shell).await {
        Ok(rows) => rows,
        Err(error) => return problem_page(&shell, error),
    };
    let status = problem.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = DeskPage {
        call,
        channels: DESK_CHANNELS.iter().map(|c| (c.as_str(), c.name_zh(), c.name_en())).collect(),
        priorities: Priority::ALL.iter().map(|p| (p.as_str(), p.name_zh(), p.as_str())).collect(),
        categories: category_groups(state, &shell),
        map_svg: desk_map(state, &shell, &division),
        filed,
        problem: problem.map(|error| shell.t(&error.message_zh, &error.message_en).to_owned()),
        waiting,
        shell,
    };
    render(&page, status)
}

/// The case `number` as just filed, with the open cases like it.
async fn filed_case(state: &AppState, signed: &Signed, shell: &Shell, number: &str) -> Result<Filed, ApiError> {
    let case = state.engine.find_for(&signed.principal, number).await?;
    let place = match (case.body.lon, case.body.lat, &case.body.address) {
        (Some(lon), Some(lat), _) => Some(CallPlace::Point { lon, lat }),
        (_, _, Some(address)) => Some(CallPlace::Address(address.clone())),
        _ => None,
    };
    let similar = match place.filter(|_| Status::OPEN.contains(&case.status)) {
        Some(place) => state.engine.similar_open_cases(&signed.principal, &case.category, &place, SIMILAR + 1).await?,
        None => Vec::new(),
    };
    let may_dispatch = case.status == Status::Accepted
        && state.engine.actions_for(&signed.principal, &case).contains(&ActionKind::Dispatch);
    Ok(Filed {
        targets: if may_dispatch { named_targets(state, &case) } else { Vec::new() },
        line: CaseLine::of(state, shell, &case),
        version: case.version,
        merged: case.status == Status::Merged,
        similar: similar
            .iter()
            .filter(|other| other.id != case.id)
            .take(SIMILAR)
            .map(|other| CaseLine::of(state, shell, other))
            .collect(),
    })
}

/// The cases waiting for acceptance or dispatch that `signed` may see, newest first.
async fn waiting_rows(state: &AppState, signed: &Signed, shell: &Shell) -> Result<Vec<WaitingRow>, ApiError> {
    let filter =
        CaseFilter { statuses: vec![Status::Reported, Status::Accepted], limit: WAITING, ..CaseFilter::default() };
    let cases = state.engine.list_for(&signed.principal, filter).await?;
    Ok(cases
        .iter()
        .map(|case| {
            let actions = state.engine.actions_for(&signed.principal, case);
            let action = if case.status == Status::Accepted && actions.contains(&ActionKind::Dispatch) {
                "dispatch"
            } else if actions.contains(&ActionKind::Accept) {
                "accept"
            } else {
                ""
            };
            let targets = if action == "dispatch" { named_targets(state, case) } else { Vec::new() };
            WaitingRow { line: CaseLine::of(state, shell, case), version: case.version, action, targets }
        })
        .collect())
}

/// The desk's map: the grids of a county or below, the counties above; a click picks the point.
fn desk_map(state: &AppState, shell: &Shell, division: &DivisionCode) -> String {
    let caption = shell.t("点击地图选择事发地点", "Click the map to pick the place");
    if division.level() >= Level::County {
        let grids = state.atlas.grids_in(division.as_str());
        let outlines = state.atlas.boundaries_in(division.as_str());
        let places: Vec<Place> = grids
            .iter()
            .map(|(_, name, region)| Place {
                label: name.clone(),
                region,
                workload: Workload::default(),
                href: String::new(),
            })
            .collect();
        render_workload_svg(&places, &outlines, caption)
    } else {
        let counties = state.atlas.boundaries_in(division.as_str());
        let places: Vec<Place> = counties
            .iter()
            .map(|(code, region)| Place {
                label: state.atlas.division_name(code.as_str()).unwrap_or_else(|| code.to_string()),
                region,
                workload: Workload::default(),
                href: String::new(),
            })
            .collect();
        render_workload_svg(&places, &[], caption)
    }
}

/// A call filed: its case number, and the merge chosen if it failed.
struct Filing {
    number: String,
    unfinished: Option<ApiError>,
}

/// A coordinate typed or picked: empty is none.
fn coordinate(value: &str, name: &str) -> Result<Option<f64>, ApiError> {
    match value.trim() {
        "" => Ok(None),
        text => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter(name, text)),
    }
}

/// Files `call` as a case, held for the operator's dispatch if they chose so, and merges it into
/// the open case they chose, if any. The same call sent again (a double click, a re-post)
/// returns its case without acting twice.
async fn file_call(state: &AppState, signed: &Signed, call: &CallForm) -> Result<Filing, ApiError> {
    let by = &signed.principal;
    let channel = DESK_CHANNELS
        .into_iter()
        .find(|c| c.as_str() == call.channel)
        .ok_or_else(|| ApiError::invalid_parameter("channel", &call.channel))?;
    by.check_channel(channel).map_err(AppError::from)?;
    let priority = match call.priority.as_str() {
        "" => Priority::Normal,
        text => Priority::parse(text).ok_or_else(|| ApiError::invalid_parameter("priority", text))?,
    };
    let key = checked_key(call.key.as_bytes())?;
    let merge_into = given(Some(call.merge_into.clone()));
    let submission = Submission {
        channel,
        actor: by.actor(),
        category: call.category.trim().to_owned(),
        priority,
        lon: coordinate(&call.lon, "lon")?,
        lat: coordinate(&call.lat, "lat")?,
        grid: None,
        address: given(Some(call.address.clone())),
        description: call.description.clone(),
        reporter: Some(Reporter {
            name: given(Some(call.caller_name.clone())),
            phone: given(Some(call.caller_phone.clone())),
            id_number: None,
        }),
        idempotency_key: Some(account_key(&by.account_id, &format!("desk:{key}"))),
        settled_on_spot: None,
        photos: Vec::new(),
        reporter_account: None,
        follow_token_hash: None,
        media_url: None,
        within: None,
        held_for_dispatch: merge_into.is_some() || call.dispatch == "hold",
    };
    let submitted = state.engine.submit(submission).await?;
    let case = submitted.case;
    let number = case.number.as_ref().map_or_else(|| case.id.clone(), ToString::to_string);
    if !submitted.created {
        return Ok(Filing { number, unfinished: None });
    }
    let Some(master) = merge_into else { return Ok(Filing { number, unfinished: None }) };
    let merge = ActionRequest {
        master: Some(master),
        by: Some(by.clone()),
        ..ActionRequest::new(case.id.clone(), by.actor(), ActionKind::Merge, case.version)
    };
    let unfinished = state.engine.act(merge).await.err().map(ApiError::from);
    Ok(Filing { number, unfinished })
}

/// POST /work/desk — takes a call: files it, merges it if chosen, and shows the desk with the case
/// filed (and, if it waits for dispatch, where it may go). A refused call comes back in the form
/// as typed, with the reason.
pub async fn take(
    State(state): State<AppState>,
    signed: Signed,
    form: Result<Form<CallForm>, FormRejection>,
) -> Response {
    let Ok(Form(call)) = form else {
        let problem = ApiError::invalid_parameter("form", "");
        return desk_page(&state, &signed, CallForm::default(), None, Some(problem)).await;
    };
    if !same_secret(&signed.csrf, &call.csrf) {
        return refused_form(&state, &signed, "/work/desk").await;
    }
    if let Err(error) = desk_division(&signed) {
        return problem_page(&signed.shell(&state, "/work/desk"), error);
    }
    match file_call(&state, &signed, &call).await {
        Ok(Filing { number, unfinished: None }) => {
            (StatusCode::SEE_OTHER, [(LOCATION, format!("/work/desk?filed={number}"))]).into_response()
        }
        // Filed, but the merge chosen was refused: the case waits in the queue.
        Ok(Filing { number, unfinished: Some(error) }) => {
            desk_page(&state, &signed, CallForm::default(), Some(&number), Some(error)).await
        }
        Err(error) => desk_page(&state, &signed, call, None, Some(error)).await,
    }
}

#[derive(Deserialize)]
pub struct SimilarQuery {
    category: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    address: String,
}

/// An open case like a call, as the desk's script lists it.
#[derive(Serialize)]
pub struct SimilarCase {
    number: String,
    status: String,
    place: String,
    reported: String,
    description: String,
}

/// GET /work/desk/similar — the open cases like the call being typed, among those the operator
/// may see (JSON for the desk's script). A call with no place yet has none.
pub async fn similar(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<SimilarQuery>,
) -> Result<Json<Vec<SimilarCase>>, ApiError> {
    desk_division(&signed)?;
    let place = match (coordinate(&query.lon, "lon")?, coordinate(&query.lat, "lat")?, query.address.trim()) {
        (Some(lon), Some(lat), _) => CallPlace::Point { lon, lat },
        (_, _, "") => return Ok(Json(Vec::new())),
        (_, _, address) => CallPlace::Address(address.to_owned()),
    };
    let shell = signed.shell(&state, "");
    let found = state.engine.similar_open_cases(&signed.principal, &query.category, &place, SIMILAR).await?;
    Ok(Json(
        found
            .iter()
            .map(|case| {
                let line = CaseLine::of(&state, &shell, case);
                SimilarCase {
                    status: shell.t(line.status_zh, &line.status_en).to_owned(),
                    number: line.number,
                    place: line.place,
                    reported: line.reported,
                    description: line.description,
                }
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct PlacesQuery {
    #[serde(default)]
    q: String,
}

/// GET /work/desk/places — townships and villages of the desk's area whose name holds `q`, by
/// their full names (JSON for the desk's script).
pub async fn places(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<PlacesQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let division = desk_division(&signed)?;
    let found = state.atlas.places_named(division.as_str(), &query.q, SUGGESTED);
    Ok(Json(found.into_iter().map(|(_, name)| name).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_found_by_their_pinyin_initials() {
        assert_eq!(pinyin_initials("道路破损"), "dlps");
        assert_eq!(pinyin_initials("邻里纠纷"), "lljf");
        assert_eq!(pinyin_initials("12345 热线"), "12345rx");
    }
}
