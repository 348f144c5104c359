//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver). Every page renders simulated data with nothing in the browser's log (no
//! console error, no failed request), the user lookup agrees with the API, the language
//! switches, a viewer's admin action and a form without its CSRF token are refused by the
//! server, and wrong passwords lock an account. Screenshots of every page are written to
//! `CARGO_TARGET_TMPDIR/dashboard-screenshots` (`.ci/run` installs chromium and
//! chromium-driver when they are missing).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::dashboard_pages::{PASSWORD, seeded};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(the_dashboard_works_in_a_real_browser);

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Every page in the navigation, by the path its link names.
const PAGES: [(&str, &str); 9] = [
    ("overview", "/dashboard"),
    ("retention", "/dashboard/retention"),
    ("economy", "/dashboard/economy"),
    ("segments", "/dashboard/segments"),
    ("hours", "/dashboard/hours"),
    ("proposals", "/dashboard/proposals"),
    ("jobs", "/dashboard/jobs"),
    ("users", "/dashboard/users"),
    ("keys", "/dashboard/keys"),
];

/// chromedriver on a port of its own, stopped when dropped.
struct Driver(Child, u16);

impl Driver {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while reqwest::get(format!("http://127.0.0.1:{port}/status")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver(child, port)
    }

    /// A new headless browser; its log keeps every console message and failed load.
    async fn browser(&self) -> Client {
        let mut caps = Capabilities::new();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1400",
        ];
        caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.1))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver's `se/log`: the browser's log entries since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// The log entries at level SEVERE (console errors, failed requests) since the last call.
async fn errors(browser: &Client) -> Vec<Value> {
    let log = browser.issue_cmd(BrowserLog).await.expect("the browser log");
    log.as_array().cloned().unwrap_or_default().into_iter().filter(|e| e["level"] == "SEVERE").collect()
}

/// How long a page may take to arrive after a click or a submission.
const PATIENCE: Duration = Duration::from_secs(15);

/// Signs in through the form and returns once the answer has arrived: another page, or the
/// sign-in page again with its problem. (A click or a submission returns before the page it
/// asks for has loaded, so every step below waits for what it expects.)
async fn sign_in(browser: &Client, app: &TestApp, name: &str, password: &str) {
    browser.goto(&format!("{}/dashboard/login", app.base)).await.unwrap();
    let form = browser.form(Locator::Css("form.sign-in")).await.unwrap();
    form.set_by_name("name", name).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    form.submit().await.unwrap();
    let started = Instant::now();
    while path(browser).await == "/dashboard/login" && browser.find(Locator::Css("p.problem")).await.is_err()
    {
        assert!(started.elapsed() < PATIENCE, "no answer to the sign-in");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn path(browser: &Client) -> String {
    browser.current_url().await.unwrap().path().to_owned()
}

/// Waits until the browser shows `expected`, failing with where it is after a while.
async fn arrives_at(browser: &Client, expected: &str) {
    let started = Instant::now();
    loop {
        let now = path(browser).await;
        if now == expected {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "at {now}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first element `css` finds once the page holding it has arrived.
async fn arrived(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap()
}

/// Submits a form built in the page: what a forged or hand-made request does.
async fn post_from_page(browser: &Client, action: &str, fields: Value) {
    let script = "const [action, fields] = arguments; const f = document.createElement('form');
        f.method = 'post'; f.action = action;
        for (const [k, v] of Object.entries(fields)) {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();";
    browser.execute(script, vec![json!(action), fields]).await.unwrap();
}

/// The error code of the page a refused request answers.
async fn code_shown(browser: &Client) -> String {
    arrived(browser, "p.code code").await.text().await.unwrap()
}

async fn the_dashboard_works_in_a_real_browser(backend: Backend) {
    let app = seeded(backend).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dashboard-screenshots")
        .join(format!("{backend:?}").to_lowercase());
    std::fs::create_dir_all(&shots).unwrap();

    sign_in(&browser, &app, "vic", PASSWORD).await;
    arrives_at(&browser, "/dashboard").await;
    for (name, href) in PAGES {
        browser.find(Locator::Css(&format!("nav a[href='{href}']"))).await.unwrap().click().await.unwrap();
        arrives_at(&browser, href).await;
        let title = browser.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
        assert!(!title.is_empty(), "{name} has a title");
        assert_eq!(errors(&browser).await, Vec::<Value>::new(), "{name}: the browser logged errors");
        std::fs::write(shots.join(format!("{name}.png")), browser.screenshot().await.unwrap()).unwrap();
    }

    // The user lookup shows the balance the API answers.
    browser.goto(&format!("{}/dashboard/segments", app.base)).await.unwrap();
    let member = browser.find(Locator::Css("td a[href^='/dashboard/users?id=']")).await.unwrap();
    let user = member.text().await.unwrap();
    browser.goto(&format!("{}/dashboard/users", app.base)).await.unwrap();
    let search = browser.form(Locator::Css("form.search")).await.unwrap();
    search.set_by_name("id", &user).await.unwrap();
    search.submit().await.unwrap();
    let shown = arrived(&browser, "section.figures .value").await.text().await.unwrap();
    let profile: Value = app
        .client
        .get(format!("{}/v1/users/{user}", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown.replace(',', ""), profile["balance"].to_string(), "{user}'s balance");

    // Korean by default; the switch turns the page English and back.
    assert!(browser.find(Locator::Css("html[lang=ko]")).await.is_ok());
    browser.find(Locator::Css("a.lang")).await.unwrap().click().await.unwrap();
    arrived(&browser, "html[lang=en]").await;
    assert_eq!(path(&browser).await, "/dashboard/users", "the switch comes back to the page");
    let users_link = browser.find(Locator::Css("nav a[href='/dashboard/users']")).await.unwrap();
    assert_eq!(users_link.text().await.unwrap(), "Users");
    browser.find(Locator::Css("a.lang")).await.unwrap().click().await.unwrap();
    arrived(&browser, "html[lang=ko]").await;

    // A viewer sees no revoke button, and the server refuses the action anyway.
    browser.goto(&format!("{}/dashboard/keys", app.base)).await.unwrap();
    assert!(browser.find(Locator::Css("button.danger")).await.is_err(), "no revoke button for a viewer");
    let key_id = app.state.store.api_keys().await.unwrap()[0].key_id.clone();
    let csrf = browser.find(Locator::Css("input[name=csrf]")).await.unwrap().attr("value").await.unwrap();
    post_from_page(&browser, &format!("/dashboard/keys/{key_id}/revoke"), json!({"csrf": csrf})).await;
    assert_eq!(code_shown(&browser).await, "admin_only");
    assert!(!app.state.store.api_key(&key_id).await.unwrap().unwrap().revoked);

    // A state change without the CSRF token is refused; the session stays.
    browser.goto(&format!("{}/dashboard", app.base)).await.unwrap();
    post_from_page(&browser, "/dashboard/logout", json!({})).await;
    assert_eq!(code_shown(&browser).await, "csrf_token_invalid");
    browser.goto(&format!("{}/dashboard", app.base)).await.unwrap();
    assert_eq!(path(&browser).await, "/dashboard", "still signed in");
    browser.find(Locator::Css("header form button")).await.unwrap().click().await.unwrap();
    arrives_at(&browser, "/dashboard/login").await;

    // Five wrong passwords lock the account, the right one included.
    for _ in 0..5 {
        sign_in(&browser, &app, "ann", "not the passphrase").await;
    }
    sign_in(&browser, &app, "ann", PASSWORD).await;
    assert_eq!(path(&browser).await, "/dashboard/login");
    let problem = browser.find(Locator::Css("p.problem")).await.unwrap().text().await.unwrap();
    assert!(problem.contains("잠"), "the page says the account is locked: {problem}");
    browser.close().await.unwrap();
}
