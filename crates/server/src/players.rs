//! What the operator and the user set about a user: the profile (age verification, time
//! zone, language) and the user's own limits, which the ledger enforces on every spend.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::protection::{HarmMarkers, Limits};
use playpulse_core::tokens::MAX_EVENT_AMOUNT;
use playpulse_store::{LimitsChanged, ProfileUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, IngestScope, ReadScope};
use crate::extract::{Input, JsonBody, Path};
use crate::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_profile)).routes(routes!(limits, set_limits))
}

fn parse_user(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))
}

fn unknown(user: &UserId) -> ApiError {
    ApiError::not_found("unknown_user", format!("no event of user `{user}` was ever accepted"))
}

/// The zone's canonical IANA name (`asia/kolkata` and `Asia/Calcutta` are stored as
/// `Asia/Kolkata`), so that what is stored and shown is one spelling per zone.
fn canonical_tz(raw: &str) -> Result<String, ApiError> {
    jiff::tz::TimeZone::get(raw)
        .ok()
        .and_then(|zone| zone.primary_iana_name().or(zone.iana_name()).map(str::to_owned))
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_tz", format!("`{raw}` is not an IANA time zone"))
                .with_item(Some("tz".into()))
        })
}

/// Fields to change; the ones left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// The operator verified the user is an adult (19+).
    pub age_verified: Option<bool>,
    /// The user's IANA time zone, e.g. `Europe/Berlin`.
    pub tz: Option<String>,
    /// `ko` or `en`.
    pub lang: Option<String>,
}

impl Input for ProfileChange {
    const INVALID: &'static str = "invalid_body";
}

#[utoipa::path(
    patch, path = "/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    request_body = ProfileChange,
    responses(
        (status = 204, description = "changed"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn update_profile(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    Path(user): Path<String>,
    JsonBody(change): JsonBody<ProfileChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    let user = parse_user(&user)?;
    let tz = change.tz.as_deref().map(canonical_tz).transpose()?;
    if let Some(lang) = change.lang.as_deref().filter(|l| !matches!(*l, "ko" | "en")) {
        return Err(ApiError::unprocessable(
            "invalid_lang",
            format!("`{lang}`: texts exist in `ko` and `en`"),
        )
        .with_item(Some("lang".into())));
    }
    let update = ProfileUpdate { age_verified: change.age_verified, tz, lang: change.lang };
    if !state.store.update_profile(&user, update).await? {
        return Err(unknown(&user));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A user's limits and the harm markers on now.
#[derive(Serialize, ToSchema)]
pub struct LimitsView {
    #[schema(value_type = Object)]
    pub limits: Limits,
    /// Tokens spent today (business day, by the server's clock).
    pub spent_today: i64,
    /// Tokens bought today (business day, by the server's clock).
    pub bought_today: i64,
    #[schema(value_type = Object)]
    pub harm_markers: HarmMarkers,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/limits", tag = "protection",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = LimitsView),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn limits(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<LimitsView>, ApiError> {
    limits_view(&state, &parse_user(&user)?).await.map(Json)
}

async fn limits_view(state: &AppState, user: &UserId) -> Result<LimitsView, ApiError> {
    let record = state.store.user(user).await?.ok_or_else(|| unknown(user))?;
    let now = state.clock.now();
    let today = state.zone.day_of(now);
    let s = &record.state;
    let current = s.tally.day == Some(today);
    Ok(LimitsView {
        limits: s.limits,
        spent_today: if current { s.tally.spent_today } else { 0 },
        bought_today: if current { s.tally.bought_today } else { 0 },
        harm_markers: s.tally.markers(&s.limits, &state.product.harm, today, now),
    })
}

/// The user's own limits; a field left out (or null) is no limit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    /// Most tokens to spend per business day.
    pub daily_spend_tokens: Option<i64>,
    /// No spending before this instant (RFC 3339): a break.
    pub cool_off_until: Option<String>,
    /// No spending before this instant (RFC 3339): self-exclusion.
    pub excluded_until: Option<String>,
}

impl Input for LimitsChange {
    const INVALID: &'static str = "invalid_body";
}

#[utoipa::path(
    put, path = "/v1/users/{user_id}/limits", tag = "protection",
    params(("user_id" = String, Path, description = "the operator's user id")),
    request_body = LimitsChange,
    responses(
        (status = 200, body = LimitsView),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid limit, or an attempt to end a running cool-off or exclusion early",
         body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn set_limits(
    caller: Caller<IngestScope>,
    State(state): State<AppState>,
    Path(user): Path<String>,
    JsonBody(change): JsonBody<LimitsChange>,
) -> Result<Json<LimitsView>, ApiError> {
    let user = parse_user(&user)?;
    let instant = |field: &'static str, text: Option<String>| -> Result<Option<Timestamp>, ApiError> {
        text.map(|t| {
            t.parse::<Timestamp>().map_err(|e| {
                ApiError::unprocessable("invalid_limit", format!("`{field}`: {e}"))
                    .with_item(Some(field.into()))
            })
        })
        .transpose()
    };
    let wanted = Limits {
        daily_spend_tokens: change.daily_spend_tokens,
        cool_off_until: instant("cool_off_until", change.cool_off_until)?,
        excluded_until: instant("excluded_until", change.excluded_until)?,
    };
    if let Some(cap) = wanted.daily_spend_tokens.filter(|c| !(1..=MAX_EVENT_AMOUNT).contains(c)) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("`daily_spend_tokens` {cap} must be from 1 to {MAX_EVENT_AMOUNT}"),
        )
        .with_item(Some("daily_spend_tokens".into())));
    }
    match state.store.change_limits(&user, wanted, state.clock.now()).await? {
        LimitsChanged::Changed => {}
        LimitsChanged::UnknownUser => return Err(unknown(&user)),
        LimitsChanged::Locked(locked) => {
            return Err(ApiError::unprocessable("limit_locked", locked.to_string())
                .with_item(Some(locked.field.into())));
        }
    }
    tracing::info!(user = %user, key = %caller.key_id, "limits changed");
    limits_view(&state, &user).await.map(Json)
}
