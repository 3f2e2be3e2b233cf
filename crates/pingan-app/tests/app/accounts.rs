//! Accounts over a real SQLite file: creation rules, login throttling and locks, first passwords,
//! tokens and sessions with expiry and revocation, and who may reset whose password.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use pingan_app::access::Principal;
use pingan_app::accounts::{AccountSettings, Accounts, NewAccount};
use pingan_app::clock::ManualClock;
use pingan_app::context::Context;
use pingan_core::access::Role;
use pingan_core::{DivisionCode, Explain, Timestamp};
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
    let context = Context::standard(store.clone(), clock.clone()).unwrap();
    let accounts = Accounts::new(Arc::new(context), AccountSettings::default());
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
        (new("anonymous", None, &[Role::Resident], None), "invalid_login"),
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

/// A guesser is slowed, never the owner: each address that fails on an account waits between
/// tries, longer each time, and once the account has failed often, every address that failed on
/// it waits too; an address that never failed is heard at once, and the right password from it
/// lets the owner in. (Five wrong passwords from anywhere used to lock the account for everyone.)
#[tokio::test]
async fn failed_logins_slow_the_guesser_and_never_lock_out_the_owner() {
    let w = world().await;
    w.accounts
        .create(new("liming", Some("department:360302:cg"), &[Role::DepartmentHandler], Some(GOOD)))
        .await
        .unwrap();
    let guesser: IpAddr = "192.0.2.7".parse().unwrap();
    let owner: IpAddr = "192.0.2.8".parse().unwrap();
    let code = async |password: &str, from: IpAddr| match w.accounts.login("liming", password, Some(from)).await {
        Ok(account) => account.login,
        Err(error) => error.code().to_owned(),
    };
    for attempt in 1..=3 {
        assert_eq!(code("wrong password!", guesser).await, "bad_credentials", "attempt {attempt}");
    }
    // The guesser's fourth try waits 2 s; even the right password is refused meanwhile.
    assert_eq!(code("wrong password!", guesser).await, "login_slowed_down");
    assert_eq!(code(GOOD, guesser).await, "login_slowed_down", "a right guess is not told apart");
    let slowed = w.accounts.login("liming", GOOD, Some(guesser)).await.unwrap_err();
    assert!(slowed.message_zh().contains("2 秒") && slowed.message_en().contains("2 seconds"), "{slowed}");
    w.clock.advance(Duration::seconds(2));
    assert_eq!(code("wrong password!", guesser).await, "bad_credentials");
    w.clock.advance(Duration::seconds(3));
    assert_eq!(code("wrong password!", guesser).await, "login_slowed_down", "the wait doubled to 4 s");
    w.clock.advance(Duration::seconds(1));
    assert_eq!(code("wrong password!", guesser).await, "bad_credentials");
    // Five failures in all: the account is slowed for the addresses that failed on it …
    let other: IpAddr = "192.0.2.9".parse().unwrap();
    assert_eq!(code("wrong password!", other).await, "bad_credentials", "an address without failures is heard");
    assert_eq!(code("wrong password!", other).await, "login_slowed_down", "after one failure, the account's slowdown");
    // … while the owner, from an address that never failed, gets in at once.
    assert_eq!(code(GOOD, owner).await, "liming");
    let account = w.store.account_by_login("liming").await.unwrap().unwrap();
    assert_eq!((account.failed_logins, account.slowed_until), (0, None), "a right password ends the slowdown");

    // The waits grow to at most 15 minutes, however long the guessing goes on.
    for _ in 0..12 {
        w.clock.advance(Duration::minutes(16));
        assert_eq!(code("wrong password!", guesser).await, "bad_credentials");
    }
    let slowed = w.accounts.login("liming", "wrong password!", Some(guesser)).await.unwrap_err();
    assert!(slowed.message_en().contains("900 seconds"), "{slowed}");
    assert_eq!(code(GOOD, owner).await, "liming", "still in, from its own address");

    // An address failing on many accounts is throttled as a whole.
    let sprayer: IpAddr = "198.51.100.9".parse().unwrap();
    for round in 0..20 {
        let _ = w.accounts.login(&format!("nobody-{round}"), "guess-guess-guess", Some(sprayer)).await;
    }
    let throttled = w.accounts.login("liming", GOOD, Some(sprayer)).await.unwrap_err();
    assert_eq!(throttled.code(), "too_many_attempts");
    let log = w.store.access_log("", Timestamp::default(), 200).await.unwrap();
    assert!(log.iter().any(|e| e.event == "login_throttled" && e.address.as_deref() == Some("198.51.100.9")));
    assert!(log.iter().any(|e| e.event == "login_slowed" && e.address.as_deref() == Some("192.0.2.7")));
    let failed = log.iter().filter(|e| e.event == "login_failed").count();
    assert!(failed >= 38, "{failed} failures logged");
}

#[tokio::test]
async fn a_login_without_an_account_is_answered_like_one_with_an_account() {
    let w = world().await;
    w.accounts.create(new("zhaolei", Some("centre:360302008"), &[Role::CentreDispatcher], Some(GOOD))).await.unwrap();
    // Each address tries twice: the first is heard; the second waits once the login has failed
    // five times, as an account's does.
    let answers = async |login: &str| {
        let mut codes = Vec::new();
        for attempt in 0..7u8 {
            let address = IpAddr::from([203, 0, 113, attempt]);
            for _ in 0..2 {
                codes.push(w.accounts.login(login, "wrong password!", Some(address)).await.unwrap_err().code());
            }
        }
        codes
    };
    let existing = answers("zhaolei").await;
    assert_eq!(existing.iter().filter(|c| **c == "login_slowed_down").count(), 5, "{existing:?}");
    assert_eq!(answers("zhaolei-not-here").await, existing, "the answers do not tell which logins exist");
    w.clock.advance(Duration::minutes(16));
    assert_eq!(answers("zhaolei-not-here").await[0], "bad_credentials", "the slowdown runs out");
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
    // A lifetime out of range is refused, not cut to fit.
    for days in [0, -1, 366, 9999] {
        let refused = w.accounts.issue(&account, CredentialKind::Token, "odd", Some(days)).await.unwrap_err();
        assert_eq!(refused.code(), "out_of_range", "{days} days");
    }
    let (kept, kept_secret) = w.accounts.issue(&account, CredentialKind::Token, "a year", Some(365)).await.unwrap();
    assert_eq!(kept.expires_at.millis_since(kept.created_at), 365 * 86_400_000, "the longest a token lives");
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
    let log = w.store.access_log("", Timestamp::default(), 100).await.unwrap();
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
