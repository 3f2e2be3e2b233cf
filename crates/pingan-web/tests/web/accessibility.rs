//! Every page, in Chinese and in English, checked by axe-core in a real headless Chromium: no
//! serious or critical violation of accessibility (labels, names, contrast, landmarks, language).
//! Screenshots of each are kept as artefacts. A new page joins by a line in `PAGES`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::demo::DEMO_PASSWORD;
use pingan_test_support::browser::Browser;
use pingan_test_support::{Engine, Served, act, close_through_the_grid, report_neighbour_disputes, served, token};
use serde_json::json;

/// A page to check.
struct Page {
    /// Its name in messages and screenshots.
    name: &'static str,
    /// Its path: `{open}` is a case still to be accepted, `{resolved}` a case resolved and
    /// awaiting verification, `{closed}` a case closed.
    path: &'static str,
    /// The demo account that looks at it; `None`: nobody signed in.
    as_: Option<&'static str>,
    /// What only this page shows: the check is of the page meant, not of a login form met
    /// on the way.
    shows: &'static str,
}

const fn page(name: &'static str, path: &'static str, as_: Option<&'static str>, shows: &'static str) -> Page {
    Page { name, path, as_, shows }
}

/// Every page of the site, with someone who may see it.
const PAGES: &[Page] = &[
    page("home", "/", None, "#grid-map"),
    page("home-routed", "/?lon=113.8543&lat=27.6229", None, "#route-result"),
    page("home-outside", "/?lon=100&lat=20", None, "#route-problem"),
    page("login", "/login", None, "#login-form"),
    page("password", "/password", None, "#password-form"),
    page("api-docs", "/api/docs", None, "section.operation"),
    page("not-found-signed-out", "/no/such/page", None, "#problem[data-status='404']"),
    page("login-signed-in", "/login", Some("county"), "#logout-form"),
    page("queue", "/work", Some("county"), "#queue tr[data-case]"),
    page("queue-filtered", "/work?status=all&category=dispute&q=%E6%BC%8F%E6%B0%B4&mine=1", Some("county"), "#queue"),
    page("queue-refused-filter", "/work?grid=abc", Some("county"), "#queue-problem"),
    page("centre", "/work/centre", Some("county"), "#key-figures"),
    page("bulletin", "/work/bulletin", Some("county"), "#ranking"),
    page("not-found", "/work/no-such-page", Some("county"), "#problem[data-status='404']"),
    page("case-to-accept", "/work/cases/{open}", Some("village"), "form[data-action=accept]"),
    page("case-done", "/work/cases/{open}?done=note", Some("village"), "#case-done"),
    page("case-to-verify", "/work/cases/{resolved}", Some("village"), "form[data-action=verify]"),
    page("case-closed", "/work/cases/{closed}", Some("county"), "#history li:nth-child(7)"),
    page("forbidden", "/work/centre?division=360302", Some("village"), "#problem[data-status='403']"),
    page("bulletin-weights", "/work/bulletin", Some("admin"), "#weights-form"),
    page("desk", "/work/desk", Some("operator"), "#intake"),
    page("desk-filed", "/work/desk?filed={open}", Some("operator"), "#filed"),
    page("admin-accounts", "/work/admin/accounts", Some("admin"), "#create-heading"),
    page("admin-units", "/work/admin/units?kind=department", Some("admin"), "#units-filter"),
    page("admin-grid-staff", "/work/admin/grid-staff", Some("admin"), "#grid-staff"),
    page("admin-dispatch-rules", "/work/admin/dispatch-rules", Some("admin"), "#upload-heading"),
    page("admin-categories", "/work/admin/categories", Some("admin"), "#categories"),
    page("admin-calendar", "/work/admin/calendar", Some("admin"), "#office-hours"),
    page("admin-access-log", "/work/admin/access-log", Some("admin"), "#log-filter"),
    page("tokens", "/work/tokens", Some("county"), "#issue-heading"),
];

/// The pages' paths with the test's cases put in.
fn path_of(page: &Page, [open, resolved, closed]: [&str; 3]) -> String {
    page.path.replace("{open}", open).replace("{resolved}", resolved).replace("{closed}", closed)
}

fn check_every_page(served: &Served, engine: &str) {
    let numbers =
        report_neighbour_disputes(served, &["楼上漏水，天花板渗水", "楼道堆放杂物堵塞通道", "邻居装修噪音扰民"]);
    let (open, resolved, closed) = (&numbers[0], &numbers[1], &numbers[2]);
    close_through_the_grid(served, closed);
    let (village, grid) = (token(served, "village"), token(served, "grid"));
    let mut version = act(served, &village, resolved, json!({ "action": "accept", "expected_version": 1 }));
    for mut body in [
        json!({ "action": "dispatch", "target": "grid:360302008205001" }),
        json!({ "action": "claim" }),
        json!({ "action": "resolve", "result": "已协调处置" }),
    ] {
        let who = if body["action"] == "dispatch" { &village } else { &grid };
        body["expected_version"] = json!(version);
        version = act(served, who, resolved, body);
    }

    let mut accounts: Vec<Option<&str>> = Vec::new();
    for page in PAGES {
        if !accounts.contains(&page.as_) {
            accounts.push(page.as_);
        }
    }
    let mut violations = Vec::new();
    let mut checked = 0;
    served.runtime.block_on(async {
        for account in accounts {
            let browser = Browser::start(&served.base).await;
            if let Some(login) = account {
                browser.log_in(login, DEMO_PASSWORD).await;
            }
            for page in PAGES.iter().filter(|p| p.as_ == account) {
                let path = path_of(page, [open, resolved, closed]);
                for lang in ["zh", "en"] {
                    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
                    browser.goto(&format!("/lang?to={lang}&back={back}")).await;
                    browser.wait_for(page.shows).await;
                    assert_eq!(browser.path().await, path, "{}: the page itself, not a redirection", page.name);
                    let name = format!("{engine}-a11y-{}-{lang}", page.name);
                    browser.screenshot(&name).await;
                    violations.extend(browser.accessibility_violations(&name).await);
                    checked += 1;
                }
            }
            browser.close().await;
        }
    });
    assert_eq!(checked, PAGES.len() * 2);
    assert!(
        violations.is_empty(),
        "{} serious or critical accessibility violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn every_page_passes_axe_in_chromium_on_sqlite() {
    check_every_page(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn every_page_passes_axe_in_chromium_on_postgres() {
    check_every_page(&served(Engine::Postgres), "postgres");
}

/// The check itself finds what it is meant to: a page with an unlabelled field, an image without
/// a text and illegible grey text fails it, naming the rules broken.
#[test]
fn the_accessibility_check_finds_violations_in_chromium() {
    let served = served(Engine::Sqlite);
    served.runtime.block_on(async {
        let browser = Browser::start(&served.base).await;
        browser.goto("/login").await;
        browser.wait_for("#login-form").await;
        let spoil = r#"
            const main = document.querySelector("main");
            main.insertAdjacentHTML("beforeend",
                '<input id="bare"><img src="/assets/none.png"><p style="color:#ddd;background:#fff">灰色小字</p>');
            return true;
        "#;
        browser.client.execute(spoil, Vec::new()).await.unwrap();
        let found = browser.accessibility_violations("spoiled login").await.join("\n");
        for rule in ["label", "image-alt", "color-contrast"] {
            assert!(found.contains(&format!(": {rule} (")), "{rule} in {found}");
        }
        assert!(found.contains("#bare"), "{found}");
        browser.close().await;
    });
}
