//! The user's own limits hold whatever the events claim: they are judged on the server's
//! clock at arrival, not on the `ts` a sender chooses, and they cover buying as well as
//! spending; and a running break cannot be shortened, even by two changes at once.

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, earn, event_at, statuses};

on_both_backends!(
    a_chosen_timestamp_dodges_no_daily_limit,
    a_chosen_timestamp_dodges_no_break,
    harm_markers_count_plays_when_they_arrive,
    breaks_refuse_purchases_and_the_daily_limit_caps_them,
    concurrent_changes_cannot_shorten_a_running_exclusion
);

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn spend_at(user: &str, amount: i64, at: Timestamp) -> Value {
    event_at(user, "SPEND_CYBER_TOKENS", json!({"amount": amount, "sink": "game"}), at)
}

fn purchase_at(user: &str, tokens: i64, at: Timestamp) -> Value {
    let props = json!({"tokens": tokens, "cash_amount": tokens * 10, "currency": "KRW"});
    event_at(user, "PURCHASE_TOKENS", props, at)
}

async fn set_limits(app: &TestApp, user: &str, limits: Value) {
    let (status, view) = app.call(Method::PUT, &format!("/v1/users/{user}/limits"), limits).await;
    assert_eq!(status, StatusCode::OK, "{view}");
}

async fn a_chosen_timestamp_dodges_no_daily_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("dodger", 5_000)]).await;
    set_limits(&app, "dodger", json!({"daily_spend_tokens": 100})).await;
    let (_, answer) = app.send(&[spend_at("dodger", 60, now()), spend_at("dodger", 50, now())]).await;
    assert_eq!(statuses(&answer), ["accepted", "daily_limit_reached"]);

    // Dated the business day before, in 1970, and almost a day ahead: all arrive today.
    let yesterday: Timestamp = "2026-04-30T07:00:00Z".parse().unwrap();
    let early: Timestamp = "1970-01-02T00:00:00Z".parse().unwrap();
    let ahead = now() + SignedDuration::from_hours(23);
    let (_, answer) = app
        .send(&[
            spend_at("dodger", 500, yesterday),
            spend_at("dodger", 300, early),
            spend_at("dodger", 1, ahead),
            spend_at("dodger", 600, now()),
        ])
        .await;
    assert_eq!(
        statuses(&answer),
        ["daily_limit_reached", "daily_limit_reached", "accepted", "daily_limit_reached"],
        "only the spend within today's limit goes through, whatever its date"
    );
    let (_, view) = app.get("/v1/users/dodger/limits").await;
    assert_eq!(view["spent_today"], 61, "{view}");
    assert_eq!(view["harm_markers"]["limit_reached"], false);
    assert_eq!(app.balance("dodger").await, 5_000 - 61);

    // The limit resets when the server's business day turns, not when an event says so.
    app.clock.set(now() + SignedDuration::from_hours(13)); // 01:00 the next day in Seoul
    let (_, answer) = app.send(&[spend_at("dodger", 100, yesterday), spend_at("dodger", 1, now())]).await;
    assert_eq!(statuses(&answer), ["accepted", "daily_limit_reached"]);
    assert_eq!(app.get("/v1/users/dodger/limits").await.1["spent_today"], 100);
    app.stop().await;
}

async fn a_chosen_timestamp_dodges_no_break(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("resting", 500), earn("excluded", 500)]).await;
    let in_two_hours = (now() + SignedDuration::from_hours(2)).to_string();
    set_limits(&app, "resting", json!({"cool_off_until": in_two_hours})).await;
    set_limits(&app, "excluded", json!({"excluded_until": in_two_hours})).await;
    let after_the_end = now() + SignedDuration::from_hours(3);
    let (_, answer) = app
        .send(&[
            spend_at("resting", 10, after_the_end),
            purchase_at("resting", 10, after_the_end),
            spend_at("excluded", 10, after_the_end),
            purchase_at("excluded", 10, after_the_end),
        ])
        .await;
    assert_eq!(statuses(&answer), ["cooling_off", "cooling_off", "self_excluded", "self_excluded"]);
    assert_eq!((app.balance("resting").await, app.balance("excluded").await), (500, 500));

    // Once the server's clock is past the end, the same events go through.
    app.clock.set(after_the_end);
    let (_, answer) = app.send(&[spend_at("resting", 10, now()), spend_at("excluded", 10, now())]).await;
    assert_eq!(statuses(&answer), ["accepted", "accepted"]);
    app.stop().await;
}

/// Bets raised after losses, dated yesterday but arriving now, are today's loss chasing;
/// a play arriving at 02:00 is late-night play whatever hour (noon) it claims.
async fn harm_markers_count_plays_when_they_arrive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("chaser", 1_000), earn("owl", 1_000)]).await;
    let yesterday: Timestamp = "2026-04-30T05:00:00Z".parse().unwrap();
    let play = |user: &str, minute: i64, bet: i64, at: Timestamp| {
        let props = json!({"game": "slot", "bet": bet, "payout": 0, "result": "lose"});
        event_at(user, "GAME_PLAY", props, at + SignedDuration::from_mins(minute))
    };
    let chasing: Vec<Value> = [10, 20, 40, 80]
        .iter()
        .enumerate()
        .map(|(i, bet)| play("chaser", i as i64, *bet, yesterday))
        .collect();
    let (_, answer) = app.send(&chasing).await;
    assert_eq!(answer["accepted"], 4, "{answer}");
    let (_, view) = app.get("/v1/users/chaser/limits").await;
    assert_eq!(view["harm_markers"]["loss_chasing"], true, "{view}");
    let (_, rec) = app.get("/v1/users/chaser/recommendations").await;
    assert_eq!(
        (rec["protective"].as_bool(), rec["proposals"][0]["type"].as_str()),
        (Some(true), Some("BREAK_REMINDER"))
    );

    let night: Timestamp = "2026-05-01T17:00:00Z".parse().unwrap(); // 02:00 in Seoul
    app.clock.set(night);
    let (_, answer) = app.send(&[play("owl", 0, 10, now())]).await;
    assert_eq!(answer["accepted"], 1, "{answer}");
    let (_, view) = app.get("/v1/users/owl/limits").await;
    assert_eq!(view["harm_markers"]["late_night"], true, "{view}");
    app.stop().await;
}

async fn breaks_refuse_purchases_and_the_daily_limit_caps_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("excluded", 100), earn("resting", 100), earn("capped", 100)]).await;
    let in_a_year = (now() + SignedDuration::from_hours(24 * 365)).to_string();
    set_limits(&app, "excluded", json!({"excluded_until": in_a_year})).await;
    let in_an_hour = (now() + SignedDuration::from_hours(1)).to_string();
    set_limits(&app, "resting", json!({"cool_off_until": in_an_hour})).await;
    set_limits(&app, "capped", json!({"daily_spend_tokens": 100})).await;

    let bought =
        |user: &str| event_at(user, "EARN_CYBER_TOKENS", json!({"amount": 50, "source": "purchase"}), now());
    let (_, answer) = app
        .send(&[
            purchase_at("excluded", 5_000, now()),
            bought("excluded"),
            event_at("excluded", "EARN_CYBER_TOKENS", json!({"amount": 5, "source": "app"}), now()),
            purchase_at("resting", 5_000, now()),
            bought("resting"),
        ])
        .await;
    assert_eq!(
        statuses(&answer),
        ["self_excluded", "self_excluded", "accepted", "cooling_off", "cooling_off"],
        "no buying during a break; earning in the app is fine"
    );
    assert_eq!((app.balance("excluded").await, app.balance("resting").await), (105, 100));
    let refused = &answer["results"][0]["message"];
    assert!(refused.as_str().unwrap().contains("self-excluded until"), "{refused}");

    // The daily limit bounds the tokens bought per day, apart from those spent.
    let (_, answer) = app
        .send(&[
            purchase_at("capped", 80, now()),
            purchase_at("capped", 30, now()),
            bought("capped"),
            spend_at("capped", 100, now()),
        ])
        .await;
    assert_eq!(statuses(&answer), ["accepted", "daily_limit_reached", "daily_limit_reached", "accepted"]);
    assert_eq!(app.balance("capped").await, 80);
    let (_, view) = app.get("/v1/users/capped/limits").await;
    assert_eq!(
        (view["bought_today"].as_i64(), view["spent_today"].as_i64()),
        (Some(80), Some(100)),
        "{view}"
    );
    app.stop().await;

    // The operator may leave purchases to the cash side; breaks still refuse them.
    let app = TestApp::spawn_with(backend, |c| c.protection.daily_limit_covers_purchases = false).await;
    app.send(&[earn("capped", 100), earn("resting", 100)]).await;
    set_limits(&app, "capped", json!({"daily_spend_tokens": 100})).await;
    set_limits(&app, "resting", json!({"cool_off_until": in_an_hour})).await;
    let (_, answer) = app.send(&[purchase_at("capped", 500, now()), purchase_at("resting", 5, now())]).await;
    assert_eq!(statuses(&answer), ["accepted", "cooling_off"]);
    app.stop().await;
}

async fn concurrent_changes_cannot_shorten_a_running_exclusion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for round in 0..12 {
        let user = format!("racer{round}");
        app.send(&[earn(&user, 100)]).await;
        let path = format!("/v1/users/{user}/limits");
        let exclude = app.call(Method::PUT, &path, json!({"excluded_until": "2026-09-01T00:00:00Z"}));
        let lift = app.call(Method::PUT, &path, json!({"daily_spend_tokens": 50}));
        let ((set, _), (lifted, answer)) = tokio::join!(exclude, lift);
        assert_eq!(set, StatusCode::OK);
        assert!(
            lifted == StatusCode::OK
                || (lifted == StatusCode::UNPROCESSABLE_ENTITY && answer["code"] == "limit_locked"),
            "{lifted}: {answer}"
        );
        let (_, view) = app.get(&path).await;
        assert_eq!(
            view["limits"]["excluded_until"], "2026-09-01T00:00:00Z",
            "round {round}: undone by {answer}"
        );
    }
    app.stop().await;
}
