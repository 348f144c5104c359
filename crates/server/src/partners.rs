//! Partner A's own calls: `POST /v1/partners/{partner_id}/events`, authenticated by an
//! HMAC signature instead of an API key (see `playpulse_core::partner`), and the operators'
//! `GET /v1/partners/{partner_id}/summary`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use playpulse_core::partner::{
    self, MAX_EVENTS_PER_REQUEST, PartnerEvent, PartnerId, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER,
};
use playpulse_core::time::add_days;
use playpulse_store::{PartnerBatch, PartnerRecord, PartnerRefusal, PartnerSecret, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::events::{IngestResponse, answer, detached};
use crate::problem::{ApiError, Problem};

/// The signed routes: they bypass API keys (a partner holds none) and take smaller bodies.
pub fn signed_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(partner_events))
}

/// The operators' routes, behind API keys.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}

/// How long a partner's record and secrets are used without asking the store again. A
/// stale copy is safe: the store checks the signing secret and the partner's state again in
/// the request's transaction, and a signature that fails against it is checked once more
/// against a fresh read before it is refused.
const PARTNER_CACHE_TTL: Duration = Duration::from_secs(1);

type Known = (PartnerRecord, Vec<PartnerSecret>);

/// Per-partner request rates, and the partners recently read.
pub struct PartnerDesk {
    limiter: DefaultKeyedRateLimiter<PartnerId>,
    known: Mutex<HashMap<PartnerId, (Arc<Known>, Instant)>>,
}

impl PartnerDesk {
    /// Each partner may send `per_second` requests on average, in bursts of up to `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            known: Mutex::new(HashMap::new()),
        }
    }

    fn admit(&self, partner: &PartnerId) -> Result<(), ApiError> {
        self.limiter.check_key(partner).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError {
                retry_after_s: Some(wait.as_secs().max(1)),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "this partner sends too fast")
            }
        })
    }

    /// The partner as recently read, or as the store has it now (`fresh`).
    async fn lookup(
        &self,
        store: &dyn Store,
        partner: &PartnerId,
        fresh: bool,
    ) -> Result<Arc<Known>, ApiError> {
        if !fresh {
            let known = self.known.lock().expect("partner cache mutex is never poisoned");
            if let Some((entry, _)) = known.get(partner).filter(|(_, at)| at.elapsed() < PARTNER_CACHE_TTL) {
                return Ok(entry.clone());
            }
        }
        let entry = Arc::new(store.partner(partner).await?.ok_or_else(unknown_partner)?);
        let mut known = self.known.lock().expect("partner cache mutex is never poisoned");
        known.insert(partner.clone(), (entry.clone(), Instant::now()));
        Ok(entry)
    }
}

/// A partner's batch: 1 to 100 visits and rewards.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PartnerRequest {
    #[schema(value_type = Vec<Object>)]
    events: Vec<Value>,
}

/// The answer for one partner event.
#[derive(Serialize, ToSchema)]
pub struct PartnerResult {
    pub index: usize,
    /// The partner's transaction id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txn_id: Option<String>,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerResponse {
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub results: Vec<PartnerResult>,
}

impl From<IngestResponse> for PartnerResponse {
    fn from(r: IngestResponse) -> Self {
        let results = r
            .results
            .into_iter()
            .map(|e| PartnerResult {
                index: e.index,
                txn_id: e.event_id,
                status: e.status,
                code: e.code,
                message: e.message,
            })
            .collect();
        Self { accepted: r.accepted, duplicate: r.duplicate, rejected: r.rejected, results }
    }
}

/// Visits and token rewards sent by the partner itself. Signed: `X-Playpulse-Timestamp`
/// (Unix seconds) and `X-Playpulse-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`
/// under the partner's secret. A reward credits the user once per transaction id, within the
/// partner's caps, and triggers a NEW_TOKEN_ARRIVAL notification.
#[utoipa::path(
    post,
    path = "/v1/partners/{partner_id}/events",
    tag = "partners",
    params(("partner_id" = String, Path, description = "the registered partner")),
    request_body = PartnerRequest,
    responses(
        (status = 200, description = "one result per event", body = PartnerResponse),
        (status = 400, description = "malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "signature missing, wrong, stale or from the future", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the partner is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the same signed request was applied before", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "batch size outside 1..=100", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "the partner's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn partner_events(
    State(state): State<AppState>,
    Path(partner_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PartnerResponse>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds {} bytes; send smaller batches", partner::MAX_BODY_BYTES),
        ),
        _ => ApiError::bad_request("malformed_body", rejection.body_text()),
    })?;
    let header = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    let signed =
        Signed { timestamp: header(TIMESTAMP_HEADER), signature: header(SIGNATURE_HEADER), body: &body };
    Ok(Json(ingest_signed(&state, &partner_id, signed).await?))
}

/// A request as it arrived: the signature headers and the raw body they sign.
pub struct Signed<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

fn unknown_partner() -> ApiError {
    ApiError::not_found("unknown_partner", "no partner has this id")
}

/// Verifies and applies a partner's request: the one path of HTTP and the demo.
pub async fn ingest_signed(
    state: &AppState,
    partner_id: &str,
    signed: Signed<'_>,
) -> Result<PartnerResponse, ApiError> {
    let partner = PartnerId::parse(partner_id).ok_or_else(unknown_partner)?;
    let now = state.clock.now();
    let desk = &state.partner_desk;
    let mut known = desk.lookup(state.store.as_ref(), &partner, false).await?;
    // Limited once known, so that made-up ids cannot grow the limiter's table.
    desk.admit(&partner)?;
    let verify = |known: &Known| {
        let active: Vec<&PartnerSecret> = known.1.iter().filter(|s| s.active_at(now)).collect();
        let keys: Vec<&[u8]> = active.iter().map(|s| s.secret.as_bytes()).collect();
        let verified = partner::verify(&keys, signed.timestamp, signed.signature, signed.body, now)?;
        Ok::<_, SignatureError>((active[verified.secret].secret_id, verified.signed_at))
    };
    let (secret_id, signed_at) = match verify(&known) {
        Err(SignatureError::Mismatch) => {
            // Perhaps a secret rotated since the copy was read.
            known = desk.lookup(state.store.as_ref(), &partner, true).await?;
            verify(&known)
        }
        verified => verified,
    }
    .map_err(signature_error)?;
    if !known.0.active {
        return Err(refusal(PartnerRefusal::Disabled));
    }
    let request: PartnerRequest = serde_json::from_slice(signed.body).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("the body is not a partner batch: {e}"))
    })?;
    let count = request.events.len();
    if !(1..=MAX_EVENTS_PER_REQUEST).contains(&count) {
        return Err(ApiError::unprocessable(
            "invalid_batch_size",
            format!("a partner batch holds 1 to {MAX_EVENTS_PER_REQUEST} events; this one has {count}"),
        ));
    }
    let ids =
        request.events.iter().map(|e| e.get("txn_id").and_then(Value::as_str).map(str::to_owned)).collect();
    let policy = state.validation();
    let events = request.events.iter().map(|raw| PartnerEvent::parse(raw, &partner, &policy, now)).collect();
    let batch = PartnerBatch {
        partner,
        secret_id,
        signature: signed.signature.unwrap_or_default().to_owned(),
        signed_at,
        events,
    };
    let task = state.clone();
    let report = detached(async move {
        let applied = task.store.partner_ingest(batch, now).await?;
        if let Ok(report) = &applied {
            crate::monitoring::record_flows(&report.flows);
            if let Some(cache) = &task.cache {
                cache.put(&report.users).await;
            }
        }
        Ok(applied)
    })
    .await?
    .map_err(refusal)?;
    Ok(answer(report.outcomes, ids, "playpulse_partner_events_total").into())
}

fn signature_error(err: SignatureError) -> ApiError {
    let detail = match err {
        SignatureError::Malformed => format!(
            "send `{TIMESTAMP_HEADER}: <unix seconds>` and `{SIGNATURE_HEADER}: v1=<hex HMAC-SHA256>`"
        ),
        SignatureError::Stale => "the timestamp is more than five minutes old".into(),
        SignatureError::Future => "the timestamp is more than five minutes ahead".into(),
        SignatureError::Mismatch => "no active secret of this partner produces this signature".into(),
    };
    ApiError::new(StatusCode::UNAUTHORIZED, err.code(), detail)
}

fn refusal(refusal: PartnerRefusal) -> ApiError {
    match refusal {
        PartnerRefusal::UnknownPartner => unknown_partner(),
        PartnerRefusal::Disabled => {
            ApiError::new(StatusCode::FORBIDDEN, "partner_disabled", "this partner is disabled")
        }
        PartnerRefusal::SecretExpired => signature_error(SignatureError::Mismatch),
        PartnerRefusal::Replayed => ApiError::new(
            StatusCode::CONFLICT,
            "replayed_request",
            "this signed request was applied before; sign a retry anew (its events then answer `duplicate`)",
        ),
    }
}

/// Business days, both included.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Period {
    /// First business day (`YYYY-MM-DD`).
    #[param(value_type = String, format = Date)]
    from: Date,
    /// Last business day (`YYYY-MM-DD`), at most 366 days after `from`.
    #[param(value_type = String, format = Date)]
    to: Date,
}

/// What a partner brought in a period (by the events' own time, business days).
#[derive(Serialize, ToSchema)]
struct Summary {
    partner_id: String,
    #[schema(value_type = String, format = Date)]
    from: Date,
    #[schema(value_type = String, format = Date)]
    to: Date,
    visits: i64,
    /// Distinct users with a visit.
    visitors: i64,
    rewards: i64,
    /// Distinct users with a reward.
    rewarded_users: i64,
    tokens_rewarded: i64,
    /// Of the rewarded tokens, how many were then spent in the app: per user, the lesser of
    /// the tokens rewarded in the period and those spent from the first such reward on.
    tokens_spent_after: i64,
}

/// Visits, rewards and the rewarded tokens later spent in the app, for a partner.
#[utoipa::path(
    get,
    path = "/v1/partners/{partner_id}/summary",
    tag = "partners",
    params(("partner_id" = String, Path, description = "the registered partner"), Period),
    responses(
        (status = 200, body = Summary),
        (status = 404, description = "unknown partner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad period", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn summary(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(partner_id): Path<String>,
    period: Result<Query<Period>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Query(Period { from, to }) = period.map_err(|e| {
        ApiError::unprocessable(
            "invalid_period",
            format!("give `from` and `to` as YYYY-MM-DD: {}", e.body_text()),
        )
    })?;
    if to < from || from.until(to).map_or(true, |span| span.get_days() > 366) {
        return Err(ApiError::unprocessable("invalid_period", "`to` must be 0 to 366 days after `from`"));
    }
    let partner = PartnerId::parse(&partner_id).ok_or_else(unknown_partner)?;
    if state.store.partner(&partner).await?.is_none() {
        return Err(unknown_partner());
    }
    let out_of_range = || ApiError::unprocessable("invalid_period", "the period is out of range");
    let start = |day: Date| state.zone.start_of(day).ok_or_else(out_of_range);
    let end = add_days(to, 1).ok_or_else(out_of_range)?;
    let s = state.store.partner_summary(&partner, start(from)?, start(end)?).await?;
    Ok(Json(Summary {
        partner_id,
        from,
        to,
        visits: s.visits,
        visitors: s.visitors,
        rewards: s.rewards,
        rewarded_users: s.rewarded_users,
        tokens_rewarded: s.tokens_rewarded,
        tokens_spent_after: s.tokens_spent_after,
    }))
}
