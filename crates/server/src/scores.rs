//! What the predictive models said of a user (`GET /v1/users/{user_id}/scores`): each
//! model's latest score with the features that raised it most. Server keys only: a player's
//! own token does not read its churn risk.

use axum::Json;
use axum::extract::State;
use playpulse_store::StoredScore;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{PathUser, unknown_user};
use crate::problem::{ApiError, Problem};

/// A user's scores, one per model.
#[derive(Serialize, ToSchema)]
pub struct UserScores {
    pub user_id: String,
    pub scores: Vec<ScoreView>,
}

/// One model's latest score of the user.
#[derive(Serialize, ToSchema)]
pub struct ScoreView {
    /// The model: `churn` (probability of no event in the 7 business days after `as_of`);
    /// `ltv_spend_30d`, `ltv_spend_90d`, `ltv_cash_30d`, `ltv_cash_90d` (tokens spent or cash
    /// paid over the business days after `as_of`, as forecast); `whale_candidate` (among the
    /// night's top users by the forecast `models.whale_value`; the score is that forecast).
    pub model: String,
    /// The model version (`playpulse models list`).
    pub version: i64,
    /// Business date (YYYY-MM-DD) of the night that scored it.
    pub as_of: String,
    pub score: f64,
    /// Why: for `churn` the features that raised the score most, largest first (`feature`,
    /// the user's `value`, its `contribution` to the log-odds); for a forecast every way's
    /// (`way`, `forecast`, `chosen`: the one the score is); for `whale_candidate` the
    /// `forecast` ranked by, the user's `rank` and the users ranked (`of`).
    #[schema(value_type = Vec<Object>)]
    pub reasons: serde_json::Value,
}

impl From<StoredScore> for ScoreView {
    fn from(s: StoredScore) -> Self {
        ScoreView {
            model: s.model,
            version: s.version,
            as_of: s.as_of.to_string(),
            score: s.score,
            reasons: s.reasons,
        }
    }
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/scores", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = UserScores),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub(crate) async fn scores(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<UserScores>, ApiError> {
    if state.store.user(&user).await?.is_none() {
        return Err(unknown_user(&user));
    }
    let scores = state.store.scores(&user).await?.into_iter().map(ScoreView::from).collect();
    Ok(Json(UserScores { user_id: user.to_string(), scores }))
}
