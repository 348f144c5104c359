//! How well scores rank and how honest their probabilities are: AUC, PR-AUC (average
//! precision), Brier score, calibration by decile and lift in the top decile.

use serde::{Deserialize, Serialize};

/// The measures of a binary classifier's probabilities against outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub rows: usize,
    /// Share of positives.
    pub base_rate: f64,
    pub auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    /// Positive rate of the top decile by score over the base rate.
    pub lift_top_decile: f64,
    /// Ten bins of equal size by score, lowest first.
    pub deciles: Vec<Decile>,
}

/// One bin of the calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decile {
    pub rows: usize,
    pub mean_predicted: f64,
    pub observed: f64,
}

impl Scorecard {
    /// Measures `probabilities` against `outcomes` (true = positive). Both have one entry per
    /// row; `None` for no rows or no positive or no negative (AUC is undefined then).
    pub fn of(probabilities: &[f64], outcomes: &[bool]) -> Option<Self> {
        assert_eq!(probabilities.len(), outcomes.len(), "one probability per outcome");
        let rows = outcomes.len();
        let positives = outcomes.iter().filter(|o| **o).count();
        if positives == 0 || positives == rows {
            return None;
        }
        let base_rate = positives as f64 / rows as f64;
        let brier = probabilities
            .iter()
            .zip(outcomes)
            .map(|(p, o)| (p - f64::from(u8::from(*o))).powi(2))
            .sum::<f64>()
            / rows as f64;
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_by(|a, b| probabilities[*a].total_cmp(&probabilities[*b]));
        let deciles = deciles(&order, probabilities, outcomes);
        let top = deciles.last().map_or(0.0, |d| d.observed);
        Some(Scorecard {
            rows,
            base_rate,
            auc: auc(&order, probabilities, outcomes),
            pr_auc: average_precision(&order, probabilities, outcomes),
            brier,
            lift_top_decile: top / base_rate,
            deciles,
        })
    }
}

/// Runs of equal scores in `order` (ascending): (start, end) index ranges.
fn ties<'a>(order: &'a [usize], scores: &'a [f64]) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= order.len() {
            return None;
        }
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let run = (start, end);
        start = end;
        Some(run)
    })
}

/// The Mann–Whitney statistic: the chance that a random positive scores above a random
/// negative, ties counting half.
fn auc(order: &[usize], scores: &[f64], outcomes: &[bool]) -> f64 {
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    for (start, end) in ties(order, scores) {
        let mid_rank = (start + end + 1) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|i| outcomes[**i]).count();
        rank_sum += mid_rank * tied_positives as f64;
        positives += tied_positives;
    }
    let negatives = order.len() - positives;
    let (p, n) = (positives as f64, negatives as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

/// Precision averaged over the positives, walking the scores from the top; a run of equal
/// scores counts as one threshold.
fn average_precision(order: &[usize], scores: &[f64], outcomes: &[bool]) -> f64 {
    let total = outcomes.iter().filter(|o| **o).count() as f64;
    let runs: Vec<(usize, usize)> = ties(order, scores).collect();
    let (mut seen, mut hits, mut sum) = (0usize, 0usize, 0.0);
    for (start, end) in runs.into_iter().rev() {
        let tied_hits = order[start..end].iter().filter(|i| outcomes[**i]).count();
        seen += end - start;
        hits += tied_hits;
        sum += tied_hits as f64 * hits as f64 / seen as f64;
    }
    sum / total
}

fn deciles(order: &[usize], probabilities: &[f64], outcomes: &[bool]) -> Vec<Decile> {
    let n = order.len();
    (0..10)
        .filter_map(|d| {
            let bin = &order[d * n / 10..(d + 1) * n / 10];
            (!bin.is_empty()).then(|| Decile {
                rows: bin.len(),
                mean_predicted: bin.iter().map(|i| probabilities[*i]).sum::<f64>() / bin.len() as f64,
                observed: bin.iter().filter(|i| outcomes[**i]).count() as f64 / bin.len() as f64,
            })
        })
        .collect()
}

/// The measures of predicted amounts (future spend) against what came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmountCard {
    pub rows: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Spearman's rank correlation, ties ranked by their mean rank.
    pub spearman: f64,
    /// Share of the true top decile (the largest amounts that came, zeros left out) that the
    /// predicted top decile holds.
    pub top_decile_captured: f64,
}

impl AmountCard {
    /// Measures `predicted` against `actual`, one of each per row; `None` for no rows.
    pub fn of(predicted: &[f64], actual: &[f64]) -> Option<Self> {
        assert_eq!(predicted.len(), actual.len(), "one prediction per outcome");
        let rows = actual.len();
        if rows == 0 {
            return None;
        }
        let mae = predicted.iter().zip(actual).map(|(p, a)| (p - a).abs()).sum::<f64>() / rows as f64;
        let top = (rows / 10).max(1);
        // The true top decile: the largest amounts that came, none of them zero (when fewer
        // users spent at all, those who did). The forecast's ties are broken in a fixed order
        // unrelated to the rows', so forecasting zero for most users earns nothing from where
        // the spenders happen to sit.
        let mut truth: Vec<usize> = (0..rows).filter(|i| actual[*i] > 0.0).collect();
        truth.sort_by(|a, b| actual[*b].total_cmp(&actual[*a]).then(a.cmp(b)));
        truth.truncate(top);
        let mut forecast: Vec<usize> = (0..rows).collect();
        forecast
            .sort_by(|a, b| predicted[*b].total_cmp(&predicted[*a]).then(scramble(*a).cmp(&scramble(*b))));
        forecast.truncate(top);
        let forecast: std::collections::BTreeSet<usize> = forecast.into_iter().collect();
        let captured = truth.iter().filter(|i| forecast.contains(i)).count();
        let (rp, ra) = (mean_ranks(predicted), mean_ranks(actual));
        Some(AmountCard {
            rows,
            mae,
            spearman: pearson(&rp, &ra),
            top_decile_captured: if truth.is_empty() { 0.0 } else { captured as f64 / truth.len() as f64 },
        })
    }
}

/// A fixed shuffle of row numbers (a multiplicative hash), for breaking ties.
fn scramble(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

/// Each value's rank (1 = smallest), equal values sharing their mean rank.
fn mean_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    for (start, end) in ties(&order, values) {
        let mean = (start + end + 1) as f64 / 2.0;
        for i in &order[start..end] {
            ranks[*i] = mean;
        }
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) =
        (x.iter().map(|a| (a - mx).powi(2)).sum(), y.iter().map(|b| (b - my).powi(2)).sum());
    if vx == 0.0 || vy == 0.0 { 0.0 } else { cov / (vx * vy).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_half_ties() {
        // Pairs (positive, negative): 0.9>0.1, 0.9>0.4, 0.4=0.4 (half), 0.4>0.1 → 3.5 of 4.
        let card = Scorecard::of(&[0.9, 0.4, 0.4, 0.1], &[true, true, false, false]).unwrap();
        assert!((card.auc - 3.5 / 4.0).abs() < 1e-12, "{}", card.auc);
        let perfect = Scorecard::of(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]).unwrap();
        assert!((perfect.auc - 1.0).abs() < 1e-12);
        assert!((perfect.pr_auc - 1.0).abs() < 1e-12);
    }

    #[test]
    fn average_precision_by_hand() {
        // From the top: hit (1/1), miss, hit (2/3): (1 + 2/3) / 2.
        let card = Scorecard::of(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, false]).unwrap();
        assert!((card.pr_auc - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12, "{}", card.pr_auc);
    }

    #[test]
    fn brier_lift_and_deciles() {
        let p: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i >= 90).collect();
        let card = Scorecard::of(&p, &y).unwrap();
        assert_eq!(card.deciles.len(), 10);
        assert!((card.deciles[9].observed - 1.0).abs() < 1e-12);
        assert!((card.lift_top_decile - 10.0).abs() < 1e-12);
        let by_hand =
            p.iter().zip(&y).map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2)).sum::<f64>() / 100.0;
        assert!((card.brier - by_hand).abs() < 1e-12);
        assert!(Scorecard::of(&[0.1, 0.2], &[true, true]).is_none(), "no negative: undefined");
    }

    #[test]
    fn amounts_by_hand() {
        // Ranks of the prediction 1, 2.5, 2.5, 4 against 1, 2, 3, 4.
        let card = AmountCard::of(&[0.0, 5.0, 5.0, 9.0], &[1.0, 2.0, 3.0, 10.0]).unwrap();
        assert!((card.mae - (1.0 + 3.0 + 2.0 + 1.0) / 4.0).abs() < 1e-12);
        let by_hand = pearson(&[1.0, 2.5, 2.5, 4.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((card.spearman - by_hand).abs() < 1e-12 && by_hand > 0.9);
        let order: Vec<f64> = (0..100).map(f64::from).collect();
        let reversed: Vec<f64> = order.iter().rev().copied().collect();
        assert_eq!(AmountCard::of(&order, &order).unwrap().top_decile_captured, 1.0);
        assert_eq!(AmountCard::of(&reversed, &order).unwrap().top_decile_captured, 0.0);
        assert!((AmountCard::of(&reversed, &order).unwrap().spearman + 1.0).abs() < 1e-12);

        // Five spenders among 100, first in row order. Forecasting zero for everyone finds
        // them only by luck; forecasting them finds them all.
        let came: Vec<f64> = (0..100).map(|i| if i < 5 { 10.0 } else { 0.0 }).collect();
        let nothing = AmountCard::of(&[0.0; 100], &came).unwrap();
        assert!(nothing.top_decile_captured <= 0.4, "{nothing:?}");
        assert_eq!(AmountCard::of(&came, &came).unwrap().top_decile_captured, 1.0);
        assert_eq!(AmountCard::of(&[1.0; 100], &[0.0; 100]).unwrap().top_decile_captured, 0.0);
    }
}
