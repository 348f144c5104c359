//! How simulated users answer proposals: the true conversion probability of one impression.
//!
//! A proposal converts with probability `base rate of the user's segment × lift of the
//! (type, variant)`. Segments differ in how often they act on anything at all; variants are
//! differently worded templates of one proposal type, and their lifts are what a learner
//! must discover. Variant 0 ("a") is the seed's wording, the one a static policy always
//! shows, and it is not always the best one.
//!
//! | segment | share of users | base rate |
//! |---|---|---|
//! | Whale | 3% | 0.20 |
//! | High Engaged | 12% | 0.12 |
//! | Medium | 30% | 0.06 |
//! | Low | 55% | 0.03 |
//!
//! | proposal type | lift a | lift b | lift c | why |
//! |---|---|---|---|---|
//! | `CORPORATE_ENGAGE` | 1.00 | 1.40 | – | b names the mission waiting at partner A |
//! | `MID_STAKE` | 1.00 | 0.85 | 1.25 | c shows the stake next to the balance; b's "bigger win" reads as a push |
//! | `SAFE_PLAY` | 1.00 | 0.70 | – | the seed wording is best: b's limit reminder reads as a warning |
//! | `CORPORATE_MISSION` | 1.00 | 1.20 | 1.50 for Whale and High Engaged, 0.80 otherwise | c quotes last month's partner tokens, which only regular visitors have earned |
//!
//! So the best variants are b, c and a for the first three types, and c or b by segment for
//! `CORPORATE_MISSION`: a learner that pools segments misses that one. The largest probability is 0.20 × 1.50 = 0.30.
//!
//! Pure functions, no randomness: callers draw `uniform < probability` with their own seeded
//! generator.

/// Segments in ladder order: (name, share of the population, base conversion rate).
pub const SEGMENTS: [(&str, f64, f64); 4] =
    [("Whale", 0.03, 0.20), ("High Engaged", 0.12, 0.12), ("Medium", 0.30, 0.06), ("Low", 0.55, 0.03)];

/// One proposal type's variants and their lifts over the segment's base rate.
#[derive(Debug, Clone, Copy)]
pub struct ProposalResponse {
    /// The type's stable name, as the recommendations API returns it.
    pub proposal_type: &'static str,
    /// Lift per variant index.
    pub lifts: &'static [f64],
    /// Lifts that replace `lifts` for Whale and High Engaged users, where they respond otherwise.
    pub engaged_lifts: Option<&'static [f64]>,
}

/// Segments whose response differs where a type has `engaged_lifts`.
const ENGAGED_SEGMENTS: [&str; 2] = ["Whale", "High Engaged"];

/// The proposal types of the simulation, with the lifts of the table above.
pub const PROPOSALS: [ProposalResponse; 4] = [
    ProposalResponse { proposal_type: "CORPORATE_ENGAGE", lifts: &[1.00, 1.40], engaged_lifts: None },
    ProposalResponse { proposal_type: "MID_STAKE", lifts: &[1.00, 0.85, 1.25], engaged_lifts: None },
    ProposalResponse { proposal_type: "SAFE_PLAY", lifts: &[1.00, 0.70], engaged_lifts: None },
    ProposalResponse {
        proposal_type: "CORPORATE_MISSION",
        lifts: &[1.00, 1.20, 0.80],
        engaged_lifts: Some(&[1.00, 1.20, 1.50]),
    },
];

impl ProposalResponse {
    /// Number of variants of this type.
    pub fn variants(&self) -> usize {
        self.lifts.len()
    }

    fn lifts_for(&self, segment: &str) -> &'static [f64] {
        match self.engaged_lifts {
            Some(engaged) if ENGAGED_SEGMENTS.contains(&segment) => engaged,
            _ => self.lifts,
        }
    }
}

/// The true probability that a user of `segment` converts on one impression of
/// `proposal_type` worded as `variant`; `None` for an unknown segment, type or variant.
pub fn conversion_probability(segment: &str, proposal_type: &str, variant: usize) -> Option<f64> {
    let base = base_rate(segment)?;
    let lift = proposal(proposal_type)?.lifts_for(segment).get(variant)?;
    Some(base * lift)
}

/// The variant with the highest conversion probability for `segment` and `proposal_type`:
/// what an oracle policy shows. `None` for an unknown segment or type.
pub fn best_variant(segment: &str, proposal_type: &str) -> Option<usize> {
    base_rate(segment)?;
    let lifts = proposal(proposal_type)?.lifts_for(segment);
    (0..lifts.len()).max_by(|&x, &y| lifts[x].total_cmp(&lifts[y]))
}

fn base_rate(segment: &str) -> Option<f64> {
    SEGMENTS.iter().find(|(name, _, _)| *name == segment).map(|&(_, _, rate)| rate)
}

fn proposal(proposal_type: &str) -> Option<&'static ProposalResponse> {
    PROPOSALS.iter().find(|p| p.proposal_type == proposal_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_the_documented_products() {
        assert_eq!(conversion_probability("Medium", "CORPORATE_ENGAGE", 1), Some(0.06 * 1.40));
        assert_eq!(conversion_probability("Whale", "CORPORATE_MISSION", 2), Some(0.20 * 1.50));
        assert_eq!(conversion_probability("Low", "CORPORATE_MISSION", 2), Some(0.03 * 0.80));
        assert_eq!(conversion_probability("Low", "SAFE_PLAY", 2), None);
        assert_eq!(conversion_probability("Dolphin", "SAFE_PLAY", 0), None);
        assert_eq!(conversion_probability("Low", "JACKPOT", 0), None);
        let mut largest: f64 = 0.0;
        for (segment, _, _) in SEGMENTS {
            for p in PROPOSALS {
                assert_eq!(p.engaged_lifts.map_or(p.variants(), <[f64]>::len), p.variants());
                for variant in 0..p.variants() {
                    let probability = conversion_probability(segment, p.proposal_type, variant);
                    assert!(probability.is_some_and(|x| x > 0.0), "{segment} {variant}");
                    largest = largest.max(probability.unwrap_or(0.0));
                }
            }
        }
        assert!((largest - 0.30).abs() < 1e-12, "{largest}");
        let shares: f64 = SEGMENTS.iter().map(|(_, share, _)| share).sum();
        assert!((shares - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_seed_wording_is_best_only_where_documented() {
        let best = |segment, proposal_type| best_variant(segment, proposal_type);
        for segment in ["Whale", "Low"] {
            assert_eq!(best(segment, "CORPORATE_ENGAGE"), Some(1));
            assert_eq!(best(segment, "MID_STAKE"), Some(2));
            assert_eq!(best(segment, "SAFE_PLAY"), Some(0));
        }
        assert_eq!(best("High Engaged", "CORPORATE_MISSION"), Some(2));
        assert_eq!(best("Medium", "CORPORATE_MISSION"), Some(1));
        assert_eq!(best("Dolphin", "SAFE_PLAY"), None);
    }
}
