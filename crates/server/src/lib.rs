//! The HTTP API of playpulse.
//!
//! One router per resource (`events`, `users`, `limits`, `quiz`, `recommendations`, `games`,
//! `jobs`, `segments`, `analytics`, `partners`, `content`, `unlocks`, `privacy`,
//! `notifications`), merged in [`api`], which [`router`] wraps and the tests drive. Every
//! `/v1` route passes [`auth::authenticate`] (a valid key within its rate limit) and each
//! handler names the scope it needs as a [`auth::Caller`] type; the one exception is a
//! partner's own signed route, which [`partners`] authenticates by signature. Errors become
//! `application/problem+json` in [`problem`], the one place that knows HTTP statuses.
//!
//! Architecture invariant: no SQL here; the server talks to the store through its trait.

pub mod analytics;
pub mod auth;
pub mod content;
pub mod dashboard;
pub mod events;
pub mod extract;
mod games;
mod jobs;
mod limits;
pub mod monitoring;
mod notifications;
mod openapi;
mod ops;
mod opt_out;
pub mod partners;
pub mod player;
mod privacy;
pub mod problem;
mod quiz;
mod recommendations;
mod scores;
mod segments;
pub mod unlocks;
mod users;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use playpulse_cache::HotCache;
use playpulse_core::event::ValidationPolicy;
use playpulse_core::protection::HarmThresholds;
use playpulse_core::quiz::Quiz;
use playpulse_core::time::{BusinessZone, Clock};
use playpulse_policy::arms::Learned;
use playpulse_policy::games::Game;
use playpulse_policy::learn::{ArmStats, LearnerConfig};
use playpulse_policy::proposals::PolicyConfig;
use playpulse_store::{Hours, Store};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use monitoring::Monitoring;
pub use recommendations::proposal_now;

use crate::auth::Gatekeeper;
use crate::problem::ApiError;

/// Longest time one request may take before it is answered with 408 `request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub cache: Option<Arc<HotCache>>,
    pub clock: Arc<dyn Clock>,
    pub zone: BusinessZone,
    pub policy: ValidationPolicy,
    pub gate: Gatekeeper,
    pub metrics: Monitoring,
    pub product: Product,
    /// KPIs and retention from the lake.
    pub analytics: Arc<dyn analytics::AnalyticsSource>,
    /// What the nightly batch learned (proposal arms, segments' active hours); replaced whole
    /// on each refresh.
    pub learned: RwLock<Arc<Learned>>,
    pub segment_hours: RwLock<Arc<HashMap<String, Hours>>>,
    /// Each partner's request rate, and the partners recently read.
    pub partner_desk: partners::PartnerDesk,
    /// The keys of player-scoped tokens.
    pub player_keys: player::PlayerKeys,
    /// `policy` with the catalog's adult items added to its adult content, so that events
    /// sent to `/v1/events` about them are age-gated too; `None` until the catalog is read.
    pub catalog_policy: RwLock<Option<Arc<ValidationPolicy>>>,
    /// The web dashboard's sign-in settings and rate limit.
    pub dashboard: dashboard::Desk,
    /// Runs a scheduled job again on an admin's request.
    pub jobs: Arc<dyn JobRunner>,
    /// The secret that signs users' opt-out links; `None`: no links, `/opt-out` is not found.
    pub opt_out_secret: Option<Vec<u8>>,
}

/// Runs a scheduled job on demand. The binary provides it (the nightly batch lives there);
/// the run is claimed in the store like a scheduled one, so it never runs twice at once.
pub trait JobRunner: Send + Sync {
    /// Starts `job` for business day `as_of` in the background.
    fn start(&self, job: &str, as_of: jiff::civil::Date) -> Result<(), JobNotRunnable>;
}

/// A job this deployment cannot run on demand.
#[derive(Debug, thiserror::Error)]
#[error("no job named {0} can be run on demand")]
pub struct JobNotRunnable(pub String);

/// The product's rules from the config: quiz, proposal policy, games, protection.
pub struct Product {
    pub quiz: Quiz,
    pub proposals: PolicyConfig,
    pub games: Vec<Game>,
    pub harm: HarmThresholds,
    /// Content and game ids marked adult (19+).
    pub adult_content: BTreeSet<String>,
    /// The segment of users no batch has seen yet.
    pub fallback_segment: String,
    /// Every configured segment: the rules' names in order, then the fallback.
    pub segments: Vec<String>,
    pub learner: LearnerConfig,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// Reloads what the nightly batch learned: the learning loop's choice probabilities
    /// (from the stored arms) and the segments' activity hours.
    pub async fn refresh_learned(&self) -> Result<(), playpulse_store::StoreError> {
        let hours: HashMap<String, Hours> = self.store.segment_hours().await?.into_iter().collect();
        *self.segment_hours.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(hours);
        let arms = self.store.arms().await?;
        let arms = arms
            .into_iter()
            .filter_map(|a| {
                let stats = ArmStats {
                    impressions: u64::try_from(a.impressions).ok()?,
                    conversions: u64::try_from(a.conversions).ok()?,
                };
                Some(((a.segment, a.kind, a.variant), stats))
            })
            .collect();
        let learned = Learned::build(&arms, &self.product.proposals, &self.product.learner, &mut rand::rng());
        *self.learned.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(learned);
        Ok(())
    }

    /// The learned probabilities now.
    pub fn learned(&self) -> Arc<Learned> {
        self.learned.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// How events are validated now: the config's rules and adult list, with the catalog's
    /// adult items.
    pub fn validation(&self) -> Arc<ValidationPolicy> {
        let current = self.catalog_policy.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        current.unwrap_or_else(|| Arc::new(self.policy.clone()))
    }

    /// Rereads the catalog's adult items (at start, after every catalog change here, and
    /// with the learned weights, for changes made through another instance). A failure is
    /// logged and keeps the previous set: the unlock route reads the flag in its own
    /// transaction whatever this holds.
    pub async fn refresh_catalog(&self) {
        let items = match self.store.content_items().await {
            Ok(items) => items,
            Err(err) => {
                tracing::warn!(error = %err, "the catalog's adult items were not refreshed");
                return;
            }
        };
        let mut adult = (*self.policy.adult_content).clone();
        adult.extend(items.into_iter().filter(|c| c.item.adult).map(|c| c.item.content_id.to_string()));
        let policy = ValidationPolicy { adult_content: Arc::new(adult), ..self.policy.clone() };
        *self.catalog_policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Arc::new(policy));
    }

    /// The segments' activity hours now.
    pub fn segment_hours(&self) -> Arc<HashMap<String, Hours>> {
        self.segment_hours.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The `/v1` routes behind API keys, the partners' signed routes, and the OpenAPI document
/// generated from all their handlers.
pub fn api() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (signed, signed_doc) = partners::signed_router().split_for_parts();
    let (keyed, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(events::router())
        .merge(users::router())
        .merge(limits::router())
        .merge(quiz::router())
        .merge(recommendations::router())
        .merge(games::router())
        .merge(jobs::router())
        .merge(segments::router())
        .merge(analytics::router())
        .merge(partners::router())
        .merge(player::router())
        .merge(content::router())
        .merge(unlocks::router())
        .merge(privacy::router())
        .merge(notifications::router())
        .split_for_parts();
    openapi::document_keyed_refusals(&mut doc);
    doc.merge(signed_doc);
    openapi::document_shared_refusals(&mut doc);
    (keyed, signed, doc)
}

#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::new_v4().to_string().parse().ok().map(RequestId::new)
    }
}

/// The whole service: `/v1` API, operator endpoints and the layers around them.
pub fn router(state: AppState) -> Router {
    let (v1, signed, doc) = api();
    let doc = Arc::new(doc);
    let v1 = v1
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(events::MAX_BODY_BYTES));
    let signed = signed.layer(DefaultBodyLimit::max(playpulse_core::partner::MAX_BODY_BYTES));
    Router::new()
        .merge(v1)
        .merge(signed)
        .merge(dashboard::router())
        .route("/opt-out", get(opt_out::confirm).post(opt_out::withdraw))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(move || async move { axum::Json(doc.as_ref().clone()) }))
        .route_layer(axum::middleware::from_fn(ops::track))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(REQUEST_TIMEOUT, ops::time_limit))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
}
