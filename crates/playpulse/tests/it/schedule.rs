//! The nightly schedule: missed nights caught up, each night run by exactly one instance.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use playpulse::app;
use playpulse::commands::export::{lake_root, lock};
use playpulse::schedule::{NIGHTLY, catch_up, export_continuously};
use playpulse_core::time::BusinessZone;
use playpulse_lake::events::EventLake;
use playpulse_store::JobOutcome;
use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, NOW, Storage, TestApp, event_at};

on_both_backends!(
    two_instances_share_the_nights,
    a_failed_or_dead_run_is_run_again,
    the_lake_is_kept_up_to_date_between_nights
);

fn config_of(app: &TestApp) -> playpulse::config::Config {
    let mut config = playpulse::config::Config::default();
    config.store.data_dir = app.dir.path().to_path_buf();
    if let Storage::Pg(db) = &app.storage {
        config.store.db = db.url().to_owned();
    }
    config
}

async fn two_instances_share_the_nights(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before_the_nights: Timestamp = "2026-04-27T03:00:00Z".parse().unwrap();
    let earn = json!({"amount": 10, "source": "partner"});
    app.send(&[event_at("ana", "EARN_CYBER_TOKENS", earn, before_the_nights)]).await;
    let config = config_of(&app);
    // A second instance: its own connection to the same database.
    let other = app::open_store(&config).await.unwrap();
    let clock = app.clock.clone();
    let (a, b) = tokio::join!(
        catch_up(app.state.store.as_ref(), None, &config, &clock),
        catch_up(other.as_ref(), None, &config, &clock),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut nights: Vec<String> = a.iter().chain(&b).map(ToString::to_string).collect();
    nights.sort();
    assert_eq!(nights, ["2026-04-28", "2026-04-29", "2026-04-30"], "every missed night once: {a:?} {b:?}");
    assert!(catch_up(other.as_ref(), None, &config, &clock).await.unwrap().is_empty(), "nothing left");

    let (status, body) = app.get("/v1/jobs").await;
    assert_eq!(status, StatusCode::OK);
    let runs = body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        assert_eq!(
            (run["job"].as_str(), run["status"].as_str()),
            (Some(NIGHTLY), Some("succeeded")),
            "{run}"
        );
        assert_eq!(run["rows"], 1);
        assert_eq!(run["detail"]["segments"]["Low"], 1);
    }
    let (_, profile) = app.get("/v1/users/ana").await;
    assert_eq!(profile["segment"]["as_of"], "2026-04-30");
    app.stop().await;
}

async fn a_failed_or_dead_run_is_run_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = Arc::clone(&app.state.store);
    let day: jiff::civil::Date = "2026-04-30".parse().unwrap();
    let now: Timestamp = NOW.parse().unwrap();
    let stale_before = now - SignedDuration::from_hours(2);
    let run = store.claim_job(NIGHTLY, day, now, stale_before).await.unwrap().expect("the first claim wins");
    assert_eq!(store.claim_job(NIGHTLY, day, now, stale_before).await.unwrap(), None, "running: not again");
    store.finish_job(run, now, JobOutcome::Failed { error: "disk full".into() }).await.unwrap();
    let retry =
        store.claim_job(NIGHTLY, day, now, stale_before).await.unwrap().expect("a failed night runs again");
    // The retry's instance dies; three hours later its run counts as dead and is taken over.
    let later = now + SignedDuration::from_hours(3);
    let taken = store.claim_job(NIGHTLY, day, later, later - SignedDuration::from_hours(2)).await.unwrap();
    assert_eq!(taken, Some(retry), "the same run row, claimed anew");
    store.finish_job(retry, later, JobOutcome::Succeeded { rows: 0, detail: json!({}) }).await.unwrap();
    assert_eq!(store.claim_job(NIGHTLY, day, later, later).await.unwrap(), None, "a succeeded night is done");
    let runs = store.job_runs(10).await.unwrap();
    assert_eq!((runs.len(), runs[0].status.as_str(), runs[0].error.as_deref()), (1, "succeeded", None));
    app.stop().await;
}

/// `serve`'s exporter copies what ingest commits into the lake, each event once, without a
/// night or an analytics request asking.
async fn the_lake_is_kept_up_to_date_between_nights(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut config = config_of(&app);
    config.schedule.export_every_s = 1;
    let exporter = tokio::spawn(export_continuously(app.state.store.clone(), config.clone()));
    let root = lake_root(&config);
    let earn = json!({"amount": 10, "source": "app"});
    let at: Timestamp = NOW.parse().unwrap();
    let mut sent = 0u64;
    for round in 0..2 {
        let users = [format!("a{round}"), format!("b{round}"), format!("c{round}")];
        let events: Vec<_> =
            users.iter().map(|u| event_at(u, "EARN_CYBER_TOKENS", earn.clone(), at)).collect();
        app.send(&events).await;
        sent += events.len() as u64;
        let mut rows = 0;
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            // Under the writers' lock: a compaction could remove files an open lake names.
            let _lock = lock(&root).await.unwrap();
            rows =
                EventLake::open(&root, BusinessZone::default()).map_or(0, |lake| lake.audit().unwrap().rows);
            if rows >= sent {
                break;
            }
        }
        assert_eq!(rows, sent, "round {round}: each event in the lake once");
    }
    exporter.abort();
    app.stop().await;
}
