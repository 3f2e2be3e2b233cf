//! `Idempotency-Key` on the POSTs that keep their answers: a retry gets the first answer and does
//! nothing twice; the key names one request only; failures are not kept; kept answers are sealed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_core::Timestamp;
use pingan_test_support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Status, whether the answer was a replay, and the JSON body of a keyed POST.
fn keyed(served: &Served, path: &str, token: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent
        .post(&format!("{}{path}", served.base))
        .header("content-type", "application/json")
        .header("authorization", token)
        .header("idempotency-key", key)
        .send(&body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let text = response.into_body().read_to_string().unwrap();
    (status, replayed, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Checks everything; answers the first password the kept answer carries.
fn check_idempotency(served: &Served) -> String {
    let village = token(served, "village");
    let report = json!({ "channel": "resident", "category": "dispute.neighbour", "description": "噪音扰民", "lon": 113.8543, "lat": 27.6229 });
    let (status, created) = post(served, "/api/v1/cases", &[JSON], &report.to_string());
    assert_eq!(status, 201, "{created}");
    let number = created["case"]["number"].as_str().unwrap().to_owned();
    let actions = format!("/api/v1/cases/{number}/actions");

    // A retried action is answered again, not done again.
    let accept = json!({ "action": "accept", "expected_version": 1 });
    let (status, replayed, first) = keyed(served, &actions, &village, "accept-1", &accept);
    assert_eq!((status, replayed, first["version"].as_i64()), (200, false, Some(2)), "{first}");
    let (status, replayed, again) = keyed(served, &actions, &village, "accept-1", &accept);
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first, "the same answer");
    let (_, history) =
        get_json_with(served, &format!("/api/v1/cases/{number}/history"), &[("authorization", &village)]);
    assert_eq!(history.as_array().unwrap().len(), 2, "accepted once: {history}");

    // The key names that request only, for that account only.
    let note = json!({ "action": "note", "expected_version": 2, "reason": "已联系" });
    let (status, _, reused) = keyed(served, &actions, &village, "accept-1", &note);
    assert_eq!((status, reused["error"]["code"].as_str()), (422, Some("idempotency_key_reused")), "{reused}");
    let county = token(served, "county");
    let (status, replayed, other) = keyed(served, &actions, &county, "accept-1", &note);
    assert_eq!((status, replayed), (200, false), "another account's key is its own: {other}");

    // A failure is not kept: the retry does the work (and fails again, at the stale version).
    let stale = json!({ "action": "note", "expected_version": 1, "reason": "旧版本" });
    let (status, replayed, conflict) = keyed(served, &actions, &village, "stale-1", &stale);
    assert_eq!((status, replayed, conflict["error"]["code"].as_str()), (409, false, Some("version_conflict")));
    let (status, replayed, _) = keyed(served, &actions, &village, "stale-1", &stale);
    assert_eq!((status, replayed), (409, false));

    // An answer carrying a secret is kept too, sealed: the retry gets the same first password and
    // makes no second account.
    let admin = token(served, "admin");
    let account =
        json!({ "login": "idem-worker", "name": "网格员", "unit": "grid:360302008205001", "roles": ["grid_worker"] });
    let (status, replayed, made) = keyed(served, "/api/v1/accounts", &admin, "account-1", &account);
    assert_eq!((status, replayed), (201, false), "{made}");
    let (status, replayed, remade) = keyed(served, "/api/v1/accounts", &admin, "account-1", &account);
    assert_eq!((status, replayed), (201, true), "{remade}");
    assert_eq!(remade["first_password"], made["first_password"]);
    let (status, _, twin) = keyed(served, "/api/v1/accounts", &admin, "account-2", &account);
    assert_eq!((status, twin["error"]["code"].as_str()), (409, Some("already_exists")), "{twin}");

    // A request still being answered holds its key.
    let admin_id = served.runtime.block_on(served.store.account_by_login("admin")).unwrap().unwrap().id;
    let now = Timestamp::of(std::time::SystemTime::now().into());
    let disable = json!({});
    let path = "/api/v1/accounts/idem-worker/disable";
    // The request's fingerprint: SHA-256 of method, path and body.
    let fingerprint: String =
        Sha256::digest(format!("POST {path}\n{disable}")).iter().map(|b| format!("{b:02x}")).collect();
    for (key, print) in [("busy-1", fingerprint.as_str()), ("busy-2", "another request")] {
        let claimed = served
            .runtime
            .block_on(served.store.claim_key(&admin_id, key, print, now, Timestamp::default(), Timestamp::default()))
            .unwrap();
        assert_eq!(claimed, None);
    }
    let (status, _, busy) = keyed(served, path, &admin, "busy-1", &disable);
    assert_eq!((status, busy["error"]["code"].as_str()), (409, Some("idempotency_key_in_flight")), "{busy}");
    let (status, _, busy) = keyed(served, path, &admin, "busy-2", &disable);
    assert_eq!((status, busy["error"]["code"].as_str()), (422, Some("idempotency_key_reused")), "{busy}");

    // Keys are 1 to 200 visible characters.
    for bad in ["x".repeat(201), "two words".into()] {
        let (status, _, refused) = keyed(served, path, &admin, &bad, &disable);
        assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("invalid_idempotency_key")), "{refused}");
    }
    let (status, _, _) = keyed(served, path, &admin, "disable-1", &disable);
    assert_eq!(status, 200);
    made["first_password"].as_str().unwrap().to_owned()
}

#[test]
fn idempotency_keys_on_sqlite() {
    let served = served(Engine::Sqlite);
    let password = check_idempotency(&served);
    // The kept answer is sealed: its first password is nowhere in the database files in the clear.
    for file in std::fs::read_dir(served.database.sqlite_directory().unwrap()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(password.len()).any(|w| w == password.as_bytes()), "a first password in the clear");
    }
}

#[test]
fn idempotency_keys_on_postgres() {
    check_idempotency(&served(Engine::Postgres));
}
