//! Photo upload and download. A client uploads each photo first (the raw bytes as the body) and
//! names it by the returned hash in a report or a result; it is read back through its case, so
//! it is seen by exactly those who see the case.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::cases::photos::{MAX_PHOTO_BYTES, StoredPhoto, Uploader};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::accounts::auth::{MaybeCaller, too_many_requests};
use crate::api::cases::visible_case;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    hash: String,
    mime: &'static str,
    size: usize,
}

#[utoipa::path(post, operation_id = "upload_photo", path = "/api/v1/photos", tag = "cases",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The raw JPEG, PNG or WebP bytes, at most 5 MiB"),
    security((), ("bearer" = [])),
    responses((status = 201, body = Uploaded), (status = 200, description = "Stored before", body = Uploaded), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, description = "Too many uploads, or the address's daily quota is reached", body = ErrorBody)))]
/// Uploads a photo.
///
/// 201 with the photo's hash, or 200 if the same photo was stored before. Without an account, an
/// address may store 200 MiB of new photos a day (429 `photo_quota_reached` past it). A photo that
/// no report or result names within a day is removed.
pub async fn upload(
    State(state): State<AppState>,
    MaybeCaller { caller, address }: MaybeCaller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    if caller.is_none() && !crate::api::accounts::auth::public_write_allowed(&state, address) {
        return Err(too_many_requests());
    }
    let bytes = body.map_err(|_| {
        let error = AppError::PhotoTooLarge { size: MAX_PHOTO_BYTES + 1, max: MAX_PHOTO_BYTES };
        ApiError {
            message_zh: format!("照片超过上限 {MAX_PHOTO_BYTES} 字节"),
            message_en: format!("the photo is larger than {MAX_PHOTO_BYTES} bytes"),
            ..ApiError::from_explained(StatusCode::PAYLOAD_TOO_LARGE, &error)
        }
    })?;
    let uploader = match &caller {
        Some(caller) => Uploader::Account(&caller.principal.account_id),
        None => Uploader::Anonymous(address),
    };
    let StoredPhoto { hash, mime, size, new } = state.engine.store_photo(bytes.to_vec(), uploader).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Uploaded { hash, mime, size })))
}

#[utoipa::path(get, operation_id = "download_photo", path = "/api/v1/cases/{case}/photos/{hash}", tag = "cases",
    params(("case" = String, Path, description = "Case number or id"), ("hash" = String, Path, description = "The photo's SHA-256"),
        ("X-Follow-Token" = Option<String>, Header, description = "The reporter's follow token, without an account")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The photo", content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
/// A photo of a report or a result.
///
/// For whoever may see the case (its reporter without an account, with `X-Follow-Token`); like the
/// case, 404 for anyone else. A hash names its content for ever, so the browser may keep it.
pub async fn download(
    State(state): State<AppState>,
    who: MaybeCaller,
    headers: HeaderMap,
    Path((case, hash)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let row = visible_case(&state, &who, &headers, &case).await?;
    let unknown = || ApiError { status: StatusCode::NOT_FOUND, ..AppError::UnknownPhoto(hash.clone()).into() };
    let (mime, bytes) = state.engine.photo(&row, &hash).await?.ok_or_else(unknown)?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            // A photo may show a face or an identity card: browsers may keep it, shared caches not.
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
