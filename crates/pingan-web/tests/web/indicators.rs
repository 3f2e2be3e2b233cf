//! Indicators over HTTP: the figures follow the cases as they are reported and handled, roll up
//! the division tree, and are read only by staff whose place covers them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_test_support::*;
use serde_json::{Value, json};

fn indicators(served: &Served, token: &str, query: &str) -> (u16, Value) {
    get_json_with(served, &format!("/api/v1/indicators{query}"), &[("authorization", token)])
}

fn check_indicators(served: &Served) {
    let (county, village, sibling) = (token(served, "county"), token(served, "village"), token(served, "sibling"));
    let (resident, department, grid) = (token(served, "resident"), token(served, "department"), token(served, "grid"));
    let report = |description: &str| {
        json!({ "channel": "resident", "category": "dispute.neighbour", "lon": 113.8543, "lat": 27.6229,
                "description": description })
        .to_string()
    };
    // This month and the next, in Beijing: the cases below are reported in one of them, even at the
    // turn of a month. (No division or unit asked: each caller's own.)
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now =
        chrono::DateTime::from_timestamp_millis(since_epoch.as_millis() as i64).unwrap() + chrono::Duration::hours(8);
    let next = now + chrono::Duration::days(31);
    let months = format!("?from={}&to={}", now.format("%Y-%m"), next.format("%Y-%m"));
    let mut numbers = Vec::new();
    for description in ["楼上漏水", "楼道堆物", "噪音扰民"] {
        let (status, created) = post(served, "/api/v1/cases", &[JSON], &report(description));
        assert_eq!(status, 201, "{created}");
        numbers.push(created["case"]["number"].as_str().unwrap().to_owned());
    }
    let act = |number: &str, body: Value| {
        let (status, answer) = post(
            served,
            &format!("/api/v1/cases/{number}/actions"),
            &[JSON, ("authorization", village.as_str())],
            &body.to_string(),
        );
        assert_eq!(status, 200, "{answer}");
    };
    act(&numbers[0], json!({ "action": "accept", "expected_version": 1 }));
    act(&numbers[1], json!({ "action": "reject", "expected_version": 1, "reason": "不属于受理范围" }));

    // The county's dispatcher: the district, with each township.
    let (status, district) = indicators(served, &county, &months);
    assert_eq!(status, 200, "{district}");
    assert_eq!((district["division"].as_str(), district["unit"].as_str()), (Some("360302"), None));
    let total = &district["total"];
    assert_eq!(
        (total["reported"].as_i64(), total["accepted"].as_i64(), total["open"].as_i64()),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(total["closure_rate"], json!(0.0), "none of the three reported is closed");
    assert_eq!(total["satisfaction_rate"], Value::Null, "nobody was called back");
    assert_eq!(district["own_level"]["reported"], 0);
    let children = district["children"].as_array().unwrap();
    assert!(children.len() > 3, "{children:?}");
    let township: Vec<&Value> = children.iter().filter(|c| c["reported"].as_i64() > Some(0)).collect();
    assert_eq!(township.len(), 1);
    assert_eq!((township[0]["code"].as_str(), township[0]["reported"].as_i64()), (Some("360302008"), Some(3)));
    assert!(township[0]["name"].as_str().is_some_and(|n| !n.is_empty()));
    let sum: i64 = children.iter().map(|c| c["reported"].as_i64().unwrap()).sum();
    assert_eq!(sum, 3, "the children add up to the total");

    // The breakdowns: month by month, by channel, by category and by family; each adds up to the
    // total, and a resident's reports are the residents' channel's.
    let months_reported: Vec<i64> =
        district["months"].as_array().unwrap().iter().map(|m| m["reported"].as_i64().unwrap()).collect();
    assert_eq!(months_reported.len(), 2, "{}", district["months"]);
    assert_eq!(months_reported.iter().sum::<i64>(), 3);
    let parts = |name: &str| -> Vec<(String, i64, i64)> {
        district[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (p["code"].as_str().unwrap().to_owned(), p["reported"].as_i64().unwrap(), p["open"].as_i64().unwrap())
            })
            .collect()
    };
    assert_eq!(parts("channels"), [("resident".to_owned(), 3, 2)]);
    assert_eq!(district["channels"][0]["name_zh"], "群众上报");
    assert_eq!(parts("categories"), [("dispute.neighbour".to_owned(), 3, 2)]);
    assert_eq!(parts("families"), [("dispute".to_owned(), 3, 2)]);
    assert_eq!(
        (&district["families"][0]["name_zh"], &district["families"][0]["name_en"]),
        (&json!("矛盾纠纷"), &json!("Disputes"))
    );
    // Below a county, the breakdowns come from the villages' own levels.
    let (status, township) = indicators(served, &county, &format!("{months}&division=360302008"));
    assert_eq!(status, 200, "{township}");
    assert_eq!(township["channels"], district["channels"], "the township holds every case of the district");
    assert_eq!(township["families"], district["families"]);

    // The village's centre: its own place by default, no children below a village.
    let (status, own) = indicators(served, &village, &months);
    assert_eq!(
        (status, &own["division"], &own["total"]["reported"]),
        (200, &json!("360302008205"), &json!(3)),
        "{own}"
    );
    assert_eq!(own["children"], json!([]));
    // A month with nothing in it, and the department's own (empty) figures.
    let (status, past) = indicators(served, &county, "?from=2025-01&to=2025-12");
    assert_eq!(
        (status, &past["total"]["reported"], &past["from"], &past["to"]),
        (200, &json!(0), &json!("2025-01"), &json!("2025-12"))
    );
    let (status, theirs) = indicators(served, &department, &months);
    assert_eq!((status, &theirs["total"]["reported"]), (200, &json!(0)), "{theirs}");
    assert!(theirs["unit"].as_str().is_some_and(|u| u.starts_with("department:360302:")), "{theirs}");

    // A grid's worker reads their grid's figures: what is dispatched to the grid.
    let (status, theirs) = indicators(served, &grid, &months);
    assert_eq!(
        (status, &theirs["unit"], &theirs["division"]),
        (200, &json!("grid:360302008205001"), &json!("360302008205"))
    );
    assert_eq!((&theirs["channels"], &theirs["families"]), (&json!([]), &json!([])), "a unit has no breakdowns");
    let (status, asked) = indicators(served, &village, &format!("{months}&unit=grid:360302008205001"));
    assert_eq!((status, &asked["total"]), (200, &theirs["total"]), "the village's centre reads its grid's: {asked}");

    // Refusals.
    type Refusal<'a> = (&'a str, &'a str, &'a str, u16, &'a str);
    let refusals: [Refusal; 12] = [
        ("a resident", resident.as_str(), "", 403, "forbidden"),
        ("a sibling village", sibling.as_str(), "?division=360302008205", 403, "forbidden"),
        ("above one's place", county.as_str(), "?division=3603", 403, "forbidden"),
        ("another county's unit", county.as_str(), "?unit=department:360313:cg", 403, "forbidden"),
        ("a grid of the sibling village", sibling.as_str(), "?unit=grid:360302008205001", 403, "forbidden"),
        ("a month that is none", county.as_str(), "?from=2026-13", 400, "invalid_field"),
        ("not a month", county.as_str(), "?from=2026-1", 400, "invalid_field"),
        ("the end before the start", county.as_str(), "?from=2026-06&to=2026-01", 400, "invalid_field"),
        ("more than ten years", county.as_str(), "?from=2010-01&to=2020-12", 400, "invalid_field"),
        ("a division and a unit", county.as_str(), "?division=360302&unit=centre:360302", 400, "invalid_field"),
        ("no such division", county.as_str(), "?division=36030299", 400, "unknown_division"),
        ("an unknown parameter", county.as_str(), "?month=2026-01", 400, "invalid_parameter"),
    ];
    for (what, token, query, status, code) in refusals {
        let (answered, body) = indicators(served, token, query);
        assert_eq!((answered, body["error"]["code"].as_str()), (status, Some(code)), "{what}: {body}");
        assert!(body["error"]["message_zh"].is_string() && body["error"]["message_en"].is_string(), "{what}");
    }
    let (status, body) = get_json(served, "/api/v1/indicators");
    assert_eq!((status, &body["error"]["code"]), (401, &json!("not_authenticated")));
}

#[test]
fn indicators_on_sqlite() {
    check_indicators(&served(Engine::Sqlite));
}

#[test]
fn indicators_on_postgres() {
    check_indicators(&served(Engine::Postgres));
}
