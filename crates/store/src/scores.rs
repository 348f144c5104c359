//! What the predictive models said of each user: the nightly batch stores each model's
//! scores, the user API shows them with their reasons. One row per user and model, the
//! latest night's; never over a newer night's.

use async_trait::async_trait;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use serde_json::Value;

use crate::StoreError;
use crate::rows::{Cells, FromCells, json};

/// The churn model's scores: each user's probability of no activity in the coming week.
/// The policy reads them with the user (`players::USER` names both models).
pub const CHURN: &str = "churn";
/// The users whose forecast value put them among the top (score: the forecast).
pub const WHALE_CANDIDATE: &str = "whale_candidate";

/// One user's score from one model.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScore {
    /// The model's name, e.g. `churn`.
    pub model: String,
    pub version: i64,
    /// The night that scored it.
    pub as_of: Date,
    pub score: f64,
    /// The features that raised it most, as the model explains them.
    pub reasons: Value,
}

/// One night's scores from one model version.
#[derive(Debug, Clone)]
pub struct ScoreNight {
    pub model: String,
    pub version: i64,
    pub as_of: Date,
    /// Each user's score and reasons.
    pub scores: Vec<(UserId, f64, Value)>,
}

#[async_trait]
pub trait Scores: Send + Sync {
    /// Stores a night's scores in one transaction: nothing if the model holds a newer night's
    /// scores (a night re-run out of order); otherwise each user's, then drops the model's
    /// rows older than the night (users it no longer scores). Whether the night was stored:
    /// what a night acts on (invitations) must come from a stored one.
    async fn save_scores(&self, night: ScoreNight) -> Result<bool, StoreError>;

    /// A user's latest score from each model, by model name.
    async fn scores(&self, user: &UserId) -> Result<Vec<StoredScore>, StoreError>;
}

/// Upsert clause of each backend's insert: a newer night's score stays.
macro_rules! newer_score_stays {
    () => {
        "ON CONFLICT (user_id, model) DO UPDATE SET version = excluded.version, as_of = excluded.as_of, \
         score = excluded.score, reasons = excluded.reasons WHERE user_scores.as_of <= excluded.as_of"
    };
}
pub(crate) use newer_score_stays;
pub(crate) const NEWER_SCORES: &str = "SELECT COUNT(*) FROM user_scores WHERE model = $1 AND as_of > $2";
pub(crate) const DROP_OLDER: &str = "DELETE FROM user_scores WHERE model = $1 AND as_of < $2";
pub(crate) const USER_SCORES: &str =
    "SELECT model, version, as_of, score, reasons FROM user_scores WHERE user_id = $1 ORDER BY model";

impl FromCells for StoredScore {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(StoredScore {
            model: row.get(at)?,
            version: row.get(at + 1)?,
            as_of: row.get(at + 2)?,
            score: row.get(at + 3)?,
            reasons: json(&row.get::<String>(at + 4)?)?,
        })
    }
}
