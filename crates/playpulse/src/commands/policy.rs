//! `playpulse policy evaluate`: how a candidate proposal policy would have done, estimated
//! offline from the logged proposals (their ids carry the choice and its propensity) and
//! their outcomes in the lake, before anyone switches it on.

use std::collections::HashMap;

use playpulse_core::time::{BusinessZone, Clock, SystemClock, epoch_day};
use playpulse_lake::analytics::Analytics;
use playpulse_policy::arms::{Learned, Outcomes, ProposalId, arms_of};
use playpulse_policy::evaluate::{
    Estimate, Logged, MeanReward, doubly_robust, inverse_propensity, self_normalized,
};
use playpulse_policy::learn::ArmStats;
use playpulse_policy::proposals::Kind;

use crate::cli::{Candidate, EvaluateArgs};
use crate::commands::export::lake_root;
use crate::config::Config;

pub async fn evaluate(mut config: Config, args: EvaluateArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let as_of = match args.as_of {
        Some(day) => day,
        None => zone.day_of(SystemClock.now()),
    };
    let as_of_day = epoch_day(as_of);
    let window = args.window_days.unwrap_or(config.learning.window_days);
    let analytics = Analytics::open(&lake_root(&config), &config.rollup_settings()).await?;
    let proposals: Vec<(ProposalId, Outcomes)> = analytics
        .proposal_outcomes(as_of_day, window)
        .await?
        .into_iter()
        .filter_map(|(id, shown, converted)| {
            let outcomes = Outcomes {
                impressions: u64::try_from(shown).ok()?,
                conversions: u64::try_from(converted).ok()?,
            };
            Some((ProposalId::issued_by(&id, &config.proposals)?, outcomes))
        })
        .filter(|(_, o)| o.impressions > 0)
        .collect();
    let logs = logs_of(&config, &proposals);
    anyhow::ensure!(!logs.is_empty(), "no shown proposal of this policy in the {window} days up to {as_of}");
    let arms = arms_of(proposals);
    let candidate = candidate_policy(&config, args.candidate, &arms);
    let model = MeanReward::fit(&logs);
    let logged = logs.iter().map(|l| l.reward).sum::<f64>() / logs.len() as f64;
    let ips = inverse_propensity(&logs, &candidate)?;
    let snips = self_normalized(&logs, &candidate)?;
    let dr = doubly_robust(&logs, &candidate, |c, a| model.predict(c, a))?;
    let show = |e: &Estimate| format!("{:.4}±{:.4}", e.value, e.std_error);
    println!(
        "policy_evaluate candidate={:?} as_of={as_of} window_days={window} impressions={} logged_conversion={logged:.4} \
         ips={} snips={} doubly_robust={}",
        args.candidate,
        logs.len(),
        show(&ips),
        show(&snips),
        show(&dr)
    );
    Ok(())
}

/// One row per shown proposal: context `segment/TYPE`, the variant's index in the config,
/// its propensity, and whether it converted. Variants no longer configured are left out.
fn logs_of(config: &Config, proposals: &[(ProposalId, Outcomes)]) -> Vec<Logged> {
    proposals
        .iter()
        .filter_map(|(id, outcomes)| {
            let action = config.proposals.variants(id.kind).iter().position(|t| t.variant == id.variant)?;
            Some(Logged {
                context: format!("{}/{}", id.segment, id.kind.as_str()),
                action,
                propensity: id.propensity,
                reward: if outcomes.conversions > 0 { 1.0 } else { 0.0 },
            })
        })
        .collect()
}

/// The candidate's probabilities per context.
fn candidate_policy(
    config: &Config,
    candidate: Candidate,
    arms: &HashMap<(String, Kind, String), ArmStats>,
) -> impl Fn(&str) -> Vec<f64> {
    let learned = Learned::build(arms, &config.proposals, &config.learning, &mut rand::rng());
    let proposals = config.proposals.clone();
    move |context: &str| {
        let (segment, kind) = context.split_once('/').unwrap_or((context, ""));
        let Some(kind) = Kind::parse(kind) else { return Vec::new() };
        let variants = proposals.variants(kind).len();
        match candidate {
            Candidate::Static => (0..variants).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect(),
            Candidate::Learned => learned.probabilities(segment, kind, variants),
            Candidate::Greedy => {
                let means: Vec<f64> =
                    (0..variants).map(|i| learned.stats(segment, kind, i).posterior_mean()).collect();
                let best = (0..variants).fold(0, |b, i| if means[i] > means[b] { i } else { b });
                (0..variants).map(|i| if i == best { 1.0 } else { 0.0 }).collect()
            }
        }
    }
}
