//! Keys, scopes and rate limits.

use playpulse_core::access::Scope;
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, decode, earn};

on_both_backends!(
    keys_and_scopes_guard_every_route,
    each_key_has_a_rate_limit,
    failed_authentications_are_throttled_per_address
);

async fn keys_and_scopes_guard_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = || serde_json::to_vec(&serde_json::json!({"events": [earn("fay", 1)]})).unwrap();

    let response = app.client.get(format!("{}/v1/users/fay", app.base)).send().await.unwrap();
    let (status, problem) = decode(response).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing_api_key")));

    for wrong in ["nonsense", "pp_000000000000_00", &format!("{}x", app.key)] {
        let (status, problem) = app.get_as("/v1/users/fay", wrong).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
    }

    let reader = app.key_with(&[Scope::Read]).await;
    let (status, problem) = app.post_raw("/v1/events", &reader, body()).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("missing_scope")));

    let ingester = app.key_with(&[Scope::Ingest]).await;
    let (status, _) = app.post_raw("/v1/events", &ingester, body()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app.get_as("/v1/users/fay", &ingester).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("missing_scope")));
    let (status, _) = app.get_as("/v1/users/fay", &reader).await;
    assert_eq!(status, StatusCode::OK);

    let revoked = app.key_with(&[Scope::Read]).await;
    let key_id = revoked.split('_').nth(1).unwrap();
    assert!(app.state.store.revoke_api_key(key_id, app.state.clock.now()).await.unwrap());
    let (status, _) = app.get_as("/v1/users/fay", &revoked).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let stored = app.state.store.api_key(key_id).await.unwrap().unwrap();
    assert!(!revoked.contains(&stored.secret_hash), "the secret is stored hashed");
    app.stop().await;
}

async fn each_key_has_a_rate_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.server.rate_limit_per_s = 1;
        c.server.rate_limit_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response =
            app.client.get(format!("{}/v1/users/gil", app.base)).bearer_auth(&app.key).send().await.unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = decode(response).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["code"], "rate_limited");
            assert!(retry_after.is_some(), "429 says when to retry");
        }
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    let other = app.key_with(&[Scope::Read]).await;
    let (status, _) = app.get_as("/v1/users/gil", &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "limits are per key");
    app.stop().await;
}

/// Guessing key ids: after the address's budget of failures, 429 with Retry-After and no
/// lookup, while a key already verified from there keeps working.
async fn failed_authentications_are_throttled_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.server.auth_failures_per_minute = 3).await;
    let (status, _) = app.get("/v1/users/hal").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the admin key is verified before the guessing starts");
    let mut seen = Vec::new();
    for guess in 0..5 {
        let response = app
            .client
            .get(format!("{}/v1/users/hal", app.base))
            .bearer_auth(format!("pp_{guess:012x}_{}", "0".repeat(64)))
            .send()
            .await
            .unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let (status, problem) = decode(response).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = retry_after.expect("429 says when to retry").parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        seen.push((status.as_u16(), problem["code"].as_str().unwrap().to_owned()));
    }
    let codes: Vec<(u16, &str)> = seen.iter().map(|(s, c)| (*s, c.as_str())).collect();
    assert_eq!(
        codes,
        [
            (401, "invalid_api_key"),
            (401, "invalid_api_key"),
            (401, "invalid_api_key"),
            (429, "too_many_auth_failures"),
            (429, "too_many_auth_failures"),
        ]
    );
    let (status, _) = app.get("/v1/users/hal").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a verified key is not locked out by others' guesses");
    app.stop().await;
}
