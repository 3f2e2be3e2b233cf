//! One error shape for every JSON endpoint:
//! `{"error": {"code": "...", "message_zh": "...", "message_en": "...", "details": ...}}`.

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::geography::atlas::RouteError;
use pingan_core::Explain;
use pingan_core::lifecycle::LifecycleError;
use pingan_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn from_explained(status: StatusCode, error: &dyn Explain) -> ApiError {
        ApiError {
            status,
            code: error.code(),
            message_zh: error.message_zh(),
            message_en: error.message_en(),
            details: None,
        }
    }

    pub fn missing_parameter(name: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "missing_parameter",
            message_zh: format!("缺少参数 {name}"),
            message_en: format!("the parameter {name} is required"),
            details: Some(json!({ "parameter": name })),
        }
    }

    pub fn invalid_parameter(name: &str, value: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message_zh: format!("参数 {name} 的值“{value}”无效"),
            message_en: format!("the parameter {name} has an invalid value {value:?}"),
            details: Some(json!({ "parameter": name })),
        }
    }
    /// A value outside a closed list: the answer names the values that are accepted.
    pub fn invalid_choice(name: &str, value: &str, allowed: &[&str]) -> ApiError {
        ApiError {
            message_zh: format!("参数 {name} 的值“{value}”无效，可选：{}", allowed.join("、")),
            message_en: format!("the parameter {name} has an invalid value {value:?}; one of: {}", allowed.join(", ")),
            details: Some(json!({ "parameter": name, "allowed": allowed })),
            ..ApiError::invalid_parameter(name, value)
        }
    }

    pub fn unknown_parameter(name: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "unknown_parameter",
            message_zh: format!("不支持参数 {name}"),
            message_en: format!("the parameter {name} is not known here"),
            details: Some(json!({ "parameter": name })),
        }
    }

    /// No page or endpoint at `path`.
    pub fn no_such_path(path: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "no_such_path",
            message_zh: format!("没有这个页面：{path}"),
            message_en: format!("there is nothing at {path}"),
            details: None,
        }
    }

    pub fn invalid_cursor() -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_cursor",
            message_zh: "分页游标无效：请使用上一页返回的 next_cursor".into(),
            message_en: "the cursor is not valid: pass the next_cursor of the previous page unchanged".into(),
            details: None,
        }
    }

    pub fn body_too_large() -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message_zh: format!("请求体超过 {} 字节上限", crate::MAX_JSON_BODY),
            message_en: format!("the body is larger than the {} bytes accepted", crate::MAX_JSON_BODY),
            details: None,
        }
    }

    /// A workbench form posted after its session ended: what was typed is kept for after logging in.
    pub fn session_expired_form_kept() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "session_expired",
            message_zh: "您的会话已过期或已结束，请重新登录。您填写的内容已保留：登录后核对一下再提交。".into(),
            message_en: "Your session expired or was ended: log in again. What you typed is kept: check it and \
                         send it again once you are signed in."
                .into(),
            details: None,
        }
    }

    /// A form posted after its session ended, too large to be kept in a page.
    pub fn form_too_large_to_keep(fields: usize, bytes: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "form_too_large_to_keep",
            message_zh: format!(
                "您的会话已过期，而表单过大（超过 {fields} 个字段或 {} KB），无法保留所填内容，请重新登录后再填写",
                bytes / 1024
            ),
            message_en: format!(
                "Your session expired, and the form is too large (over {fields} fields or {} KB) for what you typed \
                 to be kept: log in again and fill it in again",
                bytes / 1024
            ),
            details: Some(json!({ "max_fields": fields, "max_bytes": bytes })),
        }
    }

    /// A kept form that was to go anywhere but a form of the workbench.
    pub fn invalid_form_action(action: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_form_action",
            message_zh: format!("保留的表单只能提交到本站工作台，而不是“{action}”"),
            message_en: format!("a kept form goes back to a form of this site's workbench only, not to {action:?}"),
            details: Some(json!({ "action": action })),
        }
    }

    pub fn export_too_large(rows: u64, max: u64) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "export_too_large",
            message_zh: format!("符合条件的案件有 {rows} 件，单次导出最多 {max} 件，请缩小范围（如按月导出）"),
            message_en: format!(
                "{rows} cases match and one export holds at most {max}: narrow the filter (a month at a time, say)"
            ),
            details: Some(json!({ "rows": rows, "max": max })),
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> ApiError {
        match &error {
            RouteError::BadCoordinates(_) => ApiError::from_explained(StatusCode::BAD_REQUEST, &error),
            RouteError::Outside { nearest, .. } => ApiError {
                details: Some(json!({ "nearest": nearest })),
                ..ApiError::from_explained(StatusCode::NOT_FOUND, &error)
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        // A report of a batch: its own refusal (status, code, details), with the batch's messages
        // that name which report it is.
        let in_batch = matches!(error, AppError::InBatch { .. }).then(|| (error.message_zh(), error.message_en()));
        let error = match (error, in_batch) {
            (AppError::InBatch { index, error: report }, Some((message_zh, message_en))) => {
                let refused = ApiError::from(*report);
                let mut details = refused.details.clone().unwrap_or_else(|| json!({}));
                details["index"] = json!(index);
                return ApiError { message_zh, message_en, details: Some(details), ..refused };
            }
            (error, _) => error,
        };
        let status = match &error {
            AppError::Route(route) => {
                // A report from outside the served area is a request the server understood and
                // cannot take; the route lookup itself answers 404.
                let mut refused: ApiError = route.clone().into();
                if refused.status == StatusCode::NOT_FOUND {
                    refused.status = StatusCode::UNPROCESSABLE_ENTITY;
                }
                return refused;
            }
            AppError::CaseNotFound(_) | AppError::UnknownWebhook(_) => StatusCode::NOT_FOUND,
            // Understood, but naming no place the server serves, like a point outside its grids.
            AppError::AddressNotPlaced { candidates, .. } => {
                return ApiError {
                    details: Some(json!({ "candidates": candidates })),
                    ..ApiError::from_explained(StatusCode::UNPROCESSABLE_ENTITY, &error)
                };
            }
            AppError::Access(access) => match access {
                AccessError::NotAuthenticated
                | AccessError::BadCredentials
                | AccessError::CredentialRevoked
                | AccessError::CredentialExpired => StatusCode::UNAUTHORIZED,
                AccessError::LoginSlowed { .. } | AccessError::AddressThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
                AccessError::AccountDisabled
                | AccessError::PasswordChangeRequired
                | AccessError::CsrfFailed
                | AccessError::CookieRefused
                | AccessError::Forbidden(_)
                | AccessError::ChannelNotAllowed(_) => StatusCode::FORBIDDEN,
                AccessError::NoSuchAccount(_) => StatusCode::NOT_FOUND,
                AccessError::WeakPassword(_)
                | AccessError::RoleDoesNotFitUnit { .. }
                | AccessError::BadLogin
                | AccessError::ReasonRequired => StatusCode::BAD_REQUEST,
            },
            AppError::NoDataKey | AppError::Sealing(_) | AppError::BadKeyFile(_) | AppError::WrongDataKeys { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AppError::PhotoTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::PhotoQuotaReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::NotAPhoto => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Lifecycle(LifecycleError::Forbidden { .. }) | AppError::OutsideFilersArea { .. } => {
                StatusCode::FORBIDDEN
            }
            AppError::Lifecycle(LifecycleError::InvalidTransition { .. }) => StatusCode::CONFLICT,
            AppError::Store(StoreError::Conflict { .. } | StoreError::AlreadyExists(_)) => StatusCode::CONFLICT,
            AppError::Store(StoreError::KeyReused(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Store(StoreError::Database(_) | StoreError::Corrupt(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        if status.is_server_error() {
            tracing::error!(%error, "request failed");
        }
        let answer = ApiError::from_explained(status, &error);
        // What broke inside (a statement, a stored row) is for the log, not for whoever asked.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return ApiError {
                message_zh: "服务器内部错误，已记入日志；请稍后重试，或告知系统管理员".into(),
                message_en:
                    "an internal error, written to the server's log; try again later, or tell the administrator".into(),
                details: None,
                ..answer
            };
        }
        answer
    }
}

/// Every error answer of the API.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `case_not_found`, `invalid_transition`, `forbidden` ...
    code: &'static str,
    message_zh: String,
    message_en: String,
    /// What the code needs besides (the parameter at fault, the allowed values, the nearest grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = ErrorDetail {
            code: self.code,
            message_zh: self.message_zh,
            message_en: self.message_en,
            details: self.details,
        };
        (self.status, Json(ErrorBody { error })).into_response()
    }
}

/// The query string of a request as `T`, or the error that says what is wrong with it (the
/// parser's own words in English and in the details, never in the Chinese message).
pub(crate) fn query_params<T>(parsed: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    parsed.map(|Query(value)| value).map_err(|e| {
        let why = e.body_text();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message_zh: "查询参数无法解析：请检查参数名称与取值的写法".into(),
            message_en: format!("the query string could not be read: {why}"),
            details: Some(json!({ "parameter": "query", "parser": why })),
        }
    })
}

/// The JSON body of a request as `T`, or the error that says what is wrong with it. The body must
/// be an object: serde would otherwise take an array of the fields' values for a struct.
pub(crate) fn json_body<T: DeserializeOwned>(payload: Result<Json<Value>, JsonRejection>) -> Result<T, ApiError> {
    let malformed = |why: String| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "malformed_json",
        message_zh: "请求体无效：不是有效的 JSON，或字段、取值不符合接口说明".into(),
        message_en: format!("the request body is not acceptable: {why}"),
        details: Some(json!({ "parser": why })),
    };
    let Json(value) = payload.map_err(|rejection| {
        let refused = malformed(rejection.body_text());
        match &rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message_zh: "请求体须为 JSON（Content-Type: application/json）".into(),
                ..refused
            },
            JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "body_too_large",
                message_zh: format!("请求体超过 {} 字节上限", crate::MAX_JSON_BODY),
                ..refused
            },
            // Sent wrong (a chunk of impossible size, say) or cut off.
            JsonRejection::BytesRejection(_) => ApiError {
                code: "unreadable_body",
                message_zh: "请求体无法读取：传输编码有误或连接中断".into(),
                ..refused
            },
            _ => refused,
        }
    })?;
    if !value.is_object() {
        return Err(malformed("the body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use pingan_store::StoreError;

    use super::*;

    #[test]
    fn an_internal_error_keeps_its_code_and_tells_nothing_of_the_inside() {
        let inside = StoreError::Database("near \"ELSE\": syntax error in SELECT secret FROM cases".into());
        let answer = ApiError::from(AppError::Store(inside));
        assert_eq!((answer.status, answer.code), (StatusCode::INTERNAL_SERVER_ERROR, "database_error"));
        for message in [&answer.message_zh, &answer.message_en] {
            assert!(!message.contains("SELECT") && !message.contains("secret"), "{message}");
        }
        assert!(answer.details.is_none());
        // Errors the asker can act on still say what is wrong.
        let refused = ApiError::from(AppError::UnknownDivision("3699".into()));
        assert!(refused.message_en.contains("3699"), "{}", refused.message_en);
    }
}
