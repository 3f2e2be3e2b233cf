//! The command centre in a real headless Chromium: the county's figures follow the cases as they
//! are reported and closed; the child table sorts and leads one level down; the map's busiest
//! grid leads to that grid's cases; the live feed shows an action taken elsewhere; a place above
//! one's own, or an account of no centre, is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::Locator;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_test_support::browser::Browser;
use pingan_test_support::{Engine, Served, act, close_through_the_grid, report_neighbour_disputes, served, token};
use serde_json::json;

/// The figure `figure` of the key-figures table, for the month.
async fn month_figure(browser: &Browser, figure: &str) -> String {
    browser.text(&format!("#key-figures tr[data-figure={figure}] td.month")).await
}

fn check_command_centre(served: &Served, engine: &str) {
    let village = token(served, "village");
    let numbers = report_neighbour_disputes(served, &["楼上漏水，天花板渗水", "楼道堆放杂物堵塞通道"]);

    served.runtime.block_on(async {
        let county = Browser::start(&served.base).await;
        county.goto("/work/centre").await;
        county.log_in("county", DEMO_PASSWORD).await;
        assert_eq!(county.path().await, "/work/centre");
        assert!(county.text("#centre-title").await.contains("安源区"));
        assert_eq!(month_figure(&county, "reported").await, "2");
        assert_eq!(month_figure(&county, "closed").await, "0");
        assert_eq!(month_figure(&county, "closure-rate").await, "0.00%");
        assert!(county.text("#families tr[data-part=dispute]").await.contains("矛盾纠纷"));
        assert!(county.text("#channels tr[data-part=resident]").await.contains("群众上报"));
        county.screenshot(&format!("{engine}-centre")).await;

        // The child table sorts by a column, busiest first, and says so.
        county.click("#children th:nth-child(2) a").await;
        county.wait_for("#children th[aria-sort=descending]").await;
        assert!(county.path().await.contains("sort=reported&dir=desc"), "{}", county.path().await);
        let first = county.client.find(Locator::Css("#children tbody tr")).await.unwrap();
        assert_eq!(first.attr("data-division").await.unwrap().as_deref(), Some("360302008"));

        // The map fills the grid that holds the two open cases; the table beside it leads to
        // that grid's open cases.
        let places = county.client.find_all(Locator::Css("#workload-map path[data-href]")).await.unwrap();
        assert!(places.len() > 100, "the district's grids: {}", places.len());
        let busy = county.client.find(Locator::Css("#workload-map path[fill='#ffec99']")).await.unwrap();
        assert_eq!(busy.attr("data-href").await.unwrap().as_deref(), Some("/work?grid=360302008205001&status=open"));
        county.click("#busiest tbody a").await;
        county.wait_for("#queue").await;
        for number in &numbers {
            assert!(county.has(&format!("tr[data-case='{number}']")).await, "{number} in the grid's queue");
        }

        // The live feed shows an action taken elsewhere, and the figures follow the case to its
        // close.
        county.goto("/work/centre").await;
        county.wait_for("#feed-state").await;
        let number = &numbers[0];
        act(served, &village, number, json!({ "action": "note", "expected_version": 1, "reason": "已电话联系居民" }));
        county.wait_for(&format!("#feed a[href='/work/cases/{number}']")).await;
        assert!(county.text("#feed").await.contains("note"));
        close_through_the_grid(served, number);
        county.goto("/work/centre").await;
        assert_eq!(month_figure(&county, "closed").await, "1");
        assert_eq!(month_figure(&county, "closure-rate").await, "50.00%");
        assert_eq!(month_figure(&county, "open").await, "1");

        // One level down, and back by the trail.
        county.click("#children tr[data-division='360302008'] a").await;
        county.wait_for("#centre-title[data-division='360302008']").await;
        assert_eq!(month_figure(&county, "reported").await, "2");
        county.click("#trail a").await;
        county.wait_for("#centre-title[data-division='360302']").await;

        // In English, the same figures.
        county.click("#lang-switch").await;
        county.wait_for("html[lang=en]").await;
        assert!(county.text("#key-figures").await.contains("Closure rate"));
        assert_eq!(month_figure(&county, "closure-rate").await, "50.00%");
        county.click("#lang-switch").await;
        county.wait_for("html[lang=zh-CN]").await;
        county.close().await;

        // A village's centre may not read the county above it; a department has no command centre
        // (and no link to one).
        let below = Browser::start(&served.base).await;
        below.goto("/work/centre?division=360302").await;
        below.log_in("village", DEMO_PASSWORD).await;
        let problem = below.client.find(Locator::Css("#problem")).await.unwrap();
        assert_eq!(problem.attr("data-status").await.unwrap().as_deref(), Some("403"));
        below.goto("/work/centre").await;
        assert_eq!(month_figure(&below, "reported").await, "2", "its own village");
        below.close().await;
        let department = Browser::start(&served.base).await;
        department.goto("/work/centre").await;
        department.log_in("department", DEMO_PASSWORD).await;
        let problem = department.client.find(Locator::Css("#problem")).await.unwrap();
        assert_eq!(problem.attr("data-status").await.unwrap().as_deref(), Some("403"));
        assert!(!department.has("header nav a[href='/work/centre']").await);
        department.close().await;
    });
}

#[test]
fn command_centre_in_chromium_on_sqlite() {
    check_command_centre(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn command_centre_in_chromium_on_postgres() {
    check_command_centre(&served(Engine::Postgres), "postgres");
}
