//! `Idempotency-Key` on every POST of the JSON API: the first request with a key (per account)
//! does the work and its successful answer is kept, sealed, for 24 hours; a retry with the same
//! key and the same request gets that answer again (marked `Idempotent-Replayed: true`) instead of
//! doing the work twice. The same key on another request is refused, and so is a retry that
//! arrives while the first is still being answered. A failed answer is not kept: the retry does
//! the work.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::idempotency::Claim;
use pingan_core::Explain;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState, MAX_JSON_BODY};

pub const HEADER: &str = "idempotency-key";
/// The longest key a client may send.
pub const MAX_KEY: usize = 200;
/// The largest answer kept (POST answers are a few kilobytes); a larger one is not kept.
const MAX_KEPT_ANSWER: usize = 1024 * 1024;

/// Whether a POST to `path` keeps its answers for retries. The others are safe to retry as they
/// are: a report keeps its key with the case (also for residents without an account), a photo is
/// named by its content, logging out twice is logging out, a reveal is a read that is logged each
/// time; an import keys each of its reports (see [`crate::api::cases::import`]); and bodies that carry a
/// password are never kept, not even hashed.
pub fn keeps_answers(path: &str) -> bool {
    let elsewhere = [
        "/api/v1/cases",
        "/api/v1/cases/import",
        "/api/v1/photos",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/tokens",
        "/api/v1/auth/password",
    ];
    !elsewhere.contains(&path) && !path.ends_with("/reveal")
}

#[derive(Debug)]
enum KeyProblem {
    Malformed,
    Reused,
    InFlight,
    /// The handler's answer could not be read back to keep it.
    AnswerUnreadable,
}

impl Explain for KeyProblem {
    fn code(&self) -> &'static str {
        match self {
            KeyProblem::Malformed => "invalid_idempotency_key",
            KeyProblem::Reused => "idempotency_key_reused",
            KeyProblem::InFlight => "idempotency_key_in_flight",
            KeyProblem::AnswerUnreadable => "answer_unreadable",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            KeyProblem::Malformed => "Idempotency-Key 须为 1 至 200 个可见 ASCII 字符".into(),
            KeyProblem::Reused => "该 Idempotency-Key 已用于另一个请求，请换一个".into(),
            KeyProblem::InFlight => "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试".into(),
            KeyProblem::AnswerUnreadable => "请求已处理，但应答无法读取；请查询结果后再决定是否重试".into(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            KeyProblem::Malformed => "Idempotency-Key must be 1 to 200 visible ASCII characters".into(),
            KeyProblem::Reused => "this Idempotency-Key was used for another request: choose a new one".into(),
            KeyProblem::InFlight => "the request with this Idempotency-Key is still being answered: retry later".into(),
            KeyProblem::AnswerUnreadable => {
                "the request was done but its answer could not be read: look at the result before retrying".into()
            }
        }
    }
}

fn refused(status: StatusCode, why: KeyProblem) -> Response {
    ApiError::from_explained(status, &why).into_response()
}

/// `key` if it is 1 to [`MAX_KEY`] visible ASCII characters (no space, nothing else).
pub fn checked_key(key: &[u8]) -> Result<String, ApiError> {
    match std::str::from_utf8(key) {
        Ok(key) if (1..=MAX_KEY).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(key.to_owned())
        }
        _ => Err(ApiError::from_explained(StatusCode::BAD_REQUEST, &KeyProblem::Malformed)),
    }
}

/// POSTs that someone without an account may send.
fn open_to_anyone(path: &str) -> bool {
    ["/api/v1/cases", "/api/v1/photos", "/api/v1/auth/login", "/api/v1/auth/tokens"].contains(&path)
        || path.starts_with("/open311/")
}

/// The refusal of a malformed key, once the caller is known: a request without valid credentials
/// to what needs an account is answered as such first (401), as its handler would.
async fn refused_after_authentication(state: &AppState, request: Request, refusal: ApiError) -> Response {
    let (parts, _) = request.into_parts();
    match crate::api::accounts::auth::identify(&parts, state).await {
        Err(error) => error.into_response(),
        Ok(None) if !open_to_anyone(parts.uri.path()) => {
            ApiError::from(AppError::from(pingan_app::access::AccessError::NotAuthenticated)).into_response()
        }
        Ok(_) => refusal.into_response(),
    }
}

/// The middleware. A malformed key is refused on every POST, whether or not its answer is kept.
pub async fn keyed(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = request.headers().get(HEADER) else { return next.run(request).await };
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let key = match checked_key(key.as_bytes()) {
        Ok(key) => key,
        Err(refusal) => return refused_after_authentication(&state, request, refusal).await,
    };
    if !keeps_answers(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let caller = match crate::api::accounts::auth::identify(&parts, &state).await {
        Ok(Some(caller)) => caller,
        // Without an account there is nobody to keep the key for; the handler answers.
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(error) => return error.into_response(),
    };
    let Ok(bytes) = to_bytes(body, MAX_JSON_BODY).await else {
        return ApiError::body_too_large().into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path_and_query().map_or("", |p| p.as_str()));
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = pingan_core::hex(&hasher.finalize());

    let account = caller.principal.account_id.clone();
    match state.idempotency.claim(&account, &key, &fingerprint).await {
        Err(error) => ApiError::from(error).into_response(),
        Ok(Claim::Reused) => refused(StatusCode::UNPROCESSABLE_ENTITY, KeyProblem::Reused),
        Ok(Claim::InFlight) => refused(StatusCode::CONFLICT, KeyProblem::InFlight),
        Ok(Claim::Answered { status, body }) => replay(status, body),
        Ok(Claim::Ours) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            keep(&state, &account, &key, response).await
        }
    }
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if status != StatusCode::NO_CONTENT {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Keeps a successful `response` for the key, or gives the key up.
async fn keep(state: &AppState, account: &str, key: &str, response: Response) -> Response {
    if !response.status().is_success() {
        release(state, account, key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return refused(StatusCode::INTERNAL_SERVER_ERROR, KeyProblem::AnswerUnreadable);
    };
    if bytes.len() > MAX_KEPT_ANSWER {
        release(state, account, key).await;
        return Response::from_parts(parts, Body::from(bytes));
    }
    if let Err(error) = state.idempotency.keep(account, key, parts.status.as_u16(), &bytes).await {
        // The work is done; only a retry of it would find the key unanswered.
        tracing::warn!(%error, "an answer to an idempotency key was not kept");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn release(state: &AppState, account: &str, key: &str) {
    if let Err(error) = state.idempotency.release(account, key).await {
        // The claim lapses by itself after a minute.
        tracing::warn!(%error, "an idempotency key was not released");
    }
}

/// Forgets the keys whose answers were kept for their day.
pub async fn forget_expired(state: &AppState) {
    if let Err(error) = state.idempotency.forget_expired().await {
        tracing::warn!(%error, "expired idempotency keys were not forgotten");
    }
}
