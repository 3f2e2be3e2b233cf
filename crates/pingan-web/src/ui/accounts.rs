//! The web UI's account forms: logging in and changing a password, each with a CSRF token bound to
//! a short-lived cookie before there is a session (so another site cannot log a browser into an
//! account of its choosing, or post a password change), and logging out, bound to the session's
//! own CSRF token.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::accounts::AccessEvent;
use pingan_app::accounts::{Who, new_secret};
use pingan_store::accounts::CredentialKind;
use serde::Deserialize;

use crate::api::accounts::auth::{ClientAddress, cookie, same_secret};
use crate::ui::geography::Problem;
use crate::ui::kept::KeptForm;
use crate::ui::shell::local_path;
use crate::{ApiError, AppState};

pub struct Person {
    pub login: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    person: Option<Person>,
    csrf: String,
    problem: Option<Problem>,
    /// Where to go once signed in (a path of this site).
    next: String,
    /// A workbench form posted after its session ended, shown again once signed in.
    kept: Option<KeptForm>,
}

fn render(page: impl Template, status: StatusCode, cookies: Vec<HeaderValue>) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            for value in cookies {
                response.headers_mut().append(SET_COOKIE, value);
            }
            response
        }
        Err(error) => {
            tracing::error!(%error, "a form page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    changed: bool,
    csrf: String,
    problem: Option<Problem>,
}

/// A fresh pre-session CSRF token for a form, and the cookie that carries its twin (an hour).
fn form_token(state: &AppState) -> (String, Vec<HeaderValue>) {
    let csrf = new_secret("");
    let cookie = state.cookies.set(state.cookies.form_name(), &csrf, 3600);
    (csrf, vec![cookie])
}

/// Checks that a form posted to `path` carries the token its cookie holds; a mismatch is logged.
/// No cookie at all is told apart: the browser refused to keep it, which it does for a `Secure`
/// cookie over plain HTTP to any host but this computer, and the person must learn why.
async fn check_form_token(
    state: &AppState,
    headers: &HeaderMap,
    sent: &str,
    path: &str,
    address: Option<std::net::IpAddr>,
) -> Result<(), AccessError> {
    let expected = cookie(headers, state.cookies.form_name()).unwrap_or("");
    if !expected.is_empty() && same_secret(expected, sent) {
        return Ok(());
    }
    state.accounts.log(None, None, AccessEvent::RefusedCsrf, path, address).await;
    Err(if expected.is_empty() { AccessError::CookieRefused } else { AccessError::CsrfFailed })
}

fn login_form(
    state: &AppState,
    problem: Option<Problem>,
    status: StatusCode,
    next: String,
    kept: Option<KeptForm>,
) -> Response {
    let (csrf, cookies) = form_token(state);
    render(LoginPage { person: None, csrf, problem, next, kept }, status, cookies)
}

/// The answer to a workbench form posted without a valid session: the login page (401, never a
/// redirection) saying so, carrying the form, or saying why it could not be kept.
pub fn expired(state: &AppState, kept: Result<KeptForm, ApiError>) -> Response {
    match kept {
        Ok(kept) => {
            let error = ApiError::session_expired_form_kept();
            let next = kept.back();
            login_form(state, Some(Problem::from(error)), StatusCode::UNAUTHORIZED, next, Some(kept))
        }
        Err(refused) => {
            let status = refused.status;
            login_form(state, Some(Problem::from(refused)), status, local_path(None), None)
        }
    }
}

fn password_form(state: &AppState, problem: Option<Problem>, status: StatusCode) -> Response {
    let (csrf, cookies) = form_token(state);
    render(PasswordPage { changed: false, csrf, problem }, status, cookies)
}

fn see_other(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response();
    for value in cookies {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// GET /login — the form, or who is signed in with a logout form.
pub async fn page(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = local_path(query.next.as_deref());
    if let Some(secret) = cookie(&headers, state.cookies.session_name())
        && let Ok((principal, session)) = state.accounts.authenticate(secret, CredentialKind::Session, address).await
    {
        let person = Person { login: principal.login, name: principal.name };
        let csrf = session.csrf.unwrap_or_default();
        let page = LoginPage { person: Some(person), csrf, problem: None, next, kept: None };
        return render(page, StatusCode::OK, Vec::new());
    }
    login_form(&state, None, StatusCode::OK, next, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    login: String,
    password: String,
    next: Option<String>,
    /// A kept form's fields (URL-encoded) and where it was posted.
    kept: Option<String>,
    kept_action: Option<String>,
}

fn problem(error: AppError) -> (Problem, StatusCode) {
    let api = ApiError::from(error);
    let status = api.status;
    (Problem::from(api), status)
}

/// POST /login — checks the form's CSRF token against its cookie, then the password; opens a
/// session and goes on to `next`, or, with a kept form, shows it to be sent again.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let (shown, status) = problem(AppError::MissingField("login, password"));
        return login_form(&state, Some(shown), status, local_path(None), None);
    };
    let next = local_path(form.next.as_deref());
    let kept = match (form.kept.as_deref(), form.kept_action.as_deref()) {
        (None, None) => None,
        (kept, action) => match KeptForm::parse(action.unwrap_or_default(), kept.unwrap_or_default().as_bytes()) {
            Ok(kept) => Some(kept),
            Err(refused) => {
                let status = refused.status;
                return login_form(&state, Some(Problem::from(refused)), status, next, None);
            }
        },
    };
    if let Err(refused) = check_form_token(&state, &headers, &form.csrf, "/login", address).await {
        let (shown, status) = problem(refused.into());
        return login_form(&state, Some(shown), status, next, kept);
    }
    let account = match state.accounts.login(&form.login, &form.password, address).await {
        Ok(account) if account.must_change_password => Err(AccessError::PasswordChangeRequired.into()),
        other => other,
    };
    let issued = match account {
        Ok(account) => state.accounts.issue(&account, CredentialKind::Session, "web", None).await,
        Err(error) => Err(error),
    };
    match issued {
        Ok((session, secret)) => {
            let max_age = session.expires_at.millis_since(session.created_at) / 1000;
            let spent = state.cookies.set(state.cookies.form_name(), "", 0);
            let cookies = vec![state.cookies.session(&secret, max_age), spent];
            match kept {
                Some(kept) => crate::ui::kept::resubmit_page(&state, &headers, &secret, address, kept, cookies).await,
                None => see_other(&next, cookies),
            }
        }
        Err(error) => {
            let (shown, status) = problem(error);
            login_form(&state, Some(shown), status, next, kept)
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// POST /logout — ends the session, if the form carries the session's CSRF token.
pub async fn logout(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Some(secret) = cookie(&headers, state.cookies.session_name())
        && let Ok((principal, session)) = state.accounts.authenticate(secret, CredentialKind::Session, address).await
    {
        if !session.csrf.as_deref().is_some_and(|expected| same_secret(expected, &sent)) {
            state.accounts.log(Some(Who::from(&principal)), None, AccessEvent::RefusedCsrf, "/logout", address).await;
            let (shown, status) = problem(AccessError::CsrfFailed.into());
            let page = LoginPage {
                person: Some(Person { login: principal.login, name: principal.name }),
                csrf: session.csrf.unwrap_or_default(),
                problem: Some(shown),
                next: local_path(None),
                kept: None,
            };
            return render(page, status, Vec::new());
        }
        if let Err(error) = state.accounts.revoke(&principal, &session.id).await {
            tracing::error!(%error, "a session could not be ended");
        }
    }
    see_other("/login", vec![state.cookies.session("", 0)])
}

/// GET /password — the form to change one's password.
pub async fn password_page(State(state): State<AppState>) -> Response {
    password_form(&state, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    login: String,
    old_password: String,
    new_password: String,
}

/// POST /password — the owner replaces their password (the current one proves it is them).
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let (shown, status) = problem(AppError::MissingField("login, old_password, new_password"));
        return password_form(&state, Some(shown), status);
    };
    if let Err(refused) = check_form_token(&state, &headers, &form.csrf, "/password", address).await {
        let (shown, status) = problem(refused.into());
        return password_form(&state, Some(shown), status);
    }
    match state.accounts.change_password(&form.login, &form.old_password, &form.new_password, address).await {
        Ok(()) => {
            render(PasswordPage { changed: true, csrf: String::new(), problem: None }, StatusCode::OK, Vec::new())
        }
        Err(error) => {
            let (shown, status) = problem(error);
            password_form(&state, Some(shown), status)
        }
    }
}
