//! The learning loop against simulated users: does Thompson sampling over proposal variants
//! convert more than the seed's static wording, and can its logs evaluate another policy?
//!
//! A fixed population sees every proposal type once a day for four weeks. Three policies
//! answer the same impressions with the same users' coin flips: static (always variant 0),
//! learning (probabilities refreshed once a simulated day from the counts so far, as the
//! nightly batch would) and the oracle (the best variant of the response model).

use std::collections::HashMap;

use playpulse_policy::evaluate::{Logged, inverse_propensity};
use playpulse_policy::learn::{ArmStats, LearnerConfig, choice_probabilities, choose};
use playpulse_sim::response::{PROPOSALS, SEGMENTS, best_variant, conversion_probability};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const USERS: usize = 2_000;
const WEEKS: usize = 4;
const DAYS: usize = WEEKS * 7;
const SEED: u64 = 20_260_501;

// Indices of the policies in the per-week arrays.
const STATIC: usize = 0;
const LEARNING: usize = 1;
const ORACLE: usize = 2;

/// What the four weeks produced.
struct Outcome {
    impressions_per_week: u64,
    /// Per week, per policy.
    conversions: [[u64; 3]; WEEKS],
    /// Per week, per policy: expected conversions lost against the oracle, summed over the
    /// week's impressions (the oracle's probability minus the shown variant's).
    regret: [[f64; 3]; WEEKS],
    /// The learning run's impressions, as the server would log them.
    logs: Vec<Logged>,
    /// Number of variants per logged context.
    variants: HashMap<String, usize>,
    /// The smallest choice probability the learner ever gave a variant.
    lowest_propensity: f64,
}

/// A (segment, proposal type) pair: where the learner keeps its counts and makes its choice.
struct Context {
    name: String,
    segment: &'static str,
    proposal_type: &'static str,
    variants: usize,
    best: usize,
}

fn contexts() -> Vec<Context> {
    SEGMENTS
        .iter()
        .flat_map(|&(segment, _, _)| {
            PROPOSALS.iter().map(move |p| Context {
                name: format!("{segment}/{}", p.proposal_type),
                segment,
                proposal_type: p.proposal_type,
                variants: p.variants(),
                best: best_variant(segment, p.proposal_type).expect("the simulation's segment and type"),
            })
        })
        .collect()
}

fn simulate(seed: u64, config: &LearnerConfig) -> Outcome {
    let shares = SEGMENTS.map(|(_, share, _)| share);
    let mut population = ChaCha8Rng::seed_from_u64(seed);
    let users: Vec<usize> = (0..USERS).map(|_| choose(&shares, population.random())).collect();
    // One coin per impression, shared by the three policies: a user converts under a policy
    // when the coin falls below the shown variant's probability (common random numbers).
    let mut coins = ChaCha8Rng::seed_from_u64(seed ^ 1);
    let mut learner = ChaCha8Rng::seed_from_u64(seed ^ 2);

    let contexts = contexts();
    let mut stats: Vec<Vec<ArmStats>> =
        contexts.iter().map(|c| vec![ArmStats::default(); c.variants]).collect();
    let mut outcome = Outcome {
        impressions_per_week: (USERS * PROPOSALS.len() * 7) as u64,
        conversions: [[0; 3]; WEEKS],
        regret: [[0.0; 3]; WEEKS],
        logs: Vec::with_capacity(USERS * PROPOSALS.len() * DAYS),
        variants: contexts.iter().map(|c| (c.name.clone(), c.variants)).collect(),
        lowest_propensity: 1.0,
    };
    for day in 0..DAYS {
        let week = day / 7;
        // The daily refresh: probabilities stay fixed until the next one.
        let probabilities: Vec<Vec<f64>> =
            stats.iter().map(|arms| choice_probabilities(arms, config, &mut learner)).collect();
        let lowest = probabilities.iter().flatten().copied().fold(1.0, f64::min);
        outcome.lowest_propensity = outcome.lowest_propensity.min(lowest);
        for &segment in &users {
            for t in 0..PROPOSALS.len() {
                let index = segment * PROPOSALS.len() + t;
                let context = &contexts[index];
                let probability = |variant| {
                    conversion_probability(context.segment, context.proposal_type, variant)
                        .expect("the simulation's segment, type and variant")
                };
                let coin: f64 = coins.random();
                let learned = choose(&probabilities[index], learner.random());
                let mut learning_converted = false;
                for (policy, variant) in [(STATIC, 0), (LEARNING, learned), (ORACLE, context.best)] {
                    let converted = coin < probability(variant);
                    outcome.conversions[week][policy] += u64::from(converted);
                    outcome.regret[week][policy] += probability(context.best) - probability(variant);
                    learning_converted |= policy == LEARNING && converted;
                }
                stats[index][learned].record(learning_converted);
                outcome.logs.push(Logged {
                    context: context.name.clone(),
                    action: learned,
                    propensity: probabilities[index][learned],
                    reward: if learning_converted { 1.0 } else { 0.0 },
                });
            }
        }
    }
    outcome
}

fn rate(conversions: u64, impressions: u64) -> f64 {
    conversions as f64 / impressions as f64
}

fn print_report(outcome: &Outcome) {
    println!(
        "week  {:>8} {:>8} {:>8}  cumulative regret: {:>8} {:>8}",
        "static", "learning", "oracle", "learning", "static"
    );
    let mut cumulative = [0.0; 3];
    for week in 0..WEEKS {
        let [s, l, o] = outcome.conversions[week].map(|c| rate(c, outcome.impressions_per_week));
        for policy in [STATIC, LEARNING, ORACLE] {
            cumulative[policy] += outcome.regret[week][policy];
        }
        println!(
            "{:>4}  {s:>8.4} {l:>8.4} {o:>8.4}  {:>27.1} {:>8.1}",
            week + 1,
            cumulative[LEARNING],
            cumulative[STATIC]
        );
    }
}

#[test]
fn learning_beats_the_static_wording_and_its_logs_evaluate_the_static_policy() {
    let config = LearnerConfig::default();
    config.validate(PROPOSALS.iter().map(|p| p.variants()).max().unwrap_or(0)).expect("the default config");
    let outcome = simulate(SEED, &config);
    print_report(&outcome);

    let last_two_weeks = |policy: usize| -> f64 {
        let conversions: u64 = outcome.conversions[WEEKS - 2..].iter().map(|week| week[policy]).sum();
        rate(conversions, 2 * outcome.impressions_per_week)
    };
    let (learning, fixed) = (last_two_weeks(LEARNING), last_two_weeks(STATIC));
    println!("last two weeks: learning {learning:.4}, static {fixed:.4}, lift {:.3}", learning / fixed);
    assert!(learning > 1.10 * fixed, "learning {learning:.4} against static {fixed:.4}");
    assert!(
        outcome.regret[WEEKS - 1][LEARNING] < 0.5 * outcome.regret[0][LEARNING],
        "the learner's weekly regret falls: {:?}",
        outcome.regret
    );
    assert!(
        outcome.lowest_propensity >= config.min_propensity,
        "lowest propensity {}",
        outcome.lowest_propensity
    );

    // The static policy's value, estimated from the learning run's logs alone.
    let static_policy = |context: &str| {
        let mut probabilities = vec![0.0; outcome.variants[context]];
        probabilities[0] = 1.0;
        probabilities
    };
    let estimate = inverse_propensity(&outcome.logs, static_policy).expect("the learner logs valid rows");
    let total: u64 = outcome.conversions.iter().map(|week| week[STATIC]).sum();
    let actual = rate(total, WEEKS as u64 * outcome.impressions_per_week);
    println!(
        "static policy: IPS from the learning logs {:.4} ± {:.4}, simulated {actual:.4}",
        estimate.value, estimate.std_error
    );
    assert!(
        (estimate.value - actual).abs() < 3.0 * estimate.std_error,
        "IPS {estimate:?} against the simulated {actual}"
    );
}
