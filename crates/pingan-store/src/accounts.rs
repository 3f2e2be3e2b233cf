//! Accounts, their credentials (web sessions and API tokens) and the access log.
//!
//! Secrets are never stored: a password as its argon2id hash, a session or token as the SHA-256
//! of its random bytes. Times are milliseconds since the Unix epoch.

use async_trait::async_trait;
use pingan_core::Timestamp;
use pingan_core::access::Role;
use pingan_core::unit::place_code_of;

use crate::sql::{SqlEngine, SqlRow, Statement, Value, prefix_end, write_one};
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
    pub slowed_until: Option<Timestamp>,
    pub disabled: bool,
    pub created_at: Timestamp,
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
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// One line of the access log: a read of personal data, an export, or a refused attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    pub at: Timestamp,
    /// The account, or None for an unauthenticated request.
    pub account_id: Option<String>,
    /// The account's unit at the time (so the log stays readable if the account moves); the log
    /// is read by the subtree of its division.
    pub unit: Option<String>,
    /// What happened, as an `AccessEvent` of the application layer writes it: `reveal_reporter`,
    /// `refused_case`, `refused_credential`, `login_failed` …
    pub event: String,
    pub case_id: Option<String>,
    pub reason: String,
    /// The client's address.
    pub address: Option<String>,
}

/// Which lines of the access log to read, newest first: each field given narrows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessQuery {
    /// Lines at or after this time.
    pub from: Option<Timestamp>,
    /// Lines before this time.
    pub until: Option<Timestamp>,
    pub account_id: Option<String>,
    pub event: Option<String>,
    pub case_id: Option<String>,
    /// Lines skipped (the pages before), then at most `limit` read.
    pub offset: u32,
    pub limit: u32,
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
    async fn count_failed_login(&self, id: &str, slow_after: u32, slowed_until: Timestamp) -> StoreResult<Option<u32>>;

    /// Records the outcome of a login attempt: the failures since the last success, and until when
    /// the addresses that failed wait.
    async fn set_login_state(&self, id: &str, failed_logins: u32, slowed_until: Option<Timestamp>) -> StoreResult<()>;

    async fn put_credential(&self, credential: CredentialRow) -> StoreResult<()>;

    /// The credential whose secret hashes to `secret_hash`, revoked or expired ones included (the
    /// caller says why it is refused).
    async fn credential(&self, secret_hash: &[u8]) -> StoreResult<Option<CredentialRow>>;

    /// An account's credentials of `kind`, newest first.
    async fn credentials(&self, account_id: &str, kind: CredentialKind) -> StoreResult<Vec<CredentialRow>>;

    /// Revokes one of an account's credentials at `at`; says whether there was one to revoke.
    async fn revoke_credential(&self, account_id: &str, id: &str, at: Timestamp) -> StoreResult<bool>;

    /// Revokes every credential of an account (a password reset, a disabled account).
    async fn revoke_all_credentials(&self, account_id: &str, at: Timestamp) -> StoreResult<u64>;

    /// Writes the entries, all or none (an export logs one entry per case it reveals).
    async fn log_access(&self, entries: Vec<AccessEntry>) -> StoreResult<()>;

    /// The log entries from `from` on of accounts whose unit lies in the division subtree `prefix`
    /// (empty: all, anonymous requests included), oldest first.
    async fn access_log(&self, prefix: &str, from: Timestamp, limit: u32) -> StoreResult<Vec<AccessEntry>>;

    /// The lines of the subtree `prefix` (as [`AccountStore::access_log`] reads it) that `query`
    /// selects, newest first.
    async fn access_log_page(&self, prefix: &str, query: &AccessQuery) -> StoreResult<Vec<AccessEntry>>;
}

const ACCOUNT_COLUMNS: &str = "id, login, name, unit, roles, password_hash, must_change_password, failed_logins, \
     slowed_until, disabled, created_at";

const CREDENTIAL_COLUMNS: &str = "id, secret_hash, account_id, kind, label, csrf, created_at, expires_at, revoked_at";

const ACCESS_COLUMNS: &str = "at, account_id, unit, event, case_id, reason, address";

/// Rows whose division lies in the subtree `$1` (`$2` its end, [`prefix_end`]); an empty `$1`
/// takes every row, those of no division too.
const IN_SUBTREE: &str = "($1 = '' OR (division_code >= $1 AND division_code < $2))";

impl AccountRow {
    fn read(row: &SqlRow) -> StoreResult<AccountRow> {
        let id: String = row.get("id")?;
        let roles: String = row.get("roles")?;
        let roles = roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| Role::parse(r).ok_or_else(|| StoreError::Corrupt(format!("account {id}: role {r}"))))
            .collect::<StoreResult<Vec<Role>>>()?;
        Ok(AccountRow {
            login: row.get("login")?,
            name: row.get("name")?,
            unit: row.get("unit")?,
            roles,
            password_hash: row.get("password_hash")?,
            must_change_password: row.get("must_change_password")?,
            failed_logins: row.get::<Option<u32>>("failed_logins")?.unwrap_or(u32::MAX),
            slowed_until: row.get("slowed_until")?,
            disabled: row.get("disabled")?,
            created_at: row.get("created_at")?,
            id,
        })
    }
}

impl CredentialRow {
    fn read(row: &SqlRow) -> StoreResult<CredentialRow> {
        let id: String = row.get("id")?;
        let kind: String = row.get("kind")?;
        Ok(CredentialRow {
            kind: CredentialKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("credential {id}: kind {kind}")))?,
            secret_hash: row.get("secret_hash")?,
            account_id: row.get("account_id")?,
            label: row.get("label")?,
            csrf: row.get("csrf")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
            revoked_at: row.get("revoked_at")?,
            id,
        })
    }
}

impl AccessEntry {
    fn read(row: &SqlRow) -> StoreResult<AccessEntry> {
        Ok(AccessEntry {
            at: row.get("at")?,
            account_id: row.get("account_id")?,
            unit: row.get("unit")?,
            event: row.get("event")?,
            case_id: row.get("case_id")?,
            reason: row.get("reason")?,
            address: row.get("address")?,
        })
    }
}

async fn accounts_where<E: SqlEngine>(engine: &E, condition: &str, values: Vec<Value>) -> StoreResult<Vec<AccountRow>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition} ORDER BY login");
    engine.read(Statement::new(sql, values)).await?.iter().map(AccountRow::read).collect()
}

async fn account_where<E: SqlEngine>(engine: &E, condition: &str, value: &str) -> StoreResult<Option<AccountRow>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition}");
    engine.look_up(Statement::new(sql, vec![value.into()])).await?.as_ref().map(AccountRow::read).transpose()
}

#[async_trait]
impl<E: SqlEngine> AccountStore for E {
    async fn create_account(&self, account: AccountRow) -> StoreResult<()> {
        let division = account.unit.as_deref().and_then(place_code_of);
        let roles = account.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
        let sql = format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}, division_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        let values = vec![
            account.id.into(),
            account.login.as_str().into(),
            account.name.into(),
            account.unit.into(),
            roles.into(),
            account.password_hash.into(),
            account.must_change_password.into(),
            account.failed_logins.into(),
            account.slowed_until.into(),
            account.disabled.into(),
            account.created_at.into(),
            division.into(),
        ];
        write_one(self, Statement::new(sql, values).about(format!("login {}", account.login))).await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<AccountRow>> {
        account_where(self, "id = $1", id).await
    }

    async fn account_by_login(&self, login: &str) -> StoreResult<Option<AccountRow>> {
        account_where(self, "login = $1", login).await
    }

    async fn accounts(&self, prefix: &str) -> StoreResult<Vec<AccountRow>> {
        accounts_where(self, IN_SUBTREE, vec![prefix.into(), prefix_end(prefix).into()]).await
    }

    async fn set_password(&self, id: &str, password_hash: String, must_change: bool) -> StoreResult<bool> {
        let sql = "UPDATE accounts SET password_hash = $2, must_change_password = $3, failed_logins = 0, \
                   slowed_until = NULL WHERE id = $1";
        let values = vec![id.into(), password_hash.into(), must_change.into()];
        Ok(write_one(self, Statement::new(sql, values)).await?.changed > 0)
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool> {
        let sql = "UPDATE accounts SET disabled = $2 WHERE id = $1";
        Ok(write_one(self, Statement::new(sql, vec![id.into(), disabled.into()])).await?.changed > 0)
    }

    async fn count_failed_login(&self, id: &str, slow_after: u32, slowed_until: Timestamp) -> StoreResult<Option<u32>> {
        let sql = "UPDATE accounts SET
                       slowed_until = CASE WHEN failed_logins + 1 < $2 THEN slowed_until
                                           WHEN coalesce(slowed_until, 0) > $3 THEN slowed_until
                                           ELSE $3 END,
                       failed_logins = failed_logins + 1
                   WHERE id = $1 RETURNING failed_logins";
        let values = vec![id.into(), slow_after.into(), slowed_until.into()];
        let written = write_one(self, Statement::new(sql, values)).await?;
        written.rows.first().map(|row| row.get("failed_logins")).transpose()
    }

    async fn set_login_state(&self, id: &str, failed_logins: u32, slowed_until: Option<Timestamp>) -> StoreResult<()> {
        let sql = "UPDATE accounts SET failed_logins = $2, slowed_until = $3 WHERE id = $1";
        write_one(self, Statement::new(sql, vec![id.into(), failed_logins.into(), slowed_until.into()])).await?;
        Ok(())
    }

    async fn put_credential(&self, credential: CredentialRow) -> StoreResult<()> {
        let sql = format!("INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        let values = vec![
            credential.id.as_str().into(),
            credential.secret_hash.into(),
            credential.account_id.into(),
            credential.kind.as_str().into(),
            credential.label.into(),
            credential.csrf.into(),
            credential.created_at.into(),
            credential.expires_at.into(),
            credential.revoked_at.into(),
        ];
        write_one(self, Statement::new(sql, values).about(format!("credential {}", credential.id))).await?;
        Ok(())
    }

    async fn credential(&self, secret_hash: &[u8]) -> StoreResult<Option<CredentialRow>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE secret_hash = $1");
        self.look_up(Statement::new(sql, vec![secret_hash.into()])).await?.as_ref().map(CredentialRow::read).transpose()
    }

    async fn credentials(&self, account_id: &str, kind: CredentialKind) -> StoreResult<Vec<CredentialRow>> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = $1 AND kind = $2
             ORDER BY created_at DESC, id DESC"
        );
        let rows = self.read(Statement::new(sql, vec![account_id.into(), kind.as_str().into()])).await?;
        rows.iter().map(CredentialRow::read).collect()
    }

    async fn revoke_credential(&self, account_id: &str, id: &str, at: Timestamp) -> StoreResult<bool> {
        let sql = "UPDATE credentials SET revoked_at = $3 WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL";
        Ok(write_one(self, Statement::new(sql, vec![account_id.into(), id.into(), at.into()])).await?.changed > 0)
    }

    async fn revoke_all_credentials(&self, account_id: &str, at: Timestamp) -> StoreResult<u64> {
        let sql = "UPDATE credentials SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL";
        Ok(write_one(self, Statement::new(sql, vec![account_id.into(), at.into()])).await?.changed)
    }

    async fn log_access(&self, entries: Vec<AccessEntry>) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO access_log ({ACCESS_COLUMNS}, division_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        let statements = entries
            .into_iter()
            .map(|entry| {
                let division = entry.unit.as_deref().and_then(place_code_of);
                let values = vec![
                    entry.at.into(),
                    entry.account_id.into(),
                    entry.unit.into(),
                    entry.event.into(),
                    entry.case_id.into(),
                    entry.reason.into(),
                    entry.address.into(),
                    division.into(),
                ];
                Statement::new(sql.clone(), values)
            })
            .collect();
        self.write(statements).await?;
        Ok(())
    }

    async fn access_log(&self, prefix: &str, from: Timestamp, limit: u32) -> StoreResult<Vec<AccessEntry>> {
        let sql = format!(
            "SELECT {ACCESS_COLUMNS} FROM access_log WHERE {IN_SUBTREE} AND at >= $3 ORDER BY at, seq LIMIT $4"
        );
        let values = vec![prefix.into(), prefix_end(prefix).into(), from.into(), limit.into()];
        self.read(Statement::new(sql, values)).await?.iter().map(AccessEntry::read).collect()
    }

    async fn access_log_page(&self, prefix: &str, query: &AccessQuery) -> StoreResult<Vec<AccessEntry>> {
        let mut sql = format!("SELECT {ACCESS_COLUMNS} FROM access_log WHERE {IN_SUBTREE}");
        let mut values: Vec<Value> = vec![prefix.into(), prefix_end(prefix).into()];
        let mut narrow = |condition: &str, value: Value| {
            values.push(value);
            sql.push_str(&format!(" AND {condition} ${}", values.len()));
        };
        if let Some(from) = query.from {
            narrow("at >=", from.into());
        }
        if let Some(until) = query.until {
            narrow("at <", until.into());
        }
        for (column, value) in [("account_id", &query.account_id), ("event", &query.event), ("case_id", &query.case_id)]
        {
            if let Some(value) = value {
                narrow(&format!("{column} ="), value.as_str().into());
            }
        }
        let next = values.len();
        sql.push_str(&format!(" ORDER BY at DESC, seq DESC LIMIT ${} OFFSET ${}", next + 1, next + 2));
        values.push(query.limit.into());
        values.push(query.offset.into());
        self.read(Statement::new(sql, values)).await?.iter().map(AccessEntry::read).collect()
    }
}
