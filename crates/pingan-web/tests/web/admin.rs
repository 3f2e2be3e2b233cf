//! The administration pages in a real headless Chromium, on both engines: an administrator creates
//! an account whose shown first password works, gives it a new one and locks it; someone who does
//! not administer gets neither the pages nor their entry in the navigation; a bad CSV upload is
//! refused with its line named and changes nothing, a good one takes effect; the access log's
//! filter and export hold a reveal made before; a person's own API token is created and revoked.
//! Screenshots of every page are kept as artefacts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Datelike;
use fantoccini::Locator;
use pingan_app::demo::DEMO_PASSWORD;
use pingan_test_support::browser::Browser;
use pingan_test_support::{Engine, JSON, Served, get_json_with, get_with, post, served, token};

/// The browser's cookies for this server, as a request header (to fetch what the page links to).
async fn cookies(browser: &Browser) -> String {
    let all = browser.client.get_all_cookies().await.unwrap();
    all.iter().map(|c| format!("{}={}", c.name(), c.value())).collect::<Vec<_>>().join("; ")
}

/// Chooses `text` as the file of the upload form, written to a file named `name`, and sends it.
async fn upload(browser: &Browser, directory: &std::path::Path, name: &str, text: &str) {
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap();
    let input = browser.client.find(Locator::Css("#upload-file")).await.unwrap();
    input.send_keys(path.to_str().unwrap()).await.unwrap();
    browser.click("#upload-form button[type=submit]").await;
}

/// What `POST /api/v1/auth/login` answers for a login and password: status and error code.
fn api_login(served: &Served, login: &str, password: &str) -> (u16, String) {
    let body = serde_json::json!({ "login": login, "password": password }).to_string();
    let (status, answer) = post(served, "/api/v1/auth/login", &[JSON], &body);
    (status, answer["error"]["code"].as_str().unwrap_or_default().to_owned())
}

async fn attribute(browser: &Browser, css: &str, name: &str) -> String {
    let element = browser.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    element.attr(name).await.unwrap().unwrap_or_default()
}

fn check_admin(served: &Served, engine: &str) {
    let files = tempfile::tempdir().unwrap();
    // A report whose reporter's phone a county dispatcher reveals before the administrator looks.
    let report = serde_json::json!({
        "channel": "resident", "category": "dispute.neighbour", "lon": 113.8543, "lat": 27.6229,
        "description": "邻居装修噪音扰民", "reporter_name": "周敏", "reporter_phone": "13700001111"
    });
    let (status, created) = post(served, "/api/v1/cases", &[JSON], &report.to_string());
    assert_eq!(status, 201, "{created}");
    let number = created["case"]["number"].as_str().unwrap().to_owned();
    let county = token(served, "county");
    let reveal = serde_json::json!({ "reason": "回访核实噪音时段" }).to_string();
    let (status, revealed) =
        post(served, &format!("/api/v1/cases/{number}/reveal"), &[JSON, ("authorization", &county)], &reveal);
    assert_eq!(status, 200, "{revealed}");

    served.runtime.block_on(async {
        // Someone who does not administer: no entry in the navigation, and the pages refuse.
        let dispatcher = Browser::start(&served.base).await;
        dispatcher.goto("/work").await;
        dispatcher.log_in("county", DEMO_PASSWORD).await;
        assert!(!dispatcher.has("header nav a[href='/work/admin']").await);
        for page in ["/work/admin/accounts", "/work/admin/units", "/work/admin/categories", "/work/admin/access-log"] {
            dispatcher.goto(page).await;
            dispatcher.wait_for("#problem[data-status='403']").await;
        }
        let (status, _, body) =
            get_with(served, "/work/admin/access-log.csv", &[("cookie", &cookies(&dispatcher).await)]);
        assert_eq!(status, 403, "{body}");
        assert!(!body.contains("回访核实噪音时段"));
        dispatcher.close().await;

        let admin = Browser::start(&served.base).await;
        admin.goto("/work/admin").await;
        admin.log_in("admin", DEMO_PASSWORD).await;
        assert_eq!(admin.path().await, "/work/admin/accounts", "the administration begins with the accounts");
        assert!(admin.has("header nav a[href='/work/admin'][aria-current='page']").await);
        admin.screenshot(&format!("{engine}-admin-accounts")).await;

        // A refused account comes back as typed, with the refusal and its code.
        admin.fill("#new-login", "wang-grid").await;
        admin.fill("#new-name", "王网格员").await;
        admin.fill("#new-unit", "grid:360302008205001").await;
        admin.click("#create-account input[value=administrator]").await;
        admin.click("#create-account button[type=submit]").await;
        admin.wait_for("#form-problem[data-code='role_unit_mismatch']").await;
        assert_eq!(attribute(&admin, "#new-name", "value").await, "王网格员");
        assert!(admin.has("#create-account input[value=administrator]:checked").await);
        admin.screenshot(&format!("{engine}-admin-account-refused")).await;

        // Created: the first password is on the answer, never in its address.
        admin.click("#create-account input[value=administrator]").await;
        admin.click("#create-account input[value=grid_worker]").await;
        admin.click("#create-account button[type=submit]").await;
        admin.wait_for("#secret[data-login='wang-grid'][data-what='created']").await;
        let first = admin.text("#first-password").await;
        assert_eq!(first.len(), 16, "{first}");
        assert!(!admin.path().await.contains(&first));
        assert!(admin.has("tr[data-login='wang-grid'][data-disabled='false']").await);
        assert!(admin.text("tr[data-login='wang-grid']").await.contains("网格员"));
        admin.screenshot(&format!("{engine}-admin-account-created")).await;

        // The new account logs in with it, once it has chosen its own.
        let newcomer = Browser::start(&served.base).await;
        newcomer.goto("/password").await;
        newcomer.fill("#password-form input[name=login]", "wang-grid").await;
        newcomer.fill("#password-form input[name=old_password]", &first).await;
        newcomer.fill("#password-form input[name=new_password]", "网格巡查-2026-秋").await;
        newcomer.click("#password-form button[type=submit]").await;
        newcomer.wait_for("#password-changed").await;
        newcomer.log_in("wang-grid", "网格巡查-2026-秋").await;
        assert_eq!(attribute(&newcomer, "#signed-in", "data-login").await, "wang-grid");
        assert!(!newcomer.has("header nav a[href='/work/admin']").await, "a grid worker does not administer");

        // A new first password: the old one and the session stop working.
        admin.click("tr[data-login='wang-grid'] form.reset button").await;
        admin.wait_for("#secret[data-login='wang-grid'][data-what='reset']").await;
        let reset = admin.text("#first-password").await;
        assert_ne!(reset, first);
        assert_eq!(api_login(served, "wang-grid", "网格巡查-2026-秋"), (401, "bad_credentials".into()));
        assert_eq!(api_login(served, "wang-grid", &reset), (403, "password_change_required".into()));
        newcomer.goto("/work").await;
        assert!(newcomer.path().await.starts_with("/login"), "the session was revoked");
        newcomer.close().await;

        // Locked, it cannot log in even with the right password; unlocked, it can again.
        admin.click("tr[data-login='wang-grid'] form.lock button").await;
        admin.wait_for("#account-done[data-what='locked'][data-login='wang-grid']").await;
        assert!(admin.has("tr[data-login='wang-grid'][data-disabled='true']").await);
        assert_eq!(api_login(served, "wang-grid", &reset), (403, "account_disabled".into()));
        admin.screenshot(&format!("{engine}-admin-account-locked")).await;
        admin.click("tr[data-login='wang-grid'] form.unlock button").await;
        admin.wait_for("#account-done[data-what='unlocked']").await;
        assert_eq!(api_login(served, "wang-grid", &reset), (403, "password_change_required".into()));

        // Units and their members, by kind and division.
        admin.goto("/work/admin/units?kind=grid&division=360302008").await;
        admin.wait_for("#units").await;
        let grid = admin.text("tr[data-unit='grid:360302008205001']").await;
        for member in ["wang-grid", "gridleader", "volunteer"] {
            assert!(grid.contains(member), "{member} in {grid}");
        }
        let kinds = admin.client.find_all(Locator::Css("#units tbody tr[data-kind]")).await.unwrap();
        assert!(!kinds.is_empty());
        for row in kinds {
            assert_eq!(row.attr("data-kind").await.unwrap().as_deref(), Some("grid"));
        }
        admin.screenshot(&format!("{engine}-admin-units")).await;
        admin.goto("/work/admin/units?kind=department&division=360302").await;
        admin.wait_for("#units").await;
        assert!(admin.has("tr[data-kind='department']").await);
        assert!(!admin.has("tr[data-kind='grid']").await);
        admin.goto("/work/admin/units?division=360313").await;
        admin.wait_for("#units").await;
        assert!(!admin.has("tr[data-unit='grid:360302008205001']").await, "another county's");

        // Grid staff: a bad line refuses the file and nothing changes; a good file replaces the
        // grid's staff.
        let village = "/work/admin/grid-staff?division=360302008205";
        admin.goto(village).await;
        admin.wait_for("#grid-staff").await;
        let before = admin.text("#grid-staff").await;
        admin.screenshot(&format!("{engine}-admin-grid-staff")).await;
        let bad = "grid,role,name\n360302008205001,leader,赵新\n360302008205001,chief,钱多\n";
        upload(&admin, files.path(), "staff-bad.csv", bad).await;
        admin.wait_for("#upload-problem[data-code='invalid_row']").await;
        let problem = admin.text("#upload-problem").await;
        assert!(problem.contains("staff-bad.csv") && problem.contains("第 3 行"), "{problem}");
        admin.screenshot(&format!("{engine}-admin-grid-staff-refused")).await;
        admin.goto(village).await;
        admin.wait_for("#grid-staff").await;
        assert_eq!(admin.text("#grid-staff").await, before, "nothing changed");
        let good = "grid,role,name\n360302008205001,leader,赵新\n360302008205001,member,钱多\n";
        upload(&admin, files.path(), "staff.csv", good).await;
        admin.wait_for("#upload-done[data-done='2']").await;
        admin.goto(village).await;
        admin.wait_for("#grid-staff").await;
        let names: Vec<String> = {
            let mut names = Vec::new();
            for row in admin.client.find_all(Locator::Css("tr[data-grid='360302008205001'] th")).await.unwrap() {
                names.push(row.text().await.unwrap());
            }
            names
        };
        assert_eq!(names, ["赵新", "钱多"]);
        let (status, _, csv) = get_with(
            served,
            "/work/admin/grid-staff.csv?division=360302008205",
            &[("cookie", &cookies(&admin).await)],
        );
        assert_eq!(status, 200);
        assert!(csv.trim_start_matches('\u{feff}').starts_with("grid,role,name\n"), "{csv}");
        assert!(csv.contains("360302008205001,leader,赵新\n360302008205001,member,钱多\n"), "{csv}");

        // Dispatch rules, the same way.
        admin.goto("/work/admin/dispatch-rules").await;
        admin.wait_for("#dispatch-rules").await;
        let rule = "tr[data-category='dispute.neighbour'][data-division='360302008']";
        assert!(!admin.has(rule).await);
        let bad = "category,division,unit\ndispute.neighbour,360302008,centre:360302008\nno.such,360302008,centre:360302008\n";
        upload(&admin, files.path(), "rules-bad.csv", bad).await;
        admin.wait_for("#upload-problem[data-code='invalid_row']").await;
        assert!(admin.text("#upload-problem").await.contains("第 3 行"));
        assert!(!admin.has(rule).await, "nothing changed");
        let outside = "category,division,unit\ndispute.neighbour,3601,centre:3601\n";
        upload(&admin, files.path(), "rules-outside.csv", outside).await;
        admin.wait_for("#upload-problem[data-code='invalid_row']").await;
        assert!(admin.text("#upload-problem").await.contains("outside"));
        let good = "category,division,unit\ndispute.neighbour,360302008,centre:360302008\n";
        upload(&admin, files.path(), "rules.csv", good).await;
        admin.wait_for("#upload-done[data-done='1']").await;
        assert!(admin.has(&format!("{rule}[data-unit='centre:360302008']")).await);
        admin.screenshot(&format!("{engine}-admin-dispatch-rules")).await;
        let (_, _, csv) = get_with(served, "/work/admin/dispatch-rules.csv", &[("cookie", &cookies(&admin).await)]);
        assert!(csv.contains("dispute.neighbour,360302008,centre:360302008"), "{csv}");

        // The category book: a file that drops a category in use is refused whole; a longer
        // deadline takes effect at once as the next version.
        admin.goto("/work/admin/categories").await;
        admin.wait_for("#categories").await;
        assert_eq!(attribute(&admin, "#categories-title", "data-version").await, "1");
        assert!(admin.text("tr[data-code='life.repair']").await.contains("8 / 40 h"));
        admin.screenshot(&format!("{engine}-admin-categories")).await;
        let (status, _, book) = get_with(served, "/work/admin/categories.csv", &[("cookie", &cookies(&admin).await)]);
        assert_eq!(status, 200);
        assert!(book.contains("life.repair,life,家电维修,Appliance repair,village,,8,40,"), "{book}");
        let dropped: String = book.lines().filter(|l| !l.starts_with("life.errand,")).map(|l| format!("{l}\n")).collect();
        upload(&admin, files.path(), "book-dropped.csv", &dropped).await;
        admin.wait_for("#upload-problem[data-code='category_dropped']").await;
        assert_eq!(attribute(&admin, "#categories-title", "data-version").await, "1");
        let longer = book.replace("life.repair,life,家电维修,Appliance repair,village,,8,40,", "life.repair,life,家电维修,Appliance repair,village,,8,48,");
        upload(&admin, files.path(), "book.csv", &longer).await;
        admin.wait_for("#upload-done[data-done='2']").await;
        assert_eq!(attribute(&admin, "#categories-title", "data-version").await, "2");
        assert!(admin.text("tr[data-code='life.repair']").await.contains("8 / 48 h"));

        // The calendar in force.
        admin.goto("/work/admin/calendar").await;
        admin.wait_for("#office-hours").await;
        assert!(admin.text("#office-hours").await.contains("08:30–12:00"));
        let year = pingan_app::clock::Clock::now(&pingan_app::clock::SystemClock).with_timezone(&pingan_core::calendar::china_standard_time()).year();
        assert!(admin.has(&format!("table[data-year='{year}']")).await);
        if pingan_app::context::SHIPPED_CALENDAR.contains(&format!("\n{year}-")) {
            assert!(admin.has(&format!("table[data-year='{year}'] tr[data-kind='rest']")).await);
        } else {
            assert!(admin.has(&format!("#year-{year}-missing")).await);
        }
        admin.screenshot(&format!("{engine}-admin-calendar")).await;

        // The access log: the reveal made before, found by its filter and in the export.
        admin.goto("/work/admin/access-log").await;
        admin.wait_for("#log-filter").await;
        admin.fill("#log-login", "county").await;
        admin.fill("#log-case", &number).await;
        admin.client.find(Locator::Css("#log-event option[value='reveal_reporter']")).await.unwrap().click().await.unwrap();
        admin.click("#log-filter button[type=submit]").await;
        admin.wait_for(&format!("#access-log tr[data-event='reveal_reporter'][data-login='county'][data-number='{number}']")).await;
        assert!(admin.text("#access-log").await.contains("回访核实噪音时段"));
        let rows = admin.client.find_all(Locator::Css("#access-log tbody tr[data-event]")).await.unwrap();
        assert_eq!(rows.len(), 1, "one reveal of that case by that login");
        admin.screenshot(&format!("{engine}-admin-access-log")).await;
        let export = attribute(&admin, "#log-export", "href").await;
        let export = export.strip_prefix(&served.base).unwrap_or(&export).to_owned();
        let (status, head, csv) = get_with(served, &export, &[("cookie", &cookies(&admin).await)]);
        assert_eq!(status, 200, "{export}: {csv}");
        assert!(head["content-type"].to_str().unwrap().starts_with("text/csv"));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[1].contains(",county,") && lines[1].contains("reveal_reporter") && lines[1].contains("回访核实噪音时段") && lines[1].contains(&number));
        // Another filter leaves it out.
        admin.goto("/work/admin/access-log?event=login_failed&login=county").await;
        admin.wait_for("#access-log").await;
        assert!(!admin.has("#access-log tr[data-event='reveal_reporter']").await);
        admin.goto("/work/admin/access-log?from=2026-13-01").await;
        admin.wait_for("#form-problem[data-code='invalid_parameter']").await;

        // The language switch on an administration page, and back.
        admin.goto("/work/admin/accounts").await;
        admin.click("#lang-switch").await;
        admin.wait_for("html[lang=en]").await;
        assert_eq!(admin.text("main h1").await, "Accounts");
        assert_eq!(admin.path().await, "/work/admin/accounts");
        admin.screenshot(&format!("{engine}-admin-accounts-en")).await;
        admin.click("#lang-switch").await;
        admin.wait_for("html[lang=zh-CN]").await;

        // One's own API token: created (its secret shown once), used, revoked.
        admin.click("#tokens-link").await;
        admin.wait_for("#issue-token").await;
        admin.fill("#token-label", "12345 热线对接").await;
        admin.fill("#token-days", "30").await;
        admin.fill("#token-password", "not-my-password").await;
        admin.click("#issue-token button[type=submit]").await;
        admin.wait_for("#form-problem[data-code='bad_credentials']").await;
        assert_eq!(attribute(&admin, "#token-label", "value").await, "12345 热线对接");
        admin.fill("#token-password", DEMO_PASSWORD).await;
        admin.click("#issue-token button[type=submit]").await;
        admin.wait_for("#token-secret").await;
        let secret = admin.text("#token-secret").await;
        assert!(secret.starts_with("pa_"), "{secret}");
        assert!(!admin.path().await.contains(&secret));
        admin.screenshot(&format!("{engine}-tokens")).await;
        let bearer = format!("Bearer {secret}");
        let (status, me) = get_json_with(served, "/api/v1/me", &[("authorization", &bearer)]);
        assert_eq!((status, me["login"].as_str()), (200, Some("admin")));
        admin.click("tr[data-label='12345 热线对接'] form.revoke button").await;
        admin.wait_for("#token-revoked").await;
        assert!(admin.has("tr[data-label='12345 热线对接'][data-revoked='true']").await);
        let (status, refused) = get_json_with(served, "/api/v1/me", &[("authorization", &bearer)]);
        assert_eq!((status, refused["error"]["code"].as_str()), (401, Some("credential_revoked")));
        admin.close().await;
    });
}

#[test]
fn administration_in_chromium_on_sqlite() {
    check_admin(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn administration_in_chromium_on_postgres() {
    check_admin(&served(Engine::Postgres), "postgres");
}
