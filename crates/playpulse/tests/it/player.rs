//! Player-scoped tokens over real HTTP: a token reads only its own user, does nothing else,
//! and is refused expired, tampered, signed by another key or for another user; a rotated
//! key keeps the tokens issued before it valid. And a revoked API key stops within a second.

use std::time::Duration;

use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, decode, earn};

on_both_backends!(
    a_player_token_reads_only_its_own_user,
    bad_player_tokens_are_refused,
    a_rotated_key_keeps_issued_tokens_valid,
    a_revoked_api_key_stops_within_a_second
);

async fn token(app: &TestApp, user: &str, ttl_s: Option<i64>) -> String {
    let body = ttl_s.map_or(json!({}), |s| json!({"ttl_s": s}));
    let (status, issued) = app.call(Method::POST, &format!("/v1/users/{user}/tokens"), body).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    issued["token"].as_str().unwrap().to_owned()
}

async fn with_token(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    decode(request.send().await.unwrap()).await
}

fn quiz(user: &str) -> Value {
    json!({"user_id": user, "quiz_version": 1, "answers": {
        "thrill": 3, "big_win": 3, "steady": 3, "all_in": false, "stop_rule": true, "chase": 3}})
}

async fn a_player_token_reads_only_its_own_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("ann", 300), earn("bob", 50)]).await;
    let ann = token(&app, "ann", None).await;
    for path in [
        "/v1/users/ann",
        "/v1/users/ann/balance",
        "/v1/users/ann/recommendations",
        "/v1/users/ann/content",
        "/v1/quiz",
    ] {
        let (status, body) = with_token(&app, Method::GET, path, &ann, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, balance) = with_token(&app, Method::GET, "/v1/users/ann/balance", &ann, None).await;
    assert_eq!(balance["balance"], 300);
    let (status, _) = with_token(&app, Method::POST, "/v1/quiz/submit", &ann, Some(quiz("ann"))).await;
    assert_eq!(status, StatusCode::OK, "a player submits its own quiz");

    let refused: [(Method, &str, Option<Value>, StatusCode, &str); 9] = [
        (Method::GET, "/v1/users/bob", None, StatusCode::FORBIDDEN, "other_user"),
        (Method::GET, "/v1/users/bob/balance", None, StatusCode::FORBIDDEN, "other_user"),
        (Method::GET, "/v1/users/bob/recommendations", None, StatusCode::FORBIDDEN, "other_user"),
        (Method::POST, "/v1/quiz/submit", Some(quiz("bob")), StatusCode::FORBIDDEN, "other_user"),
        (Method::GET, "/v1/users/ann/ledger", None, StatusCode::FORBIDDEN, "missing_scope"),
        (Method::GET, "/v1/users/ann/scores", None, StatusCode::FORBIDDEN, "missing_scope"),
        (
            Method::POST,
            "/v1/events",
            Some(json!({"events": [earn("ann", 1_000_000)]})),
            StatusCode::FORBIDDEN,
            "missing_scope",
        ),
        (Method::PUT, "/v1/users/ann/limits", Some(json!({})), StatusCode::FORBIDDEN, "missing_scope"),
        (Method::POST, "/v1/users/ann/tokens", Some(json!({})), StatusCode::FORBIDDEN, "missing_scope"),
    ];
    for (method, path, body, status, code) in refused {
        let (got, problem) = with_token(&app, method.clone(), path, &ann, body).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{method} {path}");
    }
    assert_eq!(app.balance("ann").await, 300, "nothing a refused request carried was applied");
    let (status, problem) = app.call(Method::POST, "/v1/users/nobody/tokens", json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_user")));
    let (status, problem) = app.call(Method::POST, "/v1/users/ann/tokens", json!({"ttl_s": 86_400})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_ttl")));
}

async fn bad_player_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("cy", 10)]).await;
    let good = token(&app, "cy", Some(600)).await;
    let refused = |token: String, code: &'static str| {
        let app = &app;
        async move {
            let (status, problem) = with_token(app, Method::GET, "/v1/users/cy/balance", &token, None).await;
            assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some(code)), "{token}");
        }
    };
    // One character of the signed payload changed.
    let mut tampered: Vec<char> = good.chars().collect();
    let at = "v4.public.".len() + 5;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    refused(tampered.into_iter().collect(), "invalid_token").await;
    refused("v4.public.garbage".into(), "invalid_token").await;
    // Signed by another deployment's key, under this deployment's key id.
    let other = TestApp::spawn(Backend::Sqlite).await;
    other.send(&[earn("cy", 10)]).await;
    let foreign = token(&other, "cy", None).await;
    let (body, _) = foreign.rsplit_once('.').unwrap();
    let (_, footer) = good.rsplit_once('.').unwrap();
    refused(format!("{body}.{footer}"), "invalid_token").await;
    refused(foreign, "invalid_token").await;
    // Expired on the server's clock.
    app.clock.set(NOW.parse::<jiff::Timestamp>().unwrap() + SignedDuration::from_secs(601));
    refused(good, "token_expired").await;
}

async fn a_rotated_key_keeps_issued_tokens_valid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("dee", 10)]).await;
    let before = token(&app, "dee", Some(3_600)).await;
    let now: jiff::Timestamp = NOW.parse().unwrap();
    playpulse_server::player::rotate(app.state.store.as_ref(), now).await.unwrap();
    // Another instance rotated: this one finds the new key by its id.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let after = token(&app, "dee", Some(3_600)).await;
    assert_ne!(before.rsplit_once('.').unwrap().1, after.rsplit_once('.').unwrap().1, "a new key signs");
    app.clock.set(now + SignedDuration::from_mins(30));
    for t in [&before, &after] {
        let (status, _) = with_token(&app, Method::GET, "/v1/users/dee/balance", t, None).await;
        assert_eq!(status, StatusCode::OK, "both keys verify during the overlap");
    }
}

async fn a_revoked_api_key_stops_within_a_second(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key_with(&[playpulse_core::access::Scope::Read]).await;
    assert_eq!(app.get_as("/v1/games", &key).await.0, StatusCode::OK);
    let key_id = key.strip_prefix("pp_").unwrap().split_once('_').unwrap().0;
    assert!(app.state.store.revoke_api_key(key_id, app.state.clock.now()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, problem) = app.get_as("/v1/games", &key).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
}
