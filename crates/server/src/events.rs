//! `POST /v1/events`: batches of events in, one outcome per event out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use playpulse_core::event::Event;
use playpulse_core::ingest::{MAX_EVENTS_PER_BATCH, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, IngestScope};
use crate::monitoring::record_flows;
use crate::problem::{ApiError, Problem};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ingest))
}

/// A batch of events in the envelope `{event_id, user_id, type, ts, props}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IngestRequest {
    /// 1 to 1,000 events. Each is judged on its own: one that is not an object or not a valid
    /// envelope is answered in its result (`invalid_envelope`, `invalid_event_id`, …), so
    /// the items are any JSON values here and the envelope is described in prose.
    #[schema(value_type = Vec<Value>, min_items = 1, max_items = 1000)]
    events: Vec<Value>,
}

/// The answer for one event.
#[derive(Serialize, ToSchema)]
pub struct EventResult {
    /// Position of the event in the request.
    pub index: usize,
    /// The event id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// Stable machine code of a rejection, e.g. `insufficient_balance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Counts and per-event results, in request order.
#[derive(Serialize, ToSchema)]
pub struct IngestResponse {
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

/// Ingests a batch. Every event gets its own result; accepted events are durably committed
/// (with their ledger entries) before the answer is sent.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body = IngestRequest,
    responses(
        (status = 200, description = "one result per event", body = IngestResponse),
        (status = 400, description = "malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "batch size outside 1..=1000", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn ingest(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds {MAX_BODY_BYTES} bytes; send smaller batches"),
        ),
        _ => ApiError::bad_request("malformed_body", rejection.body_text()),
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the batch as `Content-Type: application/json`",
        ));
    }
    let request: IngestRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("the body is not a valid batch: {e}"))
    })?;
    let response = ingest_values(&state, request.events).await?;
    Ok(Json(response))
}

/// Validates and applies raw events: the one ingest path shared by HTTP and `playpulse import`.
pub async fn ingest_values(state: &AppState, events: Vec<Value>) -> Result<IngestResponse, ApiError> {
    let count = events.len();
    if !(1..=MAX_EVENTS_PER_BATCH).contains(&count) {
        return Err(ApiError::unprocessable(
            "invalid_batch_size",
            format!("a batch holds 1 to {MAX_EVENTS_PER_BATCH} events; this one has {count}"),
        ));
    }
    let now = state.clock.now();
    let ids: Vec<Option<String>> =
        events.iter().map(|e| e.get("event_id").and_then(Value::as_str).map(str::to_owned)).collect();
    let policy = state.validation();
    let batch: Vec<_> = events.iter().map(|raw| Event::parse(raw, &policy, now)).collect();
    drop(events);
    // Detached: its time is bounded by the store's own and the cache's deadline.
    let task = state.clone();
    let report = detached(async move {
        let report = task.store.ingest(batch, now).await?;
        record_flows(&report.flows);
        if let Some(cache) = &task.cache {
            cache.put(&report.users).await;
        }
        Ok(report)
    })
    .await?;
    Ok(answer(report.outcomes, ids, "playpulse_ingest_events_total"))
}

/// Runs a commit (and the cache write after it) in a task of its own and awaits it: if the
/// client goes away or the request times out, the caller's future is dropped but the task
/// runs on, so no commit is ever left without its cache write.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, playpulse_store::StoreError>> + Send + 'static,
) -> Result<T, ApiError> {
    let result = tokio::spawn(work).await.map_err(|err| {
        tracing::error!(error = %err, "a commit task failed");
        ApiError::internal()
    })?;
    Ok(result?)
}

/// The answer to a batch: counts and one result per event, named by `ids`; counted in the
/// metric `counter` by result.
pub(crate) fn answer(
    outcomes: Vec<Outcome>,
    ids: Vec<Option<String>>,
    counter: &'static str,
) -> IngestResponse {
    let mut response = IngestResponse {
        accepted: 0,
        duplicate: 0,
        rejected: 0,
        results: Vec::with_capacity(outcomes.len()),
    };
    let mut counts = std::collections::BTreeMap::<(&'static str, Option<&'static str>), u64>::new();
    for (index, (outcome, event_id)) in outcomes.into_iter().zip(ids).enumerate() {
        let (status, code, message) = match outcome {
            Outcome::Accepted => {
                response.accepted += 1;
                ("accepted", None, None)
            }
            Outcome::Duplicate => {
                response.duplicate += 1;
                ("duplicate", None, None)
            }
            Outcome::Rejected(r) => {
                response.rejected += 1;
                ("rejected", Some(r.code.as_str()), Some(r.message))
            }
        };
        *counts.entry((status, code)).or_default() += 1;
        response.results.push(EventResult { index, event_id, status, code, message });
    }
    for ((result, code), n) in counts {
        match code {
            Some(code) => metrics::counter!(counter, "result" => result, "code" => code).increment(n),
            None => metrics::counter!(counter, "result" => result).increment(n),
        }
    }
    response
}
