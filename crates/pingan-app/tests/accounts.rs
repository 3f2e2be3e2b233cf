//! Accounts over a real SQLite file: creation rules, login throttling and locks, first passwords,
//! tokens and sessions with expiry and revocation, and who may reset whose password.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use pingan_app::access::Principal;
use pingan_app::accounts::{AccountSettings, Accounts, NewAccount};
use pingan_app::clock::ManualClock;
use pingan_core::access::Role;
use pingan_core::{DivisionCode, Explain};
use pingan_store::accounts::CredentialKind;
use pingan_store::units::{UnitKind, UnitRow};
use pingan_store::{Division, Store};
use pingan_store_sqlite::SqliteStore;

struct World {
    accounts: Accounts,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _directory: tempfile::TempDir,
}

async fn world() -> World {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&directory.path().join("pingan.db")).unwrap());
    let divisions =
        [("36", "江西省"), ("3603", "萍乡市"), ("360302", "安源区"), ("360302008", "光丰街道"), ("360313", "湘东区")];
    store
        .upsert_divisions(
            divisions
                .iter()
                .map(|(c, n)| Division { code: DivisionCode::parse(c).unwrap(), name: (*n).into() })
                .collect(),
        )
        .await
        .unwrap();
    store
        .put_units(vec![UnitRow {
            id: "department:360302:cg".into(),
            kind: UnitKind::Department,
            division: DivisionCode::parse("360302").unwrap(),
            name: "安源区城管局".into(),
            department_kind: Some("cg".into()),
            categories: Vec::new(),
        }])
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()));
    let accounts = Accounts::new(store.clone(), clock.clone(), AccountSettings::default());
    World { accounts, store, clock, _directory: directory }
}

fn new(login: &str, unit: Option<&str>, roles: &[Role], password: Option<&str>) -> NewAccount {
    NewAccount {
        login: login.into(),
        name: format!("{login} 同志"),
        unit: unit.map(str::to_owned),
        roles: roles.to_vec(),
        password: password.map(str::to_owned),
        password_is_own: false,
    }
}

const GOOD: &str = "萍乡-平安-2026!";

#[tokio::test]
async fn accounts_are_checked_before_anything_is_written() {
    let w = world().await;
    let refusals = [
        (new("a", Some("centre:360302"), &[Role::CentreDispatcher], None), "invalid_login"),
        (new("zhang san", Some("centre:360302"), &[Role::CentreDispatcher], None), "invalid_login"),
        (new("zhang", Some("centre:360302"), &[], None), "missing_field"),
        (new("zhang", Some("department:360302:cg"), &[Role::CentreDispatcher], None), "role_unit_mismatch"),
        (new("zhang", Some("centre:360302"), &[Role::GridWorker], None), "role_unit_mismatch"),
        (new("zhang", None, &[Role::HotlineOperator], None), "role_unit_mismatch"),
        (new("zhang", Some("centre:369999"), &[Role::CentreDispatcher], None), "unknown_unit"),
        (new("zhang", Some("department:360302:zz"), &[Role::DepartmentHandler], None), "unknown_unit"),
        (new("zhang", Some("centre:360302"), &[Role::CentreDispatcher], Some("short")), "weak_password"),
        (new("zhang", Some("centre:360302"), &[Role::CentreDispatcher], Some("zhang-is-my-pass")), "weak_password"),
        (new("zhang", Some("centre:360302"), &[Role::CentreDispatcher], Some("aaaaaaaaaaaa")), "weak_password"),
    ];
    for (account, code) in refusals {
        let error = w.accounts.create(account.clone()).await.unwrap_err();
        assert_eq!(error.code(), code, "{account:?}: {error}");
    }
    assert!(w.store.accounts("").await.unwrap().is_empty(), "a refused account left a row");
    let (created, first) =
        w.accounts.create(new("zhang", Some("centre:360302"), &[Role::CentreDispatcher], None)).await.unwrap();
    let first = first.expect("a first password is shown once");
    assert_eq!(first.len(), 16);
    assert!(created.password_hash.starts_with("$argon2id$") && !created.password_hash.contains(&first));
    assert!(created.must_change_password);
    let twin = w.accounts.create(new("zhang", Some("centre:360302"), &[Role::CentreLeader], None)).await.unwrap_err();
    assert_eq!(twin.code(), "already_exists");
}

#[tokio::test]
async fn failed_logins_lock_the_account_and_throttle_the_address() {
    let w = world().await;
    w.accounts
        .create(new("liming", Some("department:360302:cg"), &[Role::DepartmentHandler], Some(GOOD)))
        .await
        .unwrap();
    let address: IpAddr = "192.0.2.7".parse().unwrap();
    for attempt in 1..=4 {
        let error = w.accounts.login("liming", "wrong password!", Some(address)).await.unwrap_err();
        assert_eq!(error.code(), "bad_credentials", "attempt {attempt}");
    }
    let locked = w.accounts.login("liming", "wrong password!", Some(address)).await.unwrap_err();
    assert_eq!(locked.code(), "account_locked");
    assert!(locked.message_zh().contains("15 分钟"), "{}", locked.message_zh());
    // Locked: even the right password is refused, until the lock runs out.
    assert_eq!(w.accounts.login("liming", GOOD, Some(address)).await.unwrap_err().code(), "account_locked");
    w.clock.advance(Duration::minutes(16));
    assert_eq!(w.accounts.login("liming", GOOD, Some(address)).await.unwrap().login, "liming");
    // An unknown login fails the same way, and counts against the address.
    assert_eq!(w.accounts.login("nobody", GOOD, Some(address)).await.unwrap_err().code(), "bad_credentials");
    let other: IpAddr = "198.51.100.9".parse().unwrap();
    for _ in 0..20 {
        let _ = w.accounts.login("nobody", "guess-guess-guess", Some(other)).await;
    }
    let throttled = w.accounts.login("liming", GOOD, Some(other)).await.unwrap_err();
    assert_eq!(throttled.code(), "too_many_attempts");
    let log = w.store.access_log("", 0, 100).await.unwrap();
    assert!(log.iter().any(|e| e.event == "login_throttled" && e.address.as_deref() == Some("198.51.100.9")));
    let refused = log.iter().filter(|e| e.event == "login_failed" || e.event == "login_locked").count();
    assert!(refused >= 25, "{refused} refusals logged");
}

#[tokio::test]
async fn a_login_without_an_account_is_answered_like_one_with_an_account() {
    let w = world().await;
    w.accounts.create(new("zhaolei", Some("centre:360302008"), &[Role::CentreDispatcher], Some(GOOD))).await.unwrap();
    let answers = async |login: &str| {
        let mut codes = Vec::new();
        for attempt in 0..7u8 {
            let address = IpAddr::from([203, 0, 113, attempt]);
            codes.push(w.accounts.login(login, "wrong password!", Some(address)).await.unwrap_err().code());
        }
        codes
    };
    let existing = answers("zhaolei").await;
    assert_eq!(existing, ["bad_credentials"; 4].into_iter().chain(["account_locked"; 3]).collect::<Vec<_>>());
    assert_eq!(answers("zhaolei-not-here").await, existing, "the answers do not tell which logins exist");
    w.clock.advance(Duration::minutes(16));
    assert_eq!(answers("zhaolei-not-here").await[0], "bad_credentials", "the lock runs out");
}

#[tokio::test]
async fn a_first_password_must_be_changed_before_a_token_works() {
    let w = world().await;
    let (_, first) =
        w.accounts.create(new("wang", Some("centre:360302008"), &[Role::CentreDispatcher], None)).await.unwrap();
    let first = first.unwrap();
    let account = w.accounts.login("wang", &first, None).await.unwrap();
    let (_, secret) = w.accounts.issue(&account, CredentialKind::Token, "bridge", None).await.unwrap();
    let refused = w.accounts.authenticate(&secret, CredentialKind::Token, None).await.unwrap_err();
    assert_eq!(refused.code(), "password_change_required");
    assert_eq!(w.accounts.change_password("wang", &first, &first, None).await.unwrap_err().code(), "weak_password");
    assert_eq!(
        w.accounts.change_password("wang", "not it at all", GOOD, None).await.unwrap_err().code(),
        "bad_credentials"
    );
    w.accounts.change_password("wang", &first, GOOD, None).await.unwrap();
    // A change revokes what was issued before it.
    let refused = w.accounts.authenticate(&secret, CredentialKind::Token, None).await.unwrap_err();
    assert_eq!(refused.code(), "credential_revoked");
    let account = w.accounts.login("wang", GOOD, None).await.unwrap();
    let (_, secret) = w.accounts.issue(&account, CredentialKind::Token, "bridge", None).await.unwrap();
    let (principal, _) = w.accounts.authenticate(&secret, CredentialKind::Token, None).await.unwrap();
    assert_eq!((principal.login.as_str(), principal.unit.as_deref()), ("wang", Some("centre:360302008")));
    // A token is not a session, nor the other way round.
    assert_eq!(
        w.accounts.authenticate(&secret, CredentialKind::Session, None).await.unwrap_err().code(),
        "not_authenticated"
    );
}

#[tokio::test]
async fn tokens_expire_and_revoked_ones_are_refused_and_logged() {
    let w = world().await;
    w.accounts.create(new("zhao", Some("centre:360302"), &[Role::CentreLeader], Some(GOOD))).await.unwrap();
    w.store
        .set_password(&w.store.account_by_login("zhao").await.unwrap().unwrap().id, "x".into(), false)
        .await
        .unwrap();
    // The stored hash is now unusable: no password opens it.
    assert_eq!(w.accounts.login("zhao", GOOD, None).await.unwrap_err().code(), "bad_credentials");
    let account = w.store.account_by_login("zhao").await.unwrap().unwrap();
    let (short, short_secret) = w.accounts.issue(&account, CredentialKind::Token, "a day", Some(1)).await.unwrap();
    let (kept, kept_secret) = w.accounts.issue(&account, CredentialKind::Token, "a year", Some(9999)).await.unwrap();
    assert_eq!(kept.expires_at - kept.created_at, 365 * 86_400_000, "the longest a token lives");
    assert!(short_secret.starts_with("pa_") && short_secret.len() > 40);
    let principal = Principal::of(&account);
    assert!(w.accounts.revoke(&principal, &kept.id).await.unwrap());
    let address: IpAddr = "203.0.113.5".parse().unwrap();
    assert_eq!(
        w.accounts.authenticate(&kept_secret, CredentialKind::Token, Some(address)).await.unwrap_err().code(),
        "credential_revoked"
    );
    w.clock.advance(Duration::hours(25));
    assert_eq!(
        w.accounts.authenticate(&short_secret, CredentialKind::Token, None).await.unwrap_err().code(),
        "credential_expired"
    );
    assert_eq!(
        w.accounts.authenticate("pa_guessed", CredentialKind::Token, None).await.unwrap_err().code(),
        "not_authenticated"
    );
    let log = w.store.access_log("", 0, 100).await.unwrap();
    let revoked = log.iter().find(|e| e.reason == "credential_revoked").expect("the revoked token's use is logged");
    assert_eq!(
        (revoked.account_id.as_deref(), revoked.address.as_deref()),
        (Some(account.id.as_str()), Some("203.0.113.5"))
    );
    assert!(log.iter().any(|e| e.event == "refused_credential" && e.reason == "unknown"));
    assert!(w.accounts.revoke(&principal, &short.id).await.unwrap(), "an expired token can still be revoked");
    assert!(!w.accounts.revoke(&principal, &short.id).await.unwrap(), "but only once");
}

#[tokio::test]
async fn administrators_reset_passwords_only_in_their_subtree() {
    let w = world().await;
    w.accounts.create(new("admin-ay", Some("centre:360302"), &[Role::Administrator], Some(GOOD))).await.unwrap();
    w.accounts.create(new("admin-xd", Some("centre:360313"), &[Role::Administrator], Some(GOOD))).await.unwrap();
    w.accounts.create(new("dispatcher", Some("centre:360302"), &[Role::CentreDispatcher], Some(GOOD))).await.unwrap();
    w.accounts
        .create(new("handler", Some("department:360302:cg"), &[Role::DepartmentHandler], Some(GOOD)))
        .await
        .unwrap();
    let principal = |login: &str| {
        let store = w.store.clone();
        let login = login.to_owned();
        async move { Principal::of(&store.account_by_login(&login).await.unwrap().unwrap()) }
    };
    let handler = w.store.account_by_login("handler").await.unwrap().unwrap();
    let (_, session) = w.accounts.issue(&handler, CredentialKind::Session, "browser", None).await.unwrap();
    let password = w.accounts.reset_password(&principal("admin-ay").await, "handler").await.unwrap();
    assert!(w.accounts.login("handler", &password, None).await.unwrap().must_change_password);
    assert_eq!(
        w.accounts.authenticate(&session, CredentialKind::Session, None).await.unwrap_err().code(),
        "credential_revoked"
    );
    // Another county's administrator, and a non-administrator, are told no such account exists.
    assert_eq!(
        w.accounts.reset_password(&principal("admin-xd").await, "handler").await.unwrap_err().code(),
        "account_not_found"
    );
    assert_eq!(
        w.accounts.reset_password(&principal("dispatcher").await, "handler").await.unwrap_err().code(),
        "forbidden"
    );
}
