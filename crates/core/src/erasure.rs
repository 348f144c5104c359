//! Erasure of one user (PIPA, GDPR, the app stores' account deletion): what is kept, under
//! which name, and what is dropped.
//!
//! The user id is replaced by a keyed pseudonym wherever a row must stay so that token
//! totals still add up (events, ledger entries, balances, partner records, the lake). The
//! pseudonym is an HMAC of the id under a key only the store holds: the same id always maps
//! to the same pseudonym (so a second erasure finds the first, and a later event under the
//! erased id is refused), while nobody without the key can tell which id it was by hashing
//! candidates. Pseudonyms live in the reserved `erased:` namespace, which no client may use.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::ids::UserId;

/// The prefix of every pseudonym; a client's user id may not start with it.
pub const PSEUDONYM_PREFIX: &str = "erased:";

/// Bytes of the key the store keeps for pseudonyms.
pub const KEY_LEN: usize = 32;

/// Props an erased user's events keep: the amounts, sources, sinks and ids that the ledger
/// and analytics read (the lake's typed columns). Everything else, free text included, goes.
pub const KEPT_PROPS: [&str; 17] = [
    "amount",
    "tokens",
    "cash_amount",
    "bet",
    "payout",
    "dwell_s",
    "actions",
    "stage",
    "paid",
    "source",
    "sink",
    "currency",
    "game",
    "result",
    "content_id",
    "proposal_id",
    "reward_id",
];

/// Maps user ids to their pseudonyms under one key.
#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(…)")
    }
}

impl Pseudonyms {
    pub fn new(key: [u8; KEY_LEN]) -> Self {
        Self { key }
    }

    /// The pseudonym of `user`: `erased:` and 128 bits of HMAC-SHA256, in hex.
    pub fn of(&self, user: &UserId) -> UserId {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(user.as_str().as_bytes());
        let tag = mac.finalize().into_bytes();
        UserId::parse(&format!("{PSEUDONYM_PREFIX}{}", hex::encode(&tag[..16])))
            .expect("a pseudonym is a valid user id")
    }
}

/// The props object of an erased user's event: only [`KEPT_PROPS`] stay.
pub fn kept(props: &Value) -> Value {
    let kept: Map<String, Value> = match props {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| KEPT_PROPS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => Map::new(),
    };
    Value::Object(kept)
}

/// [`kept`] over JSON text.
pub fn kept_props(props: &str) -> String {
    kept(&serde_json::from_str(props).unwrap_or(Value::Null)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn a_pseudonym_is_stable_keyed_and_reserved() {
        let (a, b) = (Pseudonyms::new([1; KEY_LEN]), Pseudonyms::new([2; KEY_LEN]));
        let p = a.of(&user("u-42"));
        assert_eq!(p, a.of(&user("u-42")));
        assert_ne!(p, a.of(&user("u-43")));
        assert_ne!(p, b.of(&user("u-42")), "another key gives another pseudonym");
        assert!(p.is_pseudonym());
        assert!(!p.as_str().contains("u-42"));
        assert!(!user("u-42").is_pseudonym());
    }

    #[test]
    fn only_the_known_props_are_kept() {
        let props = r#"{"amount":50,"source":"partner_a","note":"my address is 1 Main St","nested":{"a":1}}"#;
        assert_eq!(kept_props(props), r#"{"amount":50,"source":"partner_a"}"#);
        assert_eq!(kept_props("not json"), "{}");
    }
}
