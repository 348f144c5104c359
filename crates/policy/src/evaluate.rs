//! Off-policy evaluation: how often a candidate policy would have converted, read from the
//! logs of the policy that actually ran, before the candidate is switched on.
//!
//! Every logged impression carries the probability the running policy had of showing the
//! variant it showed (its propensity). Weighting each reward by
//! `candidate probability / propensity` gives an unbiased estimate of the candidate's
//! conversion rate per impression ([`inverse_propensity`]), provided every variant the
//! candidate may show had a positive propensity; the learner's exploration floor sees to
//! that, and also bounds the weights. [`self_normalized`] trades a small bias for less
//! variance; [`doubly_robust`] subtracts a reward model's prediction and stays unbiased
//! whether the model is right or not, with less variance when it is close.
//!
//! The estimators reject a log row they cannot weigh (a propensity outside (0, 1], an
//! action the candidate does not know) instead of skipping it: a silently dropped row
//! biases the estimate, and such a row means the logging itself is broken.

use std::collections::HashMap;

/// One logged impression.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Where the choice was made, e.g. `"Whale/MID_STAKE"`: the candidate is asked for its
    /// probabilities here.
    pub context: String,
    /// The variant shown.
    pub action: usize,
    /// The probability the running policy had of showing `action` in this context.
    pub propensity: f64,
    /// 1.0 for a conversion, 0.0 otherwise.
    pub reward: f64,
}

/// An estimated value per impression, with its standard error and the rows it is read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    /// Infinite for a single row, whose spread is unknown.
    pub std_error: f64,
    pub n: usize,
}

/// Logs the estimators cannot read; each variant has a stable machine code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluateError {
    #[error("no logged impressions to evaluate")]
    NoLogs,
    #[error("row {row}: propensity {propensity} is outside (0, 1]")]
    InvalidPropensity { row: usize, propensity: f64 },
    #[error("row {row}: action {action} is out of range for the candidate's {actions} actions")]
    ActionOutOfRange { row: usize, action: usize, actions: usize },
    #[error("the candidate gives no probability to any logged action")]
    NoOverlap,
}

impl EvaluateError {
    /// The stable machine code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoLogs => "no_logs",
            Self::InvalidPropensity { .. } => "invalid_propensity",
            Self::ActionOutOfRange { .. } => "action_out_of_range",
            Self::NoOverlap => "no_overlap",
        }
    }
}

/// Inverse propensity scoring: the mean of `reward × candidate(action) / propensity`.
/// `candidate` gives the candidate policy's probability of each action in a context.
pub fn inverse_propensity(
    logs: &[Logged],
    candidate: impl Fn(&str) -> Vec<f64>,
) -> Result<Estimate, EvaluateError> {
    let rows = weigh(logs, candidate)?;
    Ok(mean(rows.iter().map(|row| row.weight * row.log.reward)))
}

/// Self-normalized inverse propensity scoring (SNIPS): the weighted rewards divided by the
/// sum of the weights rather than by the row count. Slightly biased, but it stays within
/// the range of the rewards where a few large weights throw plain IPS off. The standard
/// error is the delta method's.
pub fn self_normalized(
    logs: &[Logged],
    candidate: impl Fn(&str) -> Vec<f64>,
) -> Result<Estimate, EvaluateError> {
    let rows = weigh(logs, candidate)?;
    let total_weight: f64 = rows.iter().map(|row| row.weight).sum();
    if total_weight <= 0.0 {
        return Err(EvaluateError::NoOverlap);
    }
    let value = rows.iter().map(|row| row.weight * row.log.reward).sum::<f64>() / total_weight;
    let spread: f64 = rows.iter().map(|row| (row.weight * (row.log.reward - value)).powi(2)).sum();
    Ok(Estimate { value, std_error: spread.sqrt() / total_weight, n: rows.len() })
}

/// Doubly robust: the reward `model` predicts for the candidate's choices, corrected by the
/// importance-weighted error of the model on the logged action,
/// `Σₐ candidate(a)·model(a) + weight × (reward − model(action))`.
pub fn doubly_robust(
    logs: &[Logged],
    candidate: impl Fn(&str) -> Vec<f64>,
    model: impl Fn(&str, usize) -> f64,
) -> Result<Estimate, EvaluateError> {
    let rows = weigh(logs, candidate)?;
    Ok(mean(rows.iter().map(|row| {
        let context = row.log.context.as_str();
        let predicted: f64 = row.candidate.iter().enumerate().map(|(a, p)| p * model(context, a)).sum();
        predicted + row.weight * (row.log.reward - model(context, row.log.action))
    })))
}

/// A reward model for [`doubly_robust`]: the mean logged reward per (context, action), and
/// the mean of all logs for a pair never logged.
///
/// Fitted on the same logs it corrects, it makes the estimate lean towards the direct
/// method's; fit it on an earlier period where that matters.
#[derive(Debug, Clone, Default)]
pub struct MeanReward {
    /// Per context, per action: (sum of rewards, impressions).
    by_context: HashMap<String, Vec<(f64, u64)>>,
    overall: f64,
}

impl MeanReward {
    /// Averages the rewards of `logs`.
    pub fn fit(logs: &[Logged]) -> Self {
        let mut by_context: HashMap<String, Vec<(f64, u64)>> = HashMap::new();
        for log in logs {
            let actions = by_context.entry(log.context.clone()).or_default();
            if actions.len() <= log.action {
                actions.resize(log.action + 1, (0.0, 0));
            }
            actions[log.action].0 += log.reward;
            actions[log.action].1 += 1;
        }
        let overall = if logs.is_empty() {
            0.0
        } else {
            logs.iter().map(|log| log.reward).sum::<f64>() / logs.len() as f64
        };
        Self { by_context, overall }
    }

    /// The predicted reward of `action` in `context`.
    pub fn predict(&self, context: &str, action: usize) -> f64 {
        match self.by_context.get(context).and_then(|actions| actions.get(action)) {
            Some(&(sum, count)) if count > 0 => sum / count as f64,
            _ => self.overall,
        }
    }
}

/// A log row the estimators can read, with the candidate's probabilities for its context
/// and the importance weight of its action.
struct Weighted<'a> {
    log: &'a Logged,
    candidate: Vec<f64>,
    weight: f64,
}

fn weigh(logs: &[Logged], candidate: impl Fn(&str) -> Vec<f64>) -> Result<Vec<Weighted<'_>>, EvaluateError> {
    if logs.is_empty() {
        return Err(EvaluateError::NoLogs);
    }
    logs.iter()
        .enumerate()
        .map(|(row, log)| {
            // Written so that NaN fails too.
            if !(log.propensity > 0.0 && log.propensity <= 1.0) {
                return Err(EvaluateError::InvalidPropensity { row, propensity: log.propensity });
            }
            let probabilities = candidate(&log.context);
            let Some(&probability) = probabilities.get(log.action) else {
                let actions = probabilities.len();
                return Err(EvaluateError::ActionOutOfRange { row, action: log.action, actions });
            };
            Ok(Weighted { log, weight: probability / log.propensity, candidate: probabilities })
        })
        .collect()
}

/// The mean of `terms` and its standard error (sample standard deviation / √n).
fn mean(terms: impl Iterator<Item = f64>) -> Estimate {
    let terms: Vec<f64> = terms.collect();
    let n = terms.len();
    let value = terms.iter().sum::<f64>() / n as f64;
    let std_error = if n < 2 {
        f64::INFINITY
    } else {
        let variance = terms.iter().map(|t| (t - value).powi(2)).sum::<f64>() / (n - 1) as f64;
        (variance / n as f64).sqrt()
    };
    Estimate { value, std_error, n }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn logged(action: usize, propensity: f64, reward: f64) -> Logged {
        Logged { context: "Low/SAFE_PLAY".into(), action, propensity, reward }
    }

    /// Four impressions under a logging policy that changed between rows 2 and 3.
    fn tiny_log() -> Vec<Logged> {
        vec![logged(0, 0.5, 1.0), logged(1, 0.5, 0.0), logged(0, 0.25, 0.0), logged(1, 0.25, 1.0)]
    }

    /// The candidate shows variant 0 three times in four.
    fn candidate(_: &str) -> Vec<f64> {
        vec![0.75, 0.25]
    }

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() < 1e-12
    }

    #[test]
    fn ips_by_hand() {
        // Weights: 0.75/0.5 = 1.5, 0.25/0.5 = 0.5, 0.75/0.25 = 3, 0.25/0.25 = 1.
        // Terms reward × weight: 1.5, 0, 0, 1; mean 2.5 / 4 = 0.625.
        // Deviations 0.875, −0.625, −0.625, 0.375; squares sum to 1.6875; sample variance
        // 1.6875 / 3 = 0.5625, standard deviation 0.75, standard error 0.75 / √4 = 0.375.
        let estimate = inverse_propensity(&tiny_log(), candidate).expect("valid logs");
        assert!(close(estimate.value, 0.625) && close(estimate.std_error, 0.375), "{estimate:?}");
        assert_eq!(estimate.n, 4);
    }

    #[test]
    fn snips_by_hand() {
        // 2.5 weighted reward over a weight of 1.5 + 0.5 + 3 + 1 = 6: 5/12.
        // Residuals 7/12 (rows 1, 4) and −5/12 (rows 2, 3); standard error
        // √((1.5² + 1²)·(7/12)² + (0.5² + 3²)·(5/12)²) / 6 = √(390.5 / 144) / 6.
        let estimate = self_normalized(&tiny_log(), candidate).expect("valid logs");
        assert!(close(estimate.value, 5.0 / 12.0), "{estimate:?}");
        assert!(close(estimate.std_error, (390.5_f64 / 144.0).sqrt() / 6.0), "{estimate:?}");
    }

    #[test]
    fn doubly_robust_by_hand() {
        // Model 0.5 for both actions: terms 0.5 + w·(r − 0.5) = 1.25, 0.25, −1, 1; mean 0.375.
        let estimate = doubly_robust(&tiny_log(), candidate, |_, _| 0.5).expect("valid logs");
        assert!(close(estimate.value, 0.375), "{estimate:?}");
        // A model that predicts nothing leaves plain IPS.
        let zero = doubly_robust(&tiny_log(), candidate, |_, _| 0.0).expect("valid logs");
        assert!(close(zero.value, 0.625) && close(zero.std_error, 0.375), "{zero:?}");
    }

    #[test]
    fn mean_reward_falls_back_to_the_overall_mean() {
        let model = MeanReward::fit(&tiny_log());
        assert!(close(model.predict("Low/SAFE_PLAY", 0), 0.5));
        assert!(close(model.predict("Low/SAFE_PLAY", 1), 0.5));
        assert!(close(model.predict("Low/SAFE_PLAY", 2), 0.5));
        let model = MeanReward::fit(&[logged(0, 0.5, 1.0), logged(0, 0.5, 1.0), logged(1, 0.5, 0.0)]);
        assert!(close(model.predict("Low/SAFE_PLAY", 0), 1.0));
        assert!(close(model.predict("Whale/SAFE_PLAY", 0), 2.0 / 3.0));
    }

    #[test]
    fn broken_rows_are_rejected_by_index() {
        let with = |row: Logged| {
            let mut logs = tiny_log();
            logs.insert(2, row);
            inverse_propensity(&logs, candidate)
        };
        assert_eq!(
            with(logged(0, 0.0, 1.0)),
            Err(EvaluateError::InvalidPropensity { row: 2, propensity: 0.0 })
        );
        assert_eq!(with(logged(0, 1.5, 1.0)).map_err(|e| e.code()), Err("invalid_propensity"));
        assert_eq!(with(logged(0, f64::NAN, 1.0)).map_err(|e| e.code()), Err("invalid_propensity"));
        assert_eq!(
            with(logged(2, 0.5, 1.0)),
            Err(EvaluateError::ActionOutOfRange { row: 2, action: 2, actions: 2 })
        );
        assert_eq!(inverse_propensity(&[], candidate), Err(EvaluateError::NoLogs));
        let never_logged = |_: &str| vec![0.0, 0.0, 1.0];
        assert_eq!(self_normalized(&tiny_log(), never_logged), Err(EvaluateError::NoOverlap));
        assert_eq!(inverse_propensity(&tiny_log(), never_logged).map(|e| e.value), Ok(0.0));
    }

    #[test]
    fn a_single_row_has_an_unknown_spread() {
        let estimate = inverse_propensity(&[logged(0, 0.5, 1.0)], candidate).expect("valid logs");
        assert!(close(estimate.value, 1.5) && estimate.std_error.is_infinite(), "{estimate:?}");
    }

    #[test]
    fn estimates_of_a_deterministic_candidate_from_uniform_logs_are_unbiased() {
        // Uniform logging over three variants with known conversion rates; the candidate
        // always shows variant 2, whose true value is its rate.
        const RATES: [f64; 3] = [0.05, 0.10, 0.20];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let logs: Vec<Logged> = (0..30_000)
            .map(|_| {
                let action = rng.random_range(0..RATES.len());
                let reward = if rng.random::<f64>() < RATES[action] { 1.0 } else { 0.0 };
                logged(action, 1.0 / 3.0, reward)
            })
            .collect();
        let always_two = |_: &str| vec![0.0, 0.0, 1.0];
        let model = MeanReward::fit(&logs);
        let estimates = [
            inverse_propensity(&logs, always_two),
            self_normalized(&logs, always_two),
            doubly_robust(&logs, always_two, |c, a| model.predict(c, a)),
        ];
        for estimate in estimates {
            let estimate = estimate.expect("valid logs");
            assert!(estimate.std_error > 0.0 && estimate.std_error < 0.01, "{estimate:?}");
            assert!((estimate.value - RATES[2]).abs() < 3.0 * estimate.std_error, "{estimate:?}");
        }
    }
}
