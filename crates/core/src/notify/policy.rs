//! Whether a notification may go to its user: the rules of delivery that protect players.
//! Pure: the dispatcher gathers the facts and records the verdict, so that a notification
//! kept from its user is recorded with the reason, never dropped.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::UserId;

/// What a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A notice of what happened to the user's account (tokens arrived, a reward credited).
    Transactional,
    /// An invitation to play or to spend.
    Marketing,
}

/// How one trigger's notifications are treated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub purpose: Purpose,
    /// Share of users (0 to [`MAX_HOLDOUT_SHARE`]) who get none of this trigger's
    /// notifications, so that its effect can be measured against them.
    pub holdout_share: f64,
}

/// Most of the users a trigger may hold out.
pub const MAX_HOLDOUT_SHARE: f64 = 0.5;

impl Trigger {
    /// A trigger no config names: treated as marketing, the stricter purpose.
    pub const UNNAMED: Trigger = Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 };

    pub fn validate(&self) -> Result<(), String> {
        if (0.0..=MAX_HOLDOUT_SHARE).contains(&self.holdout_share) {
            Ok(())
        } else {
            Err(format!("holdout_share must be from 0 to {MAX_HOLDOUT_SHARE}"))
        }
    }
}

/// What the rules need to know of the user.
#[derive(Debug, Clone, Copy)]
pub struct Recipient {
    /// Harm markers are on: the protective policy applies.
    pub protective: bool,
}

/// Why a notification is kept from its user, or `None` when it may go. The holdout comes
/// first, so that who is held out does not depend on anything else.
pub fn suppression(
    kind: &str,
    user: &UserId,
    trigger: &Trigger,
    recipient: Recipient,
) -> Option<&'static str> {
    if held_out(user, kind, trigger.holdout_share) {
        return Some("holdout");
    }
    if trigger.purpose == Purpose::Marketing && recipient.protective {
        return Some("protective_policy");
    }
    None
}

/// Whether `user` is in the holdout of trigger `kind`: a hash of the two, so a user is held
/// out of a trigger on every run and every instance, and of different triggers independently.
pub fn held_out(user: &UserId, kind: &str, share: f64) -> bool {
    let digest = Sha256::digest(format!("holdout/{kind}/{user}"));
    let head: [u8; 8] = digest[..8].try_into().expect("a SHA-256 digest has 32 bytes");
    // The top 53 bits, as a uniform draw in [0, 1).
    let draw = (u64::from_be_bytes(head) >> 11) as f64 / (1u64 << 53) as f64;
    draw < share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Vec<UserId> {
        (0..n).map(|i| UserId::parse(&format!("user-{i}")).unwrap()).collect()
    }

    #[test]
    fn the_held_out_share_is_the_configured_one_and_stable() {
        let users = users(100_000);
        for share in [0.0, 0.05, 0.1, 0.5] {
            let held = users.iter().filter(|u| held_out(u, "NEW_TOKEN_ARRIVAL", share)).count();
            let seen = held as f64 / users.len() as f64;
            // Four standard deviations of a binomial share over 100,000 users.
            let tolerance = 4.0 * (share * (1.0 - share) / users.len() as f64).sqrt();
            assert!((seen - share).abs() <= tolerance, "share {share}: {seen}");
        }
        let first: Vec<bool> = users.iter().map(|u| held_out(u, "SEGMENT_UPGRADE", 0.1)).collect();
        let again: Vec<bool> = users.iter().map(|u| held_out(u, "SEGMENT_UPGRADE", 0.1)).collect();
        assert_eq!(first, again, "the same users every time");
        // Independent across triggers: both holdouts together are about share².
        let both = users
            .iter()
            .filter(|u| held_out(u, "SEGMENT_UPGRADE", 0.1) && held_out(u, "NEW_TOKEN_ARRIVAL", 0.1))
            .count();
        assert!((700..=1_300).contains(&both), "{both} held out of both");
        // A larger share holds out everyone a smaller one did.
        assert!(users.iter().all(|u| !held_out(u, "K", 0.05) || held_out(u, "K", 0.2)));
    }

    #[test]
    fn marketing_waits_out_the_protective_policy_and_notices_do_not() {
        let user = UserId::parse("u1").unwrap();
        let marketing = Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 };
        let notice = Trigger { purpose: Purpose::Transactional, holdout_share: 0.0 };
        let (protected, free) = (Recipient { protective: true }, Recipient { protective: false });
        assert_eq!(suppression("SEGMENT_UPGRADE", &user, &marketing, protected), Some("protective_policy"));
        assert_eq!(suppression("SEGMENT_UPGRADE", &user, &marketing, free), None);
        assert_eq!(suppression("NEW_TOKEN_ARRIVAL", &user, &notice, protected), None);
        let everyone = Trigger { purpose: Purpose::Transactional, holdout_share: MAX_HOLDOUT_SHARE };
        let held =
            users(200).iter().filter(|u| suppression("K", u, &everyone, free) == Some("holdout")).count();
        assert!((60..=140).contains(&held), "{held} of 200 at one half");
        assert!(Trigger { holdout_share: 0.6, ..notice }.validate().is_err());
        assert!(Trigger { holdout_share: -0.1, ..notice }.validate().is_err());
    }
}
