//! `/metrics` of a real `playpulse serve` (a process of its own, so its counters are this
//! test's alone): the store's figures equal what was written, tokens are counted per reason
//! and direction, rejections per code, and a night run by `playpulse batch` is seen.

use std::collections::BTreeMap;

use playpulse_core::time::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::binary::Target;
use crate::on_both_backends;
use crate::support::{Backend, event_at, statuses};

on_both_backends!(metrics_report_the_store_and_the_ledger);

/// The samples of a Prometheus text exposition, by series (`name{labels}` as printed).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(base: &str) -> BTreeMap<String, f64> {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4");
    samples(&response.text().await.unwrap())
}

async fn metrics_report_the_store_and_the_ledger(backend: Backend) {
    let target = Target::new(backend).await;
    let key = target.key();
    // No schedule: the only night is the one `playpulse batch` runs below.
    let mut server = target.serve_with(&[("PLAYPULSE_SCHEDULE__ENABLED", "false")]).await;
    let now = SystemClock.now();
    let at = |user: &str, kind: &str, props: Value| event_at(user, kind, props, now);
    let batch = json!({"events": [
        at("m1", "EARN_CYBER_TOKENS", json!({"amount": 100, "source": "app"})),
        at("m2", "EARN_CYBER_TOKENS", json!({"amount": 40, "source": "partner"})),
        at("m1", "SPEND_CYBER_TOKENS", json!({"amount": 30, "sink": "game"})),
        at("m2", "SPEND_CYBER_TOKENS", json!({"amount": 41, "sink": "game"})),
        at("m1", "NOT_A_TYPE", json!({})),
    ]});
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!("{}/v1/events", server.base))
        .bearer_auth(&key)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = ["accepted", "accepted", "accepted", "insufficient_balance", "unknown_event_type"];
    assert_eq!(statuses(&answer), expected, "{answer}");

    let m = scrape(&server.base).await;
    let get = |series: &str| m.get(series).copied().unwrap_or_else(|| panic!("no {series} in {m:#?}"));
    assert_eq!(get("playpulse_users"), 2.0);
    assert_eq!(get("playpulse_users_active_today"), 2.0);
    assert_eq!(get("playpulse_token_supply_tokens"), (100 + 40 - 30) as f64);
    assert_eq!(get(r#"playpulse_ledger_tokens_total{reason="earn:app",direction="in"}"#), 100.0);
    assert_eq!(get(r#"playpulse_ledger_tokens_total{reason="earn:partner",direction="in"}"#), 40.0);
    assert_eq!(get(r#"playpulse_ledger_tokens_total{reason="spend:game",direction="out"}"#), 30.0);
    assert_eq!(get(r#"playpulse_ingest_events_total{result="accepted"}"#), 3.0);
    assert_eq!(get(r#"playpulse_ingest_events_total{result="rejected",code="insufficient_balance"}"#), 1.0);
    assert_eq!(get(r#"playpulse_ingest_events_total{result="rejected",code="unknown_event_type"}"#), 1.0);
    // Tokens arriving from partner A owe the user a notification, which nothing has sent yet.
    assert_eq!(get("playpulse_outbox_pending"), 1.0);
    assert!(get("playpulse_outbox_oldest_age_seconds") >= 0.0);
    assert_eq!(get("playpulse_store_up"), 1.0);
    assert!(get(r#"playpulse_db_connections{state="max"}"#) >= 1.0);
    assert!(
        get(r#"playpulse_http_request_duration_seconds_bucket{route="/v1/events",method="POST",le="+Inf"}"#)
            >= 1.0,
        "request latency is a histogram with buckets"
    );
    assert!(!m.keys().any(|s| s.starts_with("playpulse_job_")), "no job has run yet");

    // A night run by another process is seen through the store.
    let out = target.command(&["batch"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = scrape(&server.base).await;
    let get = |series: &str| m.get(series).copied().unwrap_or_else(|| panic!("no {series} in {m:#?}"));
    assert_eq!(get(r#"playpulse_job_last_run_failed{job_name="nightly"}"#), 0.0);
    let succeeded = get(r#"playpulse_job_last_success_timestamp_seconds{job_name="nightly"}"#);
    assert!((succeeded - now.as_millisecond() as f64 / 1000.0).abs() < 600.0, "{succeeded}");
    assert!(get(r#"playpulse_job_last_duration_seconds{job_name="nightly"}"#) >= 0.0);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
