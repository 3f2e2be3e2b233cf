//! Accounts (`/work/admin/accounts`): those the administrator manages, a form to create one
//! (its first password shown once, on the answer to the form, never in a link), a new first
//! password for an account, and locking and unlocking.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use pingan_app::accounts::NewAccount;
use pingan_core::access::Role;
use pingan_core::{Level, Unit};
use serde::Deserialize;

use super::{Tab, administrator, given, refused_form, see_other, shown, tabs, url_part};
use crate::AppState;
use crate::api::accounts::auth::same_secret;
use crate::ui::geography::Problem;
use crate::ui::shell::{Shell, Signed, render};

const PATH: &str = "/work/admin/accounts";

/// The roles an account of the workbench may be given (residents and other systems are made
/// elsewhere: residents register, systems get an API key from the command line).
const ROLES: [Role; 8] = [
    Role::Administrator,
    Role::CentreDispatcher,
    Role::CentreLeader,
    Role::HotlineOperator,
    Role::DepartmentHandler,
    Role::GridLeader,
    Role::GridWorker,
    Role::Volunteer,
];

pub struct AccountLine {
    pub login: String,
    pub name: String,
    pub unit: String,
    pub unit_name: String,
    pub roles_zh: String,
    pub roles_en: String,
    pub disabled: bool,
    pub must_change_password: bool,
}

pub struct RoleChoice {
    pub value: &'static str,
    pub zh: &'static str,
    pub en: String,
    pub checked: bool,
}

/// A password shown once: a new account's first, or one given anew.
pub struct Secret {
    pub login: String,
    pub password: String,
    /// `created` or `reset`.
    pub what: &'static str,
}

/// What was typed into the create form, to show it again.
#[derive(Default)]
pub struct Typed {
    pub login: String,
    pub name: String,
    pub unit: String,
    pub roles: Vec<Role>,
}

#[derive(Template)]
#[template(path = "work/admin/accounts.html")]
struct AccountsPage {
    shell: Shell,
    tabs: Vec<Tab>,
    accounts: Vec<AccountLine>,
    /// Units to choose from: (id, name).
    units: Vec<(String, String)>,
    roles: Vec<RoleChoice>,
    typed: Typed,
    problem: Option<Problem>,
    secret: Option<Secret>,
    /// What was just done (`locked`, `unlocked`) and to whom.
    done: Option<(String, String)>,
}

fn english(role: Role) -> String {
    role.as_str().replace('_', " ")
}

/// The accounts page for `signed`, with what to say on it.
async fn page(
    state: &AppState,
    signed: &Signed,
    shell: Shell,
    typed: Typed,
    said: (Option<Problem>, Option<Secret>, Option<(String, String)>),
    status: StatusCode,
) -> Response {
    let (mut problem, secret, done) = said;
    let accounts = match state.accounts.managed_by(&signed.principal).await {
        Ok(rows) => rows,
        Err(error) => {
            problem.get_or_insert(shown(error).1);
            Vec::new()
        }
    };
    let accounts = accounts
        .into_iter()
        .map(|a| {
            let unit = a.unit.clone().unwrap_or_default();
            AccountLine {
                unit_name: a.unit.as_deref().and_then(|u| state.unit_name(u)).unwrap_or_default(),
                roles_zh: a.roles.iter().map(|r| r.label_zh()).collect::<Vec<_>>().join("、"),
                roles_en: a.roles.iter().map(|&r| english(r)).collect::<Vec<_>>().join(", "),
                login: a.login,
                name: a.name,
                unit,
                disabled: a.disabled,
                must_change_password: a.must_change_password,
            }
        })
        .collect();
    let roles = ROLES
        .iter()
        .map(|&role| RoleChoice {
            value: role.as_str(),
            zh: role.label_zh(),
            en: english(role),
            checked: typed.roles.contains(&role),
        })
        .collect();
    let page = AccountsPage {
        tabs: tabs(PATH),
        units: unit_choices(state, signed).await,
        accounts,
        roles,
        typed,
        problem,
        secret,
        done,
        shell,
    };
    render(&page, status)
}

/// The centres down to townships of the administrator's area, then its stored departments,
/// providers and leaders' posts: what the unit field suggests (any unit may be typed).
async fn unit_choices(state: &AppState, signed: &Signed) -> Vec<(String, String)> {
    let Ok(area) = pingan_app::administration::area(&signed.principal) else { return Vec::new() };
    let mut choices: Vec<(String, String)> = state
        .atlas
        .divisions_under(area.as_str())
        .into_iter()
        .filter(|d| d.level <= Level::Township)
        .map(|d| (format!("centre:{}", d.code), format!("{}综治中心", d.name)))
        .collect();
    if let Ok(units) = pingan_app::administration::units(&state.context, &signed.principal, "").await {
        choices.extend(units.into_iter().map(|u| (u.id, u.name)));
    }
    choices
}

#[derive(Deserialize, Default)]
pub struct AccountsQuery {
    done: Option<String>,
    login: Option<String>,
}

/// GET /work/admin/accounts
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<AccountsQuery>) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let done = match (query.done.as_deref(), given(&query.login)) {
        (Some(what @ ("locked" | "unlocked")), Some(login)) => Some((what.to_owned(), login)),
        _ => None,
    };
    page(&state, &signed, shell, Typed::default(), (None, None, done), StatusCode::OK).await
}

/// POST /work/admin/accounts — creates an account; the answer shows its first password once. A
/// refusal shows the form again as it was typed.
pub async fn create(
    State(state): State<AppState>,
    signed: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let fields = form.map(|Form(fields)| fields).unwrap_or_default();
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.trim().to_owned());
    if !field("csrf").is_some_and(|csrf| same_secret(&signed.csrf, &csrf)) {
        return refused_form(&state, &signed, PATH).await;
    }
    let mut typed = Typed {
        login: field("login").unwrap_or_default(),
        name: field("name").unwrap_or_default(),
        unit: field("unit").unwrap_or_default(),
        roles: Vec::new(),
    };
    let mut unknown = None;
    for (_, value) in fields.iter().filter(|(key, _)| key == "role") {
        match Role::parse(value) {
            Some(role) => typed.roles.push(role),
            None => unknown = Some(value.clone()),
        }
    }
    if let Some(role) = unknown {
        let (status, problem) = shown(crate::ApiError::invalid_parameter("role", &role));
        return page(&state, &signed, shell, typed, (Some(problem), None, None), status).await;
    }
    if !typed.unit.is_empty() && Unit::parse(&typed.unit).is_err() {
        let (status, problem) = shown(crate::ApiError::invalid_parameter("unit", &typed.unit));
        return page(&state, &signed, shell, typed, (Some(problem), None, None), status).await;
    }
    let new = NewAccount {
        login: typed.login.clone(),
        name: typed.name.clone(),
        unit: (!typed.unit.is_empty()).then(|| typed.unit.clone()),
        roles: typed.roles.clone(),
        password: None,
        password_is_own: false,
    };
    match state.accounts.create_by(&signed.principal, new).await {
        Ok((account, password)) => {
            let secret = Secret { login: account.login, password: password.unwrap_or_default(), what: "created" };
            page(&state, &signed, shell, Typed::default(), (None, Some(secret), None), StatusCode::OK).await
        }
        Err(error) => {
            let (status, problem) = shown(error);
            page(&state, &signed, shell, typed, (Some(problem), None, None), status).await
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// Whether the posted form carries the session's CSRF token.
fn carries_csrf(signed: &Signed, form: &Result<Form<CsrfForm>, FormRejection>) -> bool {
    matches!(form, Ok(Form(form)) if same_secret(&signed.csrf, &form.csrf))
}

/// POST /work/admin/accounts/{login}/reset — a new first password, shown once on the answer; the
/// account's sessions and tokens are revoked.
pub async fn reset(
    State(state): State<AppState>,
    signed: Signed,
    Path(login): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    if !carries_csrf(&signed, &form) {
        return refused_form(&state, &signed, PATH).await;
    }
    let said = match state.accounts.reset_password(&signed.principal, &login).await {
        Ok(password) => (None, Some(Secret { login, password, what: "reset" }), None),
        Err(error) => {
            let (status, problem) = shown(error);
            return page(&state, &signed, shell, Typed::default(), (Some(problem), None, None), status).await;
        }
    };
    page(&state, &signed, shell, Typed::default(), said, StatusCode::OK).await
}

/// POST /work/admin/accounts/{login}/lock — the account can no longer log in, and its sessions
/// and tokens stop working at once.
pub async fn lock(
    State(state): State<AppState>,
    signed: Signed,
    Path(login): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    set_locked(state, signed, login, form, true).await
}

/// POST /work/admin/accounts/{login}/unlock
pub async fn unlock(
    State(state): State<AppState>,
    signed: Signed,
    Path(login): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    set_locked(state, signed, login, form, false).await
}

async fn set_locked(
    state: AppState,
    signed: Signed,
    login: String,
    form: Result<Form<CsrfForm>, FormRejection>,
    locked: bool,
) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    if !carries_csrf(&signed, &form) {
        return refused_form(&state, &signed, PATH).await;
    }
    match state.accounts.set_disabled(&signed.principal, &login, locked).await {
        Ok(_) => {
            let done = if locked { "locked" } else { "unlocked" };
            see_other(&format!("{PATH}?done={done}&login={}", url_part(&login)))
        }
        Err(error) => {
            let (status, problem) = shown(error);
            page(&state, &signed, shell, Typed::default(), (Some(problem), None, None), status).await
        }
    }
}
