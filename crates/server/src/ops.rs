//! Health, readiness, metrics and the OpenAPI document: unauthenticated operator endpoints.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::problem::ApiError;

/// Counts and times every request by its route template (never the raw path: ids would
/// explode the label space).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("playpulse_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("playpulse_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Answers a request that takes longer than `limit` with 408 `request_timeout`, a problem
/// like every other refusal (dropping the handler's future cancels its work).
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Liveness: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers. A degraded cache is reported but does not fail readiness,
/// since every read falls back to the store.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let cache = match &state.cache {
        None => "none",
        Some(c) if c.is_degraded() => "degraded",
        Some(_) => "ok",
    };
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ready", "store": "ok", "cache": cache})).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "store": "down", "cache": cache})),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_request_past_the_time_limit_is_answered_with_a_problem() {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        };
        let app = Router::new()
            .route("/slow", get(slow))
            .route("/fast", get(|| async { "on time" }))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(20), time_limit));
        let request = |uri| Request::builder().uri(uri).body(Body::empty()).unwrap();

        let late = app.clone().oneshot(request("/slow")).await.unwrap();
        assert_eq!(late.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(late.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(late.into_body(), 4096).await.unwrap();
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (problem["status"].as_u64(), problem["code"].as_str()),
            (Some(408), Some("request_timeout"))
        );

        let on_time = app.oneshot(request("/fast")).await.unwrap();
        assert_eq!(on_time.status(), StatusCode::OK);
    }
}
