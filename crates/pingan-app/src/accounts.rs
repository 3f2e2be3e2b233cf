//! Accounts: creating them, logging in (with throttling), passwords, and the sessions and API
//! tokens that stand for a login afterwards.
//!
//! Passwords are hashed with argon2id on a blocking thread (a hash takes tens of milliseconds of
//! CPU, which must not stall the async workers). Session and token secrets are 32 random bytes,
//! shown once and stored only as their SHA-256.

use pingan_core::{Reason, Timestamp};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pingan_core::Explain;
use pingan_core::Unit;
use pingan_core::access::Role;
use pingan_core::unit::place_code_of;
use pingan_store::accounts::{AccessEntry, AccessQuery, AccountRow, CredentialKind, CredentialRow};
use sha2::{Digest, Sha256};

use crate::access::{AccessError, Principal};
use crate::address_windows::{AddressWindows, Admission};
use crate::context::Context;
use crate::{AppError, units};

const MINUTE_MS: i64 = 60_000;

/// How failed logins are slowed. A guesser is slowed, never the account's owner: an account is
/// not locked (anyone could lock anyone out), but each address that fails on it waits between
/// tries, longer each time, and once the account has failed often from anywhere, every address
/// that failed on it waits as long as the account's own slowdown. An address that has not failed
/// on the account is always heard: its right password lets its owner in.
#[derive(Clone, Copy, Debug)]
pub struct AccountSettings {
    /// Failed logins on one account from one address before that address waits between tries.
    pub free_tries: u32,
    /// Failed logins on one account from anywhere after which every address that failed on it
    /// waits too.
    pub slow_after: u32,
    /// The first wait, in seconds; it doubles with each failure after, …
    pub first_wait_s: i64,
    /// … up to this many minutes.
    pub longest_wait_minutes: i64,
    /// Failed logins from one address, on any accounts, within `longest_wait_minutes` after which
    /// it waits out the rest of that time.
    pub max_address_failures: u32,
    pub session_hours: i64,
    pub token_days: i64,
    pub max_token_days: i64,
}

impl Default for AccountSettings {
    fn default() -> AccountSettings {
        AccountSettings {
            free_tries: 3,
            slow_after: 5,
            first_wait_s: 2,
            longest_wait_minutes: 15,
            max_address_failures: 20,
            session_hours: 12,
            token_days: 90,
            max_token_days: 365,
        }
    }
}

/// A new account as an administrator describes it.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub login: String,
    pub name: String,
    pub unit: Option<String>,
    pub roles: Vec<Role>,
    /// None: a random first password is made, shown once, and must be changed at first login.
    pub password: Option<String>,
    /// The person chose `password` themselves (the demo's accounts): no change is forced.
    pub password_is_own: bool,
}

/// Whom an access-log line is about: an account and its unit at the time.
pub struct Who<'a> {
    pub account_id: &'a str,
    pub unit: Option<&'a str>,
}

impl<'a> From<&'a AccountRow> for Who<'a> {
    fn from(account: &'a AccountRow) -> Who<'a> {
        Who { account_id: &account.id, unit: account.unit.as_deref() }
    }
}

impl<'a> From<&'a Principal> for Who<'a> {
    fn from(principal: &'a Principal) -> Who<'a> {
        Who { account_id: &principal.account_id, unit: principal.unit.as_deref() }
    }
}

/// Failed logins on one account (or login without one) from one address.
#[derive(Clone, Copy, Default)]
struct Tries {
    failures: u32,
    last_failure: i64,
}

/// Failed logins of a name that has no account, counted as an account's are.
#[derive(Clone, Copy, Default)]
struct Unknown {
    failures: u32,
    slowed_until: Option<i64>,
}

/// What a line of the access log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessEvent {
    /// A session or token that was refused (unknown, expired, revoked, disabled account).
    RefusedCredential,
    /// A form or request whose CSRF token did not match.
    RefusedCsrf,
    /// A case read or acted on from outside the reader's scope.
    RefusedCase,
    /// A reporter's contact revealed in the clear.
    RevealReporter,
    /// A reporter's contact exported in the clear, one line per case.
    ExportReporter,
    /// A login refused because its address tried too often.
    LoginThrottled,
    /// A login refused while the account's failures slow it down.
    LoginSlowed,
    /// A wrong login or password.
    LoginFailed,
    /// An account made by an administrator.
    AccountCreated,
    /// A first password given anew by an administrator.
    PasswordReset,
    AccountDisabled,
    AccountEnabled,
}

impl AccessEvent {
    pub const ALL: [AccessEvent; 12] = [
        AccessEvent::RevealReporter,
        AccessEvent::ExportReporter,
        AccessEvent::RefusedCase,
        AccessEvent::RefusedCredential,
        AccessEvent::RefusedCsrf,
        AccessEvent::LoginFailed,
        AccessEvent::LoginSlowed,
        AccessEvent::LoginThrottled,
        AccessEvent::AccountCreated,
        AccessEvent::PasswordReset,
        AccessEvent::AccountDisabled,
        AccessEvent::AccountEnabled,
    ];

    /// As the log stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessEvent::RefusedCredential => "refused_credential",
            AccessEvent::RefusedCsrf => "refused_csrf",
            AccessEvent::RefusedCase => "refused_case",
            AccessEvent::RevealReporter => "reveal_reporter",
            AccessEvent::ExportReporter => "export_reporter",
            AccessEvent::LoginThrottled => "login_throttled",
            AccessEvent::LoginSlowed => "login_slowed",
            AccessEvent::LoginFailed => "login_failed",
            AccessEvent::AccountCreated => "account_created",
            AccessEvent::PasswordReset => "password_reset",
            AccessEvent::AccountDisabled => "account_disabled",
            AccessEvent::AccountEnabled => "account_enabled",
        }
    }
}

pub struct Accounts {
    context: Arc<Context>,
    settings: AccountSettings,
    /// Per address, in this process (an account's own slowdown is in the store, shared by servers).
    addresses: AddressWindows,
    /// Per account (or login without one) and address, in this process.
    tries: Mutex<HashMap<(String, Option<IpAddr>), Tries>>,
    /// So that the waits come after as many failures whether or not the login exists: the answer
    /// must not tell which logins do.
    unknown_logins: Mutex<HashMap<String, Unknown>>,
    /// Credentials found good lately, by the hash of their secret: a client sending one token
    /// again and again has it read from the store once per [`VERIFIED_FOR`], not twice per
    /// request. Every change to credentials or accounts made here empties it at once; one made by
    /// another process (another server, the command line) takes hold within that time.
    verified: Mutex<HashMap<Vec<u8>, Verified>>,
}

/// The value behind a lock, even one a panic left poisoned (a map of believed credentials stays
/// usable: at worst it is emptied).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a credential found good is believed without asking the store again.
pub const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(2);
/// Past this many, the believed credentials are forgotten together (a bound on memory).
const MAX_VERIFIED: usize = 10_000;

struct Verified {
    until: std::time::Instant,
    principal: Principal,
    credential: CredentialRow,
}

/// Milliseconds as minutes, rounded up (a wait of 10 s is "1 minute", not 0).
fn whole_minutes(ms: i64) -> i64 {
    (ms + MINUTE_MS - 1) / MINUTE_MS
}

/// Milliseconds as seconds, rounded up.
fn whole_seconds(ms: i64) -> i64 {
    (ms + 999) / 1000
}

/// Past this many, the counts of failed tries are pruned of those whose waits are long over.
const MAX_TRIES_KEPT: usize = 100_000;

/// SHA-256 of a session or token secret, as stored.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The same, as lower-case hex (where it is kept in text).
pub fn secret_hash_hex(secret: &str) -> String {
    pingan_core::hex(&secret_hash(secret))
}

/// 32 random bytes, URL-safe base64, after a prefix that says what the secret is for.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A first password: 16 characters from an alphabet without look-alikes.
fn first_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// A login of 3 to 64 letters, digits, dots, underscores and hyphens; not the name that reports
/// without an account go by in a case's history (it would read as this account's).
fn check_login(login: &str) -> Result<(), AccessError> {
    let fits = (3..=64).contains(&login.len())
        && login.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && login != pingan_core::Actor::ANONYMOUS;
    if fits { Ok(()) } else { Err(AccessError::BadLogin) }
}

pub fn check_password(login: &str, password: &str) -> Result<(), AccessError> {
    if password.chars().count() < 10 {
        return Err(AccessError::WeakPassword(Reason::new("至少 10 个字符", "at least 10 characters")));
    }
    if password.len() > 256 {
        return Err(AccessError::WeakPassword(Reason::new("最多 256 字节", "at most 256 bytes")));
    }
    if password.to_lowercase().contains(&login.to_lowercase()) {
        return Err(AccessError::WeakPassword(Reason::new("不能包含账号名", "it must not contain the login")));
    }
    if password.chars().collect::<std::collections::HashSet<_>>().len() < 5 {
        return Err(AccessError::WeakPassword(Reason::new("至少包含 5 个不同字符", "at least 5 different characters")));
    }
    Ok(())
}

/// Whether `role` may belong to an account of `unit`.
fn role_fits_unit(role: Role, unit: Option<&str>) -> bool {
    let parsed = unit.map(Unit::parse);
    match role {
        Role::Resident => unit.is_none(),
        Role::Administrator | Role::CentreDispatcher | Role::CentreLeader | Role::HotlineOperator => {
            matches!(parsed, Some(Ok(Unit::Centre(_))))
        }
        Role::DepartmentHandler => {
            matches!(parsed, Some(Ok(Unit::Department { .. } | Unit::Provider { .. } | Unit::Leader { .. })))
        }
        Role::GridLeader | Role::GridWorker => matches!(parsed, Some(Ok(Unit::Grid(_)))),
        Role::Volunteer => matches!(parsed, Some(Ok(Unit::Grid(_) | Unit::Centre(_)))),
        // Files for the centre whose area it serves.
        Role::ApiClient => matches!(parsed, Some(Ok(Unit::Centre(_)))),
    }
}

/// Whether `by` administers accounts whose unit lies at `division` (None: residents, whom only the
/// province's administrators manage).
pub(crate) fn administers(by: &Principal, division: Option<&str>) -> bool {
    let Some(mine) = by.division().filter(|_| by.has(Role::Administrator)) else { return false };
    match division {
        Some(theirs) => theirs.starts_with(mine.as_str()),
        None => mine.level() == pingan_core::Level::Province,
    }
}

/// Password hashes computed at once: one per core. Each takes about 19 MiB and tens of
/// milliseconds; a burst of logins waits its turn instead of exhausting memory.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

async fn hash_password(password: String) -> Result<String, AppError> {
    let _slot = hashing_slots().acquire().await.map_err(|e| AppError::Sealing(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| AppError::Sealing(e.to_string()))?
    .map_err(|e| AppError::Sealing(format!("password hashing failed: {e}")))
}

/// Whether `password` matches `hash`; with no hash (an unknown login) it checks against a hash of
/// a password nobody has, so that an unknown login takes as long as a wrong password.
async fn password_matches(password: String, hash: Option<String>) -> bool {
    static NOBODYS: OnceLock<String> = OnceLock::new();
    let Ok(_slot) = hashing_slots().acquire().await else { return false };
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| {
            NOBODYS
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    Argon2::default()
                        .hash_password(first_password().as_bytes(), &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

impl Accounts {
    pub fn new(context: Arc<Context>, settings: AccountSettings) -> Accounts {
        Accounts {
            context,
            settings,
            addresses: AddressWindows::new(settings.max_address_failures, settings.longest_wait_minutes * MINUTE_MS),
            tries: Mutex::new(HashMap::new()),
            unknown_logins: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets every credential believed good: called by each change to credentials or accounts.
    fn forget_verified(&self) {
        lock(&self.verified).clear();
    }

    /// Revokes every session and token of an account.
    async fn revoke_all(&self, account_id: &str) -> Result<(), AppError> {
        self.context.store().revoke_all_credentials(account_id, self.now()).await?;
        self.forget_verified();
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.context.timestamp()
    }

    /// Creates an account; returns it and, when none was given, its first password (shown once).
    pub async fn create(&self, new: NewAccount) -> Result<(AccountRow, Option<String>), AppError> {
        check_login(&new.login)?;
        let name = new.name.trim();
        if name.is_empty() {
            return Err(AppError::MissingField("name"));
        }
        if new.roles.is_empty() {
            return Err(AppError::MissingField("roles"));
        }
        for &role in &new.roles {
            if !role_fits_unit(role, new.unit.as_deref()) {
                return Err(AccessError::RoleDoesNotFitUnit {
                    role: role.as_str(),
                    unit: new.unit.clone().unwrap_or_default(),
                }
                .into());
            }
        }
        if let Some(unit) = &new.unit
            && !units::unit_exists(self.context.store(), unit).await?
        {
            return Err(AppError::UnknownUnit(unit.clone()));
        }
        let (password, shown) = match new.password.clone() {
            Some(password) => {
                check_password(&new.login, &password)?;
                (password, None)
            }
            None => {
                let password = first_password();
                (password.clone(), Some(password))
            }
        };
        let mut roles = new.roles;
        roles.sort();
        roles.dedup();
        let account = AccountRow {
            id: uuid::Uuid::now_v7().to_string(),
            login: new.login,
            name: name.to_owned(),
            unit: new.unit,
            roles,
            password_hash: hash_password(password).await?,
            // A password someone else chose must be replaced by its owner.
            must_change_password: !new.password_is_own,
            failed_logins: 0,
            slowed_until: None,
            disabled: false,
            created_at: self.now(),
        };
        self.context.store().create_account(account.clone()).await?;
        Ok((account, shown))
    }

    /// Checks a login and password. A guesser is slowed, not the owner (see [`AccountSettings`]):
    /// an address that failed on the account too often waits before it is heard again, and
    /// meanwhile even a right password from it is refused with the wait (a guesser must not learn
    /// that a guess was right); an address that never failed on it is always heard. Attempts are
    /// also counted per address across accounts, before the password is checked, so a burst of
    /// parallel guesses is throttled too.
    pub async fn login(&self, login: &str, password: &str, address: Option<IpAddr>) -> Result<AccountRow, AppError> {
        // The waits are reckoned in milliseconds.
        let now = self.now().millis();
        if let Some(minutes) = self.address_attempt(address, now) {
            self.log(None, None, AccessEvent::LoginThrottled, login, address).await;
            return Err(AccessError::AddressThrottled { minutes }.into());
        }
        let account = self.context.store().account_by_login(login).await?;
        let key = match &account {
            Some(account) => (account.id.clone(), address),
            None => (format!("login:{login}"), address),
        };
        let tried = lock(&self.tries).get(&key).copied().unwrap_or_default();
        let slowed_until = match &account {
            Some(account) => account.slowed_until.map(Timestamp::millis),
            None => lock(&self.unknown_logins).get(login).and_then(|u| u.slowed_until),
        };
        if let Some(wait) = self.wait(tried, slowed_until, now) {
            let who = account.as_ref().map(Who::from);
            self.log(who, None, AccessEvent::LoginSlowed, if account.is_some() { "" } else { login }, address).await;
            return Err(AccessError::LoginSlowed { seconds: whole_seconds(wait) }.into());
        }
        let right = password_matches(password.to_owned(), account.as_ref().map(|a| a.password_hash.clone())).await;
        let account = match account {
            Some(account) if right => account,
            refused => {
                self.failed(&key, tried, now);
                match &refused {
                    Some(account) => {
                        let failures = account.failed_logins + 1;
                        let until = now + self.backoff(failures.saturating_sub(self.settings.slow_after) + 1);
                        let until = Timestamp::from_millis(until);
                        self.context.store().count_failed_login(&account.id, self.settings.slow_after, until).await?;
                        self.log(Some(Who::from(account)), None, AccessEvent::LoginFailed, "", address).await;
                    }
                    None => {
                        self.unknown_login_failed(login, now);
                        self.log(None, None, AccessEvent::LoginFailed, login, address).await;
                    }
                }
                return Err(AccessError::BadCredentials.into());
            }
        };
        self.address_succeeded(address);
        lock(&self.tries).remove(&key);
        if account.disabled {
            return Err(AccessError::AccountDisabled.into());
        }
        if account.failed_logins > 0 || account.slowed_until.is_some() {
            self.context.store().set_login_state(&account.id, 0, None).await?;
        }
        Ok(account)
    }

    /// How long `failures` beyond the free ones make an address wait: the first wait, doubled for
    /// each after, at most the longest.
    fn backoff(&self, failures: u32) -> i64 {
        let longest = self.settings.longest_wait_minutes * MINUTE_MS;
        let doublings = failures.saturating_sub(1).min(30);
        (self.settings.first_wait_s * 1000).saturating_mul(1 << doublings).min(longest)
    }

    /// How much longer an address that failed `tried` on an account waits, if at all: its own
    /// back-off, and the account's slowdown for every address that failed on it.
    fn wait(&self, tried: Tries, slowed_until: Option<i64>, now: i64) -> Option<i64> {
        if tried.failures == 0 {
            return None;
        }
        let own = match tried.failures.checked_sub(self.settings.free_tries) {
            Some(beyond) => tried.last_failure + self.backoff(beyond + 1),
            None => 0,
        };
        let until = own.max(slowed_until.unwrap_or(0));
        (until > now).then_some(until - now)
    }

    /// Counts a failure of `key` (an account and an address).
    fn failed(&self, key: &(String, Option<IpAddr>), tried: Tries, now: i64) {
        let mut tries = lock(&self.tries);
        if tries.len() > MAX_TRIES_KEPT {
            let longest = self.settings.longest_wait_minutes * MINUTE_MS;
            tries.retain(|_, t| now - t.last_failure < longest);
        }
        tries.insert(key.clone(), Tries { failures: tried.failures + 1, last_failure: now });
    }

    /// Counts a failure for a login without an account, and slows it as an account would be.
    fn unknown_login_failed(&self, login: &str, now: i64) {
        let mut logins = lock(&self.unknown_logins);
        if logins.len() > MAX_TRIES_KEPT {
            logins.retain(|_, l| l.slowed_until.is_some_and(|until| until > now));
        }
        let entry = logins.entry(login.to_owned()).or_default();
        entry.failures += 1;
        if entry.failures >= self.settings.slow_after {
            let until = now + self.backoff(entry.failures - self.settings.slow_after + 1);
            entry.slowed_until = Some(entry.slowed_until.unwrap_or(0).max(until));
        }
    }

    /// Counts an attempt from `address`; the minutes to wait if it has had too many.
    fn address_attempt(&self, address: Option<IpAddr>, now: i64) -> Option<i64> {
        match self.addresses.attempt(address?, now) {
            Admission::Allowed => None,
            Admission::Refused { until } => Some(whole_minutes(until - now)),
        }
    }

    /// A right password: the attempt counted beforehand was not a failure.
    fn address_succeeded(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            self.addresses.refund(address);
        }
    }

    /// The owner replaces their password (the old one proves it is them); every session and token
    /// of the account is revoked, so one stolen before the change stops working.
    pub async fn change_password(
        &self,
        login: &str,
        old: &str,
        new: &str,
        address: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let account = self.login(login, old, address).await?;
        check_password(login, new)?;
        if old == new {
            return Err(AccessError::WeakPassword(Reason::new(
                "新密码须与旧密码不同",
                "the new password must differ from the old one",
            ))
            .into());
        }
        self.context.store().set_password(&account.id, hash_password(new.to_owned()).await?, false).await?;
        self.revoke_all(&account.id).await?;
        Ok(())
    }

    /// An administrator sets a new first password for an account of its subtree; every session and
    /// token of the account is revoked. Returns the password (shown once).
    pub async fn reset_password(&self, by: &Principal, login: &str) -> Result<String, AppError> {
        let account = self.account_managed_by(by, login).await?;
        let password = self.new_first_password(&account).await?;
        self.log(Some(Who::from(by)), None, AccessEvent::PasswordReset, login, None).await;
        Ok(password)
    }

    /// Disables (or enables again) an account `by` administers; disabling revokes its sessions
    /// and tokens at once.
    pub async fn set_disabled(&self, by: &Principal, login: &str, disabled: bool) -> Result<AccountRow, AppError> {
        let account = self.account_managed_by(by, login).await?;
        self.context.store().set_disabled(&account.id, disabled).await?;
        if disabled {
            self.revoke_all(&account.id).await?;
        }
        self.forget_verified();
        let event = if disabled { AccessEvent::AccountDisabled } else { AccessEvent::AccountEnabled };
        self.log(Some(Who::from(by)), None, event, login, None).await;
        Ok(AccountRow { disabled, ..account })
    }

    /// Sets a new random first password for `account` and revokes its sessions and tokens: the
    /// server's own operator (`pingan admin reset-password`) or an administrator who may.
    pub async fn new_first_password(&self, account: &AccountRow) -> Result<String, AppError> {
        let password = first_password();
        self.context.store().set_password(&account.id, hash_password(password.clone()).await?, true).await?;
        self.revoke_all(&account.id).await?;
        Ok(password)
    }

    /// Creates an account on behalf of an administrator, within their subtree (residents only from
    /// the province's top); otherwise as [`Accounts::create`].
    pub async fn create_by(&self, by: &Principal, new: NewAccount) -> Result<(AccountRow, Option<String>), AppError> {
        if !administers(by, new.unit.as_deref().and_then(place_code_of).as_deref()) {
            return Err(AccessError::Forbidden(Reason::new(
                "在本辖区以外创建账号",
                "creating accounts outside your subtree",
            ))
            .into());
        }
        let created = self.create(NewAccount { password_is_own: false, ..new }).await?;
        self.log(Some(Who::from(by)), None, AccessEvent::AccountCreated, &created.0.login, None).await;
        Ok(created)
    }

    /// Accounts `by` administers, by login.
    pub async fn managed_by(&self, by: &Principal) -> Result<Vec<AccountRow>, AppError> {
        let Some(division) = by.division().filter(|_| by.has(Role::Administrator)) else {
            return Err(AccessError::Forbidden(Reason::new("管理账号", "managing accounts")).into());
        };
        let everything = division.level() == pingan_core::Level::Province;
        let rows = self.context.store().accounts(if everything { "" } else { division.as_str() }).await?;
        Ok(rows)
    }

    /// The account `login`, if `by` administers it (an administrator of a centre manages the
    /// accounts of its subtree; residents only from the province's top).
    pub async fn account_managed_by(&self, by: &Principal, login: &str) -> Result<AccountRow, AppError> {
        if !by.has(Role::Administrator) {
            return Err(AccessError::Forbidden(Reason::new("管理账号", "managing accounts")).into());
        }
        let account = self.context.store().account_by_login(login).await?;
        let managed = account.filter(|a| administers(by, a.unit.as_deref().and_then(place_code_of).as_deref()));
        managed.ok_or_else(|| AccessError::NoSuchAccount(login.to_owned()).into())
    }

    /// Issues a session or a token for `account`; returns it and its secret (shown once).
    pub async fn issue(
        &self,
        account: &AccountRow,
        kind: CredentialKind,
        label: &str,
        days: Option<i64>,
    ) -> Result<(CredentialRow, String), AppError> {
        let now = self.now();
        let (secret, lifetime, csrf) = match kind {
            CredentialKind::Session => {
                (new_secret(""), self.settings.session_hours * 60 * MINUTE_MS, Some(new_secret("")))
            }
            CredentialKind::Token => {
                let days = days.unwrap_or(self.settings.token_days);
                if !(1..=self.settings.max_token_days).contains(&days) {
                    return Err(AppError::OutOfRange { field: "days", min: 1, max: self.settings.max_token_days });
                }
                (new_secret("pa_"), days * 24 * 60 * MINUTE_MS, None)
            }
        };
        let credential = CredentialRow {
            id: uuid::Uuid::now_v7().to_string(),
            secret_hash: secret_hash(&secret),
            account_id: account.id.clone(),
            kind,
            label: label.chars().take(100).collect(),
            csrf,
            created_at: now,
            expires_at: now.plus(chrono::Duration::milliseconds(lifetime)),
            revoked_at: None,
        };
        self.context.store().put_credential(credential.clone()).await?;
        Ok((credential, secret))
    }

    /// The person a session or token secret stands for. A refused secret is logged with the
    /// address it came from.
    /// An account for another system (an Open311 app, a city's hotline) and its API key, shown
    /// once: a token valid for a year with which the system files reports for `unit`'s area and
    /// follows the ones it filed.
    pub async fn create_api_client(
        &self,
        login: &str,
        name: &str,
        unit: &str,
    ) -> Result<(AccountRow, String), AppError> {
        let new = NewAccount {
            login: login.to_owned(),
            name: name.to_owned(),
            unit: Some(unit.to_owned()),
            roles: vec![Role::ApiClient],
            // It never logs in with a password: only its key is used.
            password: Some(new_secret("never-used-")),
            password_is_own: true,
        };
        let (account, _) = self.create(new).await?;
        let (_, key) =
            self.issue(&account, CredentialKind::Token, "api key", Some(self.settings.max_token_days)).await?;
        Ok((account, key))
    }

    pub async fn authenticate(
        &self,
        secret: &str,
        kind: CredentialKind,
        address: Option<IpAddr>,
    ) -> Result<(Principal, CredentialRow), AppError> {
        let hash = secret_hash(secret);
        if let Some(known) = lock(&self.verified).get(&hash).filter(|v| v.until > std::time::Instant::now())
            && known.credential.kind == kind
            && known.credential.expires_at > self.now()
        {
            return Ok((known.principal.clone(), known.credential.clone()));
        }
        let credential = self.context.store().credential(&hash).await?.filter(|c| c.kind == kind);
        let Some(credential) = credential else {
            self.log(None, None, AccessEvent::RefusedCredential, "unknown", address).await;
            return Err(AccessError::NotAuthenticated.into());
        };
        let account = self.context.store().account(&credential.account_id).await?;
        let refusal = match &account {
            _ if credential.revoked_at.is_some() => Some(AccessError::CredentialRevoked),
            _ if credential.expires_at <= self.now() => Some(AccessError::CredentialExpired),
            None => Some(AccessError::NotAuthenticated),
            Some(a) if a.disabled => Some(AccessError::AccountDisabled),
            Some(a) if a.must_change_password => Some(AccessError::PasswordChangeRequired),
            Some(_) => None,
        };
        match (refusal, account) {
            (None, Some(account)) => {
                let principal = Principal::of(&account);
                let until = std::time::Instant::now() + VERIFIED_FOR;
                let mut verified = lock(&self.verified);
                if verified.len() >= MAX_VERIFIED {
                    verified.clear();
                }
                verified.insert(hash, Verified { until, principal: principal.clone(), credential: credential.clone() });
                Ok((principal, credential))
            }
            (refusal, account) => {
                let refusal = refusal.unwrap_or(AccessError::NotAuthenticated);
                self.log(
                    account.as_ref().map(Who::from),
                    None,
                    AccessEvent::RefusedCredential,
                    refusal.code(),
                    address,
                )
                .await;
                Err(refusal.into())
            }
        }
    }

    /// Revokes one of the person's own sessions or tokens.
    pub async fn revoke(&self, by: &Principal, credential_id: &str) -> Result<bool, AppError> {
        let revoked = self.context.store().revoke_credential(&by.account_id, credential_id, self.now()).await?;
        self.forget_verified();
        Ok(revoked)
    }

    /// Writes one line of the access log; a failure to log is itself logged to the server's log
    /// (the request it belongs to has already been refused or answered).
    pub async fn log(
        &self,
        who: Option<Who<'_>>,
        case_id: Option<&str>,
        event: AccessEvent,
        reason: &str,
        address: Option<IpAddr>,
    ) {
        if let Err(error) = self.record(who, case_id, event, reason, address).await {
            tracing::error!(%error, event = event.as_str(), "could not write the access log");
        }
    }

    /// Writes one line of the access log, or fails: for reads of personal data, which must not
    /// happen unlogged.
    pub async fn record(
        &self,
        who: Option<Who<'_>>,
        case_id: Option<&str>,
        event: AccessEvent,
        reason: &str,
        address: Option<IpAddr>,
    ) -> Result<(), AppError> {
        Ok(self.context.store().log_access(vec![self.entry(&who, case_id, event, reason, address)]).await?)
    }

    /// One line per case of `case_ids` (an export's revealed rows), all written or none.
    pub async fn record_cases(
        &self,
        who: Who<'_>,
        case_ids: &[&str],
        event: AccessEvent,
        reason: &str,
        address: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let who = Some(who);
        let entries = case_ids.iter().map(|&id| self.entry(&who, Some(id), event, reason, address)).collect();
        Ok(self.context.store().log_access(entries).await?)
    }

    fn entry(
        &self,
        who: &Option<Who<'_>>,
        case_id: Option<&str>,
        event: AccessEvent,
        reason: &str,
        address: Option<IpAddr>,
    ) -> AccessEntry {
        AccessEntry {
            at: self.now(),
            account_id: who.as_ref().map(|w| w.account_id.to_owned()),
            unit: who.as_ref().and_then(|w| w.unit.map(str::to_owned)),
            event: event.as_str().to_owned(),
            case_id: case_id.map(str::to_owned),
            reason: reason.chars().take(500).collect(),
            address: address.map(|a| a.to_string()),
        }
    }
}

/// The subtree of the access log `by` reads: its division's, everything for a province's
/// administrator; refused to anyone who does not administer.
fn access_log_prefix(by: &Principal) -> Result<String, AppError> {
    let division = by.division().filter(|_| by.has(Role::Administrator));
    let division =
        division.ok_or_else(|| AccessError::Forbidden(Reason::new("查看访问日志", "reading the access log")))?;
    Ok(if division.level() == pingan_core::Level::Province { String::new() } else { division.to_string() })
}

impl Accounts {
    /// The access log of the administrator's subtree from `from` on, oldest first (a province's
    /// administrator also sees requests made without an account).
    pub async fn access_log(&self, by: &Principal, from: Timestamp, limit: u32) -> Result<Vec<AccessEntry>, AppError> {
        let prefix = access_log_prefix(by)?;
        Ok(self.context.store().access_log(&prefix, from, limit).await?)
    }

    /// The lines of the administrator's access log (as [`Accounts::access_log`] reads it) that
    /// `query` selects, newest first; at most 10,000 at once.
    pub async fn access_log_page(&self, by: &Principal, query: AccessQuery) -> Result<Vec<AccessEntry>, AppError> {
        let prefix = access_log_prefix(by)?;
        if !(1..=10_000).contains(&query.limit) {
            return Err(AppError::OutOfRange { field: "limit", min: 1, max: 10_000 });
        }
        Ok(self.context.store().access_log_page(&prefix, &query).await?)
    }

    /// The caller's own API tokens, newest first.
    pub async fn tokens(&self, by: &Principal) -> Result<Vec<CredentialRow>, AppError> {
        Ok(self.context.store().credentials(&by.account_id, CredentialKind::Token).await?)
    }
}
