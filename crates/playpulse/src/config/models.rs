//! `[models]`: how the nightly batch uses the trained models.

use serde::{Deserialize, Serialize};

use crate::models::ltv::Target;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Whether each night scores the active users with the newest usable churn model, once
    /// one is trained (`playpulse train churn`).
    pub churn_scoring: bool,
    /// A model is passed over for the version before it when its inputs drifted past this
    /// against its training data: each input's population stability index weighted by the
    /// input's share of the model's gain.
    pub max_drift: f64,
    /// Features named as the reasons of each score.
    pub reasons: usize,
    /// Whether each night forecasts the active users' value (token spend and cash over the
    /// next 30 and 90 days) and picks the whale candidates: BG/NBD with Gamma-Gamma always,
    /// the boosted models once `playpulse train ltv` stored a version.
    pub ltv_scoring: bool,
    /// The forecast whale candidates are ranked by: `spend_30d`, `spend_90d`, `cash_30d`
    /// or `cash_90d`.
    pub whale_value: String,
    /// The share of the night's active users, ranked by `whale_value`, who are whale
    /// candidates (only users forecast to spend or pay something).
    pub whale_candidates_percent: f64,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            churn_scoring: true,
            max_drift: 0.25,
            reasons: 3,
            ltv_scoring: true,
            whale_value: "spend_30d".into(),
            whale_candidates_percent: 5.0,
        }
    }
}

impl ModelsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_drift.is_finite() && self.max_drift > 0.0,
            "models.max_drift must be a positive number"
        );
        anyhow::ensure!((1..=10).contains(&self.reasons), "models.reasons must be from 1 to 10");
        anyhow::ensure!(
            Target::parse(&self.whale_value).is_some(),
            "models.whale_value must be spend_30d, spend_90d, cash_30d or cash_90d, not {:?}",
            self.whale_value
        );
        anyhow::ensure!(
            self.whale_candidates_percent > 0.0 && self.whale_candidates_percent <= 100.0,
            "models.whale_candidates_percent must be in (0, 100]"
        );
        Ok(())
    }
}
