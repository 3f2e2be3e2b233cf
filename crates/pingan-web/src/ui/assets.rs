//! The few scripts the pages use, served by the binary itself (no CDN): each is built in, so a
//! deployment serves exactly the version its pages were written for.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Every asset, by file name.
const ASSETS: [(&str, &str); 3] = [
    ("map.js", include_str!("../../assets/map.js")),
    ("centre.js", include_str!("../../assets/centre.js")),
    ("desk.js", include_str!("../../assets/desk.js")),
];

/// GET /assets/{file}
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _)| *name == file) {
        Some((_, text)) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "public, max-age=300")],
            *text,
        )
            .into_response(),
        None => ApiError::no_such_path(&format!("/assets/{file}")).into_response(),
    }
}
