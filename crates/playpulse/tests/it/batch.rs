//! The nightly batch: lake export, RFM over the lake, segments by the seed's rules (its
//! nightly SQL by default, its prose form when configured).

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use playpulse::commands::batch::notices::churn_invitations;
use playpulse::schedule::{Night, run_night};
use playpulse_core::ids::UserId;
use playpulse_core::segments::Band;
use playpulse_store::JobStatus;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, event_at};

on_both_backends!(
    segments_follow_the_seed_rules,
    a_backfill_sees_the_balance_of_its_night,
    a_night_after_today_is_refused_and_stores_nothing,
    a_backfill_after_a_newer_night_grants_nothing,
    a_night_from_the_command_line_is_claimed_and_recorded,
    a_night_reminds_the_runs_of_play_days_it_ends,
    the_churn_hook_invites_likely_churners_once_a_week
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

/// A Whale: 11,000 tokens spent on 04-01 and 30 events by 04-30, the last on 04-30, with
/// 9,000 tokens left. The nights of 04-30 see a Whale; from 05-01 the spending of 04-01 has
/// left the 30-day window.
fn whale() -> Vec<Value> {
    let mut first = vec![earn(20_000)];
    first.extend(times(10, spend(1_100)));
    first.extend(times(18, session()));
    [events("whale", "2026-04-01", &first), events("whale", "2026-04-30", &[session()])].concat()
}

async fn segments_follow_the_seed_rules(backend: Backend) {
    let watched = ["Whale".to_owned(), "High Engaged".to_owned()];
    let app = TestApp::spawn_with(backend, |c| c.notify.segment_moves = watched.to_vec()).await;
    let mut all = whale();
    // High Engaged: R 3, F 15, M 2,000.
    let mut high = vec![earn(3_000), spend(2_000)];
    high.extend(times(5, visit()));
    high.extend(times(8, session()));
    all.extend(events("high", "2026-04-27", &high));
    // Medium: R 10, F 6, M 150.
    all.extend(events(
        "medium",
        "2026-04-20",
        &[earn(500), spend(150), visit(), visit(), session(), session()],
    ));
    // Between bands: as frequent as High Engaged (F 16), spending like Medium (M 500).
    let mut gap = vec![earn(1_000), spend(500)];
    gap.extend(times(14, session()));
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
    assert_eq!(segment_of(&app, "gap").await["name"], "Low");
    assert_eq!(segment_of(&app, "gone").await["recency_days"], 60);

    // Running the same night again changes nothing.
    let again = app.batch(as_of).await.unwrap();
    assert_eq!(again.users, report.users);
    assert!(again.transitions.keys().all(|(from, to)| from == to));

    // Next day the Medium user moves up: the move is a transition, and `since` moves with it.
    let mut up = vec![earn(2_000), spend(2_000), visit(), visit(), visit()];
    up.extend(times(4, session()));
    app.send(&events("medium", "2026-05-01", &up)).await;
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
    assert_eq!(upgrades[0].payload["reward"], 100, "the figure its texts are made from");
    let medium = segment_of(&app, "medium").await;
    assert_eq!(
        (medium["name"].as_str(), medium["since"].as_str()),
        (Some("High Engaged"), Some("2026-05-01"))
    );
    assert_eq!(segment_of(&app, "high").await["since"], "2026-04-30", "unchanged segment keeps its date");

    // The Whale's spending of 04-01 has left the window.
    let whale = segment_of(&app, "whale").await;
    assert_eq!((whale["name"].as_str(), whale["monetary"].as_i64()), (Some("Low"), Some(0)));

    // Entries into and exits from the watched segments, once each, for the operator.
    let mut moves: Vec<(String, Option<String>, String, String)> = app
        .state
        .store
        .outbox(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "SEGMENT_MOVE")
        .map(|n| {
            let p = &n.payload;
            (
                n.user_id.clone(),
                p["from"].as_str().map(str::to_owned),
                p["to"].as_str().unwrap().to_owned(),
                p["as_of"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    moves.sort();
    let step = |who: &str, from: Option<&str>, to: &str, day: &str| {
        (who.to_owned(), from.map(str::to_owned), to.to_owned(), day.to_owned())
    };
    assert_eq!(
        moves,
        [
            step("high", None, "High Engaged", "2026-04-30"),
            step("medium", Some("Medium"), "High Engaged", "2026-05-01"),
            step("whale", None, "Whale", "2026-04-30"),
            step("whale", Some("Whale"), "Low", "2026-05-01"),
        ]
    );

    // A backfill of the earlier night recomputes it as it was (the Whale still a Whale), but
    // never overwrites the newer batch.
    let backfill = app.batch(as_of).await.unwrap();
    assert_eq!(backfill.users, first.users);
    assert_eq!(segment_of(&app, "medium").await["as_of"], "2026-05-01");
    app.stop().await;
}

/// With the seed's prose form (a Whale also holds 1,000 tokens), a Whale who spends down is
/// Low the next night; the backfill of the night before uses that night's balance, not
/// today's, and finds the Whale again.
async fn a_backfill_sees_the_balance_of_its_night(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        let rules = &mut c.segments.rules;
        rules[0].balance = Band { min: Some(1_000), max: None };
        rules[1].partner_visits = Band { min: Some(5), max: None };
        rules[2].recency_days = Band { min: Some(6), max: Some(15) };
        rules[2].partner_visits = Band { min: Some(2), max: Some(4) };
    })
    .await;
    let mut whale = vec![earn(20_000)];
    whale.extend(times(10, spend(1_100)));
    whale.extend(times(19, session()));
    app.send(&events("whale", "2026-04-30", &whale)).await;
    let night: Date = "2026-04-30".parse().unwrap();
    assert_eq!(app.batch(night).await.unwrap().users.get("Whale"), Some(&1));
    // Below the Whale's 1,000 from 05-01 on, with every other figure still a Whale's.
    app.send(&events("whale", "2026-05-01", &[spend(8_600)])).await;
    app.batch("2026-05-01".parse().unwrap()).await.unwrap();
    let stored = segment_of(&app, "whale").await;
    assert_eq!((stored["name"].as_str(), stored["recency_days"].as_i64()), (Some("Low"), Some(0)));
    assert_eq!(app.balance("whale").await, 400);
    let backfill = app.batch(night).await.unwrap();
    assert_eq!(backfill.users.get("Whale"), Some(&1), "{backfill:?}");
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
    app.send(&whale()).await;
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

/// The night of yesterday reminds each user whose run of play days reached three that day;
/// a re-run reminds no one twice, and a night caught up later reminds no one.
async fn a_night_reminds_the_runs_of_play_days_it_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let play = || ("GAME_PLAY", json!({"game": "slot", "bet": 1, "payout": 0, "result": "lose"}));
    let mut all = Vec::new();
    let runs = [
        ("three", &[28, 29, 30][..]),
        ("two", &[29, 30]),
        ("gap", &[27, 28, 30]),
        ("stopped", &[26, 27, 28]),
    ];
    for (user, days) in runs {
        all.extend(events(user, "2026-04-27", &[earn(100)]));
        for day in days {
            all.extend(events(user, &format!("2026-04-{day}"), &[play()]));
        }
    }
    let (_, answer) = app.send(&all).await;
    assert_eq!(answer["rejected"], 0, "{answer}");
    let reminders = || async {
        let outbox = app.state.store.outbox(100).await.unwrap();
        outbox
            .into_iter()
            .filter(|n| n.kind == "STREAK_REMINDER")
            .map(|n| (n.user_id, n.payload["streak"].as_i64(), n.payload["day"].as_str().map(str::to_owned)))
            .collect::<Vec<_>>()
    };
    // The app's clock is 12:00 in Seoul on 2026-05-01: 04-28's night is a late one, and the
    // day its run of three asked to be kept is over.
    app.batch("2026-04-28".parse().unwrap()).await.unwrap();
    assert!(reminders().await.is_empty());
    for _ in 0..2 {
        app.batch("2026-04-30".parse().unwrap()).await.unwrap();
        assert_eq!(reminders().await, [("three".to_owned(), Some(3), Some("2026-04-30".to_owned()))]);
    }
    app.stop().await;
}

/// The hook a churn model calls with its scores: users at or above the configured
/// probability are invited, once per ISO week of sending however often scored, and once for
/// nights caught up together, whatever weeks they fall in.
async fn the_churn_hook_invites_likely_churners_once_a_week(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.state.store.as_ref();
    let scores = |list: &[(&str, f64)]| -> Vec<(UserId, f64)> {
        list.iter().map(|(u, p)| (UserId::parse(u).unwrap(), *p)).collect()
    };
    // The night of `day` scored on `sent` at noon in Seoul.
    let invite = |day: &str, sent: &str, list: Vec<(UserId, f64)>| {
        let config = app.config.clone();
        let now = seoul_noon(sent, 0);
        let day: Date = day.parse().unwrap();
        async move { churn_invitations(store, &config, day, &list, now).await.unwrap() }
    };
    // 2026-04-27 is a Monday: the 28th and 05-01 are one ISO week, 05-05 the next.
    assert_eq!(invite("2026-04-27", "2026-04-28", scores(&[("a", 0.9), ("b", 0.3), ("c", 0.6)])).await, 2);
    invite("2026-04-30", "2026-05-01", scores(&[("a", 0.95), ("c", 0.7)])).await;
    invite("2026-05-04", "2026-05-05", scores(&[("a", 0.8)])).await;
    // Two nights of two weeks caught up on one day: one invitation.
    invite("2026-04-26", "2026-05-05", scores(&[("d", 0.9)])).await;
    invite("2026-04-27", "2026-05-05", scores(&[("d", 0.9)])).await;
    let mut invited: Vec<(String, String)> = store
        .outbox(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "CHURN_INVITATION")
        .map(|n| (n.user_id, n.payload["as_of"].as_str().unwrap().to_owned()))
        .collect();
    invited.sort();
    let row = |u: &str, d: &str| (u.to_owned(), d.to_owned());
    assert_eq!(
        invited,
        [row("a", "2026-04-27"), row("a", "2026-05-04"), row("c", "2026-04-27"), row("d", "2026-04-26")]
    );
    app.stop().await;
}
