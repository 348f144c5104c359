//! Isotonic calibration: the non-decreasing step function from raw scores to probabilities
//! that fits held-out outcomes best in squared error (pool-adjacent-violators).

use serde::{Deserialize, Serialize};

/// A fitted calibration: `scores[i]` maps to `probabilities[i]`, linear in between, flat
/// beyond the ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    scores: Vec<f64>,
    probabilities: Vec<f64>,
}

impl Isotonic {
    /// Fits `outcomes` (true = positive) against `scores`; `None` without rows.
    pub fn fit(scores: &[f64], outcomes: &[bool]) -> Option<Self> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        // Blocks of (sum of outcomes, rows, lowest score, highest score), merged while a block
        // has a higher mean than the next.
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        for i in order {
            let (y, s) = (f64::from(u8::from(outcomes[i])), scores[i]);
            blocks.push((y, 1.0, s, s));
            while blocks.len() > 1 {
                let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
                if a.0 / a.1 < b.0 / b.1 && a.3 < b.2 {
                    break;
                }
                blocks.pop();
                let last = blocks.last_mut().expect("two blocks were there");
                *last = (a.0 + b.0, a.1 + b.1, a.2, b.3);
            }
        }
        if blocks.is_empty() {
            return None;
        }
        // Each block is its mean over its score range: two knots, or one for a single score.
        let (mut knots, mut values) = (Vec::new(), Vec::new());
        for (sum, rows, low, high) in blocks {
            for s in if low < high { vec![low, high] } else { vec![low] } {
                knots.push(s);
                values.push(sum / rows);
            }
        }
        Some(Isotonic { scores: knots, probabilities: values })
    }

    /// The calibrated probability of a raw score.
    pub fn probability(&self, score: f64) -> f64 {
        let upper = self.scores.partition_point(|s| *s <= score);
        if upper == 0 {
            return self.probabilities[0];
        }
        if upper == self.scores.len() {
            return self.probabilities[upper - 1];
        }
        let (s0, s1) = (self.scores[upper - 1], self.scores[upper]);
        let (p0, p1) = (self.probabilities[upper - 1], self.probabilities[upper]);
        p0 + (p1 - p0) * (score - s0) / (s1 - s0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_violators_into_their_mean() {
        // Scores 1..4 with outcomes 0, 1, 0, 1: 2 and 3 violate and pool to 0.5.
        let fit = Isotonic::fit(&[1.0, 2.0, 3.0, 4.0], &[false, true, false, true]).unwrap();
        assert_eq!(fit.probability(1.0), 0.0);
        assert_eq!(fit.probability(2.0), 0.5);
        assert_eq!(fit.probability(3.0), 0.5);
        assert_eq!(fit.probability(4.0), 1.0);
        assert_eq!(fit.probability(0.0), 0.0, "flat below the lowest score");
        assert_eq!(fit.probability(9.0), 1.0, "flat above the highest");
        assert_eq!(fit.probability(3.5), 0.75, "linear between knots");
    }

    #[test]
    fn equal_scores_share_one_probability_and_the_result_never_decreases() {
        let scores = [0.3, 0.1, 0.3, 0.2, 0.9, 0.3, 0.5, 0.5];
        let outcomes = [true, false, false, true, true, true, false, false];
        let fit = Isotonic::fit(&scores, &outcomes).unwrap();
        let grid: Vec<f64> = (0..=100).map(|i| fit.probability(f64::from(i) / 100.0)).collect();
        assert!(grid.windows(2).all(|w| w[0] <= w[1] + 1e-15), "{grid:?}");
        // The 0.2, 0.3 and 0.5 scores pool into one block: 3 positives of 6.
        assert!((fit.probability(0.3) - 0.5).abs() < 1e-15);
        assert!((fit.probability(0.5) - 0.5).abs() < 1e-15);
        assert!(Isotonic::fit(&[], &[]).is_none());
    }
}
