//! Player protection through the API: limits the ledger enforces, adult content gated on
//! age verification, and harm markers that switch proposals to the protective policy.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_server::events::ingest_values;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, earn, event, event_at, simulate, spend, statuses, truth};

on_both_backends!(
    a_user_past_the_daily_limit_cannot_spend,
    cool_off_and_exclusion_stop_spending_and_run_to_their_end,
    adult_content_needs_age_verification,
    a_loss_chaser_gets_no_stake_escalation,
    a_protected_user_is_invited_to_nothing,
    an_adult_default_game_is_not_recommended_to_users_not_verified,
    simulated_loss_chasers_are_flagged_and_get_no_stake_escalation
);

fn kinds(answer: &Value) -> Vec<String> {
    answer["proposals"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap().to_owned()).collect()
}

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

async fn a_user_past_the_daily_limit_cannot_spend(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("capped", 1_000)]).await;
    let (status, view) =
        app.call(Method::PUT, "/v1/users/capped/limits", json!({"daily_spend_tokens": 100})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["limits"]["daily_spend_tokens"], 100);

    let (_, answer) = app.send(&[spend("capped", 60), spend("capped", 50), spend("capped", 40)]).await;
    assert_eq!(statuses(&answer), ["accepted", "daily_limit_reached", "accepted"]);
    assert_eq!(app.balance("capped").await, 900, "the refused spend moved nothing");
    let (_, answer) = app.send(&[spend("capped", 1)]).await;
    assert_eq!(statuses(&answer), ["daily_limit_reached"], "the limit is reached: not one token more");

    let (_, view) = app.get("/v1/users/capped/limits").await;
    assert_eq!(
        (view["spent_today"].as_i64(), view["harm_markers"]["limit_reached"].as_bool()),
        (Some(100), Some(true))
    );
    let (_, rec) = app.get("/v1/users/capped/recommendations").await;
    assert_eq!(rec["protective"], true);
    assert_eq!(kinds(&rec)[0], "LIMIT_REMINDER");
    assert!(kinds(&rec).iter().all(|k| !["HIGH_STAKE", "MID_STAKE", "RISKY_PLAY"].contains(&k.as_str())));

    // The next business day starts afresh.
    let tomorrow = now() + SignedDuration::from_hours(22);
    app.clock.set(tomorrow);
    let (_, answer) = app
        .send(&[event_at("capped", "SPEND_CYBER_TOKENS", json!({"amount": 100, "sink": "game"}), tomorrow)])
        .await;
    assert_eq!(statuses(&answer), ["accepted"]);

    let (status, problem) =
        app.call(Method::PUT, "/v1/users/capped/limits", json!({"daily_spend_tokens": 0})).await;
    assert_eq!(
        (status, problem["item"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("daily_spend_tokens"))
    );
    let (status, _) = app.call(Method::PUT, "/v1/users/nobody/limits", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn cool_off_and_exclusion_stop_spending_and_run_to_their_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("resting", 500), earn("excluded", 500)]).await;
    let in_an_hour = (now() + SignedDuration::from_hours(1)).to_string();
    let (status, _) =
        app.call(Method::PUT, "/v1/users/resting/limits", json!({"cool_off_until": in_an_hour})).await;
    assert_eq!(status, StatusCode::OK);
    let in_a_year = (now() + SignedDuration::from_hours(24 * 365)).to_string();
    app.call(Method::PUT, "/v1/users/excluded/limits", json!({"excluded_until": in_a_year})).await;

    let (_, answer) = app.send(&[spend("resting", 10), spend("excluded", 10), earn("excluded", 5)]).await;
    assert_eq!(statuses(&answer), ["cooling_off", "self_excluded", "accepted"], "earning is still fine");
    // Ending either early is refused; extending is fine.
    let (status, problem) = app.call(Method::PUT, "/v1/users/resting/limits", json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit_locked")));
    let later = (now() + SignedDuration::from_hours(2)).to_string();
    let (status, _) =
        app.call(Method::PUT, "/v1/users/resting/limits", json!({"cool_off_until": later})).await;
    assert_eq!(status, StatusCode::OK);
    // Once over, spending works again.
    let after = now() + SignedDuration::from_hours(3);
    app.clock.set(after);
    let (_, answer) = app
        .send(&[event_at("resting", "SPEND_CYBER_TOKENS", json!({"amount": 10, "sink": "game"}), after)])
        .await;
    assert_eq!(statuses(&answer), ["accepted"]);
    assert_eq!(app.balance("excluded").await, 505);
    app.stop().await;
}

async fn adult_content_needs_age_verification(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.protection.adult_content = vec!["c19-night".into()];
        c.proposals.featured_content = vec!["c19-night".into(), "c-garden".into()];
        c.games.iter_mut().filter(|g| g.id == "roulette").for_each(|g| g.adult = true);
    })
    .await;
    app.send(&[earn("young", 500)]).await;
    let unlock = |content: &str| event("young", "CONTENT_UNLOCK", json!({"content_id": content, "stage": 1}));
    let pay = |content: &str| {
        event("young", "SPEND_CYBER_TOKENS", json!({"amount": 50, "sink": "unlock", "content_id": content}))
    };
    let (_, answer) =
        app.send(&[unlock("c19-night"), pay("c19-night"), unlock("c-garden"), pay("c-garden")]).await;
    assert_eq!(
        statuses(&answer),
        ["age_verification_required", "age_verification_required", "accepted", "accepted"]
    );
    assert_eq!(app.balance("young").await, 450, "only the allowed unlock was paid");
    let spin = |game: &str| {
        event("young", "GAME_PLAY", json!({"game": game, "bet": 5, "payout": 0, "result": "lose"}))
    };
    let (_, answer) = app.send(&[spin("roulette"), spin("slot")]).await;
    assert_eq!(statuses(&answer), ["age_verification_required", "accepted"], "roulette is marked adult here");
    let (_, rec) = app.get("/v1/users/young/recommendations").await;
    let actions: Vec<&str> =
        rec["proposals"].as_array().unwrap().iter().filter_map(|p| p["action"].as_str()).collect();
    assert!(actions.contains(&"unlock:c-garden") && !actions.iter().any(|a| a.contains("c19")), "{rec}");

    assert_eq!(
        app.call(Method::PATCH, "/v1/users/young", json!({"age_verified": true})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, profile) = app.get("/v1/users/young").await;
    assert_eq!(profile["age_verified"], true);
    let (_, answer) = app.send(&[unlock("c19-night"), pay("c19-night"), spin("roulette")]).await;
    assert_eq!(statuses(&answer), ["accepted", "accepted", "accepted"]);
    let (_, rec) = app.get("/v1/users/young/recommendations").await;
    assert!(rec["proposals"].as_array().unwrap().iter().any(|p| p["action"] == "unlock:c19-night"), "{rec}");
    app.stop().await;
}

/// Bets doubled after every loss, by a rich High-Risk user the seed would offer high stakes.
async fn a_loss_chaser_gets_no_stake_escalation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("chaser", 20_000), earn("calm", 20_000)]).await;
    let high_risk =
        json!({"thrill": 5, "big_win": 5, "steady": 1, "all_in": true, "stop_rule": false, "chase": 5});
    for user in ["chaser", "calm"] {
        let body = json!({"user_id": user, "quiz_version": 1, "answers": high_risk});
        app.call(Method::POST, "/v1/quiz/submit", body).await;
    }
    let play = |user: &str, minute: i64, bet: i64, result: &str| {
        let payout = if result == "win" { bet * 2 } else { 0 };
        let at = now() - SignedDuration::from_mins(50 - minute);
        event_at(
            user,
            "GAME_PLAY",
            json!({"game": "roulette", "bet": bet, "payout": payout, "result": result}),
            at,
        )
    };
    let chasing: Vec<Value> = [(10, "lose"), (20, "lose"), (40, "lose"), (80, "lose")]
        .iter()
        .enumerate()
        .map(|(i, (bet, result))| play("chaser", i as i64, *bet, result))
        .collect();
    let steady: Vec<Value> = [(10, "lose"), (10, "lose"), (10, "win"), (10, "lose")]
        .iter()
        .enumerate()
        .map(|(i, (bet, result))| play("calm", i as i64, *bet, result))
        .collect();
    let (_, answer) = app.send(&[chasing, steady].concat()).await;
    assert_eq!(answer["accepted"], 8, "{answer}");

    let (_, calm) = app.get("/v1/users/calm/recommendations").await;
    assert_eq!(calm["protective"], false);
    assert!(
        kinds(&calm).contains(&"HIGH_STAKE".to_owned()) && kinds(&calm).contains(&"RISKY_PLAY".to_owned())
    );

    let (_, chaser) = app.get("/v1/users/chaser/recommendations").await;
    assert_eq!(chaser["protective"], true, "{chaser}");
    assert_eq!(kinds(&chaser)[0], "BREAK_REMINDER");
    assert!(chaser["proposals"][0]["reason"].as_str().unwrap().contains("loss_chasing"));
    for escalation in ["HIGH_STAKE", "MID_STAKE", "RISKY_PLAY"] {
        assert!(!kinds(&chaser).contains(&escalation.to_owned()), "{escalation} offered to a loss chaser");
    }
    assert_eq!(chaser["recommended_game"], "quiz", "no wagering game under protection");
    let (_, view) = app.get("/v1/users/chaser/limits").await;
    assert_eq!(view["harm_markers"]["loss_chasing"], true);
    app.stop().await;
}

/// Users the seed would invite to collect tokens for stakes, to a relaxed game and to new
/// content: under protection none of it, and during a break only the reminder.
async fn a_protected_user_is_invited_to_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.proposals.featured_content = vec!["c-garden".into()]).await;
    app.send(&[earn("free", 50), earn("chaser", 50), earn("resting", 50)]).await;
    let low_risk =
        json!({"thrill": 1, "big_win": 1, "steady": 5, "all_in": false, "stop_rule": true, "chase": 1});
    for user in ["free", "chaser", "resting"] {
        let body = json!({"user_id": user, "quiz_version": 1, "answers": low_risk});
        assert_eq!(app.call(Method::POST, "/v1/quiz/submit", body).await.0, StatusCode::OK);
    }
    let (_, free) = app.get("/v1/users/free/recommendations").await;
    let mut offered = kinds(&free);
    offered.sort();
    assert_eq!(offered, ["CORPORATE_ENGAGE", "EARN_MORE", "NEW_CONTENT", "SAFE_PLAY"], "{free}");

    let chasing: Vec<Value> = [1, 2, 4, 8]
        .iter()
        .map(|bet| {
            event("chaser", "GAME_PLAY", json!({"game": "slot", "bet": bet, "payout": 0, "result": "lose"}))
        })
        .collect();
    app.send(&chasing).await;
    let (_, chaser) = app.get("/v1/users/chaser/recommendations").await;
    assert_eq!(chaser["protective"], true, "{chaser}");
    assert_eq!(kinds(&chaser), ["BREAK_REMINDER", "CORPORATE_ENGAGE"], "{chaser}");

    let in_two_hours = (now() + SignedDuration::from_hours(2)).to_string();
    let (status, _) =
        app.call(Method::PUT, "/v1/users/resting/limits", json!({"cool_off_until": in_two_hours})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, resting) = app.get("/v1/users/resting/recommendations").await;
    assert_eq!(resting["protective"], true, "{resting}");
    assert_eq!(kinds(&resting), ["LIMIT_REMINDER"], "{resting}");
    let texts: Vec<&str> =
        resting["proposals"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert!(texts.iter().all(|t| !t.contains("150") && !t.contains("quiz")), "{texts:?}");
    let (_, view) = app.get("/v1/users/resting/limits").await;
    assert_eq!(view["harm_markers"]["cooling_off"], true, "{view}");
    app.stop().await;
}

/// An operator may make an adult game the default; a user who is not age-verified then gets
/// a game for everyone instead, under protection too, and the ledger would let them play it.
async fn an_adult_default_game_is_not_recommended_to_users_not_verified(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.proposals.default_game = "roulette".into();
        c.games.iter_mut().filter(|g| g.id == "roulette").for_each(|g| g.adult = true);
    })
    .await;
    app.send(&[earn("young", 100)]).await;
    let in_an_hour = (now() + SignedDuration::from_hours(1)).to_string();
    app.call(Method::PUT, "/v1/users/young/limits", json!({"cool_off_until": in_an_hour})).await;
    let (_, rec) = app.get("/v1/users/young/recommendations").await;
    assert_eq!(rec["protective"], true, "{rec}");
    let game = rec["recommended_game"].as_str().unwrap().to_owned();
    assert_ne!(game, "roulette", "{rec}");
    let play = event("young", "GAME_PLAY", json!({"game": game, "bet": 0, "payout": 0, "result": "draw"}));
    assert_eq!(statuses(&app.send(&[play]).await.1), ["accepted"], "the recommended game is playable");

    assert_eq!(
        app.call(Method::PATCH, "/v1/users/young", json!({"age_verified": true})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, rec) = app.get("/v1/users/young/recommendations").await;
    assert_eq!(rec["recommended_game"], "roulette", "the operator's default, for an adult");
    app.stop().await;
}

/// Simulated users, one in twenty of whom chases losses (doubling the bet after each loss,
/// see the simulator's traits), through the real ingest path as the events happen. The
/// ledger flags exactly the users who raised a bet right after a loss three times on the
/// business day the plays arrived, as counted here from the history itself, and none of them
/// is offered a stake escalation.
async fn simulated_loss_chasers_are_flagged_and_get_no_stake_escalation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &["--users", "1500", "--days", "2", "--seed", "5", "--start", "2026-04-29"]);
    let ts = |event: &Value| event["ts"].as_str().unwrap().parse::<Timestamp>().unwrap();
    let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let mut events: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    events.sort_by_key(ts);
    // The ledger counts harm when plays arrive: they arrive in time order, a batch at a time,
    // each batch at the time of its latest event.
    let mut arrivals = Vec::with_capacity(events.len());
    for chunk in events.chunks(MAX_EVENTS_PER_BATCH) {
        let arrival = chunk.iter().map(ts).max().unwrap();
        app.clock.set(arrival);
        let answer = ingest_values(&app.state, chunk.to_vec()).await.unwrap();
        assert_eq!(answer.rejected, 0);
        arrivals.extend(std::iter::repeat_n(arrival, chunk.len()));
    }
    // The last simulated business day (Asia/Seoul) is today, one second before it ends.
    let last_day: Date = "2026-04-30".parse().unwrap();
    app.clock.set("2026-04-30T14:59:59Z".parse().unwrap());

    let seoul = TimeZone::get("Asia/Seoul").unwrap();
    let mut raises: HashMap<String, (u32, Option<(i64, bool)>)> = HashMap::new();
    for (event, arrival) in events.iter().zip(&arrivals) {
        if event["type"] != "GAME_PLAY" {
            continue;
        }
        let (bet, lost) = (event["props"]["bet"].as_i64().unwrap(), event["props"]["result"] == "lose");
        let day = arrival.to_zoned(seoul.clone()).date();
        let (today, last) = raises.entry(event["user_id"].as_str().unwrap().to_owned()).or_default();
        if let Some((last_bet, true)) = *last
            && day == last_day
            && bet > last_bet
        {
            *today += 1;
        }
        *last = Some((bet, lost));
    }
    let expected: Vec<&String> = raises.iter().filter(|(_, (n, _))| *n >= 3).map(|(user, _)| user).collect();
    let chasers: Vec<String> = truth(dir.path())
        .into_iter()
        .filter(|t| t["traits"]["chases_losses"] == true)
        .map(|t| t["user_id"].as_str().unwrap().to_owned())
        .collect();
    let flagged_chasers = expected.iter().filter(|u| chasers.contains(u)).count();
    assert!(flagged_chasers >= 5, "{flagged_chasers} chasers to flag of {}", chasers.len());
    assert!(expected.len() - flagged_chasers <= 2, "the others hardly ever raise after a loss: {expected:?}");

    let mut would_stake = 0;
    for user in raises.keys() {
        let (_, view) = app.get(&format!("/v1/users/{user}/limits")).await;
        let flagged = view["harm_markers"]["loss_chasing"] == true;
        assert_eq!(flagged, expected.contains(&user), "{user}: {view}");
        if !flagged {
            continue;
        }
        let (_, rec) = app.get(&format!("/v1/users/{user}/recommendations")).await;
        assert_eq!(rec["protective"], true, "{rec}");
        assert_eq!(kinds(&rec)[0], "BREAK_REMINDER", "{rec}");
        for escalation in ["HIGH_STAKE", "MID_STAKE", "RISKY_PLAY"] {
            assert!(!kinds(&rec).contains(&escalation.to_owned()), "{escalation} offered to {user}");
        }
        would_stake += usize::from(app.balance(user).await >= 200);
    }
    println!(
        "loss chasing: {} users flagged ({flagged_chasers} simulated chasers, of {}), {would_stake} with a stake-sized balance",
        expected.len(),
        chasers.len()
    );
    assert!(would_stake >= 1, "some flagged user has the balance the seed would offer a stake for");
    app.stop().await;
}
