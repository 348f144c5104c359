//! One user's answer, assembled: the policy's drafts ([`decide`]), each variant picked by the
//! learner and logged in its proposal id with its propensity, texts rendered in the user's
//! language, and the proposals ordered by what converts best, the protective policy's
//! reminder first.

use playpulse_core::quiz::Lang;
use rand::Rng;

use crate::arms::{Learned, ProposalId, slug};
use crate::learn::order_by_posterior_mean;
use crate::proposals::{Facts, Kind, PolicyConfig, decide};

/// One proposal, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// Signed id carrying the choice and its propensity; outcome events echo it.
    pub id: String,
    pub kind: Kind,
    pub variant: String,
    /// In the user's language, every placeholder filled.
    pub text: String,
    pub game: Option<String>,
    pub action: Option<String>,
    /// The facts that triggered it.
    pub reason: String,
    /// Probability the learner had of choosing this variant.
    pub propensity: f64,
}

/// What the policy recommends to one user now.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub recommended_game: String,
    pub game_reason: String,
    /// Harm markers put the user under the protective policy.
    pub protective: bool,
    pub proposals: Vec<Proposal>,
}

/// The answer for a user with `facts`, choosing variants from what the batch `learned`.
/// `rng` draws the variant choices and the ids' nonces; nothing else is random.
pub fn recommend(
    policy: &PolicyConfig,
    facts: &Facts<'_>,
    learned: &Learned,
    lang: Lang,
    rng: &mut impl Rng,
) -> Answer {
    let decision = decide(policy, facts);
    let segment = slug(&facts.segment);
    let mut chosen = Vec::with_capacity(decision.drafts.len());
    for draft in decision.drafts {
        let variants = policy.variants(draft.kind);
        let (index, propensity) = learned.pick(&segment, draft.kind, variants.len(), rng.random());
        let template = variants[index];
        let id = ProposalId {
            policy: policy.version.clone(),
            segment: segment.clone(),
            kind: draft.kind,
            variant: template.variant.clone(),
            propensity,
        };
        let proposal = Proposal {
            id: id.encode(rng.random(), &policy.id_key),
            kind: draft.kind,
            variant: template.variant.clone(),
            text: draft.text(template, lang),
            game: draft.game,
            action: draft.action,
            reason: draft.reason,
            propensity,
        };
        chosen.push((learned.stats(&segment, draft.kind, index), proposal));
    }
    // Reminders of the protective policy stay first; the rest go by what converts best.
    let pinned = usize::from(decision.protective).min(chosen.len());
    let stats: Vec<_> = chosen[pinned..].iter().map(|(s, _)| *s).collect();
    let order: Vec<usize> =
        (0..pinned).chain(order_by_posterior_mean(&stats).into_iter().map(|i| i + pinned)).collect();
    let mut slots: Vec<Option<Proposal>> = chosen.into_iter().map(|(_, p)| Some(p)).collect();
    Answer {
        recommended_game: decision.recommended_game,
        game_reason: decision.game_reason,
        protective: decision.protective,
        proposals: order.into_iter().filter_map(|i| slots[i].take()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use playpulse_core::protection::HarmMarkers;
    use playpulse_core::quiz::RiskProfile;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::games::{Game, default_games};
    use crate::learn::{ArmStats, LearnerConfig};

    static NO_ADULT: BTreeSet<String> = BTreeSet::new();
    static GAMES: std::sync::LazyLock<Vec<Game>> = std::sync::LazyLock::new(default_games);

    fn facts(segment: &str, balance: i64, markers: HarmMarkers) -> Facts<'static> {
        Facts {
            segment: segment.into(),
            balance,
            risk: Some(RiskProfile::Low),
            days_since_partner_visit: Some(2),
            partner_tokens_this_month: 150,
            churn_risk: None,
            whale_candidate: false,
            markers,
            age_verified: false,
            adult_content: &NO_ADULT,
            games: &GAMES,
        }
    }

    fn learned(policy: &PolicyConfig, arms: &HashMap<(String, Kind, String), ArmStats>) -> Learned {
        Learned::build(arms, policy, &LearnerConfig::default(), &mut ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn every_proposal_carries_a_signed_id_of_its_choice_and_a_filled_text() {
        let policy = PolicyConfig::default();
        let facts = facts("Low", 250, HarmMarkers::default());
        let answer = recommend(
            &policy,
            &facts,
            &learned(&policy, &HashMap::new()),
            Lang::En,
            &mut ChaCha8Rng::seed_from_u64(7),
        );
        assert!(!answer.protective);
        let kinds: Vec<Kind> = answer.proposals.iter().map(|p| p.kind).collect();
        let mut expected: Vec<Kind> = decide(&policy, &facts).drafts.iter().map(|d| d.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "every draft once");
        for p in &answer.proposals {
            let id = ProposalId::issued_by(&p.id, &policy).expect("the id is this policy's");
            assert_eq!(
                (id.kind, id.variant.as_str(), id.segment.as_str()),
                (p.kind, p.variant.as_str(), "low")
            );
            assert!((id.propensity - p.propensity).abs() < 1e-3, "the id logs the propensity");
            assert!(p.propensity > 0.0 && p.propensity <= 1.0);
            assert!(!p.text.is_empty() && !p.text.contains('{'), "{}", p.text);
        }
        let again = recommend(
            &policy,
            &facts,
            &learned(&policy, &HashMap::new()),
            Lang::En,
            &mut ChaCha8Rng::seed_from_u64(7),
        );
        assert_eq!(again, answer, "the same draws give the same answer");
    }

    #[test]
    fn what_converts_best_comes_first_and_a_reminder_stays_on_top() {
        let policy = PolicyConfig::default();
        let open = facts("Low", 250, HarmMarkers::default());
        let cold = recommend(
            &policy,
            &open,
            &learned(&policy, &HashMap::new()),
            Lang::Ko,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let last = cold.proposals.last().expect("the seed's example has proposals").kind;
        // Every variant of the last kind converts nine times in ten: better than any prior.
        let arms: HashMap<_, _> = policy
            .variants(last)
            .iter()
            .map(|t| {
                (
                    ("low".to_owned(), last, t.variant.clone()),
                    ArmStats { impressions: 1_000, conversions: 900 },
                )
            })
            .collect();
        let warm =
            recommend(&policy, &open, &learned(&policy, &arms), Lang::Ko, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(warm.proposals[0].kind, last, "the best converter leads");

        let limited = HarmMarkers { limit_reached: true, ..HarmMarkers::default() };
        let protected = recommend(
            &policy,
            &facts("Low", 250, limited),
            &learned(&policy, &arms),
            Lang::Ko,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        assert!(protected.protective);
        assert_eq!(protected.proposals[0].kind, Kind::LimitReminder, "the reminder is pinned first");
    }
}
