//! The `pingan` binary as a user runs it: imports, refusals, the demo and serve.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn pingan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pingan")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn division_import_is_idempotent_and_refuses_bad_rows_whole() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    let shipped = repo("data/divisions/jiangxi");

    let first = pingan(&["import", "divisions", &shipped, "--database", &database]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("23959 rows read: 23959 new, 0 renamed, 0 unchanged"),
        "{}",
        text(&first.stdout)
    );
    let again = pingan(&["import", "divisions", &shipped, "--database", &database]);
    assert!(text(&again.stdout).contains("0 new, 0 renamed, 23959 unchanged"), "{}", text(&again.stdout));

    // A renamed village and a village whose township does not exist: refused, nothing written.
    let bad = directory.path().join("villages.csv");
    std::fs::write(
        &bad,
        "code,name,streetCode,provinceCode,cityCode,areaCode\n\
         360102002001,\"民巷社区（新名）\",360102002,36,3601,360102\n\
         360102999001,\"无镇村\",360102999,36,3601,360102\n",
    )
    .unwrap();
    let refused = pingan(&["import", "divisions", bad.to_str().unwrap(), "--database", &database]);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("[invalid_row]") && stderr.contains("line 3") && stderr.contains("villages.csv"),
        "{stderr}"
    );
    assert!(stderr.contains("360102999"), "{stderr}");
    let unchanged = pingan(&["import", "divisions", &shipped, "--database", &database]);
    assert!(text(&unchanged.stdout).contains("0 renamed, 23959 unchanged"), "the refused import renamed something");

    let not_a_package_file = directory.path().join("towns.csv");
    std::fs::write(&not_a_package_file, "code,name\n").unwrap();
    let refused = pingan(&["import", "divisions", not_a_package_file.to_str().unwrap(), "--database", &database]);
    assert!(!refused.status.success());
}

#[test]
fn unknown_database_urls_are_refused() {
    for url in ["mysql://root@localhost/pingan", "pingan.db"] {
        let output = pingan(&["import", "divisions", &repo("data/divisions/jiangxi"), "--database", url]);
        assert!(!output.status.success());
        assert!(text(&output.stderr).contains("[unsupported_database_url]"), "{}", text(&output.stderr));
    }
}

#[test]
fn boundary_and_grid_imports_refuse_bad_files() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    assert!(
        pingan(&["import", "divisions", &repo("data/divisions/jiangxi"), "--database", &database]).status.success()
    );
    let write = |name: &str, body: &str| {
        let path = directory.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let square =
        r#"{"type":"Polygon","coordinates":[[[113.8,27.6],[113.9,27.6],[113.9,27.7],[113.8,27.7],[113.8,27.6]]]}"#;
    let unknown = write(
        "unknown.geojson",
        &format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"369999"}},"geometry":{square}}}]}}"#
        ),
    );
    let output = pingan(&["import", "boundaries", &unknown, "--database", &database]);
    assert!(text(&output.stderr).contains("[invalid_feature]"), "{}", text(&output.stderr));
    let broken = write("broken.geojson", r#"{"type":"FeatureCollection","features":[{"type":"Feature""#);
    let output = pingan(&["import", "grids", &broken, "--database", &database]);
    assert!(text(&output.stderr).contains("[malformed_geojson]"), "{}", text(&output.stderr));
    let good = write(
        "good.geojson",
        &format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"360313"}},"geometry":{square}}}]}}"#
        ),
    );
    let output = pingan(&["import", "boundaries", &good, "--database", &database]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // With the shipped crosswalk, the shipped echarts data reconciles to every current county.
    let output = pingan(&[
        "import",
        "boundaries",
        &repo("data/boundaries/jiangxi-counties-2017.geojson"),
        "--crosswalk",
        &repo("data/boundaries/jiangxi-crosswalk.csv"),
        "--database",
        &database,
    ]);
    // Strict validation refuses the source's self-intersections, naming the feature.
    assert!(text(&output.stderr).contains("[invalid_geometry]"), "{}", text(&output.stderr));
}

/// Starts a server command and waits for the line that gives its address.
#[test]
fn units_rules_and_grid_staff_import_whole_or_not_at_all() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    let loaded = pingan(&["import", "jiangxi", "--grids-under", "360313", "--database", &database]);
    assert!(text(&loaded.stdout).contains("1776 departments"), "{}", text(&loaded.stdout));
    let file = |name: &str, body: &str| {
        let path = directory.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let import = |what: &str, path: &str| pingan(&["import", what, path, "--database", &database]);

    let units = file("units.csv", "id,name,categories\nprovider:360313:anju,安居家政,life.housekeeping life.errand\n");
    let done = import("units", &units);
    assert!(text(&done.stdout).contains("1 units imported"), "{}", text(&done.stderr));
    for (body, problem) in [
        ("id,name,categories\ndepartment:360313:nope,无此部门,\n", "no department kind"),
        ("id,name,categories\nprovider:360313:x,某公司,life.nothing\n", "no category"),
        ("id,name,categories\nprovider:360399:x,某公司,\n", "no division 360399"),
        ("id,name,categories\nshop:360313:x,某店,\n", "use department:COUNTY:KIND"),
    ] {
        let refused = import("units", &file("bad-units.csv", body));
        assert!(!refused.status.success());
        let stderr = text(&refused.stderr);
        assert!(stderr.contains("[invalid_row]") && stderr.contains(problem), "{stderr}");
    }

    let rules = file(
        "rules.csv",
        "category,division,unit\nhazard.road,3603,department:3603:jt\nlife.housekeeping,360313,provider:360313:anju\n",
    );
    assert!(text(&import("dispatch-rules", &rules).stdout).contains("2 dispatch rules imported"));
    let refused = import(
        "dispatch-rules",
        &file("bad-rules.csv", "category,division,unit\nhazard.road,3603,department:3603:zz\n"),
    );
    assert!(text(&refused.stderr).contains("no unit"), "{}", text(&refused.stderr));

    let staff = file("staff.csv", "grid,role,name\n360313001001001,leader,刘网格\n360313001001001,member,陈网格\n");
    let imported = import("grid-staff", &staff);
    assert!(text(&imported.stdout).contains("2 grid staff imported"), "{}", text(&imported.stderr));
    let refused = import("grid-staff", &file("bad-staff.csv", "grid,role,name\n360313001001001,boss,刘\n"));
    assert!(text(&refused.stderr).contains("use leader or member"), "{}", text(&refused.stderr));
}

fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(url) = line.split("map and division tree: ").nth(1) {
            // Keep reading what the server prints, as a terminal would.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, url.trim_end_matches('/').to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{args:?} never said where it serves");
}

fn health(base: &str) -> serde_json::Value {
    let mut response = ureq::get(&format!("{base}/healthz")).call().unwrap();
    response.body_mut().read_json().unwrap()
}

#[test]
fn demo_serves_and_serve_reopens_its_database() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().to_str().unwrap();
    let (mut demo, base) = start(&["demo", "--data-dir", data_dir, "--listen", "127.0.0.1:0"]);
    let grids = health(&base)["grids"].as_u64().unwrap();
    assert!(grids > 2000, "{grids}");
    demo.kill().unwrap();
    demo.wait().unwrap();

    let database = format!("sqlite://{}", Path::new(data_dir).join("demo.db").display());
    let (mut server, base) =
        start(&["serve", "--database", &database, "--data-dir", data_dir, "--listen", "127.0.0.1:0"]);
    assert_eq!(health(&base)["grids"].as_u64().unwrap(), grids);
    server.kill().unwrap();
    server.wait().unwrap();

    // Started from another directory, the server would make a key file of its own: refused, and
    // the message names the key the database needs.
    let elsewhere = tempfile::tempdir().unwrap();
    let stray = pingan(&["serve", "--database", &database, "--data-dir", elsewhere.path().to_str().unwrap()]);
    assert!(!stray.status.success(), "served with a stray key file");
    let said = text(&stray.stderr);
    let key = std::fs::read_to_string(Path::new(data_dir).join("data-keys")).unwrap();
    let key_id = key.lines().find(|l| !l.starts_with('#')).and_then(|l| l.split_whitespace().next()).unwrap();
    assert!(said.contains("data_keys_missing") && said.contains(key_id), "{said}");
    assert!(!elsewhere.path().join("data-keys").exists(), "a stray key file was made");
    // Nor with a key file of its own, even one whose key bears the database's key's name.
    let forged = elsewhere.path().join("forged-keys");
    std::fs::write(&forged, pingan_app::personal::Vault::generate(key_id)).unwrap();
    let stray = pingan(&["serve", "--database", &database, "--data-key-file", forged.to_str().unwrap()]);
    assert!(!stray.status.success(), "served with a key of the same name");
    assert!(text(&stray.stderr).contains("not the one the data was sealed with"), "{}", text(&stray.stderr));
}

#[test]
fn audit_verify_takes_the_database_options() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    let output = pingan(&["audit", "verify", "--database", &database]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("0 cases, 0 history entries: every hash holds"), "{}", text(&output.stdout));
    let refused = pingan(&["audit", "verify", "--database", "oracle://db"]);
    assert!(!refused.status.success());
}

/// What `audit verify` finds wrong sets the exit code, after saying it: 3 for a tally unlike a
/// recount, 2 for a history whose hashes break (the worse, when both are found).
#[test]
fn audit_verify_ends_with_what_it_found() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("pingan.db");
    let database = format!("sqlite://{}", path.display());
    let imported = pingan(&["import", "jiangxi", "--database", &database, "--grids-under", "360302"]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let simulated = pingan(&[
        "simulate",
        "--database",
        &database,
        "--under",
        "360302",
        "--cases",
        "200",
        "--days",
        "10",
        "--seed",
        "3",
    ]);
    assert!(simulated.status.success(), "{}", text(&simulated.stderr));
    let verify = || pingan(&["audit", "verify", "--database", &database]);
    assert_eq!(verify().status.code(), Some(0));

    let edit = |sql: &str| {
        let connection = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(connection.execute(sql, []).unwrap(), 1, "{sql}");
    };
    edit(
        "UPDATE case_tallies SET reported = reported + 1 WHERE (scope, month) = (SELECT scope, month FROM case_tallies ORDER BY scope, month LIMIT 1)",
    );
    let found = verify();
    assert_eq!(found.status.code(), Some(3), "{}", text(&found.stdout));
    assert!(text(&found.stdout).contains("differs from a recount"), "{}", text(&found.stdout));

    edit(
        "UPDATE case_actions SET details = '{}' WHERE (case_id, sequence) = (SELECT case_id, sequence FROM case_actions ORDER BY case_id, sequence LIMIT 1)",
    );
    let found = verify();
    assert_eq!(found.status.code(), Some(2), "{}", text(&found.stdout));
    assert!(text(&found.stdout).starts_with("BROKEN: case "), "{}", text(&found.stdout));
}

/// A webhook receiver on loopback that takes 5 ms over each request; answers its address and the
/// event ids it was sent.
fn slow_receiver() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let recorded = seen.clone();
    std::thread::spawn(move || {
        for connection in listener.incoming().map_while(Result::ok) {
            let recorded = recorded.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(connection.try_clone().unwrap());
                let mut connection = connection;
                // One request after another on the connection, until the client closes it.
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    recorded.lock().unwrap().insert(event["event_id"].as_str().unwrap().to_owned());
                    connection.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").unwrap();
                }
            });
        }
    });
    (address, seen)
}

/// Kill the server (SIGKILL) in the middle of a burst of submissions: after a restart, every
/// submission that was acknowledged is there, with an intact history, and its webhook
/// notifications all go out.
#[test]
fn acknowledged_submissions_survive_kill_9() {
    use std::sync::{Arc, Mutex};

    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().to_str().unwrap().to_owned();
    let (mut server, base) =
        start(&["demo", "--data-dir", &data_dir, "--listen", "127.0.0.1:0", "--webhook-allow", "127.0.0.1/32"]);
    // The demo's hotline operator takes the calls.
    let login = serde_json::json!({ "login": "hotline", "password": "pingan-demo-2026", "label": "burst" });
    let mut response = ureq::post(&format!("{base}/api/v1/auth/tokens")).send_json(&login).unwrap();
    let token: serde_json::Value = response.body_mut().read_json().unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    // Another system follows the city's family disputes through a webhook, slower than they come.
    let (receiver, notified) = slow_receiver();
    let login = serde_json::json!({ "login": "admin", "password": "pingan-demo-2026", "label": "burst" });
    let mut response = ureq::post(&format!("{base}/api/v1/auth/tokens")).send_json(&login).unwrap();
    let admin: serde_json::Value = response.body_mut().read_json().unwrap();
    let subscription = serde_json::json!({ "url": format!("http://{receiver}/events"), "unit": "centre:3603", "categories": ["dispute.family"] });
    let subscribed = ureq::post(&format!("{base}/api/v1/webhooks"))
        .header("authorization", &format!("Bearer {}", admin["token"].as_str().unwrap()))
        .send_json(&subscription)
        .unwrap();
    assert_eq!(subscribed.status().as_u16(), 201);
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (base, acknowledged, bearer) = (base.clone(), acknowledged.clone(), bearer.clone());
            std::thread::spawn(move || {
                for attempt in 0..400 {
                    let body = serde_json::json!({
                        "channel": "hotline", "category": "dispute.family",
                        "lon": 113.8543 + f64::from(worker) * 0.001, "lat": 27.6229,
                        "description": format!("第 {worker}-{attempt} 号来电"),
                        "idempotency_key": format!("burst-{worker}-{attempt}")
                    });
                    let request = ureq::post(&format!("{base}/api/v1/cases")).header("authorization", &bearer);
                    let Ok(mut response) = request.send_json(&body) else { return };
                    if response.status().as_u16() == 201 {
                        let answer: serde_json::Value = response.body_mut().read_json().unwrap();
                        acknowledged.lock().unwrap().push(answer["case"]["id"].as_str().unwrap().to_owned());
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.wait().unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 300, "only {} submissions were acknowledged", acknowledged.len());
    let before_restart = notified.lock().unwrap().len();
    assert!(
        before_restart < acknowledged.len() * 3,
        "every notification went out before the kill: nothing was left to lose"
    );

    let database = format!("sqlite://{}", Path::new(&data_dir).join("demo.db").display());
    let (mut server, base) = start(&[
        "serve",
        "--database",
        &database,
        "--data-dir",
        &data_dir,
        "--listen",
        "127.0.0.1:0",
        "--webhook-allow",
        "127.0.0.1/32",
    ]);
    for id in &acknowledged {
        let request = ureq::get(&format!("{base}/api/v1/cases/{id}/history")).header("authorization", &bearer);
        let mut response = request.call().unwrap();
        let history: serde_json::Value = response.body_mut().read_json().unwrap();
        let actions: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["report", "accept", "dispatch"], "case {id}");
    }
    // Every acknowledged action is notified in the end (some twice: sent, then killed before
    // the sending was recorded).
    let wanted: Vec<String> =
        acknowledged.iter().flat_map(|id| (1..=3).map(move |sequence| format!("{id}:{sequence}"))).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let missing = {
            let seen = notified.lock().unwrap();
            wanted.iter().filter(|event| !seen.contains(*event)).count()
        };
        if missing == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing} notifications never came ({before_restart} before the kill)"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let audit = pingan(&["audit", "verify", "--database", &database]);
    assert!(audit.status.success(), "{}", text(&audit.stdout));
}

#[test]
fn admin_creates_accounts_and_resets_passwords() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    let create = |extra: &[&str]| {
        let mut args = vec!["admin", "create-user", "--database", &database];
        args.extend_from_slice(extra);
        pingan(&args)
    };
    let created = create(&["--login", "resident-1", "--name", "王五", "--role", "resident"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let first = text(&created.stdout).rsplit(' ').next().unwrap().trim().to_owned();
    assert_eq!(first.len(), 16, "{}", text(&created.stdout));

    let unknown_role = create(&["--login", "x-1", "--name", "x", "--role", "boss"]);
    assert!(!unknown_role.status.success());
    assert!(text(&unknown_role.stderr).contains("centre_dispatcher"), "{}", text(&unknown_role.stderr));
    let no_unit = create(&["--login", "x-2", "--name", "x", "--role", "centre_dispatcher", "--unit", "centre:3603"]);
    assert!(text(&no_unit.stderr).contains("no unit"), "{}", text(&no_unit.stderr));
    let twin = create(&["--login", "resident-1", "--name", "x", "--role", "resident"]);
    assert!(text(&twin.stderr).contains("already exists"), "{}", text(&twin.stderr));

    let reset = pingan(&["admin", "reset-password", "--database", &database, "--login", "resident-1"]);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let second = text(&reset.stdout).rsplit(' ').next().unwrap().trim().to_owned();
    assert_eq!(second.len(), 16);
    assert_ne!(first, second);
    let missing = pingan(&["admin", "reset-password", "--database", &database, "--login", "nobody"]);
    assert!(text(&missing.stderr).contains("no account"), "{}", text(&missing.stderr));
}

#[test]
fn reseal_needs_the_key_file_and_reports_what_it_did() {
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("pingan.db").display());
    let keys = directory.path().join("data-keys");
    let keys = keys.to_str().unwrap();
    let missing = pingan(&["admin", "reseal", "--database", &database, "--data-key-file", keys]);
    assert!(!missing.status.success(), "a missing key file is never created by a reseal");
    assert!(text(&missing.stderr).contains("cannot read"), "{}", text(&missing.stderr));
    std::fs::write(keys, "k2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let done = pingan(&["admin", "reseal", "--database", &database, "--data-key-file", keys]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stdout).contains("0 cases read, 0 sealed again under key k2; 0 left"), "{}", text(&done.stdout));
}

/// The databases in tests/fixtures/numbered-schema were made by the last release whose engines
/// numbered their migrations each their own way (its make.sh says how).
fn numbered_fixture(file: &str) -> String {
    format!("{}/tests/fixtures/numbered-schema/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// What every engine must do with a database of the numbered release: adopt its record, run the
/// steps since, keep every hash, tally and sealed contact; then refuse to start on a record that
/// disagrees with the build. `sql` runs a statement on the database and gives its rows as text.
fn upgrades_in_place_and_refuses_drift(
    database: &str,
    engine: pingan_store::migrations::Engine,
    sql: &dyn Fn(&str) -> String,
) {
    let verify = || pingan(&["audit", "verify", "--database", database]);
    for _ in 0..2 {
        let verified = verify();
        assert!(verified.status.success(), "{}{}", text(&verified.stdout), text(&verified.stderr));
        assert!(
            text(&verified.stdout).contains(
                "201 cases, 1490 history entries: every hash holds, and the indicator tallies equal a recount"
            ),
            "{}",
            text(&verified.stdout)
        );
        let recorded = sql("SELECT id FROM schema_history ORDER BY id");
        let expected: Vec<&str> = pingan_store::migrations::steps(engine).map(|(id, _)| id).collect();
        assert_eq!(recorded.lines().collect::<Vec<_>>(), expected);
    }
    // The fixtures were made at 15:37 UTC that day, and ran every step up to the login slowdown;
    // the later ones ran now.
    let ran_then = sql("SELECT count(*) FROM schema_history WHERE applied_at < '2026-12-07 15:38:00+00'");
    let steps_then =
        pingan_store::migrations::steps(engine).filter(|(id, _)| *id <= "20261207130514_login_slowdown").count();
    assert_eq!(ran_then.trim(), steps_then.to_string(), "adopted steps keep their time");
    let resealed =
        pingan(&["admin", "reseal", "--database", database, "--data-key-file", &numbered_fixture("data-keys")]);
    assert!(text(&resealed.stdout).contains("201 cases read"), "{}{}", text(&resealed.stdout), text(&resealed.stderr));

    let cases = "20261129001603_cases";
    let checksum = sql(&format!("SELECT checksum FROM schema_history WHERE id = '{cases}'"));
    sql(&format!("UPDATE schema_history SET checksum = 'edited' WHERE id = '{cases}'"));
    let refused = verify();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(&format!("[schema_drift] 数据库的结构步骤 {cases} 与本版本不一致")),
        "{}",
        text(&refused.stderr)
    );
    sql(&format!("UPDATE schema_history SET checksum = '{}' WHERE id = '{cases}'", checksum.trim()));
    assert!(verify().status.success(), "the record as it was is accepted again");

    sql(
        "INSERT INTO schema_history (id, checksum, applied_at) VALUES ('20991231000000_a_later_table', '00', '2099-12-31')",
    );
    let refused = verify();
    assert!(
        text(&refused.stderr).contains("[schema_from_newer_build]")
            && text(&refused.stderr).contains("20991231000000_a_later_table"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn a_sqlite_database_of_the_numbered_release_upgrades_in_place() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("pingan.db");
    std::fs::copy(numbered_fixture("pingan.db"), &path).unwrap();
    let sql = |statement: &str| {
        let connection = rusqlite::Connection::open(&path).unwrap();
        let mut query = connection.prepare(statement).unwrap();
        let columns = query.column_count();
        let mut rows = query.query([]).unwrap();
        let mut lines = String::new();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| {
                    row.get::<_, rusqlite::types::Value>(i)
                        .map(|v| match v {
                            rusqlite::types::Value::Text(t) => t,
                            rusqlite::types::Value::Integer(n) => n.to_string(),
                            other => format!("{other:?}"),
                        })
                        .unwrap()
                })
                .collect();
            lines.push_str(&values.join("|"));
            lines.push('\n');
        }
        lines
    };
    upgrades_in_place_and_refuses_drift(
        &format!("sqlite://{}", path.display()),
        pingan_store::migrations::Engine::Sqlite,
        &sql,
    );
    assert_eq!(
        sql("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'").trim(),
        "0",
        "the numbered record is gone"
    );
}

#[test]
fn a_postgres_database_of_the_numbered_release_upgrades_in_place() {
    let server = std::env::var("PINGAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("pingan_numbered_{}", std::process::id());
    let (server_root, _) = server.rsplit_once('/').unwrap();
    let database = format!("{server_root}/{name}");
    let psql = |url: &str, args: &[&str]| {
        let output = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "psql {args:?}: {}", text(&output.stderr));
        text(&output.stdout)
    };
    psql(&server, &["-c", &format!("DROP DATABASE IF EXISTS {name}"), "-c", &format!("CREATE DATABASE {name}")]);
    psql(&database, &["-f", &numbered_fixture("postgres.sql")]);
    let sql = |statement: &str| psql(&database, &["-F", "|", "-c", statement]);
    upgrades_in_place_and_refuses_drift(&database, pingan_store::migrations::Engine::Postgres, &sql);
    assert_eq!(sql("SELECT to_regclass('schema_migrations') IS NULL").trim(), "t", "the numbered record is gone");
    psql(&server, &["-c", &format!("DROP DATABASE {name} WITH (FORCE)")]);
}
