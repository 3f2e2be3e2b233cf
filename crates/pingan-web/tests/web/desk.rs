//! The case desk in a real headless Chromium, as a district's hotline desk works it (接单派单,
//! after Guixi's 3651890): a caller's pothole is
//! taken (the category found by its pinyin initials, the place picked on the map, a village found
//! as its name is typed) and dispatched by the operator; a second call about it is found while
//! typing and merged; the department claims it and resolves it with a photo; the district's
//! centre verifies it; the hotline calls the caller back; the centre closes it, and the command
//! centre's figures move. A second post of the same call files nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::Locator;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_core::access::Role;
use pingan_test_support::browser::Browser;
use pingan_test_support::{Engine, Served, converted_by_libreoffice, get_bytes, get_json_with, served, token};

/// Near 安源区's 公园路.
const POTHOLE: (f64, f64) = (113.8543, 27.6229);

/// Clicks the desk's map where `point` lies (the map's own projection places it).
async fn click_map(browser: &Browser, point: (f64, f64)) {
    let script = r#"
        const [lon, lat] = arguments;
        const box = document.getElementById("map");
        const svg = box.querySelector("svg");
        const [west, north, sx, sy] = svg.dataset.projection.split(" ").map(Number);
        const at = new DOMPoint((lon - west) * sx, (north - lat) * sy).matrixTransform(svg.getScreenCTM());
        const target = document.elementFromPoint(at.x, at.y) || box;
        const where = { bubbles: true, clientX: at.x, clientY: at.y };
        target.dispatchEvent(new PointerEvent("pointerdown", where));
        target.dispatchEvent(new PointerEvent("pointerup", where));
    "#;
    browser.client.execute(script, vec![point.0.into(), point.1.into()]).await.unwrap();
}

/// The value of the form field `css` finds.
async fn value(browser: &Browser, css: &str) -> String {
    let field = browser.client.find(Locator::Css(css)).await.unwrap();
    field.prop("value").await.unwrap().unwrap_or_default()
}

/// Waits (up to 10 s) until the field `css` finds holds something.
async fn wait_for_value(browser: &Browser, css: &str) -> String {
    for _ in 0..100 {
        let found = value(browser, css).await;
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} stayed empty");
}

fn check_desk(served: &Served, engine: &str) {
    let city = token(served, "city");
    let (number, merged) = served.runtime.block_on(async {
        let hotline = Browser::start(&served.base).await;
        hotline.goto("/work/desk").await;
        hotline.log_in("operator", DEMO_PASSWORD).await;
        assert_eq!(hotline.path().await, "/work/desk");
        assert!(hotline.has("header nav a[href='/work/desk'][aria-current=page]").await);
        hotline.wait_for("#map svg[data-projection]").await;
        hotline.screenshot(&format!("{engine}-desk")).await;

        // 道路维修 by its pinyin initials.
        hotline.fill("#category-search", "dlwx").await;
        let chosen = value(&hotline, "#category").await;
        assert_eq!(chosen, "livelihood.road_repair", "{}", hotline.source().await);
        // A village suggested as its name is typed, by its full name.
        hotline.fill("#address", "上柳源").await;
        hotline.wait_for("#place-suggestions option[value*='上柳源']").await;
        let suggested = hotline.client.find(Locator::Css("#place-suggestions option")).await.unwrap();
        assert!(suggested.attr("value").await.unwrap().unwrap().starts_with("安源区光丰街道"));
        hotline.fill("#address", "公园路 12 号门前").await;
        // The place picked on the map, and the grid it lies in named.
        click_map(&hotline, POTHOLE).await;
        let lon: f64 = wait_for_value(&hotline, "#lon").await.parse().unwrap();
        let lat: f64 = value(&hotline, "#lat").await.parse().unwrap();
        assert!((lon - POTHOLE.0).abs() < 0.002 && (lat - POTHOLE.1).abs() < 0.002, "{lon}, {lat}");
        hotline.fill("#caller_name", "王建国").await;
        hotline.fill("#caller_phone", "13807990001").await;
        hotline.fill("#description", "公园路路面塌陷一个大坑，电动车经过容易摔倒").await;
        hotline.click("#dispatch-hold").await;
        hotline.click("#take").await;
        hotline.wait_for("#filed").await;
        let filed = hotline.client.find(Locator::Css("#filed")).await.unwrap();
        let number = filed.attr("data-case").await.unwrap().unwrap();
        assert_eq!(filed.attr("data-status").await.unwrap().as_deref(), Some("accepted"), "held for the operator");
        assert_eq!(hotline.path().await, format!("/work/desk?filed={number}"), "a reload files nothing");
        // The rules' choice comes first: the district's transport bureau.
        assert_eq!(value(&hotline, "#filed-target").await, "department:360302:jt");
        hotline.screenshot(&format!("{engine}-desk-filed")).await;
        hotline.click("#filed-dispatch button").await;
        hotline.wait_for("#filed[data-status=dispatched]").await;
        assert!(hotline.text("#filed-handler").await.contains("交通运输局"));

        // A second caller about the same pothole: found while the call is typed, and merged.
        hotline.fill("#caller_name", "李秀英").await;
        hotline.fill("#description", "公园路有个坑，晚上看不清").await;
        hotline.fill("#category-search", "道路维修").await;
        click_map(&hotline, (POTHOLE.0 + 0.0004, POTHOLE.1)).await;
        let candidate = format!("#similar-list li[data-case='{number}'] button[name=merge_into]");
        hotline.wait_for(&candidate).await;
        hotline.screenshot(&format!("{engine}-desk-similar")).await;
        hotline.click(&candidate).await;
        hotline.wait_for("#filed[data-status=merged]").await;
        let merged =
            hotline.client.find(Locator::Css("#filed")).await.unwrap().attr("data-case").await.unwrap().unwrap();
        assert_ne!(merged, number);
        hotline.close().await;
        (number, merged)
    });

    // The merged call says which case it joined.
    let (_, history) = get_json_with(served, &format!("/api/v1/cases/{merged}/history"), &[("authorization", &city)]);
    assert!(history.to_string().contains(&number), "{history}");

    // The desk's queue of the district's open cases exports as a workbook the offices open; the
    // merged call, no longer open, is not in it.
    let operator = token(served, "operator");
    let (status, headers, workbook) = get_bytes(
        served,
        "/api/v1/cases/export?status=accepted,dispatched,in_progress&format=xlsx",
        &[("authorization", &operator)],
    );
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let table = String::from_utf8(converted_by_libreoffice(&workbook, "csv")).unwrap();
    assert!(table.starts_with("number,status,"), "{table}");
    assert!(table.contains(&number) && !table.contains(&merged), "{table}");

    // The department claims and resolves it with a photo of the repair.
    served.account("road-handler", Some("department:360302:jt"), &[Role::DepartmentHandler]);
    let page = format!("/work/cases/{number}");
    let photo = std::env::temp_dir().join(format!("pingan-desk-{engine}-{}.png", std::process::id()));
    std::fs::write(&photo, pingan_test_support::tiny_png()).unwrap();
    served.runtime.block_on(async {
        let department = Browser::start(&served.base).await;
        department.goto(&page).await;
        department.log_in("road-handler", DEMO_PASSWORD).await;
        department.click("form[data-action=claim] button").await;
        department.wait_for("#case-done[data-action=claim]").await;
        department.fill("form[data-action=resolve] input[name=result]", "已用沥青修补路面").await;
        let file = department.client.find(Locator::Css("form[data-action=resolve] input[name=photo]")).await.unwrap();
        file.send_keys(photo.to_str().unwrap()).await.unwrap();
        department.click("form[data-action=resolve] button").await;
        department.wait_for("#case-done[data-action=resolve]").await;
        department.wait_for("#result-photos img").await;
        department.screenshot(&format!("{engine}-case-resolved-with-photo")).await;
        department.close().await;
    });
    std::fs::remove_file(&photo).unwrap();

    served.runtime.block_on(async {
        let county = Browser::start(&served.base).await;
        county.goto("/work/centre").await;
        county.log_in("county", DEMO_PASSWORD).await;
        let closed = "#key-figures tr[data-figure=closed] td.month";
        assert_eq!(county.text(closed).await, "0");
        county.goto(&page).await;
        assert!(county.has("#case-map svg #marker").await, "the map spot");
        county.click("form[data-action=verify] button").await;
        county.wait_for("#case-done[data-action=verify]").await;

        let hotline = Browser::start(&served.base).await;
        hotline.goto(&page).await;
        hotline.log_in("operator", DEMO_PASSWORD).await;
        hotline.click("form[data-action=call_back] button").await;
        hotline.wait_for("#case-done[data-action=call_back]").await;
        hotline.close().await;

        county.goto(&page).await;
        county.click("form[data-action=close] button").await;
        county.wait_for("#case-done[data-action=close]").await;
        assert!(county.text("#history").await.contains("回访"));
        county.goto("/work/centre").await;
        assert_eq!(county.text(closed).await, "1", "the command centre's figures follow");
        county.close().await;
    });
}

#[test]
fn case_desk_in_chromium_on_sqlite() {
    check_desk(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn case_desk_in_chromium_on_postgres() {
    check_desk(&served(Engine::Postgres), "postgres");
}
