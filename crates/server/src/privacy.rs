//! A user's data on request (PIPA, GDPR, app-store account deletion): everything held about
//! them as one JSON document, and its erasure. Both are admin-only.
//!
//! The export streams: the profile and the small collections first, then the events and the
//! ledger page by page, so a user with any history is exported in bounded memory.
//!
//! Erasure is the store's one transaction (from then on nothing about the user is readable and
//! their events are refused with `user_erased`), then the hot cache and the lake's copy, which
//! run on even if the client goes away (and are retried by the next request or night). A request answers 200 once everything is done,
//! or 202 while the lake is still being rewritten; sending it again reports where it stands.

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream;
use playpulse_core::ids::UserId;
use playpulse_store::{Erased, ErasureReceipt, MAX_EXPORT_PAGE, SegmentChange, StoreError, UserEvent};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{AdminScope, Caller};
use crate::extract::{PathUser, unknown_user};
use crate::limits::{LimitsView, limits_view};
use crate::notifications::{DeviceView, NotificationView};
use crate::problem::{ApiError, Problem};
use crate::users::{Entry, Profile, profile_of};

/// How long an erasure request waits for the lake before answering 202.
const WAIT_FOR_LAKE: Duration = Duration::from_secs(5);
/// How long after an erasure the cache is cleared once more: a batch committed just before it
/// may still be writing its cache entry (cache writes give up after one second).
const SECOND_CACHE_CLEAR: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// Everything held about a user. `events` (oldest first) and `ledger` (newest first) come
/// last, streamed page by page.
#[derive(Serialize, ToSchema)]
pub struct UserExport {
    pub user_id: String,
    /// When the export began (RFC 3339, UTC).
    pub exported_at: String,
    pub profile: Profile,
    pub limits: LimitsView,
    pub segment_history: Vec<SegmentChangeView>,
    /// Every quiz submission, newest first.
    #[schema(value_type = Vec<Object>)]
    pub quiz_responses: Vec<serde_json::Value>,
    /// Notifications for the user and their delivery, oldest first.
    pub notifications: Vec<NotificationView>,
    /// Devices registered for push, newest first.
    pub devices: Vec<DeviceView>,
    #[schema(value_type = Vec<Object>)]
    pub content_unlocks: Vec<serde_json::Value>,
    /// Each predictive model's latest score of the user, with its reasons.
    pub scores: Vec<crate::scores::ScoreView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ExportedEvent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ledger: Vec<Entry>,
}

/// A change of segment by a nightly batch.
#[derive(Serialize, ToSchema)]
pub struct SegmentChangeView {
    pub as_of: String,
    pub previous: Option<String>,
    pub segment: String,
}

/// One stored event.
#[derive(Serialize, ToSchema)]
pub struct ExportedEvent {
    pub seq: i64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub ts: String,
    pub received_at: String,
    #[schema(value_type = Object)]
    pub props: serde_json::Value,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/export", tag = "privacy",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = UserExport, description = "one JSON document, streamed"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
async fn export(
    _caller: Caller<AdminScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Response, ApiError> {
    let record = state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    let store = &state.store;
    let quiz = store.quiz_responses(&user, playpulse_store::MAX_PAGE_SIZE).await?;
    let head = UserExport {
        user_id: user.to_string(),
        exported_at: state.clock.now().to_string(),
        limits: limits_view(&state, &user).await?,
        profile: profile_of(&state, record),
        segment_history: store
            .segment_history(&user)
            .await?
            .into_iter()
            .map(SegmentChangeView::from)
            .collect(),
        quiz_responses: quiz
            .into_iter()
            .map(|q| {
                serde_json::json!({"quiz_version": q.version, "answers": q.answers, "score": q.score,
                    "risk_profile": q.profile.as_str(), "submitted_at": q.submitted_at.to_string()})
            })
            .collect(),
        notifications: store.user_notifications(&user).await?.into_iter().map(Into::into).collect(),
        devices: store.devices_of(&user).await?.into_iter().map(Into::into).collect(),
        content_unlocks: store
            .unlocks_of(&user)
            .await?
            .into_iter()
            .map(|u| {
                serde_json::json!({"content_id": u.content_id.as_str(), "tokens": u.tokens.0,
                    "awarded_at": u.awarded_at.to_string(), "triggered_by": u.triggered_by,
                    "event_id": u.event_id.to_string()})
            })
            .collect(),
        scores: store.scores(&user).await?.into_iter().map(Into::into).collect(),
        events: Vec::new(),
        ledger: Vec::new(),
    };
    let mut opening = serde_json::to_string(&head).map_err(|_| ApiError::internal())?;
    opening.pop(); // the closing brace: the streamed arrays follow
    opening.push_str(r#","events":["#);
    let body = Body::from_stream(stream::unfold(Some((Part::Opening(opening), state, user)), next_chunk));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Where a streamed export stands.
enum Part {
    Opening(String),
    /// Events after this sequence number; whether one was written yet.
    Events(i64, bool),
    /// Ledger entries before this entry id; whether one was written yet.
    Ledger(Option<i64>, bool),
}

type Cursor = Option<(Part, AppState, UserId)>;

async fn next_chunk(cursor: Cursor) -> Option<(Result<Bytes, std::io::Error>, Cursor)> {
    let (part, state, user) = cursor?;
    let step = match part {
        Part::Opening(text) => Ok((text, Some(Part::Events(0, false)))),
        Part::Events(after, written) => {
            state.store.user_events(&user, after, MAX_EXPORT_PAGE).await.map(|page| {
                match page.last().map(|e| e.seq) {
                    None => (r#"],"ledger":["#.to_owned(), Some(Part::Ledger(None, false))),
                    Some(last) => (
                        items(page.into_iter().map(ExportedEvent::from), written),
                        Some(Part::Events(last, true)),
                    ),
                }
            })
        }
        Part::Ledger(before, written) => {
            state.store.ledger(&user, before, MAX_EXPORT_PAGE).await.map(|page| {
                match page.last().map(|e| e.entry_id) {
                    None => ("]}".to_owned(), None),
                    Some(last) => (
                        items(page.into_iter().map(Entry::from), written),
                        Some(Part::Ledger(Some(last), true)),
                    ),
                }
            })
        }
    };
    match step {
        Ok((text, next)) => Some((Ok(Bytes::from(text)), next.map(|part| (part, state, user)))),
        // The client sees the document cut short, never a well-formed partial one.
        Err(err) => {
            tracing::error!(error = %err, "export failed mid-stream");
            Some((Err(std::io::Error::other(err)), None))
        }
    }
}

/// Items of a JSON array, comma-separated, with a leading comma after earlier ones.
fn items<T: Serialize>(page: impl Iterator<Item = T>, written: bool) -> String {
    let texts: Vec<String> =
        page.map(|item| serde_json::to_string(&item).expect("plain data serializes")).collect();
    let joined = texts.join(",");
    if written { format!(",{joined}") } else { joined }
}

impl From<UserEvent> for ExportedEvent {
    fn from(e: UserEvent) -> Self {
        ExportedEvent {
            seq: e.seq,
            event_id: e.event_id.to_string(),
            event_type: e.event_type,
            ts: e.ts.to_string(),
            received_at: e.received_at.to_string(),
            props: e.props,
        }
    }
}

impl From<SegmentChange> for SegmentChangeView {
    fn from(c: SegmentChange) -> Self {
        SegmentChangeView { as_of: c.as_of.to_string(), previous: c.previous, segment: c.segment }
    }
}

/// The record of an erasure: nothing of the user but the pseudonym that replaced their id.
#[derive(Serialize, ToSchema)]
pub struct ErasureView {
    pub receipt_id: String,
    /// What the user's id became where rows had to stay (events' amounts, the ledger).
    pub pseudonym: String,
    /// The API key that asked.
    pub requested_by: String,
    pub erased_at: String,
    /// An earlier request erased the user; this one changed nothing.
    pub already_erased: bool,
    /// When the lake's copy was rewritten too; absent while that is still running.
    pub lake_erased_at: Option<String>,
}

#[utoipa::path(
    delete, path = "/v1/users/{user_id}", tag = "privacy",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = ErasureView, description = "erased everywhere"),
        (status = 202, body = ErasureView, description = "erased from the store and cache; the lake is being rewritten"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub(crate) async fn erase(
    caller: Caller<AdminScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<(StatusCode, Json<ErasureView>), ApiError> {
    let (receipt, already_erased) =
        match state.store.erase_user(&user, &caller.key_id, state.clock.now()).await? {
            Erased::Now(receipt) => (receipt, false),
            Erased::Before(receipt) => (receipt, true),
            Erased::UnknownUser => return Err(unknown_user(&user)),
        };
    let receipt = match receipt.lake_erased_at {
        Some(_) => receipt,
        None => {
            // Spawned: the rest runs to its end even if this client goes away.
            let finishing = tokio::spawn(finish(state.clone(), user));
            if let Ok(Ok(Err(err))) = tokio::time::timeout(WAIT_FOR_LAKE, finishing).await {
                tracing::error!(
                    error = format!("{err:#}"),
                    "erasure left pending; the next night retries it"
                );
            }
            current(&state, &receipt).await?
        }
    };
    let status = if receipt.lake_erased_at.is_some() { StatusCode::OK } else { StatusCode::ACCEPTED };
    let view = ErasureView {
        receipt_id: receipt.receipt_id.to_string(),
        pseudonym: receipt.pseudonym.to_string(),
        requested_by: receipt.requested_by,
        erased_at: receipt.erased_at.to_string(),
        already_erased,
        lake_erased_at: receipt.lake_erased_at.map(|t| t.to_string()),
    };
    Ok((status, Json(view)))
}

/// The receipt as stored now.
async fn current(state: &AppState, receipt: &ErasureReceipt) -> Result<ErasureReceipt, StoreError> {
    Ok(state.store.erasure(&receipt.pseudonym).await?.unwrap_or_else(|| receipt.clone()))
}

/// The cache and the lake, after the store's transaction.
async fn finish(state: AppState, user: UserId) -> anyhow::Result<()> {
    state.analytics.finish_erasures(state.cache.as_deref()).await?;
    if let Some(cache) = state.cache.clone() {
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_CACHE_CLEAR).await;
            if let Err(err) = cache.forget(&user).await {
                tracing::error!(error = %err, "an erased user's cache entry could not be removed");
            }
        });
    }
    Ok(())
}
