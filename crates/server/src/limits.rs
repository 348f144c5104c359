//! A user's own limits (daily spend, cool-off, self-exclusion), which the ledger enforces on
//! every spend and purchase, and the harm markers on now.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::protection::{HarmMarkers, Limits};
use playpulse_core::tokens::MAX_EVENT_AMOUNT;
use playpulse_store::LimitsChanged;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, IngestScope, ReadScope};
use crate::extract::{Input, JsonBody, PathUser, unknown_user};
use crate::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(limits, set_limits))
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
    PathUser(user): PathUser,
) -> Result<Json<LimitsView>, ApiError> {
    limits_view(&state, &user).await.map(Json)
}

pub(crate) async fn limits_view(state: &AppState, user: &UserId) -> Result<LimitsView, ApiError> {
    let record = state.store.user(user).await?.ok_or_else(|| unknown_user(user))?;
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
    PathUser(user): PathUser,
    JsonBody(change): JsonBody<LimitsChange>,
) -> Result<Json<LimitsView>, ApiError> {
    change_limits(&state, &user, change, &caller.key_id).await?;
    limits_view(&state, &user).await.map(Json)
}

/// Sets a user's limits as they asked (through the API or an admin on the dashboard): checks
/// them, lets the store refuse shortening a running break, and logs who changed them.
pub(crate) async fn change_limits(
    state: &AppState,
    user: &UserId,
    change: LimitsChange,
    by: &str,
) -> Result<(), ApiError> {
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
    match state.store.change_limits(user, wanted, state.clock.now()).await? {
        LimitsChanged::Changed => {}
        LimitsChanged::UnknownUser => return Err(unknown_user(user)),
        LimitsChanged::Locked(locked) => {
            return Err(ApiError::unprocessable("limit_locked", locked.to_string())
                .with_item(Some(locked.field.into())));
        }
    }
    tracing::info!(user = %user, by = %by, "limits changed");
    Ok(())
}
