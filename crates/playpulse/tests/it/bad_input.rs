//! Bad input, tried as a new user would: a clear error with a stable code, and no change.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, decode, earn, event, statuses};

on_both_backends!(
    malformed_requests_are_refused_whole,
    bad_events_are_rejected_one_by_one,
    a_nul_character_rejects_its_event_alone,
    every_extractor_rejection_is_a_problem
);

async fn malformed_requests_are_refused_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key.clone();
    let response = app
        .client
        .post(format!("{}/v1/events", app.base))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body(serde_json::to_vec(&json!({"events": [earn("x", 1)]})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("not JSON", b"{events: nope".to_vec(), StatusCode::BAD_REQUEST, "malformed_body"),
        (
            "invalid UTF-8",
            b"{\"events\": [\"\xff\xfe\"]}".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        ("events not a list", br#"{"events": {"a": 1}}"#.to_vec(), StatusCode::BAD_REQUEST, "malformed_body"),
        (
            "unknown field",
            br#"{"events": [], "extra": 1}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "empty batch",
            br#"{"events": []}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch_size",
        ),
        (
            "1001 events",
            serde_json::to_vec(&json!({"events": vec![json!({}); 1001]})).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch_size",
        ),
        (
            "2 MB body",
            serde_json::to_vec(&json!({"events": [{"props": {"blob": "x".repeat(2 << 20)}}]})).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    // The oversized body comes last: the server answers 413 without reading it and closes
    // that connection, which a client must not reuse.
    for (what, body, status, code) in cases {
        let (got, problem) = app.post_raw("/v1/events", &key, body).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{what}: {problem}");
    }
    assert_eq!(app.state.store.event_count().await.unwrap(), 0, "nothing was stored");
    app.stop().await;
}

async fn bad_events_are_rejected_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let twin = earn("eve", 5);
    let mut future = event("eve", "SESSION_START", json!({}));
    future["ts"] = json!("2026-05-03T00:00:00Z");
    let mut no_id = earn("eve", 5);
    no_id.as_object_mut().unwrap().remove("event_id");
    let mut bad_user = earn("eve", 5);
    bad_user["user_id"] = json!("eve@example.com");
    let mut number_user = earn("eve", 5);
    number_user["user_id"] = json!(42);
    let batch: Vec<Value> = vec![
        event("eve", "EARN_CYBER_TOKENS", json!({"amount": -5, "source": "app"})),
        event("eve", "EARN_CYBER_TOKENS", json!({"amount": "5", "source": "app"})),
        event("eve", "EARN_CYBER_TOKENS", json!({"source": "app"})),
        event("eve", "SPEND_CYBER_TOKENS", json!({"amount": 1, "sink": "game"})),
        event("eve", "JACKPOT", json!({})),
        json!("not an object"),
        no_id,
        bad_user,
        number_user,
        future,
        twin.clone(),
        twin,
    ];
    let (status, answer) = app.send(&batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        statuses(&answer),
        [
            "invalid_amount",
            "invalid_amount",
            "missing_prop",
            "insufficient_balance",
            "unknown_event_type",
            "invalid_envelope",
            "invalid_event_id",
            "invalid_user_id",
            "invalid_user_id",
            "timestamp_in_future",
            "accepted",
            "duplicate_in_batch",
        ]
    );
    for result in answer["results"].as_array().unwrap() {
        if result["status"] == "rejected" {
            assert!(!result["message"].as_str().unwrap().is_empty(), "{result}");
        }
    }
    assert_eq!(app.balance("eve").await, 5, "only the one valid earn counted");
    assert_eq!(app.state.store.event_count().await.unwrap(), 1);
    app.stop().await;
}

/// PostgreSQL cannot store U+0000 in JSON; SQLite could. Both answer alike: the event that
/// holds one is rejected with a stable code, and the rest of its batch is applied.
async fn a_nul_character_rejects_its_event_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch = vec![
        earn("nul", 100),
        event("nul", "VIEW_CONTENT", json!({"content_id": "c\u{0}1"})),
        event("nul", "SESSION_START", json!({"device": {"name": "pad\u{0}"}})),
        event("nul", "SPEND_CYBER_TOKENS", json!({"amount": 30, "sink": "game"})),
    ];
    let (status, answer) = app.send(&batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(statuses(&answer), ["accepted", "invalid_prop", "invalid_prop", "accepted"]);
    let message = answer["results"][2]["message"].as_str().unwrap();
    assert!(message.contains("props.device.name") && message.contains("NUL"), "{message}");
    assert_eq!(app.balance("nul").await, 70, "the valid events of the batch were applied");
    assert_eq!(app.state.store.event_count().await.unwrap(), 2);
    app.stop().await;
}

/// A database error is logged with its SQLSTATE and message, not a bare `db error`
/// (the HTTP answer stays a generic `internal`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_say_their_sqlstate_and_message() {
    let err = playpulse_store::postgres::ScratchDatabase::create(&crate::support::pg_admin_url(), "pp bad")
        .await
        .expect_err("a database name with a space is a syntax error");
    let logged = err.to_string();
    assert!(logged.contains("42601") && logged.contains("syntax error"), "{logged}");
}

/// Bad queries, paths, content types and oversized bodies on every kind of route answer
/// `application/problem+json` (checked by `decode`) with the status and code of the README.
async fn every_extractor_rejection_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("ext", 10)]).await;
    for path in ["/v1/users/ext/ledger?limit=abc", "/v1/jobs?limit=-1"] {
        let (status, problem) = app.get(path).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_limit")),
            "{path}"
        );
    }
    let (status, problem) = app.get("/v1/users/%FF%FE/balance").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_path")),
        "{problem}"
    );

    let quiz = serde_json::to_vec(&json!({"user_id": "ext", "quiz_version": 1, "answers": {}})).unwrap();
    let send = |method: reqwest::Method, path: &str, content_type: &str, body: Vec<u8>| {
        // A fresh client each time: after a 413 the server closes the connection unread.
        reqwest::Client::new()
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let big = serde_json::to_vec(&json!({"user_id": "ext", "blob": "x".repeat(2 << 20)})).unwrap();
    let cases = [
        (
            reqwest::Method::POST,
            "/v1/quiz/submit",
            "text/plain",
            quiz.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            reqwest::Method::PATCH,
            "/v1/users/ext",
            "text/plain",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            reqwest::Method::POST,
            "/v1/quiz/submit",
            "application/json",
            b"{nope".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            reqwest::Method::PATCH,
            "/v1/users/ext",
            "application/json",
            br#"{"age": 3}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            reqwest::Method::POST,
            "/v1/quiz/submit",
            "application/json",
            big.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            reqwest::Method::PATCH,
            "/v1/users/ext",
            "application/json",
            big.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            reqwest::Method::PUT,
            "/v1/users/ext/limits",
            "application/json",
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (method, path, content_type, body, status, code) in cases {
        let what = format!("{method} {path} {content_type}");
        let (got, problem) = decode(send(method, path, content_type, body).await.unwrap()).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{what}: {problem}");
    }
    let (_, profile) = app.get("/v1/users/ext").await;
    assert_eq!(
        (profile["lang"].is_null(), profile["risk_profile"].is_null()),
        (true, true),
        "nothing changed"
    );
    app.stop().await;
}
