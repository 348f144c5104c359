//! Future spend by gradient-boosted trees over the churn model's features: squared loss on
//! ln(1 + spend), so that a few heavy spenders do not dominate the fit, turned back with
//! exp − 1 (about the conditional median: the best single guess for absolute error).

use forust_ml::Matrix;
use forust_ml::gradientbooster::GradientBooster;
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::table::Table;

/// A trained spend model.
#[derive(Serialize, Deserialize)]
pub struct BoostedLtv {
    /// The features it reads, in its order.
    pub features: Vec<String>,
    booster: GradientBooster,
}

impl BoostedLtv {
    /// Trains on `train` against each row's later spend, boosting until the squared error on
    /// `held_out` (a later period) has not improved for 20 rounds.
    pub fn train(
        train: &Table,
        spend: &[f64],
        held_out: &Table,
        held_out_spend: &[f64],
    ) -> Result<Self, ModelError> {
        if train.rows() == 0 {
            return Err(ModelError::Empty("training"));
        }
        if held_out.rows() == 0 {
            return Err(ModelError::Empty("held-out"));
        }
        let features = train.names.clone();
        let data = train.column_major(&features)?;
        let y: Vec<f64> = spend.iter().map(|s| s.max(0.0).ln_1p()).collect();
        let held = held_out.column_major(&features)?;
        let held_y: Vec<f64> = held_out_spend.iter().map(|s| s.max(0.0).ln_1p()).collect();
        let (weights, held_weights) = (vec![1.0; y.len()], vec![1.0; held_y.len()]);
        let evaluation =
            (Matrix::new(&held, held_out.rows(), features.len()), &held_y[..], &held_weights[..]);
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::SquaredLoss)
            .set_iterations(500)
            .set_learning_rate(0.05)
            .set_max_depth(5)
            .set_l2(1.0)
            .set_min_leaf_weight(20.0)
            .set_evaluation_metric(Some(Metric::RootMeanSquaredError))
            .set_early_stopping_rounds(Some(20));
        booster
            .fit(&Matrix::new(&data, train.rows(), features.len()), &y, &weights, Some(vec![evaluation]))
            .map_err(|e| ModelError::Booster(e.to_string()))?;
        Ok(BoostedLtv { features, booster })
    }

    /// The predicted spend of each row.
    pub fn predict(&self, table: &Table) -> Result<Vec<f64>, ModelError> {
        let data = table.column_major(&self.features)?;
        let raw = self.booster.predict(&Matrix::new(&data, table.rows(), self.features.len()), true);
        Ok(raw.into_iter().map(|v| v.exp_m1().max(0.0)).collect())
    }
}
