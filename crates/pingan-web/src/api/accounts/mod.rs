//! Account administration over the API: an administrator creates, lists and resets the accounts
//! of its subtree.

pub mod access_log;
pub mod auth;
pub mod cookies;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pingan_app::accounts::NewAccount;
use pingan_core::Timestamp;
use pingan_core::access::Role;
use pingan_store::accounts::AccountRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accounts::auth::Caller;
use crate::error::ErrorBody;
use crate::error::json_body;
use crate::{ApiError, AppState};

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    login: String,
    name: String,
    unit: Option<String>,
    roles: Vec<Role>,
    must_change_password: bool,
    /// After repeated failed logins, until when (milliseconds) the addresses that failed on the
    /// account wait between tries; the owner, from elsewhere, is never kept out.
    slowed_until: Option<i64>,
    disabled: bool,
    created_at: i64,
}

impl From<AccountRow> for AccountView {
    fn from(a: AccountRow) -> AccountView {
        AccountView {
            login: a.login,
            name: a.name,
            unit: a.unit,
            roles: a.roles,
            must_change_password: a.must_change_password,
            slowed_until: a.slowed_until.map(Timestamp::millis),
            disabled: a.disabled,
            created_at: a.created_at.millis(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    #[schema(pattern = "^[A-Za-z0-9._-]{3,64}$")]
    login: String,
    name: String,
    unit: Option<String>,
    roles: Vec<Role>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountCreated {
    account: AccountView,
    /// Shown once; its owner must change it at first login.
    first_password: String,
}

#[utoipa::path(post, operation_id = "create_account", path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccount, security(("bearer" = [])),
    responses((status = 201, body = AccountCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The login is taken", body = ErrorBody)))]
/// Creates an account in the caller's subtree, with a first password its owner must change.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<AccountCreated>), ApiError> {
    let request: CreateAccount = json_body(payload)?;
    let new = NewAccount {
        login: request.login,
        name: request.name,
        unit: request.unit,
        roles: request.roles,
        password: None,
        password_is_own: false,
    };
    let (account, password) = state.accounts.create_by(&caller.principal, new).await?;
    let first_password = password.unwrap_or_default();
    Ok((StatusCode::CREATED, Json(AccountCreated { account: account.into(), first_password })))
}

#[utoipa::path(get, operation_id = "list_accounts", path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<AccountView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// The accounts the caller administers.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<AccountView>>, ApiError> {
    let rows = state.accounts.managed_by(&caller.principal).await?;
    Ok(Json(rows.into_iter().map(AccountView::from).collect()))
}

#[utoipa::path(post, operation_id = "disable_account", path = "/api/v1/accounts/{login}/disable", tag = "accounts", params(("login" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Disables an account.
///
/// It can no longer log in, and its sessions and tokens stop working at once.
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.accounts.set_disabled(&caller.principal, &login, true).await?.into()))
}

#[utoipa::path(post, operation_id = "enable_account", path = "/api/v1/accounts/{login}/enable", tag = "accounts", params(("login" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Lets a disabled account log in again.
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.accounts.set_disabled(&caller.principal, &login, false).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    login: String,
    first_password: String,
}

#[utoipa::path(post, operation_id = "reset_password", path = "/api/v1/accounts/{login}/reset-password", tag = "accounts", params(("login" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = PasswordReset), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Gives an account a new first password.
///
/// The account's sessions and tokens are revoked.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<PasswordReset>, ApiError> {
    let first_password = state.accounts.reset_password(&caller.principal, &login).await?;
    Ok(Json(PasswordReset { login, first_password }))
}
