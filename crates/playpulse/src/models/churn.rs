//! Training the churn model on the lake, split by time: it learns from past as-of days,
//! calibrates on a later one and is judged on a later one still, never on rows it has seen.
//!
//! With validation day V and a label of L days, the calibration day is V − L and the training
//! days are V − 2L, then a week earlier each: every label the model learns or calibrates from
//! ends by V, so nothing of V's future reaches it.

use std::path::Path;

use anyhow::Context;
use playpulse_lake::analytics::Analytics;
use playpulse_lake::features::{Features, write_features};
use playpulse_models::churn::ChurnModel;
use playpulse_models::drift::Reference;
use playpulse_models::metrics::Scorecard;
use playpulse_models::table::Table;
use serde::{Deserialize, Serialize};

/// Which days a model learns from and is judged on.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The day it is judged on (days since 1970-01-01).
    pub validation_day: i32,
    /// Business days after the as-of day without an event that make a churner.
    pub label_days: u32,
    /// How many weekly as-of days it learns from.
    pub training_days: u32,
}

impl Plan {
    pub fn calibration_day(&self) -> i32 {
        self.validation_day - self.label_days()
    }

    /// The training days, latest first.
    pub fn training(&self) -> Vec<i32> {
        let latest = self.calibration_day() - self.label_days();
        (0..self.training_days).map(|k| latest - 7 * i32::try_from(k).unwrap_or(i32::MAX)).collect()
    }

    fn label_days(&self) -> i32 {
        i32::try_from(self.label_days).unwrap_or(i32::MAX)
    }
}

/// What a trained model is, as `playpulse models list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub version: u32,
    pub trained_at: String,
    pub label_days: u32,
    pub training_days: Vec<String>,
    pub calibration_day: String,
    pub validation_day: String,
    pub training_rows: usize,
    pub features: Vec<String>,
    /// Measured on the validation day, which neither training nor calibration saw.
    pub validation: Scorecard,
    /// Total gain per feature, largest first.
    pub importance: Vec<(String, f32)>,
    /// The training data's distribution of each feature, which each night's drift is
    /// measured against.
    #[serde(default)]
    pub reference: Reference,
}

impl crate::models::registry::Versioned for Card {
    fn set_version(&mut self, version: u32) {
        self.version = version;
    }
}

/// One day's features with each user's label: churned or not.
pub struct Labelled {
    pub features: Features,
    pub churned: Vec<bool>,
}

impl Labelled {
    pub fn table(&self) -> Table {
        crate::models::table(&self.features)
    }
}

/// The features of `as_of` (also written to the lake under `lake_root`, for inspection and
/// reuse) and, from the lake's later days, each user's label.
pub async fn labelled(
    analytics: &Analytics,
    lake_root: &Path,
    as_of: i32,
    label_days: u32,
) -> anyhow::Result<Labelled> {
    let features = analytics.features(as_of).await?;
    write_features(lake_root, &features)?;
    let outcomes = analytics.outcomes(as_of, label_days).await?;
    let churned =
        features.users.iter().map(|u| outcomes.get(u).is_none_or(|o| o.active_days_next == 0)).collect();
    Ok(Labelled { features, churned })
}

/// A trained model and its card (version 0 until registered).
pub struct Trained {
    pub model: ChurnModel,
    pub card: Card,
}

/// A model fitted on the plan's training days, and what it learned from.
pub struct Fitted {
    pub model: ChurnModel,
    pub training_rows: usize,
    pub reference: Reference,
}

/// Fits a model on the plan's training days, calibrated on its calibration day.
pub async fn fit(analytics: &Analytics, lake_root: &Path, plan: &Plan) -> anyhow::Result<Fitted> {
    let mut train = Table::default();
    let mut churned = Vec::new();
    for day in plan.training() {
        let rows = labelled(analytics, lake_root, day, plan.label_days).await?;
        train.append(&rows.table())?;
        churned.extend(rows.churned);
    }
    let calibration = labelled(analytics, lake_root, plan.calibration_day(), plan.label_days).await?;
    let model = ChurnModel::train(&train, &churned, &calibration.table(), &calibration.churned).context(
        "the lake does not hold enough history to train on: churners and stayers are needed on every training day",
    )?;
    Ok(Fitted { model, training_rows: churned.len(), reference: Reference::of(&train) })
}

/// Fits by `plan` and judges the model on the validation day, whose labels the lake must
/// hold; `now` is the time written on the card.
pub async fn train(
    analytics: &Analytics,
    lake_root: &Path,
    plan: &Plan,
    now: String,
) -> anyhow::Result<Trained> {
    let Fitted { model, training_rows, reference } = fit(analytics, lake_root, plan).await?;
    let validation = labelled(analytics, lake_root, plan.validation_day, plan.label_days).await?;
    let predicted = model.probabilities(&validation.table())?;
    let card = Card {
        version: 0,
        trained_at: now,
        label_days: plan.label_days,
        training_days: plan.training().into_iter().map(date).collect(),
        calibration_day: date(plan.calibration_day()),
        validation_day: date(plan.validation_day),
        training_rows,
        features: model.features.clone(),
        validation: Scorecard::of(&predicted, &validation.churned)
            .context("the validation day holds churners only or none")?,
        importance: model.importance(),
        reference,
    };
    Ok(Trained { model, card })
}

/// A day number as its date.
pub fn date(day: i32) -> String {
    playpulse_core::time::add_days(playpulse_core::time::EPOCH_DAY, i64::from(day))
        .map_or_else(|| day.to_string(), |d| d.to_string())
}
