//! What was typed into a workbench form when its session had ended. The form's post arrives
//! without a valid session: instead of a redirection that would drop it, the login page comes back
//! (401) with the fields as hidden inputs; once signed in, the person sees them in a form again,
//! under a fresh CSRF token, to check and send. Nothing is acted on until they do, and the fields
//! never go into an address (they may hold personal data). Only forms of the workbench (`/work/…`),
//! of at most `MAX_FIELDS` fields and `MAX_BYTES` bytes, are kept.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use pingan_store::accounts::CredentialKind;

use crate::ui::shell::{Lang, Shell, Signed, local_path, render};
use crate::{ApiError, AppState};

/// The most fields a kept form may have (the workbench's largest has a dozen).
pub const MAX_FIELDS: usize = 50;
/// The most bytes a kept form may have, URL-encoded.
pub const MAX_BYTES: usize = 64 * 1024;

/// Marks the answer to a page request that had no valid session (`Signed` sets it).
#[derive(Clone, Copy, Debug)]
pub struct SignedOut;

/// A form kept: where it was posted, and its fields in their order, its CSRF token left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// `action` if it is a path of the workbench (where its forms post); anything else (another
/// site, a path outside the workbench, a query, a step up, an escaped character) is refused.
pub fn kept_action(action: &str) -> Result<String, ApiError> {
    let plain = action.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
    if plain && action.starts_with("/work/") && local_path(Some(action)) == action {
        Ok(action.to_owned())
    } else {
        Err(ApiError::invalid_form_action(action))
    }
}

impl KeptForm {
    /// The form posted to `action` as `body` (URL-encoded), if it may be kept.
    pub fn parse(action: &str, body: &[u8]) -> Result<KeptForm, ApiError> {
        let action = kept_action(action)?;
        if body.len() > MAX_BYTES {
            return Err(ApiError::form_too_large_to_keep(MAX_FIELDS, MAX_BYTES));
        }
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .filter(|(name, _)| name != "csrf")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if fields.len() > MAX_FIELDS {
            return Err(ApiError::form_too_large_to_keep(MAX_FIELDS, MAX_BYTES));
        }
        Ok(KeptForm { action, fields })
    }

    /// The fields URL-encoded, to travel in one hidden input of the login form.
    pub fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.fields).finish()
    }

    /// The page to go back to without sending: the one the form's action is under.
    pub fn back(&self) -> String {
        match self.action.rsplit_once('/') {
            Some((parent, _)) if parent.len() > "/work".len() => parent.to_owned(),
            _ => "/work".to_owned(),
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// Around every route: a form posted to the workbench is read (up to `MAX_BYTES`) before its
/// handler runs; if that handler finds no valid session, the answer is the login page carrying
/// the form, instead of a redirection that would drop it.
pub async fn keep_typed_forms(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.uri().path().starts_with("/work/") || !is_form(request.headers()) {
        return next.run(request).await;
    }
    let action = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BYTES) {
        // Passed on unread: with a session it is the handler's to judge; without, too large to keep.
        let response = next.run(request).await;
        if response.extensions().get::<SignedOut>().is_none() {
            return response;
        }
        return crate::ui::accounts::expired(&state, Err(ApiError::form_too_large_to_keep(MAX_FIELDS, MAX_BYTES)));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        let shell = Shell::anonymous(Lang::of(&headers));
        return crate::ui::shell::problem_page(&shell, ApiError::form_too_large_to_keep(MAX_FIELDS, MAX_BYTES));
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    if response.extensions().get::<SignedOut>().is_none() {
        return response;
    }
    crate::ui::accounts::expired(&state, KeptForm::parse(&action, &bytes))
}

/// A kept field as the page shows it.
struct Field {
    name: String,
    label: String,
    value: String,
    /// Long or several lines: a text area.
    long: bool,
}

/// What the workbench's form fields are called, as their forms label them.
fn label(lang: Lang, name: &str) -> String {
    let (zh, en) = match name {
        "action" => ("操作", "Action"),
        "version" => ("您看到的案件版本", "Version of the case you saw"),
        "reason" => ("说明", "Reason or note"),
        "target" => ("派往单位", "To unit"),
        "result" => ("办理结果", "Result"),
        "satisfaction" => ("满意度", "Satisfaction"),
        "hours" => ("延期工作小时", "Working hours more"),
        "master" => ("合并到案件编号", "Into case number"),
        "division" => ("区划", "Division"),
        "month" => ("月份", "Month"),
        "of" => ("排名对象", "Rank"),
        "closure" => ("办结率权重", "Closure weight"),
        "on_time" => ("按期办结率权重", "On-time weight"),
        "returns" => ("未退回率权重", "Not-returned weight"),
        "overdue" => ("未超期率权重", "Not-overdue weight"),
        "laggard_below" => ("约谈分数线", "Laggards below"),
        "laggard_last" => ("末位约谈数", "Last to summon"),
        "key" => ("来电受理号（防止重复受理）", "Call key (against filing twice)"),
        "channel" => ("渠道", "Channel"),
        "priority" => ("紧急程度", "Priority"),
        "caller_name" => ("来电人姓名", "Caller's name"),
        "caller_phone" => ("来电号码", "Caller's phone"),
        "category" => ("事项类别", "Category"),
        "address" => ("事发地址", "Address"),
        "lon" => ("经度", "Longitude"),
        "lat" => ("纬度", "Latitude"),
        "description" => ("来电内容", "What the caller says"),
        "dispatch" => ("派单方式（rules 按规则，hold 由我派单）", "Dispatch (rules, or hold for me)"),
        "merge_into" => ("合并到案件编号", "Merge into case number"),
        other => return other.to_owned(),
    };
    lang.pick(zh, en).to_owned()
}

#[derive(Template)]
#[template(path = "work/resubmit.html")]
struct ResubmitPage {
    shell: Shell,
    action: String,
    back: String,
    fields: Vec<Field>,
}

/// Right after logging in with a kept form: the form again, filled as it was, with the new
/// session's CSRF token, for the person to check and send (`cookies` start the session).
pub async fn resubmit_page(
    state: &AppState,
    headers: &HeaderMap,
    secret: &str,
    address: Option<std::net::IpAddr>,
    kept: KeptForm,
    cookies: Vec<HeaderValue>,
) -> Response {
    let lang = Lang::of(headers);
    let back = kept.back();
    let mut response = match state.accounts.authenticate(secret, CredentialKind::Session, address).await {
        Ok((principal, session)) => {
            let signed =
                Signed { principal, csrf: session.csrf.unwrap_or_default(), lang, here: back.clone(), address };
            let fields = kept
                .fields
                .into_iter()
                .map(|(name, value)| Field {
                    label: label(lang, &name),
                    long: value.contains('\n') || value.chars().count() > 30,
                    name,
                    value,
                })
                .collect();
            let page = ResubmitPage { shell: signed.shell(state, ""), action: kept.action, back, fields };
            render(&page, StatusCode::OK)
        }
        Err(error) => crate::ui::shell::problem_page(&Shell::anonymous(lang), error.into()),
    };
    for value in cookies {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_a_path_of_the_workbench_is_an_action_to_keep() {
        for action in ["/work/cases/3603022025010100001/act", "/work/bulletin/weights"] {
            assert_eq!(kept_action(action).unwrap(), action);
        }
        for action in [
            "https://elsewhere.example/work/cases/1/act",
            "//elsewhere.example/work/cases/1/act",
            "/\\elsewhere.example/work",
            "/work/..\\x",
            "work/cases/1/act",
            "/login",
            "/logout",
            "/api/v1/cases",
            "/work",
            "/work/cases/1/act?reason=x",
            "/work/cases/1/act#x",
            "/work/cases/1/act\n",
            "/work/cases/1/../../../login",
            "/work/cases/%2e%2e/x",
            "",
        ] {
            let refused = kept_action(action).unwrap_err();
            assert_eq!((refused.code, refused.status), ("invalid_form_action", StatusCode::BAD_REQUEST), "{action:?}");
        }
        let refused = KeptForm::parse("https://elsewhere.example/x", b"reason=x").unwrap_err();
        assert_eq!(refused.code, "invalid_form_action");
    }

    #[test]
    fn a_kept_form_leaves_its_csrf_token_out_and_keeps_order_and_text() {
        let body = "csrf=secret&action=note&version=3&reason=%E5%B7%B2%E8%81%94%E7%B3%BB+a%26b%3Dc%0Aline";
        let kept = KeptForm::parse("/work/cases/1/act", body.as_bytes()).unwrap();
        let expected = [("action", "note"), ("version", "3"), ("reason", "已联系 a&b=c\nline")];
        assert_eq!(kept.fields, expected.map(|(n, v)| (n.to_owned(), v.to_owned())));
        assert!(!kept.encoded().contains("csrf"));
        assert_eq!(KeptForm::parse("/work/cases/1/act", kept.encoded().as_bytes()).unwrap(), kept, "round trip");
        assert_eq!(kept.back(), "/work/cases/1");
        assert_eq!(KeptForm::parse("/work/bulletin/weights", b"").unwrap().back(), "/work/bulletin");
    }

    #[test]
    fn a_form_too_large_is_refused_plainly() {
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}=x")).collect();
        let refused = KeptForm::parse("/work/cases/1/act", many.join("&").as_bytes()).unwrap_err();
        assert_eq!((refused.code, refused.status), ("form_too_large_to_keep", StatusCode::PAYLOAD_TOO_LARGE));
        assert!(refused.message_en.contains("50 fields") && refused.message_zh.contains("64 KB"), "{refused:?}");
        let just = many[..MAX_FIELDS].join("&");
        assert_eq!(KeptForm::parse("/work/cases/1/act", just.as_bytes()).unwrap().fields.len(), MAX_FIELDS);
        let long = format!("reason={}", "x".repeat(MAX_BYTES));
        assert_eq!(KeptForm::parse("/work/cases/1/act", long.as_bytes()).unwrap_err().code, "form_too_large_to_keep");
    }
}
