//! Accounts, their credentials (web sessions and API tokens) and the access log.
//!
//! Secrets are never stored: a password as its argon2id hash, a session or token as the SHA-256
//! of its random bytes. Times are milliseconds since the Unix epoch.

use async_trait::async_trait;
use pingan_core::access::Role;

use crate::{StoreError, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    /// What the person types to log in; unique.
    pub login: String,
    pub name: String,
    /// The unit the account works for (`centre:CODE`, `department:…`, `provider:…`, `grid:CODE`);
    /// None only for residents.
    pub unit: Option<String>,
    pub roles: Vec<Role>,
    /// argon2id, in the PHC string format.
    pub password_hash: String,
    /// Set for a first password or one reset by an administrator.
    pub must_change_password: bool,
    /// Failed logins since the last success.
    pub failed_logins: u32,
    pub slowed_until: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// A web session (cookie), with its CSRF token.
    Session,
    /// A bearer token for the API.
    Token,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Token => "token",
        }
    }

    pub fn parse(text: &str) -> Option<CredentialKind> {
        [CredentialKind::Session, CredentialKind::Token].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRow {
    /// Public: how a token is named when it is listed or revoked.
    pub id: String,
    /// SHA-256 of the secret the holder presents.
    pub secret_hash: Vec<u8>,
    pub account_id: String,
    pub kind: CredentialKind,
    /// What the holder called it ("12345 hotline bridge"); a session's is its browser.
    pub label: String,
    /// A session's CSRF token (sent back with every form).
    pub csrf: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// One line of the access log: a read of personal data, an export, or a refused attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    pub at: i64,
    /// The account, or None for an unauthenticated request.
    pub account_id: Option<String>,
    /// The account's unit at the time (so the log stays readable if the account moves); the log
    /// is read by the subtree of its division.
    pub unit: Option<String>,
    /// What happened: `reveal_reporter`, `refused_case`, `refused_token`, `refused_csrf` ...
    pub event: String,
    pub case_id: Option<String>,
    pub reason: String,
    /// The client's address.
    pub address: Option<String>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores a new account; a login already taken is [`StoreError::AlreadyExists`].
    async fn create_account(&self, account: AccountRow) -> StoreResult<()>;

    async fn account(&self, id: &str) -> StoreResult<Option<AccountRow>>;

    async fn account_by_login(&self, login: &str) -> StoreResult<Option<AccountRow>>;

    /// Accounts whose unit lies in the division subtree `prefix` (empty: all, residents included),
    /// by login.
    async fn accounts(&self, prefix: &str) -> StoreResult<Vec<AccountRow>>;

    /// Replaces the password hash; says whether the account exists.
    async fn set_password(&self, id: &str, password_hash: String, must_change: bool) -> StoreResult<bool>;

    /// Disables or enables an account; says whether it exists.
    async fn set_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool>;

    /// Counts one failed login, atomically; returns the failures since the last success (None: no
    /// such account). From the `slow_after`-th on, the addresses that failed on the account wait
    /// until `slowed_until` (a later instant than the one set, if any, only).
    async fn count_failed_login(&self, id: &str, slow_after: u32, slowed_until: i64) -> StoreResult<Option<u32>>;

    /// Records the outcome of a login attempt: the failures since the last success, and until when
    /// the addresses that failed wait.
    async fn set_login_state(&self, id: &str, failed_logins: u32, slowed_until: Option<i64>) -> StoreResult<()>;

    async fn put_credential(&self, credential: CredentialRow) -> StoreResult<()>;

    /// The credential whose secret hashes to `secret_hash`, revoked or expired ones included (the
    /// caller says why it is refused).
    async fn credential(&self, secret_hash: &[u8]) -> StoreResult<Option<CredentialRow>>;

    /// An account's credentials of `kind`, newest first.
    async fn credentials(&self, account_id: &str, kind: CredentialKind) -> StoreResult<Vec<CredentialRow>>;

    /// Revokes one of an account's credentials at `at`; says whether there was one to revoke.
    async fn revoke_credential(&self, account_id: &str, id: &str, at: i64) -> StoreResult<bool>;

    /// Revokes every credential of an account (a password reset, a disabled account).
    async fn revoke_all_credentials(&self, account_id: &str, at: i64) -> StoreResult<u64>;

    /// Writes the entries, all or none (an export logs one entry per case it reveals).
    async fn log_access(&self, entries: Vec<AccessEntry>) -> StoreResult<()>;

    /// The log entries from `from` on of accounts whose unit lies in the division subtree `prefix`
    /// (empty: all, anonymous requests included), oldest first.
    async fn access_log(&self, prefix: &str, from: i64, limit: u32) -> StoreResult<Vec<AccessEntry>>;
}

/// A stored account's columns, in [`ACCOUNT_COLUMNS`] order (the unit's division is derived, for
/// listing a subtree).
pub type AccountColumns = (String, String, String, Option<String>, String, String, bool, i64, Option<i64>, bool, i64);

pub const ACCOUNT_COLUMNS: &str = "id, login, name, unit, roles, password_hash, must_change_password, failed_logins, slowed_until, disabled, created_at";

impl AccountRow {
    pub fn to_columns(&self) -> AccountColumns {
        (
            self.id.clone(),
            self.login.clone(),
            self.name.clone(),
            self.unit.clone(),
            self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
            self.password_hash.clone(),
            self.must_change_password,
            i64::from(self.failed_logins),
            self.slowed_until,
            self.disabled,
            self.created_at,
        )
    }

    pub fn from_columns(columns: AccountColumns) -> StoreResult<AccountRow> {
        let (
            id,
            login,
            name,
            unit,
            roles,
            password_hash,
            must_change_password,
            failed,
            slowed_until,
            disabled,
            created_at,
        ) = columns;
        let roles = roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| Role::parse(r).ok_or_else(|| StoreError::Corrupt(format!("account {id}: role {r}"))))
            .collect::<StoreResult<Vec<Role>>>()?;
        Ok(AccountRow {
            failed_logins: u32::try_from(failed).unwrap_or(u32::MAX),
            id,
            login,
            name,
            unit,
            roles,
            password_hash,
            must_change_password,
            slowed_until,
            disabled,
            created_at,
        })
    }
}

/// A stored credential's columns, in [`CREDENTIAL_COLUMNS`] order.
pub type CredentialColumns = (String, Vec<u8>, String, String, String, Option<String>, i64, i64, Option<i64>);

pub const CREDENTIAL_COLUMNS: &str =
    "id, secret_hash, account_id, kind, label, csrf, created_at, expires_at, revoked_at";

impl CredentialRow {
    pub fn to_columns(&self) -> CredentialColumns {
        (
            self.id.clone(),
            self.secret_hash.clone(),
            self.account_id.clone(),
            self.kind.as_str().to_owned(),
            self.label.clone(),
            self.csrf.clone(),
            self.created_at,
            self.expires_at,
            self.revoked_at,
        )
    }

    pub fn from_columns(columns: CredentialColumns) -> StoreResult<CredentialRow> {
        let (id, secret_hash, account_id, kind, label, csrf, created_at, expires_at, revoked_at) = columns;
        Ok(CredentialRow {
            kind: CredentialKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("credential {id}: kind {kind}")))?,
            id,
            secret_hash,
            account_id,
            label,
            csrf,
            created_at,
            expires_at,
            revoked_at,
        })
    }
}

/// A stored access-log entry's columns, in [`ACCESS_COLUMNS`] order.
pub type AccessColumns = (i64, Option<String>, Option<String>, String, Option<String>, String, Option<String>);

pub const ACCESS_COLUMNS: &str = "at, account_id, unit, event, case_id, reason, address";

impl AccessEntry {
    pub fn to_columns(&self) -> AccessColumns {
        (
            self.at,
            self.account_id.clone(),
            self.unit.clone(),
            self.event.clone(),
            self.case_id.clone(),
            self.reason.clone(),
            self.address.clone(),
        )
    }

    pub fn from_columns((at, account_id, unit, event, case_id, reason, address): AccessColumns) -> AccessEntry {
        AccessEntry { at, account_id, unit, event, case_id, reason, address }
    }
}
