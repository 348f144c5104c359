//! The learning loop's memory: proposal ids that carry what was chosen and how likely it was,
//! and the choice probabilities learned from the outcomes of earlier proposals.
//!
//! A proposal id is `{policy}.{segment}.{TYPE}.{variant}.{propensity in 1/10,000}.{nonce}.{tag}`,
//! e.g. `seed-1.low.MID_STAKE.b.5000.9f2c4a1e.1b0c9d2e7f3a4c51`. The id travels with the
//! impression, click and conversion events into the lake, so the log of choices and
//! propensities is the event lake itself: serving a proposal writes nothing.
//!
//! Anyone may send an outcome event, so the tag (HMAC-SHA256 over the rest of the id, keyed
//! with `proposals.id_key`, first 8 bytes in hex) tells the ids this deployment issued from
//! forged ones: only those count toward what the loop learns.

use std::collections::HashMap;
use std::fmt;

use playpulse_core::access::same_secret;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::learn::{ArmStats, LearnerConfig, choice_probabilities, choose};
use crate::proposals::{Kind, PolicyConfig};

/// Propensities are written in ten-thousandths.
const PROPENSITY_SCALE: f64 = 10_000.0;
/// Bytes of the HMAC kept in an id: 64 bits, beyond guessing by sending outcome events.
const TAG_BYTES: usize = 8;
/// SHA-256's block size, which HMAC pads its key to.
const SHA256_BLOCK_BYTES: usize = 64;

/// The secret that signs proposal ids (`proposals.id_key`). Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdKey(String);

impl IdKey {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The id's tag: HMAC-SHA256 (RFC 2104) of `text` under this key, cut to [`TAG_BYTES`].
    fn tag(&self, text: &str) -> String {
        let full = hmac_sha256(self.0.as_bytes(), text.as_bytes());
        hex::encode(&full[..TAG_BYTES])
    }
}

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdKey(***)")
    }
}

/// HMAC-SHA256 as RFC 2104 defines it; a few lines over `sha2` rather than one more crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; SHA256_BLOCK_BYTES];
    if key.len() > SHA256_BLOCK_BYTES {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// What a proposal id says.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalId {
    pub policy: String,
    /// The segment, as [`slug`] writes it.
    pub segment: String,
    pub kind: Kind,
    pub variant: String,
    /// The probability the policy had of choosing this variant.
    pub propensity: f64,
}

/// A segment name as ids and arms key it: lower case, anything but letters and digits as `-`.
pub fn slug(segment: &str) -> String {
    segment.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

impl ProposalId {
    /// The id's text, signed with `key`.
    pub fn encode(&self, nonce: u32, key: &IdKey) -> String {
        let permyriad = (self.propensity * PROPENSITY_SCALE).round();
        let text = format!(
            "{}.{}.{}.{}.{permyriad}.{nonce:08x}",
            self.policy,
            self.segment,
            self.kind.as_str(),
            self.variant
        );
        let tag = key.tag(&text);
        format!("{text}.{tag}")
    }

    /// `None` for ids not signed with `key`, or not of this form: forged or foreign ids.
    pub fn parse(id: &str, key: &IdKey) -> Option<Self> {
        let (text, tag) = id.rsplit_once('.')?;
        if !same_secret(tag.as_bytes(), key.tag(text).as_bytes()) {
            return None;
        }
        let mut parts = text.split('.');
        let (policy, segment, kind, variant, permyriad, nonce) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let propensity = permyriad.parse::<u32>().ok().filter(|p| (1..=10_000).contains(p))?;
        if parts.next().is_some() || u32::from_str_radix(nonce, 16).is_err() {
            return None;
        }
        Some(Self {
            policy: policy.to_owned(),
            segment: segment.to_owned(),
            kind: Kind::parse(kind)?,
            variant: variant.to_owned(),
            propensity: f64::from(propensity) / PROPENSITY_SCALE,
        })
    }
}

impl ProposalId {
    /// The id if `policy` could have issued it: signed with its key and of its version. Ids
    /// of other policies, forged or not, are left out of learning and evaluation.
    pub fn issued_by(id: &str, policy: &PolicyConfig) -> Option<Self> {
        Self::parse(id, &policy.id_key).filter(|parsed| parsed.policy == policy.version)
    }
}

/// Outcomes of one proposal, as the lake tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcomes {
    pub impressions: u64,
    pub conversions: u64,
}

/// Sums proposals' outcomes into arms per (segment, type, variant): a proposal counts once as
/// an impression if it was shown, and once as a conversion if, shown, it converted.
pub fn arms_of(
    proposals: impl IntoIterator<Item = (ProposalId, Outcomes)>,
) -> HashMap<(String, Kind, String), ArmStats> {
    let mut arms: HashMap<(String, Kind, String), ArmStats> = HashMap::new();
    for (id, outcomes) in proposals {
        if outcomes.impressions == 0 {
            continue;
        }
        arms.entry((id.segment, id.kind, id.variant)).or_default().record(outcomes.conversions > 0);
    }
    arms
}

/// The choice probabilities of every (segment, type) with data; the rest choose uniformly.
#[derive(Debug, Clone, Default)]
pub struct Learned {
    probabilities: HashMap<(String, Kind), Vec<f64>>,
    stats: HashMap<(String, Kind), Vec<ArmStats>>,
}

impl Learned {
    /// Thompson probabilities per (segment, type) over the type's configured variants.
    pub fn build(
        arms: &HashMap<(String, Kind, String), ArmStats>,
        policy: &PolicyConfig,
        config: &LearnerConfig,
        rng: &mut impl Rng,
    ) -> Self {
        let mut learned = Learned::default();
        let mut pairs: Vec<(String, Kind)> = arms.keys().map(|(s, k, _)| (s.clone(), *k)).collect();
        pairs.sort();
        pairs.dedup();
        for (segment, kind) in pairs {
            let stats: Vec<ArmStats> = policy
                .variants(kind)
                .iter()
                .map(|t| arms.get(&(segment.clone(), kind, t.variant.clone())).copied().unwrap_or_default())
                .collect();
            let probabilities = choice_probabilities(&stats, config, rng);
            learned.probabilities.insert((segment.clone(), kind), probabilities);
            learned.stats.insert((segment, kind), stats);
        }
        learned
    }

    /// The probabilities of choosing each of `variants` variants.
    pub fn probabilities(&self, segment: &str, kind: Kind, variants: usize) -> Vec<f64> {
        match self.probabilities.get(&(segment.to_owned(), kind)) {
            Some(p) if p.len() == variants => p.clone(),
            _ => vec![1.0 / variants.max(1) as f64; variants],
        }
    }

    /// Picks a variant with `u` uniform in [0, 1): its index and propensity.
    pub fn pick(&self, segment: &str, kind: Kind, variants: usize, u: f64) -> (usize, f64) {
        let p = self.probabilities(segment, kind, variants);
        let index = choose(&p, u);
        (index, p[index])
    }

    /// What is known of a variant (nothing: the prior).
    pub fn stats(&self, segment: &str, kind: Kind, variant: usize) -> ArmStats {
        self.stats.get(&(segment.to_owned(), kind)).and_then(|s| s.get(variant)).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn ids_carry_the_choice_and_its_propensity() {
        let id = ProposalId {
            policy: "seed-1".into(),
            segment: slug("High Engaged"),
            kind: Kind::MidStake,
            variant: "b".into(),
            propensity: 0.4567,
        };
        let key = IdKey::new("test key");
        let text = id.encode(0x9f2c_4a1e, &key);
        let (unsigned, tag) = text.rsplit_once('.').unwrap();
        assert_eq!(unsigned, "seed-1.high-engaged.MID_STAKE.b.4567.9f2c4a1e");
        assert_eq!(tag.len(), 2 * TAG_BYTES);
        assert_eq!(ProposalId::parse(&text, &key), Some(id));
        let sign = |text: &str| format!("{text}.{}", key.tag(text));
        for bad in [
            String::new(),
            sign("a.b.c"),
            sign("seed-1.low.NOPE.a.5000.00000001"),
            sign("seed-1.low.MID_STAKE.a.0.00000001"),
            sign("x.low.MID_STAKE.a.5000.zz"),
        ] {
            assert_eq!(ProposalId::parse(&bad, &key), None, "{bad}");
        }
    }

    #[test]
    fn forged_ids_are_told_apart() {
        let key = IdKey::new("test key");
        for forged in [
            "evil-99.low.MID_STAKE.b.0001.deadbeef",
            "evil-99.low.MID_STAKE.b.0001.deadbeef.0000000000000000",
            "seed-1.low.MID_STAKE.b.0001.deadbeef.1b0c9d2e7f3a4c51",
        ] {
            assert_eq!(ProposalId::parse(forged, &key), None, "{forged}");
        }
        let id = ProposalId {
            policy: "seed-1".into(),
            segment: "low".into(),
            kind: Kind::MidStake,
            variant: "b".into(),
            propensity: 0.5,
        };
        let issued = id.encode(7, &key);
        assert_eq!(ProposalId::parse(&issued, &IdKey::new("another key")), None, "another deployment's id");
        // Changing what the id says (here the propensity) breaks the tag.
        let tampered = issued.replacen(".5000.", ".0001.", 1);
        assert_eq!(ProposalId::parse(&tampered, &key), None);
        assert_eq!(format!("{key:?}"), "IdKey(***)", "the secret is never printed");
    }

    /// RFC 4231, test cases 1 and 6 (a key longer than a block).
    #[test]
    fn hmac_matches_the_rfc_vectors() {
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn arms_count_shown_proposals_and_their_conversions() {
        let id = |variant: &str| ProposalId {
            policy: "p".into(),
            segment: "low".into(),
            kind: Kind::SafePlay,
            variant: variant.into(),
            propensity: 0.5,
        };
        let seen = |i, c| Outcomes { impressions: i, conversions: c };
        let arms = arms_of([
            (id("a"), seen(1, 1)),
            (id("a"), seen(2, 0)),
            (id("a"), seen(0, 1)),
            (id("b"), seen(1, 3)),
        ]);
        let a = arms[&("low".to_owned(), Kind::SafePlay, "a".to_owned())];
        assert_eq!((a.impressions, a.conversions), (2, 1), "never shown: not counted; repeats: once");
        let b = arms[&("low".to_owned(), Kind::SafePlay, "b".to_owned())];
        assert_eq!((b.impressions, b.conversions), (1, 1));

        let policy = PolicyConfig::default();
        let learned =
            Learned::build(&arms, &policy, &LearnerConfig::default(), &mut ChaCha8Rng::seed_from_u64(1));
        let p = learned.probabilities("low", Kind::SafePlay, 2);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(learned.probabilities("whale", Kind::SafePlay, 2), [0.5, 0.5], "no data: uniform");
        let (index, propensity) = learned.pick("whale", Kind::SafePlay, 2, 0.75);
        assert_eq!((index, propensity), (1, 0.5));
    }
}
