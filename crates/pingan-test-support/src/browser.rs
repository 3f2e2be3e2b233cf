//! A real headless Chromium driven through WebDriver (Debian's `chromedriver`), for tests that
//! click and type as people do. Each browser is its own profile: its cookies are its own.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

/// A headless Chromium and the driver that drives it, both ended when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    base: String,
}

/// Where screenshots of the pages tests visit are kept (under the target directory).
pub fn screenshot_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    let target = exe.ancestors().nth(3).map(std::path::Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let directory = target.join("browser-screenshots");
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

impl Browser {
    /// A fresh browser for the server at `base` (`http://127.0.0.1:PORT`).
    pub async fn start(base: &str) -> Browser {
        Browser::start_with(base, &[]).await
    }

    /// A fresh browser for `base` with more command-line switches (such as
    /// `--host-resolver-rules=MAP name 127.0.0.1`, to reach the server by a name that the browser
    /// does not take for this computer, without any name being looked up).
    pub async fn start_with(base: &str, switches: &[&str]) -> Browser {
        let chromium = std::env::var("PINGAN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromedriver = std::env::var("PINGAN_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver ({chromedriver}) is needed for this test: {e}"));
        // Nothing but the server under test: no updates, sync or other background requests.
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--no-first-run",
            "--window-size=1280,1000",
            "--lang=zh-CN",
        ];
        args.extend_from_slice(switches);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(error) => {
                    assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser { client, driver, base: base.to_owned() }
    }

    /// Opens `path` of the server.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The path and query of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Types `text` into the field `css` finds, after emptying it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks what `css` finds.
    pub async fn click(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.click().await.unwrap();
    }

    /// The text of what `css` finds.
    pub async fn text(&self, css: &str) -> String {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.text().await.unwrap()
    }

    /// Waits (up to 10 s) for `css` to find something: a form's answer arrives after the click.
    pub async fn wait_for(&self, css: &str) {
        let found = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        if let Err(error) = found {
            let page = self.source().await;
            panic!("waiting for {css}: {error}\n{page}");
        }
    }

    /// Whether `css` finds anything on the page.
    pub async fn has(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    /// The page's whole HTML.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Logs in as `login` with `password` through the login form, from wherever it was sent.
    pub async fn log_in(&self, login: &str, password: &str) {
        if !self.path().await.starts_with("/login") {
            self.goto("/login").await;
        }
        self.fill("#login-form input[name=login]", login).await;
        self.fill("#login-form input[name=password]", password).await;
        self.click("#login-form button[type=submit]").await;
        self.wait_for("#signed-in").await;
    }

    /// Keeps a screenshot of the page as `name`.png among the test artefacts.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// Runs axe-core on the page shown and panics, naming each, if it finds any serious or
    /// critical violation of accessibility (`page` names the page in the message).
    pub async fn check_accessibility(&self, page: &str) {
        let found = self.accessibility_violations(page).await;
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The serious and critical violations of accessibility axe-core finds on the page shown, one
    /// readable paragraph each: the rule, its impact, its help and the elements at fault (`page`
    /// names the page). The script is given to the page through WebDriver, which the page's
    /// content security policy does not govern: the product's policy stays as strict as it is.
    /// Panics if axe-core is not installed or could not run.
    pub async fn accessibility_violations(&self, page: &str) -> Vec<String> {
        let source = axe_source();
        let injected = self.client.execute(&format!("{source}\n;return typeof axe.run;"), Vec::new()).await;
        match injected {
            Ok(serde_json::Value::String(kind)) if kind == "function" => {}
            other => panic!("{page}: axe-core could not be loaded into the page: {other:?}"),
        }
        // Every rule axe runs by default; only the results that fail are sent back.
        let run = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
                .then(results => done(JSON.stringify({
                    passes: results.passes.length,
                    violations: results.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => ({ target: n.target.join(" "), impact: n.impact, summary: n.failureSummary }))
                    }))
                })))
                .catch(error => done(JSON.stringify({ error: String(error) })));
        "#;
        let answer =
            self.client.execute_async(run, Vec::new()).await.unwrap_or_else(|e| panic!("{page}: axe-core: {e}"));
        let answer: serde_json::Value = serde_json::from_str(answer.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{page}: axe-core's answer: {e}: {answer}"));
        if let Some(error) = answer.get("error") {
            panic!("{page}: axe-core failed: {error}");
        }
        assert!(answer["passes"].as_u64().unwrap_or(0) > 0, "{page}: axe-core checked nothing: {answer}");
        let path = self.path().await;
        let mut found = Vec::new();
        for violation in answer["violations"].as_array().into_iter().flatten() {
            let impact = violation["impact"].as_str().unwrap_or_default();
            if !matches!(impact, "serious" | "critical") {
                continue;
            }
            let nodes = violation["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
            let targets: Vec<String> = nodes
                .iter()
                .take(8)
                .map(|n| format!("      {} — {}", n["target"].as_str().unwrap_or_default(), first_line(&n["summary"])))
                .collect();
            let more =
                if nodes.len() > 8 { format!("\n      … and {} more", nodes.len() - 8) } else { String::new() };
            found.push(format!(
                "{page} ({path}): {} ({impact}): {}\n{}{more}",
                violation["id"].as_str().unwrap_or_default(),
                violation["help"].as_str().unwrap_or_default(),
                targets.join("\n"),
            ));
        }
        found
    }

    /// Ends the browser session.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where axe-core's script is: `PINGAN_AXE` if set, else what `npm ci` installed beside this crate
/// (`crates/pingan-test-support/axe`; `scripts/test` runs it).
pub fn axe_path() -> std::path::PathBuf {
    match std::env::var_os("PINGAN_AXE") {
        Some(path) => path.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("axe/node_modules/axe-core/axe.min.js"),
    }
}

/// axe-core's script, read once. Its absence fails the test that needs it, saying how to install it.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = axe_path();
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "axe-core is needed for the accessibility checks and is not at {}: {error}\n\
                 install it with `npm ci` in crates/pingan-test-support/axe (scripts/test does)",
                path.display()
            )
        })
    })
}

/// The first line of a failure summary (axe's summaries go on to list every fix).
fn first_line(summary: &serde_json::Value) -> String {
    let text = summary.as_str().unwrap_or_default();
    text.lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect::<Vec<_>>().join(" ")
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
