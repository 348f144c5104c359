//! The learning loop: which variant (wording) of a proposal type to show, per segment.
//!
//! For every (segment, proposal type) the server keeps one [`ArmStats`] per variant. A refresh
//! (every few minutes, or nightly) turns them into fixed choice probabilities with
//! [`choice_probabilities`]: Thompson sampling, computed as the share of Monte Carlo draws
//! in which each variant's posterior is the largest. Until the next refresh every impression
//! picks a variant with [`choose`] and logs that variant's probability as its propensity.
//!
//! Why probabilities and not one posterior draw per impression: state is refreshed in
//! batches anyway, and a probability that is written down is a propensity that is exact, so
//! [`crate::evaluate`] can score a new policy from the logs before it is switched on. The
//! floor (`min_propensity`) keeps every variant explored, so a wording that looked bad early
//! can recover and the evaluator's importance weights stay below `1 / min_propensity`.

use rand::Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

/// Upper bound of [`LearnerConfig::draws`]: a refresh costs draws × variants posterior
/// samples per (segment, proposal type).
pub const MAX_DRAWS: u32 = 100_000;

/// What has been seen of one variant: impressions shown and conversions they led to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmStats {
    pub impressions: u64,
    pub conversions: u64,
}

impl ArmStats {
    /// Counts one impression and whether it converted.
    pub fn record(&mut self, converted: bool) {
        self.impressions += 1;
        self.conversions += u64::from(converted);
    }

    /// The posterior mean conversion rate under a uniform prior: (1 + conversions) / (2 + impressions).
    pub fn posterior_mean(&self) -> f64 {
        let (alpha, beta) = self.posterior();
        alpha / (alpha + beta)
    }

    /// Conversions can outnumber impressions in the counts (a conversion counted before its
    /// impression arrives, or an impression lost): they are clamped to the impressions, since
    /// a rate above one is impossible and a panic would stop every refresh.
    fn clamped(self) -> Self {
        Self { impressions: self.impressions, conversions: self.conversions.min(self.impressions) }
    }

    /// Beta(1 + conversions, 1 + misses): the posterior of the rate under a uniform prior.
    fn posterior(&self) -> (f64, f64) {
        let Self { impressions, conversions } = self.clamped();
        (1.0 + conversions as f64, 1.0 + (impressions - conversions) as f64)
    }
}

/// How the learner explores. Loaded from config; check it with [`LearnerConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnerConfig {
    /// Every variant is chosen with at least this probability (the exploration floor).
    pub min_propensity: f64,
    /// Monte Carlo draws that estimate the Thompson probabilities; their error is about
    /// `sqrt(p (1 − p) / draws)`, under 0.012 at the default.
    pub draws: u32,
    /// Business days of outcomes the nightly batch learns from (older ones are forgotten, so
    /// the learner follows changing tastes).
    pub window_days: u32,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self { min_propensity: 0.05, draws: 2000, window_days: 28 }
    }
}

/// A learner configuration that cannot be used; each variant has a stable machine code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LearnError {
    #[error("min_propensity must be a number in [0, 1], got {0}")]
    MinPropensityOutOfRange(f64),
    #[error(
        "min_propensity {min_propensity} × {variants} variants exceeds 1: \
         no distribution gives every variant that much"
    )]
    FloorTooHigh { min_propensity: f64, variants: usize },
    #[error("draws must be in 1..={MAX_DRAWS}, got {0}")]
    DrawsOutOfRange(u32),
    #[error("window_days must be at least 1")]
    EmptyWindow,
}

impl LearnError {
    /// The stable machine code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MinPropensityOutOfRange(_) => "invalid_min_propensity",
            Self::FloorTooHigh { .. } => "exploration_floor_too_high",
            Self::DrawsOutOfRange(_) => "invalid_draws",
            Self::EmptyWindow => "invalid_window",
        }
    }
}

impl LearnerConfig {
    /// Checks the configuration for proposal types with up to `max_variants` variants.
    pub fn validate(&self, max_variants: usize) -> Result<(), LearnError> {
        if !(0.0..=1.0).contains(&self.min_propensity) {
            return Err(LearnError::MinPropensityOutOfRange(self.min_propensity));
        }
        // A tolerance, so that 0.1 × 10 or 0.2 × 5 (a pure uniform policy) is accepted.
        if self.min_propensity * max_variants as f64 > 1.0 + 1e-9 {
            return Err(LearnError::FloorTooHigh {
                min_propensity: self.min_propensity,
                variants: max_variants,
            });
        }
        if !(1..=MAX_DRAWS).contains(&self.draws) {
            return Err(LearnError::DrawsOutOfRange(self.draws));
        }
        if self.window_days == 0 {
            return Err(LearnError::EmptyWindow);
        }
        Ok(())
    }
}

/// The probability of choosing each variant until the next refresh: the Thompson share of
/// each arm (how often its posterior draw is the largest, ties broken uniformly), mixed with
/// the uniform distribution just enough that every probability is at least
/// `config.min_propensity`. Sums to 1 up to rounding; empty for no arms.
///
/// Arms with the same counts get exactly equal probabilities without sampling, so a cold
/// start is exactly uniform. An invalid config does not panic: the floor is capped at
/// `1 / arms` (the uniform policy) and zero draws count as one.
pub fn choice_probabilities(arms: &[ArmStats], config: &LearnerConfig, rng: &mut impl Rng) -> Vec<f64> {
    let Some(first) = arms.first() else {
        return Vec::new();
    };
    let uniform = 1.0 / arms.len() as f64;
    if arms.iter().all(|arm| arm.clamped() == first.clamped()) {
        return vec![uniform; arms.len()];
    }
    let draws = config.draws.clamp(1, MAX_DRAWS);
    let shares = thompson_wins(arms, draws, rng).into_iter().map(|wins| f64::from(wins) / f64::from(draws));
    // `max` before `min` also maps NaN to 0.
    let floor = config.min_propensity.max(0.0).min(uniform);
    with_floor(shares.collect(), floor)
}

/// How many of `draws` rounds each arm wins: its posterior draw is the largest of the round.
fn thompson_wins(arms: &[ArmStats], draws: u32, rng: &mut impl Rng) -> Vec<u32> {
    let posteriors: Vec<Beta<f64>> = arms
        .iter()
        .map(|arm| {
            let (alpha, beta) = arm.posterior();
            Beta::new(alpha, beta).expect("both Beta parameters are at least 1")
        })
        .collect();
    let mut wins = vec![0_u32; arms.len()];
    for _ in 0..draws {
        let (mut winner, mut best, mut tied) = (0, f64::NEG_INFINITY, 0_u32);
        for (arm, posterior) in posteriors.iter().enumerate() {
            let draw = posterior.sample(rng);
            if draw > best {
                (winner, best, tied) = (arm, draw, 1);
            } else if draw == best {
                // Equal draws: reservoir sampling keeps each tied arm with probability 1/tied.
                tied += 1;
                if rng.random_range(0..tied) == 0 {
                    winner = arm;
                }
            }
        }
        wins[winner] += 1;
    }
    wins
}

/// Mixes `shares` with the uniform distribution, (1 − ε)·p + ε/n with the least ε that
/// lifts the smallest share to `floor` (at most 1/n).
fn with_floor(shares: Vec<f64>, floor: f64) -> Vec<f64> {
    let lowest = shares.iter().copied().fold(f64::INFINITY, f64::min);
    if lowest >= floor {
        return shares;
    }
    // The same affine map written around the lowest share: it lands exactly on the floor,
    // and every other share adds a non-negative amount to it, so none ends a rounding error
    // below the floor. slope = 1 − ε = (1 − n·floor) / (1 − n·lowest).
    let n = shares.len() as f64;
    let slope = ((1.0 - n * floor) / (1.0 - n * lowest)).clamp(0.0, 1.0);
    shares.into_iter().map(|share| floor + (share - lowest) * slope).collect()
}

/// The variant to show for a uniform `u` in [0, 1): inverse CDF of `probabilities`.
/// A variant of probability zero is never chosen, and a `u` beyond a total that rounding
/// left just under 1 gets the last variant that can be chosen.
///
/// # Panics
/// If no probability is positive: there is no variant to show, which a proposal type
/// without variants would be, and config validation rules that out.
pub fn choose(probabilities: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    for (variant, &p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative && p > 0.0 {
            return variant;
        }
    }
    probabilities.iter().rposition(|&p| p > 0.0).expect("a proposal type has a variant that can be chosen")
}

/// Orders proposals by the posterior mean conversion of the variant chosen for each, best
/// first, as indices into `chosen`. Ties keep their given order, so without data the
/// seed's order stands.
pub fn order_by_posterior_mean(chosen: &[ArmStats]) -> Vec<usize> {
    let means: Vec<f64> = chosen.iter().map(ArmStats::posterior_mean).collect();
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    order.sort_by(|&x, &y| means[y].total_cmp(&means[x]));
    order
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn arm(impressions: u64, conversions: u64) -> ArmStats {
        ArmStats { impressions, conversions }
    }

    fn probabilities(arms: &[ArmStats], seed: u64) -> Vec<f64> {
        choice_probabilities(arms, &LearnerConfig::default(), &mut ChaCha8Rng::seed_from_u64(seed))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn probabilities_are_a_distribution_above_the_floor(
            counts in prop::collection::vec((0_u64..5_000, 0_u64..5_000), 0..6),
            floor_share in 0.0..=1.0_f64,
            seed: u64,
        ) {
            let arms: Vec<ArmStats> = counts.iter().map(|&(i, c)| arm(i, c)).collect();
            let min_propensity = floor_share / arms.len().max(1) as f64;
            let config = LearnerConfig { min_propensity, draws: 200, ..LearnerConfig::default() };
            prop_assert!(config.validate(arms.len()).is_ok());
            let p = choice_probabilities(&arms, &config, &mut ChaCha8Rng::seed_from_u64(seed));
            prop_assert_eq!(p.len(), arms.len());
            if !arms.is_empty() {
                prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{:?}", p);
            }
            prop_assert!(p.iter().all(|&x| x >= min_propensity && x <= 1.0), "{:?} floor {}", p, min_propensity);
        }
    }

    #[test]
    fn a_clearly_better_arm_gets_all_but_the_floor() {
        let p = probabilities(&[arm(1_000, 50), arm(1_000, 150), arm(1_000, 60)], 7);
        assert!(p[1] >= 0.89, "{p:?}");
        assert!(p[0] >= 0.05 && p[2] >= 0.05, "{p:?}");
    }

    #[test]
    fn close_arms_share_the_mass() {
        let p = probabilities(&[arm(100, 10), arm(100, 11)], 7);
        assert!(p[0] > 0.3 && p[1] > 0.3 && p[1] > p[0], "{p:?}");
    }

    #[test]
    fn no_data_is_exactly_uniform() {
        assert_eq!(probabilities(&[ArmStats::default(); 4], 1), vec![0.25; 4]);
        assert_eq!(probabilities(&[arm(10, 3); 2], 1), vec![0.5; 2]);
    }

    #[test]
    fn zero_and_one_arms() {
        assert_eq!(probabilities(&[], 1), Vec::<f64>::new());
        assert_eq!(probabilities(&[arm(10, 1)], 1), vec![1.0]);
    }

    #[test]
    fn a_seeded_generator_gives_the_same_probabilities() {
        let arms = [arm(40, 4), arm(40, 6), arm(10, 1)];
        assert_eq!(probabilities(&arms, 42), probabilities(&arms, 42));
        assert_ne!(probabilities(&arms, 42), probabilities(&arms, 43));
    }

    #[test]
    fn conversions_beyond_impressions_count_as_all_converted() {
        assert_eq!(arm(5, 9).posterior_mean(), arm(5, 5).posterior_mean());
        assert_eq!(probabilities(&[arm(5, 9), arm(5, 5)], 3), vec![0.5; 2]);
        let p = probabilities(&[arm(0, 3), arm(50, 1)], 3);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9 && p[0] > p[1], "{p:?}");
    }

    #[test]
    fn an_invalid_config_still_gives_a_distribution() {
        let config = LearnerConfig { min_propensity: 0.9, draws: 0, ..LearnerConfig::default() };
        let p =
            choice_probabilities(&[arm(100, 1), arm(100, 50)], &config, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(p, vec![0.5; 2]);
    }

    #[test]
    fn validate_names_the_problem() {
        let config =
            |min_propensity, draws| LearnerConfig { min_propensity, draws, ..LearnerConfig::default() };
        assert_eq!(LearnerConfig::default().validate(3), Ok(()));
        assert_eq!(config(0.2, 10).validate(5), Ok(()));
        assert_eq!(config(0.1, 10).validate(10), Ok(()));
        let code = |c: LearnerConfig, variants| c.validate(variants).map_err(|e| e.code());
        assert_eq!(code(config(0.3, 10), 4), Err("exploration_floor_too_high"));
        assert_eq!(code(config(-0.01, 10), 2), Err("invalid_min_propensity"));
        assert_eq!(code(config(f64::NAN, 10), 2), Err("invalid_min_propensity"));
        assert_eq!(code(config(0.05, 0), 2), Err("invalid_draws"));
        assert_eq!(code(config(0.05, MAX_DRAWS + 1), 2), Err("invalid_draws"));
        let message = config(0.3, 10).validate(4).map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("min_propensity 0.3 × 4 variants exceeds 1: no distribution gives every variant that much"
                .into())
        );
    }

    #[test]
    fn config_defaults_fill_missing_keys() {
        let config: LearnerConfig = serde_json::from_str(r#"{"draws": 500}"#).expect("valid JSON");
        assert_eq!(config, LearnerConfig { min_propensity: 0.05, draws: 500, ..LearnerConfig::default() });
        assert!(serde_json::from_str::<LearnerConfig>(r#"{"draw": 500}"#).is_err());
    }

    #[test]
    fn choose_inverts_the_cdf() {
        let p = [0.2, 0.5, 0.3];
        for (u, variant) in [(0.0, 0), (0.199, 0), (0.2, 1), (0.699, 1), (0.7, 2), (0.999_999, 2)] {
            assert_eq!(choose(&p, u), variant, "u = {u}");
        }
    }

    #[test]
    fn choose_never_picks_a_zero_probability_variant() {
        assert_eq!(choose(&[0.0, 1.0], 0.0), 1);
        assert_eq!(choose(&[0.5, 0.5, 0.0], 0.999_999_999), 1);
        // A total that rounding left under u.
        assert_eq!(choose(&[0.3, 0.3, 0.399_999_9], 0.999_999_95), 2);
        assert_eq!(choose(&[0.6, 0.399_999_9, 0.0], 0.999_999_95), 1);
    }

    #[test]
    fn choose_draws_with_the_given_frequencies() {
        let p = [0.1, 0.6, 0.3];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut counts = [0_u32; 3];
        for _ in 0..100_000 {
            counts[choose(&p, rng.random())] += 1;
        }
        for (count, expected) in counts.iter().zip(p) {
            assert!((f64::from(*count) / 100_000.0 - expected).abs() < 0.005, "{counts:?}");
        }
    }

    #[test]
    fn proposals_are_ordered_by_posterior_mean_and_ties_keep_their_order() {
        let chosen = [arm(100, 5), arm(100, 20), ArmStats::default(), arm(0, 0), arm(100, 20)];
        // Means: 6/102, 21/102, 1/2, 1/2, 21/102.
        assert_eq!(order_by_posterior_mean(&chosen), vec![2, 3, 1, 4, 0]);
    }
}
