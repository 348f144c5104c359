//! `GET /v1/analytics/notification_effects` on a history built by hand, its figures worked
//! out below: treated and held-out users of a trigger, what they spent and whether they came
//! back over the window, the intervals, a pending user, and bad parameters.

use jiff::{SignedDuration, Timestamp};
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use playpulse_store::Settlement;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, event_at};

on_both_backends!(a_trigger_is_compared_with_its_holdout_over_the_window);

/// 12:00 in Seoul on 2026-05-01 plus `days`.
fn on_day(days: i64) -> Timestamp {
    NOW.parse::<Timestamp>().unwrap() + SignedDuration::from_hours(24 * days)
}

fn earn(user: &str, day: i64) -> Value {
    event_at(user, "EARN_CYBER_TOKENS", json!({"amount": 1_000, "source": "app"}), on_day(day))
}

fn spend(user: &str, amount: i64, day: i64) -> Value {
    event_at(
        user,
        "SPEND_CYBER_TOKENS",
        json!({"amount": amount, "sink": "game"}),
        on_day(day) + SignedDuration::from_mins(30),
    )
}

/// Enqueues one notification per user at `at` and settles it: sent, or held out.
async fn notify_all(app: &TestApp, notes: Vec<notify::Notification>, held_out: &[&str], at: Timestamp) {
    let store = &app.state.store;
    store.enqueue(notes, at).await.unwrap();
    for n in store.claim_notifications(at, at + SignedDuration::from_secs(60), 100).await.unwrap() {
        let settlement = if held_out.contains(&n.user_id.as_str()) {
            Settlement::Suppressed { reason: "holdout".into() }
        } else {
            Settlement::Sent { channel: "webhook".into() }
        };
        assert!(store.settle_notification(n.id, n.claim, at, settlement).await.unwrap());
    }
}

async fn a_trigger_is_compared_with_its_holdout_over_the_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let treated: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let holdout: Vec<String> = (0..5).map(|i| format!("h{i}")).collect();
    let everyone: Vec<&String> = treated.iter().chain(&holdout).collect();

    // Day 0 (2026-05-01): everyone earns; the treated spend 100 each after their notification,
    // two held-out users 40.
    let mut events: Vec<Value> = everyone.iter().map(|u| earn(u, 0)).collect();
    events.extend(treated.iter().map(|u| spend(u, 100, 0)));
    events.extend(["h0", "h1"].map(|u| spend(u, 40, 0)));
    // Later days: t0 and t1 spend 50 on day 4 (back, and within the spend window); t2–t4 come
    // back on day 2; t9 on day 7 (the window's last day for returns; its spend is past the
    // spend window, days 0–6); t8 only on day 8, past both. h0 comes back on day 1.
    events.extend(["t0", "t1"].map(|u| spend(u, 50, 4)));
    events.extend(["t2", "t3", "t4"].map(|u| earn(u, 2)));
    events.extend([spend("t9", 70, 7), earn("t8", 8), earn("h0", 1), earn("late", 6)]);
    app.clock.set(on_day(9));
    let (status, answer) = app.send(&events).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let arrivals = |users: &[&String]| {
        users
            .iter()
            .map(|u| notify::token_arrival(&UserId::parse(u).unwrap(), &format!("{u}-a"), 500))
            .collect()
    };
    let held: Vec<&str> = holdout.iter().map(String::as_str).collect();
    notify_all(&app, arrivals(&everyone), &held, on_day(0) - SignedDuration::from_mins(5)).await;
    // A second notification of the same trigger changes nothing: each user counts from their first.
    notify_all(&app, arrivals(&everyone[..3]), &held, on_day(3)).await;
    // One user of another trigger: too few to compare; one whose window has not ended.
    let upgrade = notify::segment_upgrade(&UserId::parse("t0").unwrap(), "2026-05-01", "Low", "Medium", 10);
    notify_all(&app, vec![upgrade], &held, on_day(0)).await;
    let late = UserId::parse("late").unwrap();
    notify_all(&app, vec![notify::token_arrival(&late, "late-a", 5)], &held, on_day(6)).await;

    // Last night's batch brings the lake up to date, waiting for what is still committing (a
    // request's own export waits for nothing: on PostgreSQL it may hold the newest rows back).
    app.batch("2026-05-09".parse().unwrap()).await.unwrap();
    let (status, report) =
        app.get("/v1/analytics/notification_effects?from=2026-05-01&to=2026-05-07&window_days=7").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let triggers = report["triggers"].as_array().unwrap();
    let arrival = triggers.iter().find(|t| t["kind"] == "NEW_TOKEN_ARRIVAL").unwrap();
    assert_eq!(arrival["pending_users"], 1, "{arrival}");
    assert_eq!(
        (arrival["treated"]["users"].as_u64(), arrival["holdout"]["users"].as_u64()),
        (Some(10), Some(5))
    );
    // Spent in days 0–6: treated 150, 150 and 100 × 8 (mean 110, variance 4,000 / 9); held
    // out 40, 40, 0, 0, 0 (mean 16, variance 1,920 / 4).
    assert_eq!(arrival["treated"]["tokens_spent_mean"], 110.0);
    assert_eq!(arrival["holdout"]["tokens_spent_mean"], 16.0);
    let error = (4_000.0 / 9.0 / 10.0 + 1_920.0 / 4.0 / 5.0_f64).sqrt();
    close(&arrival["tokens_spent"], 94.0, 1.959_964 * error);
    assert_eq!(arrival["tokens_spent"]["significant"], true);
    // Back on days 1–7: t0–t4 and t9 (6 of 10); h0 (1 of 5).
    assert_eq!(
        (arrival["treated"]["returned_share"].as_f64(), arrival["holdout"]["returned_share"].as_f64()),
        (Some(0.6), Some(0.2))
    );
    close(&arrival["returned"], 0.4, 1.959_964 * (0.6 * 0.4 / 10.0 + 0.2 * 0.8 / 5.0_f64).sqrt());
    assert_eq!(arrival["returned"]["significant"], false, "{arrival}");

    let upgrade = triggers.iter().find(|t| t["kind"] == "SEGMENT_UPGRADE").unwrap();
    assert_eq!(
        (upgrade["treated"]["users"].as_u64(), upgrade["holdout"]["users"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(upgrade["tokens_spent"].is_null() && upgrade["returned"].is_null(), "{upgrade}");

    // A range before any notification, and bad parameters.
    let (_, empty) = app.get("/v1/analytics/notification_effects?from=2026-04-01&to=2026-04-30").await;
    assert_eq!(empty["triggers"], json!([]));
    for (query, code, item) in [
        ("window_days=0", "invalid_window", "window_days"),
        ("window_days=91", "invalid_window", "window_days"),
        ("window_days=7%00", "invalid_window", "window_days"),
        ("from=2026-05-08&to=2026-05-01", "invalid_range", "from"),
    ] {
        let (status, problem) = app.get(&format!("/v1/analytics/notification_effects?{query}")).await;
        assert_eq!(
            (status, problem["code"].as_str(), problem["item"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code), Some(item)),
            "{query}: {problem}"
        );
    }
    app.stop().await;
}

/// `line` is a difference of `expected` with a 95% interval of `half` either side.
fn close(line: &Value, expected: f64, half: f64) {
    let at = |name: &str| line[name].as_f64().unwrap_or_else(|| panic!("no {name} in {line}"));
    for (name, want) in [("difference", expected), ("low", expected - half), ("high", expected + half)] {
        assert!((at(name) - want).abs() < 1e-4, "{name}: {} against {want} ({line})", at(name));
    }
}
