//! The workbench's frame, shared by every domain's pages: who is signed in and for which unit, the
//! pages their roles may use, the language (Chinese unless the person chose English), and the
//! pages for what cannot be shown (not found, not allowed, signed out).

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use pingan_app::access::Principal;
use pingan_core::access::Role;
use pingan_store::accounts::CredentialKind;
use serde::Deserialize;

use crate::api::accounts::auth::{client_address, cookie};
use crate::{ApiError, AppState};

/// The cookie that keeps the chosen language (not a secret: readable by the page, no expiry
/// beyond a year).
const LANG_COOKIE: &str = "pingan_lang";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The language the person chose, Chinese unless they chose English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if cookie(headers, LANG_COOKIE) == Some("en") { Lang::En } else { Lang::Zh }
    }

    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        self.pick("zh-CN", "en")
    }
}

/// One entry of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub current: bool,
}

/// What every workbench page shows around its content.
pub struct Shell {
    pub lang: Lang,
    pub login: String,
    pub name: String,
    pub unit_name: String,
    pub nav: Vec<NavItem>,
    /// The session's CSRF token, for every form the page holds.
    pub csrf: String,
    /// This page's path and query, for the language switch to come back to.
    pub here: String,
}

impl Shell {
    /// The frame of a page for nobody signed in.
    pub fn anonymous(lang: Lang) -> Shell {
        Shell {
            lang,
            login: String::new(),
            name: String::new(),
            unit_name: String::new(),
            nav: Vec::new(),
            csrf: String::new(),
            here: "/".into(),
        }
    }

    /// `zh` or `en`, as the person reads.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    pub fn other_lang(&self) -> &'static str {
        self.lang.pick("en", "zh")
    }

    pub fn other_lang_name(&self) -> &'static str {
        self.lang.pick("English", "中文")
    }
}

/// The pages of the workbench, each with the roles that may use it (none: every staff role).
const PAGES: [(&str, &str, &str, &[Role]); 6] = [
    ("/work/centre", "指挥中心", "Command centre", &[Role::CentreDispatcher, Role::CentreLeader]),
    ("/work/desk", "受理派单", "Case desk", &[Role::HotlineOperator, Role::CentreDispatcher, Role::CentreLeader]),
    ("/work/bulletin", "排名通报", "Rankings", &[Role::CentreDispatcher, Role::CentreLeader, Role::Administrator]),
    ("/work", "我的案件", "My cases", &[]),
    ("/work/admin", "管理", "Administration", &[Role::Administrator]),
    ("/", "网格地图", "Grid map", &[]),
];

/// A page request from a signed-in person. Anyone else is sent to log in, and brought back here
/// after; a form they posted comes back filled once they have (`kept`).
pub struct Signed {
    pub principal: Principal,
    pub csrf: String,
    pub lang: Lang,
    pub here: String,
    pub address: Option<std::net::IpAddr>,
}

impl Signed {
    /// The frame of a page at `path` for this person.
    pub fn shell(&self, state: &AppState, path: &str) -> Shell {
        let roles = &self.principal.roles;
        let nav = PAGES
            .iter()
            .filter(|(_, _, _, needed)| needed.is_empty() || needed.iter().any(|role| roles.contains(role)))
            .map(|&(href, zh, en, _)| NavItem { href, zh, en, current: href == path })
            .collect();
        let unit_name = match self.principal.unit.as_deref() {
            Some(unit) => state.unit_name(unit).unwrap_or_else(|| unit.to_owned()),
            None => self.lang.pick("居民", "resident").to_owned(),
        };
        Shell {
            lang: self.lang,
            login: self.principal.login.clone(),
            name: self.principal.name.clone(),
            unit_name,
            nav,
            csrf: self.csrf.clone(),
            here: self.here.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Signed, Response> {
        let address = client_address(parts, &state.trusted_proxies);
        let here = parts.uri.path_and_query().map_or("/work", |p| p.as_str()).to_owned();
        // No cookie is no session: nothing to check, and nothing for the access log.
        let Some(secret) = cookie(&parts.headers, state.cookies.session_name()) else {
            return Err(to_login(&here));
        };
        match state.accounts.authenticate(secret, CredentialKind::Session, address).await {
            Ok((principal, session)) => Ok(Signed {
                principal,
                csrf: session.csrf.unwrap_or_default(),
                lang: Lang::of(&parts.headers),
                here,
                address,
            }),
            Err(_) => Err(to_login(&here)),
        }
    }
}

/// A redirect to the login page, which comes back to `here` after; marked as such, so that a
/// form posted here is kept rather than dropped (`kept::keep_typed_forms`).
fn to_login(here: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    let location = format!("/login?next={next}");
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    response.extensions_mut().insert(crate::ui::kept::SignedOut);
    response
}

/// `next` if it is a path of this site (never another site's address), else the workbench.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/work".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// GET /lang?to=en&back=/work — keeps the language chosen and goes back.
pub async fn switch_lang(axum::extract::Query(query): axum::extract::Query<LangQuery>) -> Response {
    let lang = if query.to.as_deref() == Some("en") { "en" } else { "zh" };
    let value = format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000");
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, local_path(query.back.as_deref()))]).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// Any path nothing else answers: a JSON error under `/api/`, else a page that says so (with the
/// frame around it for someone signed in).
pub async fn no_such_path(
    axum::extract::State(state): axum::extract::State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let error = ApiError::no_such_path(uri.path());
    if uri.path().starts_with("/api/") {
        return error.into_response();
    }
    let signed_in = match cookie(&headers, state.cookies.session_name()) {
        Some(secret) => state.accounts.authenticate(secret, CredentialKind::Session, None).await.ok(),
        None => None,
    };
    let lang = Lang::of(&headers);
    let shell = match signed_in {
        Some((principal, session)) => {
            let here = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            let signed = Signed { principal, csrf: session.csrf.unwrap_or_default(), lang, here, address: None };
            signed.shell(&state, "")
        }
        None => Shell::anonymous(lang),
    };
    problem_page(&shell, error)
}

#[derive(Template)]
#[template(path = "work/problem.html")]
struct ProblemPage<'a> {
    shell: &'a Shell,
    status: u16,
    code: &'a str,
    message: &'a str,
}

/// A page that says what went wrong, in the person's language, with the frame around it.
pub fn problem_page(shell: &Shell, error: ApiError) -> Response {
    let message = shell.t(&error.message_zh, &error.message_en).to_owned();
    let page = ProblemPage { shell, status: error.status.as_u16(), code: error.code, message: &message };
    render(&page, error.status)
}

/// A page rendered, or a plain 500 if its template failed (logged).
pub fn render(page: &impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败 · the page failed to render").into_response()
        }
    }
}
