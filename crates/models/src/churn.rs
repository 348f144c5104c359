//! Churn: the chance that a user has no event in the label's days after the as-of day, from
//! gradient-boosted trees (`forust-ml`, pure Rust) whose raw scores are calibrated by isotonic
//! regression on a later, held-out period; each score comes with its reasons (tree SHAP).

use forust_ml::Matrix;
use forust_ml::gradientbooster::{ContributionsMethod, GradientBooster, ImportanceMethod};
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::calibration::Isotonic;
use crate::table::Table;

/// A trained churn model.
#[derive(Serialize, Deserialize)]
pub struct ChurnModel {
    /// The features it reads, in its order.
    pub features: Vec<String>,
    booster: GradientBooster,
    calibration: Isotonic,
}

/// One feature's push on a user's score, in log-odds: positive raises the churn risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: String,
    pub value: f64,
    pub contribution: f64,
}

/// Trees at most; early stopping usually ends sooner.
const TREES: usize = 500;

fn ones_and_zeros(outcomes: &[bool]) -> Vec<f64> {
    outcomes.iter().map(|o| f64::from(u8::from(*o))).collect()
}

fn one_class(outcomes: &[bool]) -> bool {
    outcomes.iter().all(|o| *o) || !outcomes.iter().any(|o| *o)
}

impl ChurnModel {
    /// Trains on `train` (true = churned), then calibrates on `calibrate`, rows of a later
    /// period the trees never fit: boosting stops once their log loss has not improved for
    /// 20 rounds, and the isotonic map is fitted to them.
    pub fn train(
        train: &Table,
        churned: &[bool],
        calibrate: &Table,
        calibrate_churned: &[bool],
    ) -> Result<Self, ModelError> {
        if one_class(churned) {
            return Err(ModelError::OneClass("training"));
        }
        if one_class(calibrate_churned) {
            return Err(ModelError::OneClass("calibration"));
        }
        let features = train.names.clone();
        let data = train.column_major(&features)?;
        let matrix = Matrix::new(&data, train.rows(), features.len());
        let y = ones_and_zeros(churned);
        let held_out = calibrate.column_major(&features)?;
        let held_out_y = ones_and_zeros(calibrate_churned);
        let (weights, held_out_weights) = (vec![1.0; y.len()], vec![1.0; held_out_y.len()]);
        let evaluation = (
            Matrix::new(&held_out, calibrate.rows(), features.len()),
            &held_out_y[..],
            &held_out_weights[..],
        );
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(TREES)
            .set_learning_rate(0.05)
            .set_max_depth(5)
            .set_l2(1.0)
            .set_min_leaf_weight(5.0)
            .set_evaluation_metric(Some(Metric::LogLoss))
            .set_early_stopping_rounds(Some(20));
        booster
            .fit(&matrix, &y, &weights, Some(vec![evaluation]))
            .map_err(|e| ModelError::Booster(e.to_string()))?;
        let raw = booster.predict(&Matrix::new(&held_out, calibrate.rows(), features.len()), true);
        let calibration =
            Isotonic::fit(&raw, calibrate_churned).ok_or(ModelError::OneClass("calibration"))?;
        Ok(ChurnModel { features, booster, calibration })
    }

    /// How many trees boosting kept (it stops early once the held-out loss stops improving).
    pub fn trees(&self) -> usize {
        self.booster.trees.len()
    }

    /// The booster's log-odds for each row.
    fn raw_scores(&self, table: &Table) -> Result<Vec<f64>, ModelError> {
        let data = table.column_major(&self.features)?;
        Ok(self.booster.predict(&Matrix::new(&data, table.rows(), self.features.len()), true))
    }

    /// The calibrated churn probability of each row.
    pub fn probabilities(&self, table: &Table) -> Result<Vec<f64>, ModelError> {
        Ok(self.raw_scores(table)?.into_iter().map(|s| self.calibration.probability(s)).collect())
    }

    /// For each row, the `top` features that raised its churn risk most (tree SHAP on the
    /// booster's log-odds), largest first.
    pub fn reasons(&self, table: &Table, top: usize) -> Result<Vec<Vec<Reason>>, ModelError> {
        let data = table.column_major(&self.features)?;
        let (rows, cols) = (table.rows(), self.features.len());
        let matrix = Matrix::new(&data, rows, cols);
        let contributions = self.booster.predict_contributions(&matrix, ContributionsMethod::Shapley, true);
        Ok((0..rows)
            .map(|r| {
                // One row of contributions: a value per feature, then the bias.
                let row = &contributions[r * (cols + 1)..r * (cols + 1) + cols];
                let mut reasons: Vec<Reason> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0.0)
                    .map(|(c, contribution)| Reason {
                        feature: self.features[c].clone(),
                        value: data[c * rows + r],
                        contribution: *contribution,
                    })
                    .collect();
                reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
                reasons.truncate(top);
                reasons
            })
            .collect())
    }

    /// Feature importance (total gain, summing to 1), largest first.
    pub fn importance(&self) -> Vec<(String, f32)> {
        let by_index = self.booster.calculate_feature_importance(ImportanceMethod::TotalGain, true);
        let mut named: Vec<(String, f32)> =
            by_index.into_iter().map(|(i, gain)| (self.features[i].clone(), gain)).collect();
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        named
    }
}
