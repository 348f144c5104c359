//! `GET /v1/users/{id}/recommendations`: the policy's proposals for one user, each variant
//! chosen by the learning loop and logged in its id; `GET /v1/games`: disclosed odds.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::quiz::Lang;
use playpulse_policy::arms::{ProposalId, slug};
use playpulse_policy::games::Game;
use playpulse_policy::learn::order_by_posterior_mean;
use playpulse_policy::proposals::{Facts, decide};
use playpulse_policy::timing::{Window, best_window_for};
use playpulse_store::UserRecord;
use rand::Rng;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::Path;
use crate::problem::{ApiError, Problem};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recommendations)).routes(routes!(games))
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
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<Recommendations>, ApiError> {
    let user = UserId::parse(&user).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let record = state.store.user(&user).await?.ok_or_else(|| {
        ApiError::not_found("unknown_user", format!("no event of user `{user}` was ever accepted"))
    })?;
    let now = state.clock.now();
    let facts = facts_of(&state, &record, now);
    let segment_hours = state.segment_hours();
    let window = window_of(&state, &record, segment_hours.get(&facts.segment), now);
    let policy = &state.product.proposals;
    let decision = decide(policy, &facts);
    let lang = Lang::from_tag(record.lang.as_deref());
    let segment = slug(&facts.segment);
    let learned = state.learned();
    let mut rng = rand::rng();
    let mut chosen = Vec::with_capacity(decision.drafts.len());
    for draft in decision.drafts {
        let variants = policy.variants(draft.kind);
        let (index, propensity) = learned.pick(&segment, draft.kind, variants.len(), rng.random());
        let template = variants[index];
        let id = ProposalId {
            policy: policy.version.clone(),
            segment: segment.clone(),
            kind: draft.kind,
            variant: template.variant.clone(),
            propensity,
        };
        let view = ProposalView {
            proposal_id: id.encode(rng.random(), &policy.id_key),
            kind: draft.kind.as_str(),
            variant: template.variant.clone(),
            text: draft.text(template, lang),
            game: draft.game,
            action: draft.action,
            reason: draft.reason,
            propensity,
        };
        chosen.push((learned.stats(&segment, draft.kind, index), view));
    }
    // Reminders of the protective policy stay first; the rest go by what converts best.
    let pinned = usize::from(decision.protective).min(chosen.len());
    let stats: Vec<_> = chosen[pinned..].iter().map(|(s, _)| *s).collect();
    let order: Vec<usize> =
        (0..pinned).chain(order_by_posterior_mean(&stats).into_iter().map(|i| i + pinned)).collect();
    let mut slots: Vec<Option<ProposalView>> = chosen.into_iter().map(|(_, v)| Some(v)).collect();
    let proposals = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(Json(Recommendations {
        user_id: user.to_string(),
        recommended_game: decision.recommended_game,
        game_reason: decision.game_reason,
        protective: decision.protective,
        proposals,
        best_time_window: window.into(),
        policy_version: policy.version.clone(),
        lang: if lang == Lang::En { "en" } else { "ko" },
    }))
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

#[derive(Serialize, ToSchema)]
pub struct GameView {
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub game: Game,
    /// Expected tokens back per token staked, from the odds table; null for a game without
    /// stakes (the quiz).
    pub return_to_player: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct Games {
    pub games: Vec<GameView>,
}

#[utoipa::path(
    get, path = "/v1/games", tag = "protection",
    responses((status = 200, description = "every game with its disclosed odds", body = Games)),
    security(("api_key" = ["read"]))
)]
async fn games(_caller: Caller<ReadScope>, State(state): State<AppState>) -> Json<Games> {
    let games = state
        .product
        .games
        .iter()
        .map(|g| GameView { return_to_player: g.return_to_player(), game: g.clone() })
        .collect();
    Json(Games { games })
}
