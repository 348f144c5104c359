//! Every dashboard page over a simulated history, in both languages, showing the analytics
//! API's own figures.

use jiff::civil::Date;
use playpulse::commands::import::import_file;
use playpulse::commands::operators::create;
use playpulse::schedule::{Night, run_night};
use playpulse_core::operators::Role;
use playpulse_core::time::Clock;
use playpulse_server::dashboard::Lang;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, simulate};

on_both_backends!(every_page_shows_the_apis_figures_in_both_languages, an_admin_runs_a_failed_night_again);

const PAGES: [&str; 9] = [
    "/dashboard",
    "/dashboard/retention",
    "/dashboard/retention?granularity=week&after=1",
    "/dashboard/economy",
    "/dashboard/segments",
    "/dashboard/hours",
    "/dashboard/proposals",
    "/dashboard/jobs",
    "/dashboard/keys",
];

struct Session {
    client: reqwest::Client,
    base: String,
    cookies: Vec<String>,
}

impl Session {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        let status = answer.status();
        if status == StatusCode::OK {
            assert_eq!(answer.headers()[CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        }
        (status, answer.text().await.unwrap())
    }
}

async fn api(app: &TestApp, path: &str) -> Value {
    let url = format!("{}{path}", app.base);
    app.client.get(url).bearer_auth(&app.key).send().await.unwrap().json().await.unwrap()
}

/// The password of the seeded operators.
pub const PASSWORD: &str = "a long enough passphrase";

/// An app with 20 simulated days up to the day before its clock's, their nightly batch run
/// as the schedule runs it, a viewer `vic` and an admin `ann`.
pub async fn seeded(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let sim = tempfile::tempdir().unwrap();
    simulate(sim.path(), &["--users", "150", "--days", "20", "--seed", "9", "--start", "2026-04-11"]);
    import_file(&app.state, &sim.path().join("events.parquet")).await.unwrap();
    let night: Date = "2026-04-30".parse().unwrap();
    let (store, cache) = (app.state.store.as_ref(), app.state.cache.as_deref());
    let ran = run_night(store, cache, &app.config, &app.clock, night).await.unwrap();
    assert!(matches!(ran, Night::Ran(_)), "the night runs");
    create(store, "vic", Role::Viewer, PASSWORD, app.clock.now()).await.unwrap();
    create(store, "ann", Role::Admin, PASSWORD, app.clock.now()).await.unwrap();
    app
}

async fn every_page_shows_the_apis_figures_in_both_languages(backend: Backend) {
    let app = seeded(backend).await;

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let signed_in = client
        .post(format!("{}/dashboard/login", app.base))
        .form(&[("name", "vic"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let session = signed_in.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut browser = Session { client, base: app.base.clone(), cookies: vec![session] };

    // Korean first, by default.
    for path in PAGES {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains("<html lang=\"ko\">") && page.contains("개요"), "{path}");
        // Nothing the Content-Security-Policy would block: no script, no inline style.
        assert!(!page.contains("<script") && !page.contains("style="), "{path}");
    }

    let switch = browser.client.get(format!("{}/dashboard/lang/en?back=/dashboard/economy", app.base));
    let switched = switch.send().await.unwrap();
    assert_eq!(switched.headers()[LOCATION], "/dashboard/economy");
    let lang = switched.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(lang, "playpulse_lang=en");
    browser.cookies.push(lang);
    let outside = browser.client.get(format!("{}/dashboard/lang/en?back=https://evil.example", app.base));
    assert_eq!(
        outside.send().await.unwrap().headers()[LOCATION],
        "/dashboard",
        "no redirect off the dashboard"
    );

    let en = Lang::En;
    for path in PAGES {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains("<html lang=\"en\">") && page.contains(">Overview<"), "{path}");
    }

    // The overview's previous period is April, as the API answers it by month.
    let months =
        api(&app, "/v1/analytics/active_users?granularity=month&from=2026-04-01&to=2026-05-01").await;
    let april = &months["rows"][0];
    assert_eq!(april["period"], "2026-04-01");
    let (_, overview) = browser.get("/dashboard").await;
    let mau = en.dec(april["mau"].as_f64().unwrap(), 0);
    assert!(overview.contains(&format!("Previous period: {mau}")), "MAU {mau} in {overview}");
    assert!(april["mau"].as_i64().unwrap() > 0, "the history has users");

    // The economy's table holds the API's daily flows.
    let flows = api(&app, "/v1/analytics/token_flow?from=2026-04-01&to=2026-05-01").await;
    let (_, economy) = browser.get("/dashboard/economy").await;
    let busiest = flows["rows"].as_array().unwrap().iter().max_by_key(|r| r["earned"].as_i64()).unwrap();
    let cell = format!("<td>{}</td>", en.int(busiest["earned_partner"].as_i64().unwrap()));
    assert!(economy.contains(&cell), "{cell} for {busiest}");
    assert!(economy.contains("<svg") && economy.contains("Show as a table"));

    // The segments page lists the night's members; the user lookup shows the API's balance.
    let (_, segments) = browser.get("/dashboard/segments").await;
    let at = segments.find("/dashboard/users?id=").expect("a member is listed");
    let user = segments[at + 20..].split('"').next().unwrap().to_owned();
    let profile = api(&app, &format!("/v1/users/{user}")).await;
    let (status, page) = browser.get(&format!("/dashboard/users?id={user}")).await;
    assert_eq!(status, StatusCode::OK);
    let balance = en.int(profile["balance"].as_i64().unwrap());
    assert!(page.contains(&format!("<span class=\"value\">{balance}</span>")), "balance {balance} of {user}");
    assert!(page.contains("Ledger") && page.contains("Segment history"));
    let (_, missing) = browser.get("/dashboard/users?id=nobody-at-all").await;
    assert!(missing.contains("No user has that id."));

    // The jobs page shows the night that ran.
    let (_, jobs) = browser.get("/dashboard/jobs").await;
    assert!(jobs.contains("nightly") && jobs.contains("2026-04-30") && jobs.contains("succeeded"), "{jobs}");
}

/// Signs `name` in; the session cookie.
async fn session_of(client: &reqwest::Client, app: &TestApp, name: &str) -> String {
    let answer = client
        .post(format!("{}/dashboard/login", app.base))
        .form(&[("name", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    answer.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned()
}

async fn an_admin_runs_a_failed_night_again(backend: Backend) {
    let app = seeded(backend).await;
    let store = app.state.store.as_ref();
    let (night, now) = ("2026-04-29".parse::<Date>().unwrap(), app.clock.now());
    let run = store.claim_job("nightly", night, now, now).await.unwrap().expect("the night is free");
    let failed = playpulse_store::JobOutcome::Failed { error: "disk full".into() };
    store.finish_job(run, now, failed).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let retry = format!("{}/dashboard/jobs/{run}/retry", app.base);
    let page = |cookie: String| {
        let request = client.get(format!("{}/dashboard/jobs", app.base)).header(COOKIE, cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let csrf_in = |page: &str| {
        let at = page.find("name=\"csrf\" value=\"").unwrap();
        page[at + 19..].split('"').next().unwrap().to_owned()
    };

    let viewer = session_of(&client, &app, "vic").await;
    let seen = page(viewer.clone()).await;
    assert!(
        seen.contains("disk full") && !seen.contains("/retry"),
        "a viewer sees the failure, not the button"
    );
    let csrf = csrf_in(&seen);
    let refused = client.post(&retry).header(COOKIE, viewer).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(store.job_run(run).await.unwrap().unwrap().error.as_deref(), Some("disk full"));

    let admin = session_of(&client, &app, "ann").await;
    let seen = page(admin.clone()).await;
    assert!(seen.contains(&format!("/dashboard/jobs/{run}/retry")), "an admin has the button");
    let csrf = csrf_in(&seen);
    let started =
        client.post(&retry).header(COOKIE, admin.clone()).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let waited = std::time::Instant::now();
    let done = loop {
        let now = store.job_run(run).await.unwrap().unwrap();
        if now.status != playpulse_store::JobStatus::Running
            && now.status != playpulse_store::JobStatus::Failed
        {
            break now;
        }
        assert!(waited.elapsed() < std::time::Duration::from_secs(120), "the night did not finish: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!((done.status, done.error), (playpulse_store::JobStatus::Succeeded, None));
    assert!(done.rows.unwrap_or(0) > 0, "the night segmented the simulated users");

    let again =
        client.post(&retry).header(COOKIE, admin.clone()).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "a run that succeeded is not run again");
    let unknown = format!("{}/dashboard/jobs/999999/retry", app.base);
    let missing = client.post(unknown).header(COOKIE, admin).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
