//! `GET /v1/analytics/notification_effects`: each notification trigger against its holdout.

use axum::Json;
use axum::extract::State;
use playpulse_core::notify::effects::{Difference, EffectQuery, GroupSums, MAX_WINDOW_DAYS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{RangeQuery, range, unavailable};
use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{Input, Query};
use crate::problem::{ApiError, Problem};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(notification_effects))
}

/// Days a user is followed when `window_days` is not given.
const DEFAULT_WINDOW_DAYS: u32 = 7;

#[derive(Deserialize, IntoParams)]
struct EffectParams {
    /// Users whose first notification of a trigger fell on this business day or later
    /// (default: 29 days before `to`).
    from: Option<String>,
    /// … or on this day or earlier (default: today in the business zone).
    to: Option<String>,
    /// Business days each user is followed from their first notification's, that day
    /// included (default 7, at most 90).
    window_days: Option<String>,
}

impl Input for EffectParams {
    const INVALID: &'static str = "invalid_query";
}

/// Every trigger with users in the range.
#[derive(Serialize, ToSchema)]
pub struct EffectsAnswer {
    pub from: String,
    pub to: String,
    pub window_days: u32,
    pub triggers: Vec<TriggerLine>,
}

#[derive(Serialize, ToSchema)]
pub struct TriggerLine {
    /// The notification kind.
    pub kind: String,
    /// Users not held out, whether their notification went or not (intention to treat).
    pub treated: GroupLine,
    pub holdout: GroupLine,
    /// Users whose window has not ended yet: counted once it has.
    pub pending_users: u64,
    /// Treated less holdout mean tokens spent in the window; null while a group has fewer
    /// than two users.
    pub tokens_spent: Option<DifferenceLine>,
    /// Treated less holdout share of users who came back on a later day of the window.
    pub returned: Option<DifferenceLine>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupLine {
    pub users: u64,
    pub tokens_spent_mean: f64,
    pub returned_share: f64,
}

/// A difference with its 95% confidence interval.
#[derive(Serialize, ToSchema)]
pub struct DifferenceLine {
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// The interval leaves out zero.
    pub significant: bool,
}

fn group(g: &GroupSums) -> GroupLine {
    GroupLine { users: g.users, tokens_spent_mean: g.mean_spent(), returned_share: g.returned_share() }
}

fn difference(d: Option<Difference>) -> Option<DifferenceLine> {
    d.map(|d| DifferenceLine {
        difference: d.difference,
        low: d.low,
        high: d.high,
        significant: d.significant(),
    })
}

#[utoipa::path(
    get, path = "/v1/analytics/notification_effects", tag = "analytics",
    params(EffectParams),
    responses(
        (status = 200, body = EffectsAnswer, description = "per trigger, its treated and held-out users compared"),
        (status = 422, description = "a bad parameter, named in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn notification_effects(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Query(params): Query<EffectParams>,
) -> Result<Json<EffectsAnswer>, ApiError> {
    let range_query =
        RangeQuery { from: params.from, to: params.to, granularity: None, segment: None, risk_profile: None };
    let (from, to) = range(&state, &range_query)?;
    let window_days = match params.window_days.as_deref() {
        None => DEFAULT_WINDOW_DAYS,
        Some(raw) => raw.parse().ok().filter(|w| (1..=MAX_WINDOW_DAYS).contains(w)).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_window",
                format!("window_days is a whole number from 1 to {MAX_WINDOW_DAYS}"),
            )
            .with_item(Some("window_days".into()))
        })?,
    };
    let effects =
        state.analytics.trigger_effects(EffectQuery { from, to, window_days }).await.map_err(unavailable)?;
    let triggers = effects
        .iter()
        .map(|e| TriggerLine {
            kind: e.kind.clone(),
            treated: group(&e.treated),
            holdout: group(&e.holdout),
            pending_users: e.pending,
            tokens_spent: difference(Difference::of_spend(&e.treated, &e.holdout)),
            returned: difference(Difference::of_return(&e.treated, &e.holdout)),
        })
        .collect();
    Ok(Json(EffectsAnswer { from: from.to_string(), to: to.to_string(), window_days, triggers }))
}
