//! The nightly batch: lake export, RFM over the lake, segments by the seed rules.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use playpulse::schedule::{Night, run_night};
use playpulse_store::JobStatus;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, event_at};

on_both_backends!(
    segments_follow_the_seed_rules,
    a_night_after_today_is_refused_and_stores_nothing,
    a_backfill_after_a_newer_night_grants_nothing,
    a_night_from_the_command_line_is_claimed_and_recorded
);

/// Noon in Seoul on a business date, plus `minutes`.
fn seoul_noon(date: &str, minutes: i64) -> Timestamp {
    let day: Date = date.parse().unwrap();
    day.at(3, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp()
        + SignedDuration::from_mins(minutes)
}

fn events(user: &str, date: &str, kinds: &[(&str, Value)]) -> Vec<Value> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, (kind, props))| event_at(user, kind, props.clone(), seoul_noon(date, i as i64)))
        .collect()
}

fn earn(n: i64) -> (&'static str, Value) {
    ("PURCHASE_TOKENS", json!({"tokens": n, "cash_amount": n * 10, "currency": "KRW"}))
}
fn spend(n: i64) -> (&'static str, Value) {
    ("SPEND_CYBER_TOKENS", json!({"amount": n, "sink": "game"}))
}
fn visit() -> (&'static str, Value) {
    ("PARTNER_VISIT", json!({"dwell_s": 60, "actions": 1}))
}
fn session() -> (&'static str, Value) {
    ("SESSION_START", json!({}))
}

fn times<T: Clone>(n: usize, item: T) -> Vec<T> {
    vec![item; n]
}

async fn segment_of(app: &TestApp, user: &str) -> Value {
    app.get(&format!("/v1/users/{user}")).await.1["segment"].clone()
}

async fn segments_follow_the_seed_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut all = Vec::new();
    // Whale: R 0, F 30, M 11,000, balance 9,000.
    let mut whale = vec![earn(20_000)];
    whale.extend(times(10, spend(1_100)));
    whale.extend(times(19, session()));
    all.extend(events("whale", "2026-04-30", &whale));
    // High Engaged: R 3, F 15, M 2,000, 5 partner visits.
    let mut high = vec![earn(3_000), spend(2_000)];
    high.extend(times(5, visit()));
    high.extend(times(8, session()));
    all.extend(events("high", "2026-04-27", &high));
    // Medium: R 10, F 6, M 150, 2 partner visits.
    all.extend(events(
        "medium",
        "2026-04-20",
        &[earn(500), spend(150), visit(), visit(), session(), session()],
    ));
    // Between bands: recent like High Engaged (R 3), as frequent as Medium (F 10).
    let mut gap = vec![earn(1_000), spend(500), visit(), visit(), visit()];
    gap.extend(times(5, session()));
    all.extend(events("gap", "2026-04-27", &gap));
    // Gone: last seen two months ago.
    all.extend(events("gone", "2026-03-01", &[earn(50), session()]));
    let (_, answer) = app.send(&all).await;
    assert_eq!(answer["rejected"], 0, "{answer}");

    let as_of: Date = "2026-04-30".parse().unwrap();
    let report = app.batch(as_of).await.unwrap();
    let first = report.clone();
    let counts: Vec<(&str, u64)> = report.users.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    assert_eq!(counts, [("High Engaged", 1), ("Low", 2), ("Medium", 1), ("Whale", 1)]);
    assert_eq!(report.between_bands, 1);
    assert!(report.transitions.keys().all(|(from, _)| from == "(new)"));
    let high = segment_of(&app, "high").await;
    assert_eq!(high["name"], "High Engaged");
    assert_eq!((high["recency_days"].as_i64(), high["frequency"].as_i64()), (Some(3), Some(15)));
    assert_eq!((high["since"].as_str(), high["as_of"].as_str()), (Some("2026-04-30"), Some("2026-04-30")));
    assert_eq!(segment_of(&app, "gone").await["recency_days"], 60);

    // Running the same night again changes nothing.
    let again = app.batch(as_of).await.unwrap();
    assert_eq!(again.users, report.users);
    assert!(again.transitions.keys().all(|(from, to)| from == to));

    // Next day the Medium user moves up: the move is a transition, and `since` moves with it.
    let mut up = vec![earn(2_000), spend(2_000), visit(), visit(), visit()];
    up.extend(times(4, session()));
    app.send(&events("medium", "2026-05-01", &up)).await;
    // The Whale spends most of the balance: below the Whale's 1,000 from now on.
    app.send(&events("whale", "2026-05-01", &[spend(8_600)])).await;
    let next: Date = "2026-05-01".parse().unwrap();
    let before = app.balance("medium").await;
    let report = app.batch(next).await.unwrap();
    assert_eq!(report.transitions.get(&("Medium".to_owned(), "High Engaged".to_owned())), Some(&1));
    assert_eq!((report.upgrades, report.rewards_granted), (1, 1));
    assert_eq!(app.balance("medium").await, before + 100, "the upgrade reward, through the ledger");
    // The same night again: the reward is a duplicate, the notification is not repeated.
    let again = app.batch(next).await.unwrap();
    assert_eq!(again.rewards_granted, 0);
    assert_eq!(app.balance("medium").await, before + 100);
    let outbox = app.state.store.outbox(100).await.unwrap();
    let upgrades: Vec<_> = outbox.iter().filter(|n| n.kind == "SEGMENT_UPGRADE").collect();
    assert_eq!(upgrades.len(), 1);
    assert_eq!(
        (upgrades[0].user_id.as_str(), upgrades[0].payload["to"].as_str()),
        ("medium", Some("High Engaged"))
    );
    assert!(upgrades[0].payload["body"]["ko"].as_str().unwrap().contains("100"));
    let medium = segment_of(&app, "medium").await;
    assert_eq!(
        (medium["name"].as_str(), medium["since"].as_str()),
        (Some("High Engaged"), Some("2026-05-01"))
    );
    assert_eq!(segment_of(&app, "high").await["since"], "2026-04-30", "unchanged segment keeps its date");

    assert_eq!(segment_of(&app, "whale").await["name"], "Low");

    // A backfill of the earlier night recomputes it as it was, with the balances of that
    // night (the Whale still a Whale), but never overwrites the newer batch.
    let backfill = app.batch(as_of).await.unwrap();
    assert_eq!(backfill.users, first.users);
    assert_eq!(segment_of(&app, "medium").await["as_of"], "2026-05-01");
    app.stop().await;
}

async fn a_night_after_today_is_refused_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let config = app.batch_config();
    app.send(&events("u1", "2026-04-30", &[earn(100), session()])).await;
    let (store, cache) = (app.state.store.as_ref(), app.state.cache.as_deref());
    for day in ["9999-12-31", "2027-01-01", "2026-05-02", "1969-12-31"] {
        let err = app.batch(day.parse().unwrap()).await.unwrap_err();
        assert!(format!("{err:#}").contains("outside"), "{day}: {err:#}");
        let run = run_night(store, cache, &config, app.state.clock.as_ref(), day.parse().unwrap()).await;
        assert!(run.is_err(), "{day} is refused before it is claimed");
    }
    assert!(store.segments().await.unwrap().is_empty(), "no night stored anything");
    assert!(store.job_runs(10).await.unwrap().is_empty(), "nor claimed a run");
    // Today itself is a night that may run (a partial day, as the operator asked).
    app.batch("2026-05-01".parse().unwrap()).await.unwrap();
    assert_eq!(segment_of(&app, "u1").await["as_of"], "2026-05-01");
    app.stop().await;
}

async fn a_backfill_after_a_newer_night_grants_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut whale = vec![earn(20_000)];
    whale.extend(times(10, spend(1_100)));
    whale.extend(times(19, session()));
    app.send(&events("whale", "2026-04-30", &whale)).await;
    app.send(&events("whale", "2026-05-01", &[spend(8_600)])).await;
    let store = app.state.store.as_ref();
    app.batch("2026-05-01".parse().unwrap()).await.unwrap();
    assert_eq!(segment_of(&app, "whale").await["name"], "Low");
    let balance = app.balance("whale").await;
    // As of 04-30 the user was a Whale: against the newer night's Low that looks like an
    // upgrade, but a night older than the stored one grants nothing.
    let backfill = app.batch("2026-04-30".parse().unwrap()).await.unwrap();
    assert_eq!((backfill.upgrades, backfill.rewards_granted), (0, 0));
    assert_eq!(app.balance("whale").await, balance);
    let outbox = store.outbox(100).await.unwrap();
    assert!(outbox.iter().all(|n| n.kind != "SEGMENT_UPGRADE"), "{outbox:?}");
    assert_eq!(segment_of(&app, "whale").await["as_of"], "2026-05-01");
    app.stop().await;
}

async fn a_night_from_the_command_line_is_claimed_and_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let config = app.batch_config();
    app.send(&events("u1", "2026-04-30", &[earn(100), session()])).await;
    let (store, cache, clock) =
        (app.state.store.as_ref(), app.state.cache.as_deref(), app.state.clock.as_ref());
    let night: Date = "2026-04-30".parse().unwrap();
    assert!(matches!(run_night(store, cache, &config, clock, night).await.unwrap(), Night::Ran(_)));
    assert!(matches!(run_night(store, cache, &config, clock, night).await.unwrap(), Night::Taken));
    let runs = store.job_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].as_of, runs[0].status, runs[0].rows), (night, JobStatus::Succeeded, Some(1)));
    app.stop().await;
}
