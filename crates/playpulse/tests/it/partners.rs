//! Partner A's signed calls over real HTTP: a reward credits once, every bad request is
//! refused with its code and changes nothing, rotation overlaps, caps and the summary hold.

use jiff::{SignedDuration, Timestamp};
use playpulse_core::partner::{PartnerId, RewardCaps, sign};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, decode, statuses};

on_both_backends!(
    a_signed_reward_credits_once_and_notifies,
    every_bad_request_is_refused_and_changes_nothing,
    a_rotated_secret_signs_during_the_overlap_only,
    caps_refuse_rewards_with_their_codes,
    a_partner_past_its_rate_is_told_to_wait,
    the_summary_counts_visits_rewards_and_later_spends,
    a_resent_id_with_other_content_is_a_conflict
);

const PARTNER: &str = "partner-a";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

async fn register(app: &TestApp) -> String {
    let id = PartnerId::parse(PARTNER).unwrap();
    playpulse::commands::partners::create(app.state.store.as_ref(), &app.config, id, "A").await.unwrap()
}

fn reward(txn: &str, user: &str, amount: i64) -> Value {
    json!({"type": "reward", "txn_id": txn, "user_id": user, "ts": "2026-05-01T02:00:00Z", "amount": amount})
}

fn visit(txn: &str, user: &str) -> Value {
    json!({"type": "visit", "txn_id": txn, "user_id": user, "ts": "2026-05-01T01:00:00Z",
        "dwell_s": 300, "actions": 4, "campaign": "spring"})
}

fn body(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "events": events })).unwrap()
}

/// The signature headers: timestamp and signature.
type Headers = Option<(String, String)>;

/// POSTs `body` to the partner route with the given headers (none when `None`).
async fn post(
    app: &TestApp,
    partner: &str,
    body: Vec<u8>,
    headers: Option<(String, String)>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(format!("{}/v1/partners/{partner}/events", app.base))
        .header("content-type", "application/json");
    if let Some((ts, signature)) = headers {
        request = request.header("x-playpulse-timestamp", ts).header("x-playpulse-signature", signature);
    }
    decode(request.body(body).send().await.expect("request")).await
}

/// Signs `body` with `secret` as sent at `at`.
fn signed(secret: &str, at: Timestamp, body: &[u8]) -> Headers {
    Some((at.as_second().to_string(), sign(secret.as_bytes(), at.as_second(), body)))
}

async fn send(app: &TestApp, secret: &str, events: &[Value]) -> (StatusCode, Value) {
    let body = body(events);
    let headers = signed(secret, app.state.clock.now(), &body);
    post(app, PARTNER, body, headers).await
}

async fn a_signed_reward_credits_once_and_notifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = register(&app).await;
    let (status, answer) = send(&app, &secret, &[visit("v-1", "ann"), reward("r-1", "ann", 500)]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(statuses(&answer), ["accepted", "accepted"]);
    assert_eq!(answer["results"][1]["txn_id"], "r-1");
    assert_eq!(app.balance("ann").await, 500);
    // The partner retries (a new signature, a second later): the same transaction, once.
    app.clock.set(now() + SignedDuration::from_secs(1));
    let (status, answer) = send(&app, &secret, &[reward("r-1", "ann", 500)]).await;
    assert_eq!((status, statuses(&answer)), (StatusCode::OK, vec!["duplicate".to_owned()]));
    assert_eq!(app.balance("ann").await, 500);
    let (_, ledger) = app.get("/v1/users/ann/ledger").await;
    assert_eq!(ledger["entries"][0]["reason"], "earn:partner", "{ledger}");
    let outbox = app.state.store.outbox(10).await.unwrap();
    let arrivals: Vec<_> = outbox.iter().filter(|n| n.kind == "NEW_TOKEN_ARRIVAL").collect();
    assert_eq!(arrivals.len(), 1, "{outbox:?}");
    assert_eq!((arrivals[0].user_id.as_str(), &arrivals[0].payload["amount"]), ("ann", &json!(500)));
}

async fn every_bad_request_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.partners.default_caps.user_daily = Some(1_000)).await;
    let secret = register(&app).await;
    let good = body(&[reward("r-1", "bob", 100)]);
    let at = now();
    let cases: Vec<(&str, Vec<u8>, Headers, StatusCode, &str)> = vec![
        ("no headers", good.clone(), None, StatusCode::UNAUTHORIZED, "invalid_signature_header"),
        (
            "wrong secret",
            good.clone(),
            signed("not-the-secret", at, &good),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "signed for another body",
            body(&[reward("r-1", "bob", 9_000)]),
            signed(&secret, at, &good),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "stale",
            good.clone(),
            signed(&secret, at - SignedDuration::from_secs(301), &good),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
        (
            "future",
            good.clone(),
            signed(&secret, at + SignedDuration::from_secs(301), &good),
            StatusCode::UNAUTHORIZED,
            "timestamp_in_future",
        ),
        (
            "oversized",
            vec![b' '; 70 * 1024],
            signed(&secret, at, &good),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "not a batch",
            b"[1,2]".to_vec(),
            signed(&secret, at, b"[1,2]"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "empty",
            body(&[]),
            signed(&secret, at, &body(&[])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch_size",
        ),
    ];
    for (what, payload, headers, status, code) in cases {
        let (got, problem) = post(&app, PARTNER, payload, headers).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{what}: {problem}");
    }
    let (got, problem) = post(&app, "partner-z", good.clone(), signed(&secret, at, &good)).await;
    assert_eq!((got, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_partner")));
    assert_eq!(app.state.store.event_count().await.unwrap(), 0, "nothing refused was stored");

    // Accepted once; the same bytes and headers again are a replay.
    let headers = signed(&secret, at, &good);
    assert_eq!(post(&app, PARTNER, good.clone(), headers.clone()).await.0, StatusCode::OK);
    let (got, problem) = post(&app, PARTNER, good.clone(), headers).await;
    assert_eq!((got, problem["code"].as_str()), (StatusCode::CONFLICT, Some("replayed_request")));
    // A disabled partner is refused, however well it signs.
    let id = PartnerId::parse(PARTNER).unwrap();
    app.state.store.set_partner_active(&id, false).await.unwrap();
    let other = body(&[reward("r-2", "bob", 100)]);
    let (got, problem) = post(&app, PARTNER, other.clone(), signed(&secret, at, &other)).await;
    assert_eq!((got, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("partner_disabled")));
    assert_eq!(app.balance("bob").await, 100);
    assert_eq!(app.state.store.event_count().await.unwrap(), 1);
}

async fn a_rotated_secret_signs_during_the_overlap_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = register(&app).await;
    let id = PartnerId::parse(PARTNER).unwrap();
    let new = "a-new-secret".to_owned();
    let until = now() + SignedDuration::from_hours(1);
    assert!(app.state.store.rotate_partner_secret(&id, new.clone(), until, now()).await.unwrap());
    assert_eq!(send(&app, &old, &[reward("r-1", "cy", 10)]).await.0, StatusCode::OK);
    assert_eq!(send(&app, &new, &[reward("r-2", "cy", 10)]).await.0, StatusCode::OK);
    app.clock.set(until + SignedDuration::from_secs(1));
    let (status, problem) = send(&app, &old, &[reward("r-3", "cy", 10)]).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")));
    assert_eq!(send(&app, &new, &[reward("r-4", "cy", 10)]).await.0, StatusCode::OK);
    assert_eq!(app.balance("cy").await, 30);
}

async fn caps_refuse_rewards_with_their_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = register(&app).await;
    let id = PartnerId::parse(PARTNER).unwrap();
    let caps = RewardCaps {
        partner_daily: Some(1_000),
        user_daily: Some(400),
        user_monthly: Some(500),
        ..RewardCaps::default()
    };
    app.state.store.set_partner_caps(&id, caps).await.unwrap();
    let (_, answer) =
        send(&app, &secret, &[reward("a", "dee", 300), reward("b", "dee", 200), reward("c", "eve", 400)])
            .await;
    assert_eq!(statuses(&answer), ["accepted", "user_daily_cap_reached", "accepted"]);
    // The next business day: the user's day is fresh, the month is not; the partner's day too.
    app.clock.set(now() + SignedDuration::from_hours(24));
    let (_, answer) = send(&app, &secret, &[reward("d", "dee", 300), reward("e", "fay", 400)]).await;
    assert_eq!(statuses(&answer), ["user_monthly_cap_reached", "accepted"]);
    let (_, answer) = send(&app, &secret, &[reward("f", "gus", 400), reward("g", "hal", 300)]).await;
    assert_eq!(statuses(&answer), ["accepted", "partner_daily_cap_reached"]);
    assert_eq!(
        (app.balance("dee").await, app.balance("eve").await, app.balance("gus").await),
        (300, 400, 400)
    );
}

async fn a_partner_past_its_rate_is_told_to_wait(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.partners.rate_limit_per_s = 1;
        c.partners.rate_limit_burst = 2;
    })
    .await;
    let secret = register(&app).await;
    for n in 0..2 {
        assert_eq!(send(&app, &secret, &[reward(&format!("r{n}"), "ivy", 1)]).await.0, StatusCode::OK);
    }
    let payload = body(&[reward("r9", "ivy", 1)]);
    let response = app
        .client
        .post(format!("{}/v1/partners/{PARTNER}/events", app.base))
        .header("x-playpulse-timestamp", now().as_second().to_string())
        .header("x-playpulse-signature", sign(secret.as_bytes(), now().as_second(), &payload))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, problem) = decode(response).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert_eq!(app.balance("ivy").await, 2);
}

async fn the_summary_counts_visits_rewards_and_later_spends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = register(&app).await;
    let events = [
        visit("v-1", "jo"),
        visit("v-2", "jo"),
        visit("v-3", "kim"),
        reward("r-1", "jo", 300),
        reward("r-2", "kim", 100),
    ];
    assert_eq!(send(&app, &secret, &events).await.0, StatusCode::OK);
    let spend = json!({"event_id": uuid::Uuid::new_v4().to_string(), "user_id": "jo", "type": "SPEND_CYBER_TOKENS",
        "ts": "2026-05-01T02:30:00Z", "props": {"amount": 120, "sink": "game"}});
    let (_, answer) = app.send(&[spend]).await;
    assert_eq!(statuses(&answer), ["accepted"]);
    let (status, summary) =
        app.get(&format!("/v1/partners/{PARTNER}/summary?from=2026-05-01&to=2026-05-01")).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let want = json!({"partner_id": PARTNER, "from": "2026-05-01", "to": "2026-05-01", "visits": 3, "visitors": 2,
        "rewards": 2, "rewarded_users": 2, "tokens_rewarded": 400, "tokens_spent_after": 120});
    assert_eq!(summary, want);
    let (status, _) = app.get(&format!("/v1/partners/{PARTNER}/summary?from=2026-05-02&to=2026-05-01")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/v1/partners/nobody/summary?from=2026-05-01&to=2026-05-01").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let reader = app.key_with(&[playpulse_core::access::Scope::Ingest]).await;
    let (status, _) =
        app.get_as(&format!("/v1/partners/{PARTNER}/summary?from=2026-05-01&to=2026-05-01"), &reader).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the summary needs the read scope");
}

/// Earn 100 with id X, then X again with 900: the client must learn that its 900 was not
/// recorded. The same for a partner's transaction id reused with another amount.
async fn a_resent_id_with_other_content_is_a_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = json!({"event_id": "7d0c7b1e-3f7e-4d43-9a55-2d8f6c7a1b01", "user_id": "max", "type": "EARN_CYBER_TOKENS",
        "ts": "2026-05-01T02:00:00Z", "props": {"amount": 100, "source": "app"}});
    assert_eq!(statuses(&app.send(std::slice::from_ref(&first)).await.1), ["accepted"]);
    let mut changed = first.clone();
    changed["props"]["amount"] = json!(900);
    let (status, answer) = app.send(&[changed, first]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&answer), ["event_id_conflict", "duplicate"]);
    let message = answer["results"][0]["message"].as_str().unwrap();
    assert!(message.ends_with("props.amount differ") && !message.contains("900"), "{message}");

    let secret = register(&app).await;
    assert_eq!(statuses(&send(&app, &secret, &[reward("r-1", "max", 50)]).await.1), ["accepted"]);
    app.clock.set(now() + SignedDuration::from_secs(1));
    let (_, answer) = send(&app, &secret, &[reward("r-1", "max", 5_000)]).await;
    assert_eq!(statuses(&answer), ["event_id_conflict"]);
    assert_eq!(app.balance("max").await, 150);
}
