//! What Pingan's integration tests share: a server over the demo data on loopback on either engine,
//! with the demo's accounts and two village centres' dispatchers, its database dropped when the
//! test ends; accounts of any role and unit; plain HTTP helpers; `eventually`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot set up fails, loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pingan_app::accounts::{AccountSettings, Accounts, NewAccount};
use pingan_app::cases::{CaseEngine, EngineSettings};
use pingan_app::clock::SystemClock;
use pingan_app::context::Context;
use pingan_app::demo::{DEMO_PASSWORD, create_demo_accounts, load_jiangxi};
use pingan_app::personal::Vault;
use pingan_app::targets::TargetPolicy;
use pingan_app::webhooks::Webhooks;
use pingan_app::{Atlas, Silent, jiangxi};
use pingan_core::DivisionCode;
use pingan_core::access::Role;
use pingan_store::Store;
use pingan_web::AppState;
use pingan_web::api::accounts::cookies::Cookies;
use pingan_web::api::webhooks::sender::{Addrs, Name, Resolve, Resolving, SystemNames};
use serde_json::Value;

pub mod browser;
mod templates;

pub struct Served {
    pub base: String,
    pub grids: usize,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<Accounts>,
    // Kept alive for the test's duration: the server runs on it.
    pub runtime: tokio::runtime::Runtime,
    /// Dropped last: the database goes when the server has.
    pub database: TestDatabase,
}

/// The engines a test may run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A test's own database, removed when it is dropped: an SQLite file in a temporary directory, a
/// schema of the test PostgreSQL server, or a database of its own there (a copy of the demo data).
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresSchema),
    PostgresCopy(PostgresDatabase),
}

impl TestDatabase {
    /// A fresh, empty database on `engine`, and its store.
    pub fn new(engine: Engine, runtime: &tokio::runtime::Runtime) -> (Arc<dyn Store>, TestDatabase) {
        match engine {
            Engine::Sqlite => {
                let directory = tempfile::tempdir().unwrap();
                let store = pingan_store_sqlite::SqliteStore::open(&directory.path().join("pingan.db")).unwrap();
                (Arc::new(store), TestDatabase::Sqlite(directory))
            }
            Engine::Postgres => {
                let (store, schema) = runtime.block_on(PostgresSchema::create());
                (Arc::new(store), TestDatabase::Postgres(schema))
            }
        }
    }

    /// A database holding the demo data (see [`fill_demo`]) on `engine`, and its store: a copy of
    /// a template made once per test binary.
    pub fn demo(engine: Engine, runtime: &tokio::runtime::Runtime) -> (Arc<dyn Store>, TestDatabase) {
        match engine {
            Engine::Sqlite => {
                let template = templates::sqlite_template(runtime);
                let directory = tempfile::tempdir().unwrap();
                std::fs::copy(template, directory.path().join("pingan.db")).unwrap();
                let store = pingan_store_sqlite::SqliteStore::open(&directory.path().join("pingan.db")).unwrap();
                (Arc::new(store), TestDatabase::Sqlite(directory))
            }
            Engine::Postgres => runtime.block_on(async {
                let name = templates::postgres_copy().await;
                let database = PostgresDatabase { name };
                let store = pingan_store_postgres::PostgresStore::connect(
                    &templates::url_of(&database.name),
                    Some(templates::POSTGRES_SCHEMA),
                )
                .await
                .unwrap();
                (Arc::new(store) as Arc<dyn Store>, TestDatabase::PostgresCopy(database))
            }),
        }
    }

    /// The SQLite database's directory (its files, the write-ahead log too).
    pub fn sqlite_directory(&self) -> Option<&std::path::Path> {
        match self {
            TestDatabase::Sqlite(directory) => Some(directory.path()),
            TestDatabase::Postgres(_) | TestDatabase::PostgresCopy(_) => None,
        }
    }

    /// Where the PostgreSQL tables are: the database's URL and the schema's name.
    pub fn postgres_location(&self) -> Option<(String, String)> {
        match self {
            TestDatabase::Sqlite(_) => None,
            TestDatabase::Postgres(schema) => Some((postgres_url(), schema.name.clone())),
            TestDatabase::PostgresCopy(database) => {
                Some((templates::url_of(&database.name), templates::POSTGRES_SCHEMA.to_owned()))
            }
        }
    }
}

/// A database of its own on the test PostgreSQL server, dropped when this is.
pub struct PostgresDatabase {
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // On a thread of its own: the drop may come inside a runtime, which cannot block on another.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(templates::drop_database(&name))
        })
        .join();
        if !std::thread::panicking() {
            dropped.expect("dropping the test database");
        }
    }
}

/// A schema of its own on the test PostgreSQL server, dropped with everything in it when this is.
pub struct PostgresSchema {
    pub name: String,
}

impl PostgresSchema {
    /// A new schema, brought up to date, and a store working in it.
    pub async fn create() -> (pingan_store_postgres::PostgresStore, PostgresSchema) {
        let url = postgres_url();
        let name = format!("pingan_test_{}_{}", std::process::id(), fastrand::u64(..));
        let store = pingan_store_postgres::PostgresStore::connect(&url, Some(&name))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for this test: {e}"));
        (store, PostgresSchema { name })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        // On a thread of its own: the drop may come inside a runtime, which cannot block on another.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(pingan_store_postgres::PostgresStore::drop_schema(&postgres_url(), &name))
        })
        .join();
        if !std::thread::panicking() {
            dropped.expect("dropping the test schema").expect("dropping the test schema");
        }
    }
}

/// A server over the demo data on `engine`.
pub fn served(engine: Engine) -> Served {
    served_with(engine, pingan_web::ConnectionLimits::default())
}

/// [`served`] with caps on connections of the test's choosing.
pub fn served_with(engine: Engine, limits: pingan_web::ConnectionLimits) -> Served {
    served_as(engine, Serving { limits, ..Serving::default() })
}

/// [`served`] with the sign-in cookies of `pingan serve --plain-http`.
pub fn served_over_plain_http(engine: Engine) -> Served {
    served_as(engine, Serving { cookies: Cookies::PLAIN_HTTP, ..Serving::default() })
}

/// How a test server serves.
#[derive(Default)]
pub struct Serving {
    pub limits: pingan_web::ConnectionLimits,
    pub cookies: Cookies,
    /// HTTPS with this acceptor (`Served::base` is then `https://…`).
    pub tls: Option<pingan_web::tls::TlsAcceptor>,
}

/// [`served`], serving as `serving` says.
pub fn served_as(engine: Engine, serving: Serving) -> Served {
    let runtime = runtime();
    let (store, database) = TestDatabase::demo(engine, &runtime);
    serve_with(store, runtime, database, serving)
}

/// The demo data: Pingxiang's division tree, departments and grids, the demo's accounts, and a
/// second village centre's dispatcher (`sibling`) beside the demo's `village`, for what one may do
/// to the other's cases.
pub async fn fill_demo(store: Arc<dyn Store>) {
    let city = DivisionCode::parse(jiangxi::PINGXIANG).unwrap();
    load_jiangxi(store.as_ref(), &city, &Silent).await.unwrap();
    let context = Arc::new(Context::standard(store.clone(), Arc::new(SystemClock)).unwrap());
    let accounts = Accounts::new(context, AccountSettings::default());
    create_demo_accounts(store.as_ref(), &accounts).await.unwrap();
    let sibling = NewAccount {
        login: "sibling".into(),
        name: "sibling 调度员".into(),
        unit: Some("centre:360302008201".into()),
        roles: vec![Role::CentreDispatcher],
        password: Some(DEMO_PASSWORD.into()),
        password_is_own: true,
    };
    accounts.create(sibling).await.unwrap();
}

/// Waits up to 20 s for `check` to hold, looking every 20 ms.
pub fn eventually(what: &str, check: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Webhook deliveries on a test's time scale: retried after 200 ms, given up after 3 attempts, a
/// receiver that does not answer in 30 s failing.
pub const QUICK_DELIVERIES: pingan_app::webhooks::DeliverySettings = pingan_app::webhooks::DeliverySettings {
    poll: Duration::from_millis(50),
    first_retry: Duration::from_millis(200),
    max_retry: Duration::from_secs(1),
    max_attempts: 3,
    timeout: Duration::from_secs(30),
};

fn serve_with(
    store: Arc<dyn Store>,
    runtime: tokio::runtime::Runtime,
    database: TestDatabase,
    Serving { limits, cookies, tls }: Serving,
) -> Served {
    let city = DivisionCode::parse(jiangxi::PINGXIANG).unwrap();
    let vault = Arc::new(Vault::parse(&Vault::generate("k1")).unwrap());
    let context = Arc::new(Context::standard(store.clone(), Arc::new(SystemClock)).unwrap().with_vault(vault));
    let accounts = Arc::new(Accounts::new(context.clone(), AccountSettings::default()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (address, grids): (SocketAddr, usize) = runtime.block_on(async {
        let atlas = Arc::new(Atlas::load(store.as_ref()).await.unwrap());
        let grids = atlas.grid_count();
        // The tests' receivers listen on 127.0.0.1, which a server refuses unless allowed.
        let targets = TargetPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
        let webhooks = Arc::new(Webhooks::new(context.clone(), targets));
        let engine = CaseEngine::new(context.clone(), atlas.clone(), webhooks.clone(), EngineSettings::default());
        engine.refresh().await.unwrap();
        let engine = Arc::new(engine);
        let names = Arc::new(TestNames);
        tokio::spawn(pingan_web::api::webhooks::sender::keep_delivering(webhooks.clone(), QUICK_DELIVERIES, names));
        tokio::spawn(atlas.clone().keep_fresh(store.clone(), Duration::from_millis(50)));
        // The tests connect from loopback and play a proxy's part with X-Forwarded-For.
        let proxies = vec!["127.0.0.1".parse().unwrap()];
        let state = AppState { cookies, ..AppState::new(atlas, engine, accounts.clone(), proxies, city) };
        let address = pingan_web::spawn("127.0.0.1:0".parse().unwrap(), state, limits, tls).await.unwrap();
        (address, grids)
    });
    Served { base: format!("{scheme}://{address}"), grids, store, accounts, runtime, database }
}

/// Names the tests' webhooks use, each standing for an address no test may send to (or one on
/// this machine that the server must still refuse); any other name is resolved as usual (the
/// tests' receivers are named by their loopback address).
#[derive(Debug, Default)]
pub struct TestNames;

/// Each test name and the address it resolves to.
pub const TEST_NAMES: [(&str, &str); 5] = [
    ("metadata.test", "169.254.169.254"),
    ("intranet.test", "10.0.0.1"),
    ("v6-loopback.test", "::1"),
    ("mapped.test", "::ffff:192.168.1.1"),
    ("other-loopback.test", "127.0.0.2"),
];

impl Resolve for TestNames {
    fn resolve(&self, name: Name) -> Resolving {
        match TEST_NAMES.iter().find(|(test_name, _)| *test_name == name.as_str()) {
            Some((_, address)) => {
                // The client puts the URL's port in.
                let resolved = vec![SocketAddr::new(address.parse().unwrap(), 0)];
                Box::pin(async move { Ok(Box::new(resolved.into_iter()) as Addrs) })
            }
            None => SystemNames.resolve(name),
        }
    }
}

/// `workbook` (XLSX) converted by LibreOffice to `format` (`pdf`, `csv`): what an office's
/// spreadsheet program makes of it.
pub fn converted_by_libreoffice(workbook: &[u8], format: &str) -> Vec<u8> {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("workbook.xlsx");
    std::fs::write(&file, workbook).unwrap();
    let converted = std::process::Command::new("libreoffice")
        .args(["--headless", "--norestore", "--convert-to", format, "--outdir"])
        .arg(directory.path())
        .arg(&file)
        // A profile of its own, so that runs side by side do not wait on each other's lock.
        .env("HOME", directory.path())
        .output()
        .expect("libreoffice is installed (.ci/run installs it)");
    assert!(converted.status.success(), "{}", String::from_utf8_lossy(&converted.stderr));
    std::fs::read(directory.path().join(format!("workbook.{format}"))).unwrap_or_default()
}

/// A real PNG of 4×4 orange pixels, which a browser shows: a photo of a result, in a test.
pub fn tiny_png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09, 0x29, 0x00, 0x00, 0x00,
        0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xb8, 0xe9, 0xc1, 0x0f, 0x47, 0x0c, 0xc4, 0x71, 0x00, 0xfa,
        0xe3, 0x13, 0x01, 0xe1, 0x0f, 0x17, 0x84, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
        0x82,
    ]
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

pub fn get(served: &Served, path: &str) -> (u16, String) {
    let (status, _, body) = get_with(served, path, &[]);
    (status, body)
}

/// Status, headers and body of a GET with `headers`.
pub fn get_with(served: &Served, path: &str, headers: &[(&str, &str)]) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(&format!("{}{path}", served.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let head = response.headers().clone();
    let body = response.body_mut().with_config().limit(64 << 20).read_to_string().unwrap();
    (status, head, body)
}

/// Status and body text of a DELETE with a bearer token.
pub fn delete(served: &Served, path: &str, token: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent.delete(&format!("{}{path}", served.base)).header("authorization", token).call().unwrap();
    let status = response.status().as_u16();
    (status, response.into_body().read_to_string().unwrap_or_default())
}

pub fn get_json(served: &Served, path: &str) -> (u16, Value) {
    get_json_with(served, path, &[])
}

pub fn get_json_with(served: &Served, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = get_with(served, path, headers);
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}")))
}

pub fn post(served: &Served, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let (status, text) = post_raw(served, path, headers, body);
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

/// Status and body text of a POST (for answers without a body).
pub fn post_raw(served: &Served, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.post(&format!("{}{path}", served.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// Status and JSON answer of a PUT.
pub fn put(served: &Served, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.put(&format!("{}{path}", served.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

/// Status, headers and bytes of a GET (a download).
pub fn get_bytes(served: &Served, path: &str, headers: &[(&str, &str)]) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(&format!("{}{path}", served.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let (status, head) = (response.status().as_u16(), response.headers().clone());
    (status, head, response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap())
}

pub const JSON: (&str, &str) = ("content-type", "application/json");

/// Acts on a case through the API as `token`'s account; answers the case's new version.
pub fn act(served: &Served, token: &str, number: &str, body: Value) -> i64 {
    let path = format!("/api/v1/cases/{number}/actions");
    let (status, answer) = post(served, &path, &[JSON, ("authorization", token)], &body.to_string());
    assert_eq!(status, 200, "{body}: {answer}");
    answer["version"].as_i64().unwrap()
}

/// Reports each description as a resident's neighbour dispute at the demo's grid (上柳源村,
/// 光丰街道, 安源区); answers the case numbers.
pub fn report_neighbour_disputes(served: &Served, descriptions: &[&str]) -> Vec<String> {
    descriptions
        .iter()
        .map(|description| {
            let report = serde_json::json!({ "channel": "resident", "category": "dispute.neighbour",
                                             "lon": 113.8543, "lat": 27.6229, "description": description });
            let (status, created) = post(served, "/api/v1/cases", &[JSON], &report.to_string());
            assert_eq!(status, 201, "{created}");
            created["case"]["number"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Takes a report of the demo's village, not yet accepted, to its close: the village centre
/// accepts it and dispatches it to its grid, whose worker claims and resolves it; the centre
/// verifies and closes.
pub fn close_through_the_grid(served: &Served, number: &str) {
    let (village, grid) = (token(served, "village"), token(served, "grid"));
    let (_, case) = get_json_with(served, &format!("/api/v1/cases/{number}"), &[("authorization", &village)]);
    let mut version = case["version"].as_i64().unwrap();
    for (who, mut body) in [
        (&village, serde_json::json!({ "action": "accept" })),
        (&village, serde_json::json!({ "action": "dispatch", "target": "grid:360302008205001" })),
        (&grid, serde_json::json!({ "action": "claim" })),
        (&grid, serde_json::json!({ "action": "resolve", "result": "已协调处置" })),
        (&village, serde_json::json!({ "action": "verify" })),
        (&village, serde_json::json!({ "action": "close" })),
    ] {
        body["expected_version"] = serde_json::json!(version);
        version = act(served, who, number, body);
    }
}

/// A bearer token for a demo account, made over the API.
pub fn token(served: &Served, login: &str) -> String {
    let body = serde_json::json!({ "login": login, "password": DEMO_PASSWORD, "label": "http test" }).to_string();
    let (status, answer) = post(served, "/api/v1/auth/tokens", &[JSON], &body);
    assert_eq!(status, 201, "{answer}");
    format!("Bearer {}", answer["token"].as_str().unwrap())
}

pub fn postgres_url() -> String {
    std::env::var("PINGAN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl Served {
    /// A new account of `roles` working for `unit` (none: a resident), with the demo password,
    /// and a bearer token for it.
    pub fn account(&self, login: &str, unit: Option<&str>, roles: &[Role]) -> String {
        let new = NewAccount {
            login: login.into(),
            name: format!("{login} 测试"),
            unit: unit.map(str::to_owned),
            roles: roles.to_vec(),
            password: Some(DEMO_PASSWORD.into()),
            password_is_own: true,
        };
        self.runtime.block_on(self.accounts.create(new)).unwrap();
        token(self, login)
    }
}
