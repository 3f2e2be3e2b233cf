//! Who may do what to one case, over real HTTP, on both engines: every case endpoint for every
//! role at every position in the division tree relative to the case (same unit, child, parent,
//! sibling, unrelated county, department with and without the case dispatched to it, reporter,
//! other resident, no account), then again after the case is re-dispatched away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::accounts::NewAccount;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_core::Timestamp;
use pingan_core::access::Role;
use pingan_core::case::CaseNumber;
use pingan_store::units::UnitKind;
use pingan_test_support::*;

const VILLAGE: &str = "360302008205";

/// An account made for the matrix, with the demo password.
fn person(served: &Served, login: &str, unit: Option<String>, roles: &[Role]) {
    let new = NewAccount {
        login: login.into(),
        name: login.into(),
        unit,
        roles: roles.to_vec(),
        password: Some(DEMO_PASSWORD.into()),
        password_is_own: true,
    };
    served.runtime.block_on(served.accounts.create(new)).unwrap();
}

fn version(served: &Served, number: &str) -> i64 {
    let number = CaseNumber::parse(number).unwrap();
    served.runtime.block_on(served.store.case_by_number(&number)).unwrap().unwrap().version
}

/// The endpoints of the matrix, in the order of its columns.
const COLUMNS: &str = "read, history, note, reveal, list, export with contact details";

/// Statuses for `who` (a token, or None for no account) on each endpoint of [`COLUMNS`]. For the
/// list and the export, 200 means the case is in the answer and 404 that the answer (itself 200)
/// leaves it out; an exported row must hold the reporter's phone number in the clear.
fn outcomes(served: &Served, who: Option<&str>, number: &str) -> [u16; 6] {
    let auth: Vec<(&str, &str)> = who.map(|t| vec![("authorization", t)]).unwrap_or_default();
    let with_json = [auth.clone(), vec![JSON]].concat();
    let (read, _) = get_json_with(served, &format!("/api/v1/cases/{number}"), &auth);
    let (history, _) = get_json_with(served, &format!("/api/v1/cases/{number}/history"), &auth);
    let note = serde_json::json!({ "action": "note", "expected_version": version(served, number), "reason": "跟进" });
    let (note, _) = post(served, &format!("/api/v1/cases/{number}/actions"), &with_json, &note.to_string());
    let why = serde_json::json!({ "reason": "核实情况" }).to_string();
    let (reveal, _) = post(served, &format!("/api/v1/cases/{number}/reveal"), &with_json, &why);

    let (list, page) = get_json_with(served, "/api/v1/cases?category=dispute.neighbour&limit=1000", &auth);
    let (_, counted) = get_json_with(served, "/api/v1/cases/count?category=dispute.neighbour", &auth);
    let list = match list {
        200 => {
            let listed = page["cases"].as_array().unwrap();
            assert_eq!(counted["count"].as_u64(), Some(listed.len() as u64), "the count agrees with the list");
            if listed.iter().any(|c| c["number"] == number) { 200 } else { 404 }
        }
        refused => refused,
    };
    let path = "/api/v1/cases/export?category=dispute.neighbour&personal=true&reason=%E5%9B%9E%E8%AE%BF";
    let (export, _, csv) = get_with(served, path, &auth);
    let export = match export {
        200 => match csv.lines().find(|line| line.starts_with(number)) {
            Some(line) => {
                assert!(line.contains(PHONE), "an export with contact details: {line}");
                200
            }
            None => 404,
        },
        refused => refused,
    };
    [read, history, note, reveal, list, export]
}

fn check_matrix(served: &Served) {
    let units = served.runtime.block_on(served.store.units("360302")).unwrap();
    let departments: Vec<String> = units.into_iter().filter(|u| u.kind == UnitKind::Department).map(|u| u.id).collect();
    let (dispatched_to, other_department) = (departments[0].clone(), departments[1].clone());
    let grids = served.runtime.block_on(served.store.grids(VILLAGE)).unwrap();
    assert!(grids.len() >= 2, "the village has several grids");
    // The demo's `township` is 光丰街道's dispatcher (centre:360302008).
    person(served, "other-county", Some("centre:360313".into()), &[Role::CentreDispatcher]);
    person(served, "grid-next", Some(format!("grid:{}", grids[1].code)), &[Role::GridWorker]);
    person(served, "department-b", Some(other_department.clone()), &[Role::DepartmentHandler]);
    person(served, "resident-2", None, &[Role::Resident]);

    // The demo's resident reports; the village centre accepts and dispatches to a department.
    let resident = token(served, "resident");
    let report = serde_json::json!({
        "channel": "resident", "category": "dispute.neighbour", "lon": 113.8543, "lat": 27.6229,
        "description": "邻居装修噪音", "reporter_phone": PHONE
    });
    let (status, created) = post(served, "/api/v1/cases", &[JSON, ("authorization", &resident)], &report.to_string());
    assert_eq!(status, 201, "{created}");
    let number = created["case"]["number"].as_str().unwrap().to_owned();
    assert_eq!(created["case"]["grid"], grids[0].code.as_str());
    let village = token(served, "village");
    let act = |body: serde_json::Value| {
        let (status, answer) = post(
            served,
            &format!("/api/v1/cases/{number}/actions"),
            &[JSON, ("authorization", &village)],
            &body.to_string(),
        );
        assert_eq!(status, 200, "{answer}");
    };
    act(serde_json::json!({ "action": "accept", "expected_version": 1 }));
    act(serde_json::json!({ "action": "dispatch", "expected_version": 2, "target": dispatched_to }));

    const SEES_ALL: [u16; 6] = [200; 6];
    const HIDDEN: [u16; 6] = [404; 6];
    let matrix: Vec<(&str, Option<&str>, [u16; 6])> = vec![
        ("same unit: the village centre", Some("village"), SEES_ALL),
        ("child: the case's grid worker", Some("grid"), [200, 200, 200, 403, 200, 403]),
        ("the village's next grid", Some("grid-next"), [404, 404, 404, 403, 404, 403]),
        ("sibling village centre", Some("sibling"), HIDDEN),
        ("parent: the township centre", Some("township"), SEES_ALL),
        ("grandparent: the county centre", Some("county"), SEES_ALL),
        ("the city centre", Some("city"), SEES_ALL),
        ("unrelated county centre", Some("other-county"), HIDDEN),
        ("department, case dispatched to it", Some("department"), SEES_ALL),
        ("department, case not dispatched to it", Some("department-b"), HIDDEN),
        ("hotline operator at the city centre", Some("hotline"), [200, 200, 403, 200, 200, 200]),
        ("administrator at the city centre", Some("admin"), [200, 200, 403, 403, 200, 403]),
        ("the reporting resident", Some("resident"), [200, 200, 403, 403, 200, 403]),
        ("another resident", Some("resident-2"), [404, 404, 404, 403, 404, 403]),
        ("no account", None, [404, 404, 401, 401, 401, 401]),
    ];
    let tokens: Vec<Option<String>> = matrix.iter().map(|(_, login, _)| login.map(|l| token(served, l))).collect();
    for ((what, _, expected), token) in matrix.iter().zip(&tokens) {
        assert_eq!(&outcomes(served, token.as_deref(), &number), expected, "{what} ({COLUMNS})");
    }

    // Re-dispatched away: the first department loses the case, the second gains it.
    act(
        serde_json::json!({ "action": "redispatch", "expected_version": version(served, &number), "target": other_department, "reason": "职责调整" }),
    );
    let department = token(served, "department");
    let department_b = token(served, "department-b");
    assert_eq!(outcomes(served, Some(&department), &number), HIDDEN, "after re-dispatch");
    assert_eq!(outcomes(served, Some(&department_b), &number), SEES_ALL, "after re-dispatch");

    // Every refusal to show a case was logged, with the account that asked (residents' and
    // anonymous attempts have no place in the tree: the province-wide log holds them).
    let log = served.runtime.block_on(served.store.access_log("", Timestamp::from_millis(0), 10_000)).unwrap();
    let refusals = |account: Option<&str>| {
        let id =
            account.map(|login| served.runtime.block_on(served.store.account_by_login(login)).unwrap().unwrap().id);
        log.iter().filter(|e| e.event == "refused_case" && e.account_id == id && e.reason == number).count()
    };
    for (who, expected) in
        [(Some("sibling"), 4), (Some("other-county"), 4), (Some("resident-2"), 3), (None, 2), (Some("department"), 4)]
    {
        assert_eq!(refusals(who), expected, "refusals of {who:?} logged");
    }
    let admin = token(served, "admin");
    let (_, city_log) = get_json_with(served, "/api/v1/access-log?limit=10000", &[("authorization", &admin)]);
    let events = |event: &str| city_log.as_array().unwrap().iter().filter(|e| e["event"] == event).count();
    assert_eq!(events("reveal_reporter"), 7, "the city's administrator reads every reveal made in the city");
    assert_eq!(events("export_reporter"), 7, "and every export of contact details, one line per case");
}

/// The reporter's phone number of the matrix's case.
const PHONE: &str = "13912345678";

#[test]
fn access_matrix_on_sqlite() {
    let served = served(Engine::Sqlite);
    check_matrix(&served);
    // The raw files (with the write-ahead log, read while the server still holds it open) hold
    // the phone number nowhere in the clear.
    for file in std::fs::read_dir(served.database.sqlite_directory().unwrap()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(PHONE.len()).any(|w| w == PHONE.as_bytes()), "a phone number in the clear on disk");
    }
}

#[test]
fn access_matrix_on_postgres() {
    let served = served(Engine::Postgres);
    check_matrix(&served);
    let (url, schema) = served.database.postgres_location().unwrap();
    // Every text and bytea column of the schema, read raw: none holds the phone number in the clear.
    served.runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let columns = client
            .query(
                "SELECT table_name, column_name, data_type FROM information_schema.columns
                 WHERE table_schema = $1 AND data_type IN ('text', 'bytea')",
                &[&schema],
            )
            .await
            .unwrap();
        assert!(columns.len() > 10, "{} columns", columns.len());
        for column in columns {
            let (table, name, kind): (String, String, String) = (column.get(0), column.get(1), column.get(2));
            let column =
                if kind == "bytea" { format!("\"{name}\"") } else { format!("convert_to(\"{name}\", 'UTF8')") };
            let sql =
                format!("SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE position($1::bytea in {column}) > 0");
            let found: i64 = client.query_one(&sql, &[&PHONE.as_bytes()]).await.unwrap().get(0);
            assert_eq!(found, 0, "{table}.{name} holds the phone number in the clear");
        }
    });
}
