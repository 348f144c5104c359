//! Drift of a model's inputs: each feature's distribution in the training data, kept with the
//! model as deciles (and the share missing), against tonight's by the population stability
//! index, PSI = Σ (actual − expected) · ln(actual / expected) over the bins.

use serde::{Deserialize, Serialize};

use crate::table::Table;

/// The training data's distribution of each feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub features: Vec<Bins>,
}

/// One feature's bins: upper edges of all but the last bin (deciles of the training values,
/// duplicates removed), and the share of training rows in each bin, then the share missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub feature: String,
    pub edges: Vec<f64>,
    pub shares: Vec<f64>,
}

/// Shares below this count as this, so that an empty bin does not make the index infinite.
const FLOOR: f64 = 1e-4;

impl Bins {
    fn of(feature: &str, values: &[f64]) -> Bins {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        present.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> =
            (1..10).filter_map(|d| present.get(d * present.len() / 10).copied()).collect();
        edges.dedup();
        let mut bins = Bins { feature: feature.to_owned(), edges, shares: Vec::new() };
        bins.shares = bins.shares_of(values);
        bins
    }

    /// The share of `values` in each bin, then the share missing.
    fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.edges.len() + 2];
        for v in values {
            let bin = if v.is_nan() { self.edges.len() + 1 } else { self.edges.partition_point(|e| e < v) };
            counts[bin] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }

    /// The population stability index of `values` against these bins.
    pub fn psi(&self, values: &[f64]) -> f64 {
        self.shares_of(values)
            .iter()
            .zip(&self.shares)
            .map(|(actual, expected)| {
                let (a, e) = (actual.max(FLOOR), expected.max(FLOOR));
                (a - e) * (a / e).ln()
            })
            .sum()
    }
}

impl Reference {
    /// The distribution of every column of `table`.
    pub fn of(table: &Table) -> Reference {
        Reference { features: table.names.iter().zip(&table.columns).map(|(n, c)| Bins::of(n, c)).collect() }
    }

    /// Each feature's PSI in `table` (features `table` lacks are left out), largest first.
    pub fn psi(&self, table: &Table) -> Vec<(String, f64)> {
        let mut drift: Vec<(String, f64)> = self
            .features
            .iter()
            .filter_map(|bins| {
                let column = table.names.iter().position(|n| *n == bins.feature)?;
                Some((bins.feature.clone(), bins.psi(&table.columns[column])))
            })
            .collect();
        drift.sort_by(|a, b| b.1.total_cmp(&a.1));
        drift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(values: Vec<f64>) -> Table {
        Table { names: vec!["x".into()], columns: vec![values] }
    }

    #[test]
    fn the_same_distribution_does_not_drift_and_a_shifted_one_does() {
        let training: Vec<f64> = (0..10_000).map(|i| f64::from(i % 100)).collect();
        let reference = Reference::of(&table(training.clone()));
        let same: Vec<f64> = (0..5_000).map(|i| f64::from((i * 7) % 100)).collect();
        assert!(reference.psi(&table(same))[0].1 < 0.01);
        let shifted: Vec<f64> = training.iter().map(|v| v + 30.0).collect();
        assert!(reference.psi(&table(shifted))[0].1 > 0.25, "a third of the range moved");
        // Missing values are a bin of their own: a feature that stops arriving drifts.
        let gone = vec![f64::NAN; 1000];
        assert!(reference.psi(&table(gone))[0].1 > 1.0);
    }

    #[test]
    fn psi_by_hand() {
        // Training: half 0, half 1 → edges [1] (the 10%..90% quantiles dedup to 0 and 1).
        let reference = Reference::of(&table([vec![0.0; 50], vec![1.0; 50]].concat()));
        assert_eq!(reference.features[0].edges, [0.0, 1.0]);
        let now = table([vec![0.0; 25], vec![1.0; 75]].concat());
        let by_hand = (0.25f64 - 0.5) * (0.25f64 / 0.5).ln() + (0.75f64 - 0.5) * (0.75f64 / 0.5).ln();
        assert!((reference.psi(&now)[0].1 - by_hand).abs() < 1e-12);
    }
}
