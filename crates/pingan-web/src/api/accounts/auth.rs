//! Who is calling: a bearer token (the API) or a session cookie (the web UI, whose every unsafe
//! request must also carry the session's CSRF token in `X-CSRF-Token`); and the endpoints that log
//! in, change passwords and manage tokens.

use pingan_core::Timestamp;
use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::access::{AccessError, Principal};
use pingan_app::accounts::AccessEvent;
use pingan_app::accounts::Who;
use pingan_app::address_windows::Admission;
use pingan_core::access::Role;
use pingan_store::accounts::{CredentialKind, CredentialRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::error::json_body;
use crate::{ApiError, AppState};

const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub credential: CredentialRow,
    pub address: Option<IpAddr>,
}

/// A request that may or may not be authenticated; credentials that are presented but refused
/// are an error, never a silent fall-back to anonymous.
pub struct MaybeCaller {
    pub caller: Option<Caller>,
    pub address: Option<IpAddr>,
}

/// The client's address: the peer's, or, when the peer is a trusted reverse proxy, the nearest
/// address in `X-Forwarded-For` that is not one of the trusted proxies (what a client writes
/// there itself is never believed).
pub fn client_address(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map_while(|hop| hop.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|hop| !trusted_proxies.contains(hop)).unwrap_or(peer))
}

/// The address a request came from (None when the server was not started with it).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ClientAddress, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, &state.trusted_proxies)))
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Equal without leaking where they differ through timing.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) async fn identify(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let address = client_address(parts, &state.trusted_proxies);
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let secret = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(AppError::from(AccessError::NotAuthenticated).into());
        };
        let (principal, credential) = state.accounts.authenticate(secret, CredentialKind::Token, address).await?;
        return Ok(Some(Caller { principal, credential, address }));
    }
    let Some(secret) = cookie(&parts.headers, state.cookies.session_name()) else { return Ok(None) };
    let (principal, credential) = state.accounts.authenticate(secret, CredentialKind::Session, address).await?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !credential.csrf.as_deref().is_some_and(|expected| same_secret(expected, sent)) {
            state
                .accounts
                .log(Some(Who::from(&principal)), None, AccessEvent::RefusedCsrf, parts.uri.path(), address)
                .await;
            return Err(AppError::from(AccessError::CsrfFailed).into());
        }
    }
    Ok(Some(Caller { principal, credential, address }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        identify(parts, state).await?.ok_or_else(|| AppError::from(AccessError::NotAuthenticated).into())
    }
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<MaybeCaller, ApiError> {
        Ok(MaybeCaller {
            caller: identify(parts, state).await?,
            address: client_address(parts, &state.trusted_proxies),
        })
    }
}

/// Whether a request without an account from `address` may write now (counted against the
/// address's allowance; one whose address is unknown has none to count against, and may).
pub fn public_write_allowed(state: &AppState, address: Option<IpAddr>) -> bool {
    let now = state.context.timestamp().millis();
    address.is_none_or(|address| state.public_writes.attempt(address, now) == Admission::Allowed)
}

pub fn too_many_requests() -> ApiError {
    ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        message_zh: "此地址请求过于频繁，请稍后再试".into(),
        message_en: "too many requests from this address; try again later".into(),
        details: None,
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    login: String,
    name: String,
    unit: Option<String>,
    roles: Vec<Role>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Me {
        Me { login: p.login.clone(), name: p.name.clone(), unit: p.unit.clone(), roles: p.roles.clone() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    login: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    account: Me,
    /// Send back in `X-CSRF-Token` with every POST, PUT, PATCH and DELETE of this session.
    csrf_token: String,
    expires_at: i64,
}

#[utoipa::path(post, operation_id = "log_in", path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, description = "A session: its cookie is set", body = LoggedIn), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Disabled, or a first password to change", body = ErrorBody), (status = 429, description = "Locked or throttled", body = ErrorBody)))]
/// Opens a web session (cookie) and returns its CSRF token.
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request: LoginRequest = json_body(payload)?;
    let account = state.accounts.login(&request.login, &request.password, address).await?;
    if account.must_change_password {
        return Err(AppError::from(AccessError::PasswordChangeRequired).into());
    }
    let (session, secret) = state.accounts.issue(&account, CredentialKind::Session, "web", None).await?;
    let body = LoggedIn {
        account: Me::from(&Principal::of(&account)),
        csrf_token: session.csrf.clone().unwrap_or_default(),
        expires_at: session.expires_at.millis(),
    };
    let max_age = session.expires_at.millis_since(session.created_at) / 1000;
    Ok(([(SET_COOKIE, state.cookies.session(&secret, max_age))], Json(body)).into_response())
}

#[utoipa::path(post, operation_id = "log_out", path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204, description = "Ended"), (status = 401, body = ErrorBody)))]
/// Ends the session (or revokes the token) the request came with.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.accounts.revoke(&caller.principal, &caller.credential.id).await?;
    Ok(([(SET_COOKIE, state.cookies.session("", 0))], StatusCode::NO_CONTENT).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    login: String,
    old_password: String,
    new_password: String,
}

#[utoipa::path(post, operation_id = "change_password", path = "/api/v1/auth/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "Changed; every session and token of the account is revoked"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
/// The owner replaces their password (first passwords must be).
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let request: PasswordChange = json_body(payload)?;
    state.accounts.change_password(&request.login, &request.old_password, &request.new_password, address).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    login: String,
    password: String,
    label: String,
    /// Lifetime in days (default 90, at most 365).
    #[schema(minimum = 1, maximum = 365)]
    days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    id: String,
    label: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    /// Only in the answer that creates it: it is not stored and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl TokenView {
    fn of(row: CredentialRow, token: Option<String>) -> TokenView {
        TokenView {
            id: row.id,
            label: row.label,
            created_at: row.created_at.millis(),
            expires_at: row.expires_at.millis(),
            revoked_at: row.revoked_at.map(Timestamp::millis),
            token,
        }
    }
}

#[utoipa::path(post, operation_id = "create_token", path = "/api/v1/auth/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, description = "The token, shown this once", body = TokenView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
/// A bearer token for an API client, for the login and password given.
pub async fn create_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let request: TokenRequest = json_body(payload)?;
    let account = state.accounts.login(&request.login, &request.password, address).await?;
    if account.must_change_password {
        return Err(AppError::from(AccessError::PasswordChangeRequired).into());
    }
    let label = request.label.trim();
    if label.is_empty() {
        return Err(AppError::MissingField("label").into());
    }
    let (row, secret) = state.accounts.issue(&account, CredentialKind::Token, label, request.days).await?;
    Ok((StatusCode::CREATED, Json(TokenView::of(row, Some(secret)))))
}

#[utoipa::path(get, operation_id = "list_tokens", path = "/api/v1/auth/tokens", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody)))]
/// The caller's own tokens, newest first.
pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<TokenView>>, ApiError> {
    let rows = state.accounts.tokens(&caller.principal).await?;
    Ok(Json(rows.into_iter().map(|row| TokenView::of(row, None)).collect()))
}

#[utoipa::path(delete, operation_id = "revoke_token", path = "/api/v1/auth/tokens/{id}", tag = "accounts", params(("id" = String, Path, description = "The token's id")),
    security(("bearer" = [])), responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Revokes one of the caller's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.accounts.revoke(&caller.principal, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: "token_not_found",
            message_zh: format!("没有可吊销的令牌 {id}"),
            message_en: format!("no token {id} of yours to revoke"),
            details: None,
        })
    }
}

#[utoipa::path(get, operation_id = "who_am_i", path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
/// The account the request comes from.
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::from(&caller.principal))
}
