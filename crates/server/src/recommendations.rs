//! `GET /v1/users/{id}/recommendations`: what the policy recommends to one user now
//! ([`playpulse_policy::recommend`]), with the best time window in the user's zone.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use playpulse_core::quiz::Lang;
use playpulse_policy::proposals::Facts;
use playpulse_policy::recommend::{Proposal, recommend};
use playpulse_policy::timing::{Window, best_window_for};
use playpulse_store::UserRecord;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::ReadScope;
use crate::extract::{PathUser, unknown_user};
use crate::player::Reader;
use crate::problem::{ApiError, Problem};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recommendations))
}

/// One proposal, ready to show.
#[derive(Serialize, ToSchema)]
pub struct ProposalView {
    /// Send it back with PROPOSAL_IMPRESSION / _CLICK / _CONVERSION events.
    pub proposal_id: String,
    /// Stable type, e.g. `MID_STAKE`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub variant: String,
    /// In the user's language, every placeholder filled.
    pub text: String,
    pub game: Option<String>,
    pub action: Option<String>,
    /// The facts that triggered it.
    pub reason: String,
    /// Probability the policy had of choosing this variant.
    pub propensity: f64,
}

#[derive(Serialize, ToSchema)]
pub struct TimeWindow {
    pub start: String,
    pub end: String,
    pub tz: String,
    pub confidence: f64,
}

impl From<Window> for TimeWindow {
    fn from(w: Window) -> Self {
        Self { start: w.start, end: w.end, tz: w.tz, confidence: w.confidence }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Recommendations {
    pub user_id: String,
    pub recommended_game: String,
    pub game_reason: String,
    /// Harm markers put the user under the protective policy.
    pub protective: bool,
    pub proposals: Vec<ProposalView>,
    pub best_time_window: TimeWindow,
    pub policy_version: String,
    /// `ko` or `en`.
    pub lang: &'static str,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/recommendations", tag = "proposals",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = Recommendations),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn recommendations(
    reader: Reader<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<Recommendations>, ApiError> {
    reader.may_act_for(&user)?;
    let record = state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    Ok(Json(recommendations_of(&state, &record)))
}

/// What the policy proposes to a stored user now.
pub(crate) fn recommendations_of(state: &AppState, record: &UserRecord) -> Recommendations {
    let now = state.clock.now();
    let facts = facts_of(state, record, now);
    let window = window_of(state, record, state.segment_hours().get(&facts.segment), now);
    let policy = &state.product.proposals;
    let lang = Lang::from_tag(record.lang.as_deref());
    let answer = recommend(policy, &facts, &state.learned(), lang, &mut rand::rng());
    Recommendations {
        user_id: record.user.to_string(),
        recommended_game: answer.recommended_game,
        game_reason: answer.game_reason,
        protective: answer.protective,
        proposals: answer.proposals.into_iter().map(ProposalView::from).collect(),
        best_time_window: window.into(),
        policy_version: policy.version.clone(),
        lang: if lang == Lang::En { "en" } else { "ko" },
    }
}

/// The first proposal the policy makes the stored user `record` now, in their language
/// (`lang` beside it), for a notification to carry; `None` under the protective policy,
/// whose proposals are reminders, not offers.
pub fn proposal_now(state: &AppState, record: &UserRecord) -> Option<serde_json::Value> {
    let answer = recommendations_of(state, record);
    if answer.protective {
        return None;
    }
    answer.proposals.into_iter().next().map(|p| {
        let mut view = serde_json::to_value(p).expect("a proposal serializes");
        view["lang"] = answer.lang.into();
        view
    })
}

impl From<Proposal> for ProposalView {
    fn from(p: Proposal) -> Self {
        Self {
            proposal_id: p.id,
            kind: p.kind.as_str(),
            variant: p.variant,
            text: p.text,
            game: p.game,
            action: p.action,
            reason: p.reason,
            propensity: p.propensity,
        }
    }
}

/// What the policy needs to know about the user, now.
fn facts_of<'a>(state: &'a AppState, record: &UserRecord, now: Timestamp) -> Facts<'a> {
    let s = &record.state;
    let today = state.zone.day_of(now);
    let last_visit = s.tally.last_partner_visit_ms;
    Facts {
        segment: record
            .segment
            .as_ref()
            .map_or_else(|| state.product.fallback_segment.clone(), |g| g.segment.clone()),
        balance: s.balance.0,
        risk: record.risk.map(|(profile, _)| profile),
        days_since_partner_visit: (last_visit > 0)
            .then(|| (now.as_millisecond() - last_visit).max(0) / DAY_MS),
        partner_tokens_this_month: s.tally.partner_tokens_in(today),
        churn_risk: record.churn_risk,
        whale_candidate: record.whale_candidate,
        markers: s.tally.markers(&s.limits, &state.product.harm, today, now),
        age_verified: s.age_verified,
        adult_content: &state.product.adult_content,
        games: &state.product.games,
    }
}

/// The best hour in the user's zone (the business zone when theirs is unknown).
fn window_of(state: &AppState, record: &UserRecord, typical: Option<&[i64; 24]>, now: Timestamp) -> Window {
    best_window_for(record.hours.as_ref(), typical, state.zone.tz(), record.tz.as_deref(), now)
}
