//! The signed-in person's own API tokens (`/work/tokens`): the list, a form that issues one (its
//! secret shown once, on the answer, never in a link; the password asked again, so that a session
//! left open cannot mint a token that outlives it), and revoking one.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use pingan_app::AppError;
use pingan_store::accounts::CredentialKind;
use serde::Deserialize;

use crate::api::accounts::auth::same_secret;
use crate::ui::admin::{given, local_time, refused_form, see_other, shown};
use crate::ui::geography::Problem;
use crate::ui::shell::{Shell, Signed, render};
use crate::{ApiError, AppState};

const PATH: &str = "/work/tokens";

pub struct TokenLine {
    pub id: String,
    pub label: String,
    pub created: String,
    pub expires: String,
    pub revoked: Option<String>,
    pub expired: bool,
}

/// A token just issued: its label and its secret, shown this once.
pub struct Issued {
    pub label: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "work/tokens.html")]
struct TokensPage {
    shell: Shell,
    tokens: Vec<TokenLine>,
    label: String,
    days: String,
    issued: Option<Issued>,
    revoked: bool,
    problem: Option<Problem>,
}

async fn page(
    state: &AppState,
    signed: &Signed,
    typed: (String, String),
    said: (Option<Issued>, bool, Option<Problem>),
    status: StatusCode,
) -> Response {
    let mut shell = signed.shell(state, "");
    shell.here = PATH.to_owned();
    let (issued, revoked, mut problem) = said;
    let now = state.context.timestamp();
    let tokens = match state.accounts.tokens(&signed.principal).await {
        Ok(rows) => rows,
        Err(error) => {
            problem.get_or_insert(shown(error).1);
            Vec::new()
        }
    };
    let tokens = tokens
        .into_iter()
        .map(|row| TokenLine {
            expired: row.expires_at <= now,
            created: local_time(row.created_at),
            expires: local_time(row.expires_at),
            revoked: row.revoked_at.map(local_time),
            id: row.id,
            label: row.label,
        })
        .collect();
    let (label, days) = typed;
    render(&TokensPage { shell, tokens, label, days, issued, revoked, problem }, status)
}

#[derive(Deserialize, Default)]
pub struct TokensQuery {
    done: Option<String>,
}

/// GET /work/tokens
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<TokensQuery>) -> Response {
    let revoked = query.done.as_deref() == Some("revoked");
    page(&state, &signed, (String::new(), "90".into()), (None, revoked, None), StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct IssueForm {
    csrf: String,
    label: Option<String>,
    days: Option<String>,
    password: Option<String>,
}

/// POST /work/tokens — issues a token after the password is given again; the answer shows its
/// secret once.
pub async fn issue(
    State(state): State<AppState>,
    signed: Signed,
    form: Result<Form<IssueForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) if same_secret(&signed.csrf, &form.csrf) => form,
        _ => return refused_form(&state, &signed, PATH).await,
    };
    let typed = (given(&form.label).unwrap_or_default(), given(&form.days).unwrap_or_default());
    let issued = async {
        let label = given(&form.label).ok_or(AppError::MissingField("label"))?;
        let days = match given(&form.days) {
            Some(days) => Some(days.parse::<i64>().map_err(|_| ApiError::invalid_parameter("days", &days))?),
            None => None,
        };
        let password = form.password.clone().unwrap_or_default();
        let account = state.accounts.login(&signed.principal.login, &password, signed.address).await?;
        let (_, secret) = state.accounts.issue(&account, CredentialKind::Token, &label, days).await?;
        Ok::<_, ApiError>(Issued { label, secret })
    };
    match issued.await {
        Ok(issued) => {
            page(&state, &signed, (String::new(), "90".into()), (Some(issued), false, None), StatusCode::OK).await
        }
        Err(error) => {
            let (status, problem) = shown(error);
            page(&state, &signed, typed, (None, false, Some(problem)), status).await
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
}

/// POST /work/tokens/{id}/revoke — one of the person's own tokens stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    if !matches!(&form, Ok(Form(form)) if same_secret(&signed.csrf, &form.csrf)) {
        return refused_form(&state, &signed, PATH).await;
    }
    // Only the person's own tokens: a session cannot be ended from here (the header's button does).
    let own = state.accounts.tokens(&signed.principal).await.map(|tokens| tokens.iter().any(|t| t.id == id));
    let revoked = match own {
        Ok(true) => state.accounts.revoke(&signed.principal, &id).await,
        Ok(false) => Ok(false),
        Err(error) => Err(error),
    };
    match revoked {
        Ok(true) => see_other(&format!("{PATH}?done=revoked")),
        Ok(false) => {
            let problem = Problem {
                code: "token_not_found",
                message_zh: format!("没有可吊销的令牌 {id}"),
                message_en: format!("no token {id} of yours to revoke"),
            };
            page(&state, &signed, (String::new(), "90".into()), (None, false, Some(problem)), StatusCode::NOT_FOUND)
                .await
        }
        Err(error) => {
            let (status, problem) = shown(error);
            page(&state, &signed, (String::new(), "90".into()), (None, false, Some(problem)), status).await
        }
    }
}
