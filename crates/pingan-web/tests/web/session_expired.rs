//! A session that ends while a form is being filled loses nothing: the form posted without a
//! valid session gets the login page saying so (401, never a redirection), carrying what was
//! typed; once signed in, the person finds the form filled, checks it and sends it again. Nothing
//! is acted on before they do, and nothing typed goes into an address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::Locator;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_test_support::browser::Browser;
use pingan_test_support::{Engine, Served, get_json_with, post_raw, report_neighbour_disputes, served, token};

const NOTE: &str = "已电话联系居民，约定周三上门查看漏水 & 协调楼上住户";

/// The version of case `number` as the village's centre reads it over the API.
fn version(served: &Served, number: &str) -> i64 {
    let village = token(served, "village");
    let (status, case) = get_json_with(served, &format!("/api/v1/cases/{number}"), &[("authorization", &village)]);
    assert_eq!(status, 200, "{case}");
    case["version"].as_i64().unwrap()
}

fn check_nothing_typed_is_lost(served: &Served, engine: &str) {
    let number = report_neighbour_disputes(served, &["楼上漏水，天花板渗水"]).remove(0);
    let page = format!("/work/cases/{number}");
    served.runtime.block_on(async {
        let browser = Browser::start(&served.base).await;
        browser.goto(&page).await;
        browser.log_in("village", DEMO_PASSWORD).await;
        assert_eq!(browser.path().await, page);
        browser.fill("form[data-action=note] input[name=reason]", NOTE).await;

        // The session is ended behind the page's back: logged out from another tab.
        let first = browser.client.window().await.unwrap();
        let other = browser.client.new_window(true).await.unwrap();
        browser.client.switch_to_window(other.handle).await.unwrap();
        browser.goto("/login").await;
        browser.click("#logout-form button[type=submit]").await;
        browser.wait_for("#login-form").await;
        browser.client.close_window().await.unwrap();
        browser.client.switch_to_window(first).await.unwrap();

        // Sent anyway: the login page says why, and keeps the form; nothing in the address.
        browser.click("form[data-action=note] button").await;
        browser.wait_for("#form-problem[data-code=session_expired]").await;
        let problem = browser.text("#form-problem").await;
        assert!(problem.contains("会话已过期") && problem.contains("session expired"), "{problem}");
        assert_eq!(browser.path().await, format!("{page}/act"), "the post's own answer, not a redirection");
        let kept = browser.client.find(Locator::Css("#login-form input[name=kept]")).await.unwrap();
        assert!(kept.attr("value").await.unwrap().unwrap().contains("reason="));
        assert!(!browser.source().await.contains("name=\"csrf\" value=\"\""), "a fresh token for the login form");
        browser.screenshot(&format!("{engine}-session-expired-login")).await;
        browser.check_accessibility(&format!("{engine} session expired login")).await;
        assert_eq!(version(served, &number), 1, "nothing acted on");

        // Signed in again: the form as it was, to check and send.
        browser.fill("#login-form input[name=login]", "village").await;
        browser.fill("#login-form input[name=password]", DEMO_PASSWORD).await;
        browser.click("#login-form button[type=submit]").await;
        browser.wait_for("#resubmit-form").await;
        let url = browser.client.current_url().await.unwrap();
        assert!(url.query().is_none() && !url.as_str().contains("reason"), "nothing typed in an address: {url}");
        assert!(browser.text("#resubmit-notice").await.contains("会话刚才已过期"));
        let form = browser.client.find(Locator::Css("#resubmit-form")).await.unwrap();
        assert_eq!(form.attr("action").await.unwrap().as_deref(), Some(format!("{page}/act").as_str()));
        let reason = browser.client.find(Locator::Css("#resubmit-form [name=reason]")).await.unwrap();
        assert_eq!(reason.prop("value").await.unwrap().as_deref(), Some(NOTE));
        let label = browser.text("label[for='kept-3']").await;
        assert_eq!(label, "说明", "the field under the label its form gives it");
        let action = browser.client.find(Locator::Css("#resubmit-form [name=action]")).await.unwrap();
        assert_eq!(action.prop("value").await.unwrap().as_deref(), Some("note"));
        assert!(!browser.has("#resubmit-form [name=kept]").await);
        browser.screenshot(&format!("{engine}-session-expired-resubmit")).await;
        browser.check_accessibility(&format!("{engine} resubmit")).await;
        assert_eq!(version(served, &number), 1, "nothing acted on before the person sends it");

        // Sent: the note is in the case's history.
        browser.click("#resubmit-form button[type=submit]").await;
        browser.wait_for("#case-done[data-action=note]").await;
        assert!(browser.text("#history").await.contains(NOTE), "{}", browser.text("#history").await);
        browser.close().await;
    });
    assert_eq!(version(served, &number), 2);
}

#[test]
fn nothing_typed_is_lost_when_the_session_ends_in_chromium_on_sqlite() {
    check_nothing_typed_is_lost(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn nothing_typed_is_lost_when_the_session_ends_in_chromium_on_postgres() {
    check_nothing_typed_is_lost(&served(Engine::Postgres), "postgres");
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Over HTTP: a form without a session gets the login page (401) with its fields, its CSRF token
/// left out; a form too large to keep, or a kept form that would go elsewhere, is refused plainly.
#[test]
fn a_form_without_a_session_is_kept_or_refused_plainly() {
    let served = served(Engine::Sqlite);
    let number = report_neighbour_disputes(&served, &["楼道堆放杂物"]).remove(0);
    let action = format!("/work/cases/{number}/act");
    let (status, page) = post_raw(
        &served,
        &action,
        &[FORM],
        "csrf=stale-token&action=note&version=1&reason=%E5%B7%B2%E8%81%94%E7%B3%BB",
    );
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("data-code=\"session_expired\""), "{page}");
    assert!(page.contains(&format!("name=\"kept_action\" value=\"{action}\"")), "{page}");
    assert!(page.contains("value=\"action=note&#38;version=1&#38;reason=%E5%B7%B2%E8%81%94%E7%B3%BB\""), "{page}");
    assert!(!page.contains("stale-token"), "the old token is not kept");
    assert_eq!(version(&served, &number), 1);

    // More fields than a workbench form has: the login page says nothing could be kept.
    let many: Vec<String> = (0..60).map(|i| format!("f{i}=x")).collect();
    let (status, page) = post_raw(&served, &action, &[FORM], &many.join("&"));
    assert_eq!(status, 413, "{page}");
    assert!(page.contains("data-code=\"form_too_large_to_keep\"") && page.contains("id=\"login-form\""), "{page}");
    assert!(!page.contains("name=\"kept\""), "{page}");
    let (status, page) = post_raw(&served, &action, &[FORM], &format!("reason={}", "x".repeat(70 * 1024)));
    assert_eq!(status, 413, "{page}");
    assert!(page.contains("data-code=\"form_too_large_to_keep\""), "{page}");

    // A kept form is sent back only to the workbench: the login refuses another destination.
    for elsewhere in ["https://elsewhere.example/work/x", "//elsewhere.example/work/x", "/login"] {
        let encoded: String = url::form_urlencoded::byte_serialize(elsewhere.as_bytes()).collect();
        let body = format!("csrf=x&login=village&password=x&kept=reason%3Dx&kept_action={encoded}");
        let (status, page) = post_raw(&served, "/login", &[FORM], &body);
        assert_eq!(status, 400, "{elsewhere}: {page}");
        assert!(page.contains("data-code=\"invalid_form_action\""), "{elsewhere}: {page}");
    }
}
