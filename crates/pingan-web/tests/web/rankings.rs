//! The monthly ranking bulletin: ranked over the API, downloaded as XLSX that LibreOffice renders,
//! read and reweighted on the workbench in Chromium; laggards marked; refusals said.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::demo::DEMO_PASSWORD;
use pingan_test_support::browser::Browser;
use pingan_test_support::{
    Engine, JSON, Served, close_through_the_grid, converted_by_libreoffice, get_bytes, get_json_with, put,
    report_neighbour_disputes, served, token,
};
use serde_json::{Value, json};

/// Whether LibreOffice renders the workbook as a PDF of at least one page.
fn renders_in_libreoffice(workbook: &[u8]) -> bool {
    let pdf = converted_by_libreoffice(workbook, "pdf");
    let text = String::from_utf8_lossy(&pdf);
    pdf.starts_with(b"%PDF") && (text.contains("/Type /Page") || text.contains("/Type/Page"))
}

fn check_bulletin(served: &Served, engine: &str) {
    let county = token(served, "county");
    let numbers = report_neighbour_disputes(served, &["楼上漏水", "楼道堆物", "噪音扰民"]);
    // One is taken to its close through the village's grid.
    close_through_the_grid(served, &numbers[0]);

    // The district's townships: 光丰街道 ranked with its score, the others, with nothing
    // reported, not ranked and to be summoned.
    let auth = [("authorization", county.as_str())];
    let (status, bulletin) = get_json_with(served, "/api/v1/rankings", &auth);
    assert_eq!(status, 200, "{bulletin}");
    let entries = bulletin["entries"].as_array().unwrap();
    assert!(entries.len() > 5, "{bulletin}");
    assert_eq!((entries[0]["code"].as_str(), entries[0]["rank"].as_u64()), (Some("360302008"), Some(1)));
    // Closure 1/3 (weight 40), on time 1 (20), none returned (10), none overdue (10); nobody
    // called back, so satisfaction does not count: 66.67 of 100.
    assert_eq!(entries[0]["score"], json!(66.67), "{}", entries[0]);
    assert_eq!(entries[0]["laggard"], false, "not below 60");
    assert!(entries[1..].iter().all(|e| e["rank"].is_null() && e["laggard"] == true), "{bulletin}");
    assert_eq!(entries[1]["reasons_zh"][0], "本月没有上报");
    assert_eq!(bulletin["weights"]["closure"], 40);
    assert_eq!(bulletin["weights_set_at"], Value::Null);

    // The grids of the township: the one that handled a case is ranked.
    let (status, grids) = get_json_with(served, "/api/v1/rankings?division=360302008&of=grids", &auth);
    assert_eq!(status, 200, "{grids}");
    let first = &grids["entries"][0];
    assert_eq!((first["code"].as_str(), first["rank"].as_u64()), (Some("grid:360302008205001"), Some(1)), "{grids}");
    assert_eq!(first["score"], json!(100.0), "its one case closed on time");

    // An administrator sets the weights of the district; the bulletin follows them.
    let admin = token(served, "admin");
    let weights = json!({ "closure": 100, "on_time": 0, "satisfaction": 0, "returns": 0, "overdue": 0,
                          "laggard_below": 20.0, "laggard_last": 0 });
    let (status, set) = put(
        served,
        "/api/v1/rankings/weights?division=360302",
        &[JSON, ("authorization", &admin)],
        &weights.to_string(),
    );
    assert_eq!((status, &set), (200, &weights), "{set}");
    let (_, reweighted) = get_json_with(served, "/api/v1/rankings", &auth);
    assert_eq!(reweighted["entries"][0]["score"], json!(33.33));
    assert_eq!(reweighted["entries"][0]["laggard"], false, "above 20");
    assert_eq!(reweighted["weights_set_at"], "360302");

    // Refusals, each with its code.
    let refusals: [(&str, &str, &str, u16, &str); 6] = [
        ("an empty month", "county", "/api/v1/rankings?month=", 400, "invalid_field"),
        ("an empty division", "county", "/api/v1/rankings?division=", 400, "unknown_division"),
        ("a resident", "resident", "/api/v1/rankings", 403, "forbidden"),
        ("above one's place", "county", "/api/v1/rankings?division=3603", 403, "forbidden"),
        ("nothing to rank by that name", "county", "/api/v1/rankings?of=streets", 400, "invalid_field"),
        ("no such format", "county", "/api/v1/rankings?format=pdf", 400, "invalid_parameter"),
    ];
    for (what, login, path, status, code) in refusals {
        let (answered, body) = get_json_with(served, path, &[("authorization", &token(served, login))]);
        assert_eq!((answered, body["error"]["code"].as_str()), (status, Some(code)), "{what}: {body}");
    }
    for (what, login, body, status, code) in [
        ("not an administrator", "county", weights.clone(), 403, "forbidden"),
        (
            "all weights 0",
            "admin",
            json!({ "closure": 0, "on_time": 0, "satisfaction": 0, "returns": 0, "overdue": 0, "laggard_below": 60.0, "laggard_last": 3 }),
            400,
            "invalid_field",
        ),
        ("a weight missing", "admin", json!({ "closure": 50 }), 400, "malformed_json"),
    ] {
        let headers = [JSON, ("authorization", &token(served, login))];
        let (answered, body) = put(served, "/api/v1/rankings/weights?division=360302", &headers, &body.to_string());
        assert_eq!((answered, body["error"]["code"].as_str()), (status, Some(code)), "{what}: {body}");
    }

    // The workbook: three sheets, and LibreOffice renders it.
    let (status, head, workbook) = get_bytes(served, "/api/v1/rankings?format=xlsx", &auth);
    assert_eq!(status, 200);
    assert!(head["content-type"].to_str().unwrap().contains("spreadsheetml"));
    assert!(head["content-disposition"].to_str().unwrap().contains("bulletin-360302-"));
    assert!(workbook.starts_with(b"PK"), "a zip");
    assert!(renders_in_libreoffice(&workbook), "LibreOffice rendered no page");

    // On the workbench: the table, the laggards, the download, and the administrator's form.
    served.runtime.block_on(async {
        let browser = Browser::start(&served.base).await;
        browser.goto("/work/bulletin").await;
        browser.log_in("county", DEMO_PASSWORD).await;
        assert_eq!(browser.path().await, "/work/bulletin");
        assert!(browser.text("#bulletin-title").await.contains("排名通报"));
        assert!(browser.text("#ranking tbody tr:first-child").await.contains("光丰街道"));
        assert!(browser.has("#score-chart rect").await);
        assert!(browser.text("#laggards").await.contains("本月没有上报"));
        assert!(!browser.has("#weights-form").await, "a dispatcher does not set weights");
        browser.screenshot(&format!("{engine}-bulletin")).await;
        browser.close().await;

        let administrator = Browser::start(&served.base).await;
        administrator.goto("/work/bulletin?division=360302").await;
        administrator.log_in("admin", DEMO_PASSWORD).await;
        administrator.fill("#weights-form input[name=laggard_below]", "40").await;
        administrator.click("#weights-form button").await;
        administrator.wait_for("#weights-saved").await;
        administrator.close().await;
    });
    let (_, after) = get_json_with(served, "/api/v1/rankings", &auth);
    assert_eq!(after["weights"]["laggard_below"], json!(40.0));
    assert_eq!(after["entries"][0]["laggard"], true, "33.33 is below 40");
}

#[test]
fn ranking_bulletin_on_sqlite() {
    check_bulletin(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn ranking_bulletin_on_postgres() {
    check_bulletin(&served(Engine::Postgres), "postgres");
}
