//! Health, readiness, metrics and the OpenAPI document: unauthenticated operator endpoints.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{Value, json};

use crate::AppState;

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe_metrics();
            handle
        })
        .clone()
}

fn describe_metrics() {
    metrics::describe_counter!("playpulse_ingest_events_total", "Events answered by ingest, by result.");
    metrics::describe_counter!(
        "playpulse_http_requests_total",
        "HTTP requests, by route, method and status."
    );
    metrics::describe_histogram!(
        "playpulse_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency, by route and method."
    );
    metrics::describe_counter!(
        "playpulse_content_unlocks_total",
        "Content unlock requests that unlocked or were refused, by result."
    );
    metrics::describe_counter!(
        "playpulse_cache_errors_total",
        "Hot-cache (Redis) calls that failed and fell back to the DB, by operation."
    );
}

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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
