//! The ledger through the API: balances, rejections, replays, concurrency, and a model check.

use std::collections::HashMap;

use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, earn, event, event_at, spend, statuses};

on_both_backends!(
    earn_spend_and_read_back,
    replaying_a_batch_changes_nothing,
    concurrent_spends_never_overdraw
);
on_both_backends!(
    ledger_pages_newest_first,
    streak_counts_business_days,
    streaks_stay_exact_past_the_horizon_and_tomorrow,
    random_histories_match_a_model
);

async fn earn_spend_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, answer) = app
        .send(&[
            earn("ana", 100),
            spend("ana", 30),
            spend("ana", 100),
            event("ana", "PURCHASE_TOKENS", json!({"tokens": 500, "cash_amount": 5500, "currency": "KRW"})),
            event("ana", "GAME_PLAY", json!({"game": "slot", "bet": 10, "payout": 0, "result": "lose"})),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&answer), ["accepted", "accepted", "insufficient_balance", "accepted", "accepted"]);
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(4), Some(1)));
    assert!(answer["results"][2]["message"].as_str().unwrap().contains("70"));

    let (status, profile) = app.get("/v1/users/ana").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["balance"], 570);
    assert_eq!(profile["streak_days"], 1);
    assert_eq!(profile["last_play_day"], "2026-05-01", "02:00 UTC is 11:00 in Seoul");
    assert_eq!(profile["first_seen_at"], "2026-05-01T02:00:00Z");
    assert_eq!(profile["age_verified"], false);

    let (_, balance) = app.get("/v1/users/ana/balance").await;
    assert_eq!(balance["balance"], 570);
    assert_eq!(balance["version"], 4);
    let expected_source = if backend == Backend::Postgres { "cache" } else { "db" };
    assert_eq!(balance["source"], expected_source);

    let (status, missing) = app.get("/v1/users/nobody").await;
    assert_eq!((status, missing["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_user")));
    let (status, missing) = app.get("/v1/users/nobody/balance").await;
    assert_eq!((status, missing["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_user")));
    let (status, bad) = app.get("/v1/users/a%20b").await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_user_id")));
    app.stop().await;
}

async fn replaying_a_batch_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let partner = event("bo", "EARN_CYBER_TOKENS", json!({"amount": 150, "source": "partner"}));
    let batch = vec![earn("bo", 50), spend("bo", 20), event("bo", "SESSION_START", json!({})), partner];
    let (_, first) = app.send(&batch).await;
    assert_eq!(statuses(&first), ["accepted"; 4]);
    let (_, again) = app.send(&batch).await;
    assert_eq!(statuses(&again), ["duplicate"; 4]);
    assert_eq!(app.balance("bo").await, 180);
    let (_, ledger) = app.get("/v1/users/bo/ledger").await;
    assert_eq!(ledger["entries"].as_array().unwrap().len(), 3);
    assert_eq!(app.state.store.event_count().await.unwrap(), 4);
    // Partner tokens enqueue one NEW_TOKEN_ARRIVAL, in the same transaction, never twice.
    let outbox = app.state.store.outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].kind.as_str(), outbox[0].payload["amount"].as_i64()),
        ("NEW_TOKEN_ARRIVAL", Some(150))
    );

    app.stop().await;
}

async fn concurrent_spends_never_overdraw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("cy", 1_000)]).await;
    let spends = (0..200).map(|_| {
        let app = &app;
        async move { app.send(&[spend("cy", 10)]).await }
    });
    let answers = join_all(spends).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        *counts.entry(statuses(answer)[0].clone()).or_default() += 1;
    }
    assert_eq!(counts.get("accepted"), Some(&100), "{counts:?}");
    assert_eq!(counts.get("insufficient_balance"), Some(&100), "{counts:?}");
    assert_eq!(app.balance("cy").await, 0);
    let user = playpulse_core::ids::UserId::parse("cy").unwrap();
    assert_eq!(app.state.store.ledger_sum(&user).await.unwrap().0, 0);
    app.stop().await;
}

async fn ledger_pages_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch: Vec<Value> = (1..=5).map(|n| earn("di", n)).collect();
    app.send(&batch).await;
    let (_, page) = app.get("/v1/users/di/ledger?limit=2").await;
    let deltas = |page: &Value| -> Vec<i64> {
        page["entries"].as_array().unwrap().iter().map(|e| e["delta"].as_i64().unwrap()).collect()
    };
    assert_eq!(deltas(&page), [5, 4]);
    assert_eq!(page["entries"][0]["balance_after"], 15);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = app.get(&format!("/v1/users/di/ledger?limit=2&cursor={cursor}")).await;
    assert_eq!(deltas(&page), [3, 2]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = app.get(&format!("/v1/users/di/ledger?limit=2&cursor={cursor}")).await;
    assert_eq!(deltas(&page), [1]);
    assert!(page["next_cursor"].is_null());
    let (status, bad) = app.get("/v1/users/di/ledger?cursor=zz").await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")));
    let (status, bad) = app.get("/v1/users/di/ledger?limit=501").await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_limit")));
    app.stop().await;
}

async fn streak_counts_business_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let play = |ts: &str| {
        event_at(
            "ed",
            "GAME_PLAY",
            json!({"game": "rps", "bet": 1, "payout": 2, "result": "win"}),
            ts.parse().unwrap(),
        )
    };
    // Seoul days 04-28, 04-29 (15:30Z is already 04-29 00:30 in Seoul), then 04-30 arriving late.
    let (_, answer) = app
        .send(&[play("2026-04-28T01:00:00Z"), play("2026-04-29T15:30:00Z"), play("2026-04-29T15:40:00Z")])
        .await;
    assert_eq!(statuses(&answer), ["accepted"; 3]);
    let (_, profile) = app.get("/v1/users/ed").await;
    assert_eq!(profile["last_play_day"], "2026-04-30");
    assert_eq!(profile["streak_days"], 1, "04-29 is missing, so the run is 04-30 alone");
    app.send(&[play("2026-04-28T16:00:00Z")]).await; // 04-29 in Seoul, late
    let (_, profile) = app.get("/v1/users/ed").await;
    assert_eq!(profile["streak_days"], 3);
    app.clock.set("2026-05-02T01:00:00Z".parse().unwrap()); // Seoul 05-02: yesterday was 05-01, no play
    let (_, profile) = app.get("/v1/users/ed").await;
    assert_eq!(profile["streak_days"], 0);
    app.stop().await;
}

/// A run of 100 days whose one hole is filled late, and a play stamped on tomorrow's business
/// day (within the allowed skew): the streak counts both exactly, through the store.
async fn streaks_stay_exact_past_the_horizon_and_tomorrow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let play = |ts: jiff::Timestamp| {
        event_at("long", "GAME_PLAY", json!({"game": "rps", "bet": 1, "payout": 0, "result": "lose"}), ts)
    };
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let days_ago = |n: i64| now - jiff::SignedDuration::from_hours(24 * n);
    // Today (Seoul 05-01) and the 99 days before it, except 50 days ago.
    let plays: Vec<_> = (0..100).filter(|n| *n != 50).rev().map(|n| play(days_ago(n))).collect();
    let (_, answer) = app.send(&plays).await;
    assert_eq!(answer["accepted"], 99, "{answer}");
    let (_, profile) = app.get("/v1/users/long").await;
    assert_eq!(profile["streak_days"], 50, "the run since the hole");
    app.send(&[play(days_ago(50))]).await;
    let (_, profile) = app.get("/v1/users/long").await;
    assert_eq!(profile["streak_days"], 100, "the hole filled: 100 days in a row");

    // 16:00 UTC is already tomorrow (05-02 01:00) in Seoul, and within a day of the server.
    let (_, answer) = app.send(&[play("2026-05-01T16:00:00Z".parse().unwrap())]).await;
    assert_eq!(answer["accepted"], 1, "{answer}");
    let (_, profile) = app.get("/v1/users/long").await;
    assert_eq!(
        (profile["last_play_day"].as_str(), profile["streak_days"].as_u64()),
        (Some("2026-05-02"), Some(101))
    );
    app.stop().await;
}

#[derive(Debug, Clone)]
enum Op {
    Earn {
        user: usize,
        amount: i64,
    },
    Spend {
        user: usize,
        amount: i64,
    },
    Purchase {
        user: usize,
        tokens: i64,
    },
    /// Re-send an earlier operation (by position modulo the history).
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..200i64).prop_map(|(user, amount)| Op::Earn { user, amount }),
        (0..3usize, 1..300i64).prop_map(|(user, amount)| Op::Spend { user, amount }),
        (0..3usize, 1..100i64).prop_map(|(user, tokens)| Op::Purchase { user, tokens }),
        any::<usize>().prop_map(Op::Replay),
    ]
}

/// Random earn/spend/purchase histories, in random batches, with replays and timestamps out
/// of order, must leave every balance equal to the in-memory model and to the ledger's sum.
async fn random_histories_match_a_model(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(12));
    let strategy = (prop::collection::vec(op(), 1..60), prop::collection::vec(1..8usize, 1..20));
    let cases = std::sync::Mutex::new(Vec::new());
    runner
        .run(&strategy, |case| {
            cases.lock().unwrap().push(case);
            Ok(())
        })
        .unwrap();
    let now: Timestamp = NOW.parse().unwrap();
    for (case_no, (ops, batch_sizes)) in cases.into_inner().unwrap().into_iter().enumerate() {
        let users: Vec<String> = (0..3).map(|u| format!("p{case_no}-{u}")).collect();
        let mut model: HashMap<String, i64> = HashMap::new();
        let mut sent: Vec<(Value, Option<(String, i64)>)> = Vec::new();
        let mut queue = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            // Timestamps jump back and forth: the ledger must apply in arrival order anyway.
            let ts = now - SignedDuration::from_mins(((i * 7919) % 600) as i64);
            let (user, kind, props, delta) = match op {
                Op::Earn { user, amount } => {
                    (user, "EARN_CYBER_TOKENS", json!({"amount": amount, "source": "partner"}), *amount)
                }
                Op::Spend { user, amount } => {
                    (user, "SPEND_CYBER_TOKENS", json!({"amount": amount, "sink": "item"}), -amount)
                }
                Op::Purchase { user, tokens } => (
                    user,
                    "PURCHASE_TOKENS",
                    json!({"tokens": tokens, "cash_amount": 100, "currency": "KRW"}),
                    *tokens,
                ),
                Op::Replay(k) => {
                    if let Some(earlier) = (!sent.is_empty()).then(|| sent[k % sent.len()].0.clone()) {
                        queue.push((earlier, None));
                    }
                    continue;
                }
            };
            let e = event_at(&users[*user], kind, props, ts);
            sent.push((e.clone(), Some((users[*user].clone(), delta))));
            queue.push((e, Some((users[*user].clone(), delta))));
        }
        let mut accepted_ids = std::collections::HashSet::new();
        let mut sizes = batch_sizes.iter().cycle();
        let mut rest = queue.as_slice();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            // The model decides each event in order, exactly as the ledger must.
            let mut expected = Vec::new();
            let mut in_batch = std::collections::HashSet::new();
            // An id stored before the batch is a duplicate wherever it appears in it; a new
            // one repeated inside the batch is refused after its first occurrence.
            let stored_before = accepted_ids.clone();
            for (e, fresh) in chunk {
                let id = e["event_id"].as_str().unwrap().to_owned();
                let outcome = if stored_before.contains(&id) {
                    "duplicate"
                } else if !in_batch.insert(id.clone()) {
                    "duplicate_in_batch"
                } else {
                    // A replay of a rejected event is judged afresh: nothing of it was stored.
                    let (user, delta) = fresh.clone().unwrap_or_else(|| lookup(&sent, &id));
                    let balance = model.entry(user).or_default();
                    if *balance + delta < 0 {
                        "insufficient_balance"
                    } else {
                        *balance += delta;
                        accepted_ids.insert(id);
                        "accepted"
                    }
                };
                expected.push(outcome.to_owned());
            }
            let events: Vec<Value> = chunk.iter().map(|(e, _)| e.clone()).collect();
            let (status, answer) = app.send(&events).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(statuses(&answer), expected, "case {case_no}");
        }
        for user in &users {
            let id = playpulse_core::ids::UserId::parse(user).unwrap();
            let want = model.get(user).copied().unwrap_or(0);
            match app.state.store.user(&id).await.unwrap() {
                Some(record) => assert_eq!(record.state.balance.0, want, "{user}"),
                None => assert_eq!(want, 0),
            }
            let sum = app.state.store.ledger_sum(&id).await.unwrap().0;
            assert_eq!(sum, want, "balance == sum(ledger) for {user}");
            assert!(sum >= 0);
        }
    }
    app.stop().await;
}

fn lookup(sent: &[(Value, Option<(String, i64)>)], id: &str) -> (String, i64) {
    sent.iter()
        .find(|(e, _)| e["event_id"] == id)
        .and_then(|(_, f)| f.clone())
        .expect("a replay repeats an event that was sent")
}
