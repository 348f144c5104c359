//! A user's own limits through the API, under concurrency.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, earn};

on_both_backends!(concurrent_changes_cannot_shorten_a_running_exclusion);

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
