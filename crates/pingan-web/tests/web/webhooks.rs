//! Webhook subscriptions over HTTP, with real receivers on loopback: deliveries are signed,
//! retried after a failure, filtered by unit and category, stop when removed, and a receiver that
//! never answers delays nobody else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use pingan_test_support::*;
use serde_json::{Value, json};
use sha2::Sha256;

/// What a receiver was sent: headers and body of each request, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

impl Received {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn all(&self) -> Vec<(HeaderMap, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// Refuses its first request with a 500, then takes everything.
async fn flaky_receiver(State(received): State<Received>, headers: HeaderMap, body: String) -> StatusCode {
    let mut all = received.0.lock().unwrap();
    all.push((headers, body));
    if all.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap()
}

fn check_webhooks(served: &Served) {
    let received = Received::default();
    let flaky = received.clone();
    let held: Arc<Mutex<Vec<tokio::net::TcpStream>>> = Arc::default();
    let holding = held.clone();
    let (fast, silent) = served.runtime.block_on(async move {
        let app = axum::Router::new().route("/hook", axum::routing::post(flaky_receiver)).with_state(flaky);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fast = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_address = silent.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((connection, _)) = silent.accept().await {
                holding.lock().unwrap().push(connection);
            }
        });
        (fast, silent_address)
    });

    let admin = token(served, "admin");
    let as_admin = [JSON, ("authorization", admin.as_str())];
    let subscribe = |body: Value| post(served, "/api/v1/webhooks", &as_admin, &body.to_string());

    // Refusals: nothing is created by any of them.
    let county = token(served, "county");
    // (what, status, code, headers, body)
    type Refusal<'a> = (&'a str, u16, &'a str, Vec<(&'a str, &'a str)>, Value);
    let refusals: Vec<Refusal> = vec![
        (
            "not an administrator",
            403,
            "forbidden",
            vec![JSON, ("authorization", &county)],
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360302" }),
        ),
        (
            "no credentials",
            401,
            "not_authenticated",
            vec![JSON],
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360302" }),
        ),
        (
            "not http",
            400,
            "invalid_field",
            as_admin.to_vec(),
            json!({ "url": "ftp://127.0.0.1/x", "unit": "centre:360302" }),
        ),
        ("not a URL", 400, "invalid_field", as_admin.to_vec(), json!({ "url": "http://", "unit": "centre:360302" })),
        (
            "no unit",
            400,
            "unknown_unit",
            as_admin.to_vec(),
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360302999999" }),
        ),
        (
            "a unit name that is none",
            400,
            "unknown_unit",
            as_admin.to_vec(),
            json!({ "url": "http://127.0.0.1:1/x", "unit": "mayor" }),
        ),
        (
            "outside the subtree",
            403,
            "forbidden",
            as_admin.to_vec(),
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360102" }),
        ),
        (
            "unknown category",
            400,
            "unknown_category",
            as_admin.to_vec(),
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360302", "categories": ["dispute.nope"] }),
        ),
        (
            "cloud metadata",
            400,
            "webhook_target_refused",
            as_admin.to_vec(),
            json!({ "url": "http://169.254.169.254/latest/meta-data/", "unit": "centre:360302" }),
        ),
        (
            "this machine by name",
            400,
            "webhook_target_refused",
            as_admin.to_vec(),
            json!({ "url": "http://localhost:8080/x", "unit": "centre:360302" }),
        ),
        (
            "this machine in IPv6",
            400,
            "webhook_target_refused",
            as_admin.to_vec(),
            json!({ "url": "http://[::1]:8080/x", "unit": "centre:360302" }),
        ),
        (
            "the office network",
            400,
            "webhook_target_refused",
            as_admin.to_vec(),
            json!({ "url": "https://10.0.0.1/x", "unit": "centre:360302" }),
        ),
        (
            "unknown field",
            400,
            "malformed_json",
            as_admin.to_vec(),
            json!({ "url": "http://127.0.0.1:1/x", "unit": "centre:360302", "secret": "mine" }),
        ),
    ];
    for (what, status, code, headers, body) in refusals {
        let (got, answer) = post(served, "/api/v1/webhooks", &headers, &body.to_string());
        assert_eq!((got, answer["error"]["code"].as_str().unwrap_or_default()), (status, code), "{what}: {answer}");
    }
    let (_, listed) = get_json_with(served, "/api/v1/webhooks", &[("authorization", &admin)]);
    assert_eq!(listed, json!([]), "a refusal created a subscription");

    let (status, created) =
        subscribe(json!({ "url": format!("http://{fast}/hook"), "unit": "centre:360302", "categories": ["dispute"] }));
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    let hook = created["webhook"]["id"].as_i64().unwrap();
    let (status, stuck) = subscribe(json!({ "url": format!("http://{silent}/hook"), "unit": "centre:360302" }));
    assert_eq!(status, 201, "{stuck}");
    let stuck = stuck["webhook"]["id"].as_i64().unwrap();
    let (_, listed) = get_json_with(served, "/api/v1/webhooks", &[("authorization", &admin)]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0].get("secret").is_none(), "the secret is shown only once");

    // A dispute in 安源区 and a water-supply matter there: only the dispute is sent.
    let report = |category: &str| {
        let body = json!({ "channel": "resident", "category": category, "description": "楼道堆物", "lon": 113.8543, "lat": 27.6229 });
        let (status, answer) = post(served, "/api/v1/cases", &[JSON], &body.to_string());
        assert_eq!(status, 201, "{answer}");
        answer["case"].clone()
    };
    let dispute = report("dispute.neighbour");
    report("livelihood.water_supply");
    let number = dispute["number"].as_str().unwrap().to_owned();
    eventually("the retried report", || received.count() >= 2);
    let (first, retried) = (&received.all()[0], &received.all()[1]);
    assert_eq!(first.1, retried.1, "a retry sends the same body");
    assert_eq!(header(&first.0, "x-pingan-delivery"), header(&retried.0, "x-pingan-delivery"));
    for (headers, body) in [first, retried] {
        let timestamp = header(headers, "x-pingan-timestamp");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(header(headers, "x-pingan-signature"), format!("sha256={expected}"));
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "x-pingan-event"), "report");
    }
    let event: Value = serde_json::from_str(&first.1).unwrap();
    assert_eq!(event["case"]["number"], number.as_str());
    assert_eq!((&event["action"], &event["status"]), (&json!("report"), &json!("reported")));
    assert_eq!(event["case"]["category"], "dispute.neighbour");
    assert!(!first.1.contains("reporter"), "reporters' details are never sent: {}", first.1);
    // Meanwhile the silent receiver's first attempt still hangs: it held up nobody else.
    let (_, stuck_deliveries) =
        get_json_with(served, &format!("/api/v1/webhooks/{stuck}/deliveries"), &[("authorization", &admin)]);
    assert_eq!(stuck_deliveries.as_array().unwrap().len(), 2, "both cases concern the unsubscribed-by-category hook");
    assert_eq!(stuck_deliveries[1]["attempts"], 0, "{stuck_deliveries}");

    // An action on the case is sent too.
    let village = token(served, "village");
    let accept = json!({ "action": "accept", "expected_version": 1 }).to_string();
    let (status, accepted) =
        post(served, &format!("/api/v1/cases/{number}/actions"), &[JSON, ("authorization", &village)], &accept);
    assert_eq!(status, 200, "{accepted}");
    eventually("the acceptance", || received.count() >= 3);
    let event: Value = serde_json::from_str(&received.all()[2].1).unwrap();
    assert_eq!(
        (&event["action"], &event["status"], &event["actor"]),
        (&json!("accept"), &json!("accepted"), &json!("centre:360302008205"))
    );
    assert_eq!(event["event_id"], format!("{}:2", dispute["id"].as_str().unwrap()));

    // The receiver has the request a moment before the sender records its answer.
    let deliveries = || {
        let (status, deliveries) =
            get_json_with(served, &format!("/api/v1/webhooks/{hook}/deliveries"), &[("authorization", &admin)]);
        assert_eq!(status, 200);
        deliveries
    };
    let states = |deliveries: &Value| -> Vec<(String, i64)> {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["state"].as_str().unwrap().to_owned(), d["attempts"].as_i64().unwrap()))
            .collect()
    };
    let expected = vec![("delivered".to_owned(), 1), ("delivered".to_owned(), 2)];
    eventually("both deliveries recorded", || states(&deliveries()) == expected);
    assert_eq!(deliveries()[1]["last_status"], 204);

    // Removed: nothing more is sent.
    assert_eq!(delete(served, &format!("/api/v1/webhooks/{hook}"), &county).0, 403);
    assert_eq!(delete(served, &format!("/api/v1/webhooks/{hook}"), &admin).0, 204);
    let (status, again) = delete(served, &format!("/api/v1/webhooks/{hook}"), &admin);
    assert_eq!(status, 404, "{again}");
    let (status, _, missing) = get_with(served, "/api/v1/webhooks/99999/deliveries", &[("authorization", &admin)]);
    assert_eq!((status, missing.contains("webhook_not_found")), (404, true), "{missing}");
    let (status, _, bad) = get_with(served, "/api/v1/webhooks/abc/deliveries", &[("authorization", &admin)]);
    assert_eq!((status, bad.contains("invalid_parameter")), (400, true), "{bad}");
    let (status, _, bad) =
        get_with(served, &format!("/api/v1/webhooks/{stuck}/deliveries?limit=0"), &[("authorization", &admin)]);
    assert_eq!(status, 400, "{bad}");
    let close = json!({ "action": "dispatch", "expected_version": 2, "target": "grid:360302008205001" }).to_string();
    let (status, answer) =
        post(served, &format!("/api/v1/cases/{number}/actions"), &[JSON, ("authorization", &village)], &close);
    assert_eq!(status, 200, "{answer}");
    let (_, stuck_deliveries) =
        get_json_with(served, &format!("/api/v1/webhooks/{stuck}/deliveries"), &[("authorization", &admin)]);
    assert_eq!(stuck_deliveries.as_array().unwrap().len(), 4, "the remaining hook still hears of the case");
    assert_eq!(received.count(), 3, "a removed hook was sent to");
    let (_, listed) = get_json_with(served, "/api/v1/webhooks", &[("authorization", &admin)]);
    assert_eq!(listed.as_array().unwrap().iter().map(|w| w["id"].as_i64().unwrap()).collect::<Vec<_>>(), [stuck]);
    let (status, _, _) = get_with(served, &format!("/api/v1/webhooks/{hook}/deliveries"), &[("authorization", &admin)]);
    assert_eq!(status, 404, "a removed subscription is gone");
    // Hung up: the attempt fails now rather than at its timeout.
    held.lock().unwrap().clear();
    eventually("the silent receiver's failed attempt", || {
        let (_, deliveries) =
            get_json_with(served, &format!("/api/v1/webhooks/{stuck}/deliveries"), &[("authorization", &admin)]);
        deliveries[3]["attempts"] == 1 && deliveries[3]["last_error"].is_string()
    });
}

/// A receiver's name that resolves to an address the server refuses (metadata, the office's
/// network, this machine) is refused at every delivery before connecting, and the delivery log
/// says why, not what the host answered. The names resolve through the tests' own resolver; the
/// only address among them that exists here, 127.0.0.2, listens, and is never connected to.
#[test]
fn deliveries_to_refused_addresses_are_never_attempted() {
    let served = served(Engine::Sqlite);
    let trap = served.runtime.block_on(tokio::net::TcpListener::bind("127.0.0.2:0")).unwrap();
    let trap_port = trap.local_addr().unwrap().port();
    let admin = token(&served, "admin");
    let as_admin = [JSON, ("authorization", admin.as_str())];
    let mut hooks = Vec::new();
    for (name, address) in TEST_NAMES {
        let body = json!({ "url": format!("http://{name}:{trap_port}/hook"), "unit": "centre:360302" });
        let (status, created) = post(&served, "/api/v1/webhooks", &as_admin, &body.to_string());
        assert_eq!(status, 201, "a name is checked where it resolves, at delivery: {created}");
        hooks.push((created["webhook"]["id"].as_i64().unwrap(), address));
    }
    let report = json!({ "channel": "resident", "category": "dispute.neighbour", "description": "楼道堆物", "lon": 113.8543, "lat": 27.6229 });
    assert_eq!(post(&served, "/api/v1/cases", &[JSON], &report.to_string()).0, 201);
    for (hook, address) in hooks {
        let path = format!("/api/v1/webhooks/{hook}/deliveries");
        eventually("a refused attempt recorded", || {
            let (_, deliveries) = get_json_with(&served, &path, &[("authorization", &admin)]);
            deliveries[0]["attempts"].as_i64().unwrap_or(0) >= 1
        });
        let (_, deliveries) = get_json_with(&served, &path, &[("authorization", &admin)]);
        let error = deliveries[0]["last_error"].as_str().unwrap_or_default();
        let shown = address.parse::<std::net::IpAddr>().unwrap().to_string();
        assert!(error.contains("refused before connecting") && error.contains(&shown), "{address}: {error}");
        assert!(deliveries[0]["last_status"].is_null(), "{deliveries}");
    }
    let accepted = served
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_millis(200), trap.accept()).await.is_ok() });
    assert!(!accepted, "a refused address was connected to");
}

#[test]
fn webhooks_on_sqlite() {
    check_webhooks(&served(Engine::Sqlite));
}

#[test]
fn webhooks_on_postgres() {
    check_webhooks(&served(Engine::Postgres));
}
