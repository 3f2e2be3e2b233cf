//! Account administration over the API: an administrator creates, lists and resets the accounts
//! of its subtree.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pingan_app::accounts::NewAccount;
use pingan_core::access::Role;
use pingan_store::accounts::AccountRow;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::json_body;
use crate::{ApiError, AppState};

#[derive(Serialize)]
pub struct AccountView {
    login: String,
    name: String,
    unit: Option<String>,
    roles: Vec<Role>,
    must_change_password: bool,
    locked_until: Option<i64>,
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
            locked_until: a.locked_until,
            disabled: a.disabled,
            created_at: a.created_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    login: String,
    name: String,
    unit: Option<String>,
    roles: Vec<Role>,
}

#[derive(Serialize)]
pub struct Created {
    account: AccountView,
    /// Shown once; its owner must change it at first login.
    first_password: String,
}

/// POST /api/v1/accounts
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Result<Json<CreateAccount>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let request = json_body(payload)?;
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
    Ok((StatusCode::CREATED, Json(Created { account: account.into(), first_password })))
}

/// GET /api/v1/accounts — the accounts the caller administers.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<AccountView>>, ApiError> {
    let rows = state.accounts.managed_by(&caller.principal).await?;
    Ok(Json(rows.into_iter().map(AccountView::from).collect()))
}

/// POST /api/v1/accounts/{login}/disable — the account can no longer log in, and its sessions
/// and tokens stop working at once.
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.accounts.set_disabled(&caller.principal, &login, true).await?.into()))
}

/// POST /api/v1/accounts/{login}/enable
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.accounts.set_disabled(&caller.principal, &login, false).await?.into()))
}

#[derive(Serialize)]
pub struct Reset {
    login: String,
    first_password: String,
}

/// POST /api/v1/accounts/{login}/reset-password — a new first password; the account's sessions
/// and tokens are revoked.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<Reset>, ApiError> {
    let first_password = state.accounts.reset_password(&caller.principal, &login).await?;
    Ok(Json(Reset { login, first_password }))
}
