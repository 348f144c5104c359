//! `[models]`: how the nightly batch uses the trained models.

use serde::{Deserialize, Serialize};

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
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self { churn_scoring: true, max_drift: 0.25, reasons: 3 }
    }
}

impl ModelsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_drift.is_finite() && self.max_drift > 0.0,
            "models.max_drift must be a positive number"
        );
        anyhow::ensure!((1..=10).contains(&self.reasons), "models.reasons must be from 1 to 10");
        Ok(())
    }
}
