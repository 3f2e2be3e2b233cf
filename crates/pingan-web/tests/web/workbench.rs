//! The officials' workbench in a real headless Chromium, clicking and typing as people do: a
//! county centre accepts and dispatches a resident's report, a department claims and resolves it,
//! the centre verifies it; someone acting first is said plainly; a case outside one's scope is
//! "not found"; the language switch works. Screenshots of each page are kept as artefacts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::Locator;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_core::access::Role;
use pingan_test_support::browser::Browser;
use pingan_test_support::{
    Engine, JSON, Served, Serving, get_json_with, post, served, served_as, served_over_plain_http, token,
};

fn check_workbench(served: &Served, engine: &str) {
    let report = serde_json::json!({
        "channel": "resident", "category": "livelihood.road_repair", "lon": 113.8543, "lat": 27.6229,
        "description": "公园路路面塌陷，过往车辆颠簸", "reporter_name": "李四光", "reporter_phone": "13912345678"
    });
    let (status, created) = post(served, "/api/v1/cases", &[JSON], &report.to_string());
    assert_eq!(status, 201, "{created}");
    let number = created["case"]["number"].as_str().unwrap().to_owned();
    let page = format!("/work/cases/{number}");
    let city = token(served, "city");

    // The county's dispatcher, sent to log in first, comes back to the queue.
    let handler = served.runtime.block_on(async {
        let county = Browser::start(&served.base).await;
        county.goto("/work").await;
        assert!(county.path().await.starts_with("/login?next="), "{}", county.path().await);
        county.log_in("county", DEMO_PASSWORD).await;
        assert_eq!(county.path().await, "/work");
        assert!(county.text("#signed-in").await.contains("安源区综治中心"));
        county.screenshot(&format!("{engine}-queue")).await;
        // A family of categories filters as its members do; the API's lists take one too.
        for (family, listed) in [("livelihood", true), ("dispute", false)] {
            county.goto(&format!("/work?category={family}")).await;
            county.wait_for("#queue").await;
            assert_eq!(county.has(&format!("tr[data-case='{number}']")).await, listed, "{family}");
            let (status, list) =
                get_json_with(served, &format!("/api/v1/cases?category={family}"), &[("authorization", &city)]);
            let found = list["cases"].as_array().unwrap().iter().any(|c| c["number"] == number.as_str());
            assert_eq!((status, found), (200, listed), "{family}: {list}");
        }
        county.goto("/work").await;
        county.wait_for("#queue").await;
        county.click(&format!("tr[data-case='{number}'] a")).await;
        assert_eq!(county.path().await, page);
        county.screenshot(&format!("{engine}-case-reported")).await;
        // The reporter's contact is masked until a reason is given, and the reading is logged.
        assert!(county.text("#reporter").await.contains("139****5678"));
        assert!(!county.source().await.contains("13912345678"));
        county.fill("#reveal-form input[name=reason]", "回访核实路面位置").await;
        county.click("#reveal-form button").await;
        county.wait_for("#reporter-clear").await;
        assert!(county.text("#reporter-clear").await.contains("13912345678"));
        assert_eq!(county.path().await, format!("{page}/reveal"), "never in a link");
        assert!(!county.has("form[data-action=claim]").await, "a centre does not claim");
        county.click("form[data-action=accept] button").await;
        county.wait_for("#case-done[data-action=accept]").await;
        assert_eq!(county.path().await, format!("{page}?done=accept"), "after the action, a reload does not repeat it");
        county.click("form[data-action=dispatch] button").await;
        county.wait_for("#case-done[data-action=dispatch]").await;
        let handler = county.text("#case-handler").await;
        assert!(!handler.is_empty(), "dispatched to the suggested department");

        // Someone else acts first: the centre's form still carries the version it saw.
        let version: i64 = county
            .client
            .find(Locator::Css("#case"))
            .await
            .unwrap()
            .attr("data-version")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let supervise = serde_json::json!({ "action": "supervise", "expected_version": version, "reason": "请加快" });
        let (status, acted) = post(
            served,
            &format!("/api/v1/cases/{number}/actions"),
            &[JSON, ("authorization", &city)],
            &supervise.to_string(),
        );
        assert_eq!(status, 200, "{acted}");
        county.fill("form[data-action=note] input[name=reason]", "已电话联系承办单位").await;
        county.click("form[data-action=note] button").await;
        county.wait_for("#case-problem").await;
        assert!(county.text("#case-problem").await.contains("有人已先处理"), "{}", county.source().await);
        let fresh = county.client.find(Locator::Css("#case")).await.unwrap().attr("data-version").await.unwrap();
        assert_eq!(fresh, Some((version + 1).to_string()), "the case as it stands now");
        county.screenshot(&format!("{engine}-case-conflict")).await;

        // The language switch, and back.
        county.click("#lang-switch").await;
        county.wait_for("html[lang=en]").await;
        assert!(county.text("#actions h2").await.contains("What you may do"));
        assert_eq!(county.path().await, page, "back on the same page");
        county.click("#lang-switch").await;
        county.wait_for("html[lang=zh-CN]").await;
        assert!(county.text("#actions h2").await.contains("可以进行的操作"));
        county.close().await;
        handler
    });

    // The department's handler: the case's handler is a unit of 安源区; an account of it claims
    // and resolves.
    let (_, case) = get_json_with(served, &format!("/api/v1/cases/{number}"), &[("authorization", &city)]);
    let unit = case["handler"].as_str().unwrap().to_owned();
    assert!(unit.starts_with("department:360302:"), "{unit} ({handler})");
    served.account("road-handler", Some(&unit), &[Role::DepartmentHandler]);
    served.runtime.block_on(async {
        let department = Browser::start(&served.base).await;
        department.goto(&page).await;
        department.log_in("road-handler", DEMO_PASSWORD).await;
        assert_eq!(department.path().await, page, "back to the case after logging in");
        department.click("form[data-action=claim] button").await;
        department.wait_for("#case-done[data-action=claim]").await;
        department.fill("form[data-action=resolve] input[name=result]", "已修补路面").await;
        department.click("form[data-action=resolve] button").await;
        department.wait_for("#case-done[data-action=resolve]").await;
        department.screenshot(&format!("{engine}-case-resolved")).await;
        // Its queue of open cases no longer holds it; all its cases do.
        department.goto("/work?mine=1").await;
        department.wait_for("#queue").await;
        assert!(!department.has(&format!("tr[data-case='{number}']")).await);
        department.goto("/work?status=all&mine=1").await;
        department.wait_for("#queue").await;
        assert!(department.has(&format!("tr[data-case='{number}']")).await);
        department.close().await;

        // The centre verifies it; the history shows every step.
        let county = Browser::start(&served.base).await;
        county.goto(&page).await;
        county.log_in("county", DEMO_PASSWORD).await;
        county.click("form[data-action=verify] button").await;
        county.wait_for("#case-done[data-action=verify]").await;
        let history = county.text("#history").await;
        for step in ["上报", "受理", "派单", "督办", "签收", "处置完毕", "核查通过"] {
            assert!(history.contains(step), "{step} in {history}");
        }
        county.close().await;

        let admin = token(served, "admin");
        let (_, log) = get_json_with(served, "/api/v1/access-log", &[("authorization", &admin)]);
        let reveals = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "reveal_reporter" && e["reason"] == "回访核实路面位置");
        assert_eq!(reveals.count(), 1, "{log}");

        // A village's dispatcher may not see a county's case: "not found", never its content.
        let village = Browser::start(&served.base).await;
        village.goto(&page).await;
        village.log_in("village", DEMO_PASSWORD).await;
        assert_eq!(
            village.client.find(Locator::Css("#problem")).await.unwrap().attr("data-status").await.unwrap(),
            Some("404".into())
        );
        assert!(!village.source().await.contains("公园路路面塌陷"));
        village.screenshot(&format!("{engine}-not-found")).await;
        village.close().await;
    });
}

#[test]
fn workbench_in_chromium_on_sqlite() {
    check_workbench(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn workbench_in_chromium_on_postgres() {
    check_workbench(&served(Engine::Postgres), "postgres");
}

/// Signing in at a name the browser does not take for this computer, over plain HTTP: refused
/// with the reason shown when the server sets HTTPS cookies, working when the operator chose
/// `--plain-http`. The name is mapped to 127.0.0.1 inside the browser; nothing is looked up.
fn check_sign_in_at_an_intranet_name(engine: Engine) {
    let resolve = "--host-resolver-rules=MAP pingan.intranet 127.0.0.1";
    let secure = served(engine);
    secure.runtime.block_on(async {
        let browser = Browser::start_with(&secure.base.replace("127.0.0.1", "pingan.intranet"), &[resolve]).await;
        browser.goto("/login").await;
        browser.fill("#login-form input[name=login]", "county").await;
        browser.fill("#login-form input[name=password]", DEMO_PASSWORD).await;
        browser.click("#login-form button[type=submit]").await;
        browser.wait_for("#form-problem[data-code=cookie_refused]").await;
        browser.close().await;
    });
    let plain = served_over_plain_http(engine);
    plain.runtime.block_on(async {
        let browser = Browser::start_with(&plain.base.replace("127.0.0.1", "pingan.intranet"), &[resolve]).await;
        browser.goto("/work").await;
        browser.log_in("county", DEMO_PASSWORD).await;
        assert_eq!(browser.path().await, "/work");
        assert!(browser.has("#queue").await);
        browser.close().await;
    });
}

#[test]
fn sign_in_at_an_intranet_name_in_chromium_on_sqlite() {
    check_sign_in_at_an_intranet_name(Engine::Sqlite);
}

/// HTTPS served by Pingan itself (`--tls-cert`, `--tls-key`): signing in works with the secure
/// cookies at a name the browser does not take for this computer. The certificate is made for the
/// test; the browser is told to accept it.
#[test]
fn sign_in_over_pingans_own_https_in_chromium() {
    let directory = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["pingan.intranet".to_owned()]).unwrap();
    let (certificate, key) = (directory.path().join("cert.pem"), directory.path().join("key.pem"));
    std::fs::write(&certificate, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let tls = pingan_web::tls::acceptor(&certificate, &key).unwrap();
    let secure = served_as(Engine::Sqlite, Serving { tls: Some(tls), ..Serving::default() });
    assert!(secure.base.starts_with("https://"));
    secure.runtime.block_on(async {
        let switches = ["--host-resolver-rules=MAP pingan.intranet 127.0.0.1", "--ignore-certificate-errors"];
        let browser = Browser::start_with(&secure.base.replace("127.0.0.1", "pingan.intranet"), &switches).await;
        browser.goto("/work").await;
        browser.log_in("county", DEMO_PASSWORD).await;
        assert_eq!(browser.path().await, "/work");
        assert!(browser.has("#queue").await);
        browser.close().await;
    });

    // Files that are not a certificate and its key are refused at start, saying which and why.
    let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
    let other_key = directory.path().join("other-key.pem");
    std::fs::write(&other_key, other.signing_key.serialize_pem()).unwrap();
    for (certificate, key, says) in [
        (directory.path().join("missing.pem"), key.clone(), "missing.pem"),
        (key.clone(), key.clone(), "no certificate"),
        (certificate.clone(), other_key, "do not go together"),
    ] {
        let refused = pingan_web::tls::acceptor(&certificate, &key).err().expect("refused");
        assert_eq!(pingan_core::Explain::code(&refused), "invalid_file");
        assert!(refused.to_string().contains(says), "{refused}");
    }
}
