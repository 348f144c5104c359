//! Notifications the engine owes users, written to the outbox in the transaction that
//! causes them and delivered later by a dispatcher. Texts are localized (ko default, en).

use serde_json::{Value, json};

use crate::ids::UserId;

/// A notification waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `NEW_TOKEN_ARRIVAL` or `SEGMENT_UPGRADE`.
    pub kind: &'static str,
    pub user: UserId,
    /// Unique per notification: a retry or a re-run enqueues nothing twice.
    pub dedupe_key: String,
    pub payload: Value,
}

/// Tokens earned at partner A have arrived.
pub fn token_arrival(user: &UserId, event_id: &str, amount: i64) -> Notification {
    Notification {
        kind: "NEW_TOKEN_ARRIVAL",
        user: user.clone(),
        dedupe_key: format!("token-arrival/{event_id}"),
        payload: json!({
            "amount": amount,
            "source": "partner",
            "title": {"ko": "토큰 도착!", "en": "Tokens arrived!"},
            "body": {
                "ko": format!("파트너 A에서 사이버 토큰 {amount}개가 도착했어요."),
                "en": format!("{amount} cyber tokens just arrived from partner A."),
            },
        }),
    }
}

/// The nightly batch moved the user up the segment ladder.
pub fn segment_upgrade(user: &UserId, as_of: &str, from: &str, to: &str, reward: i64) -> Notification {
    Notification {
        kind: "SEGMENT_UPGRADE",
        user: user.clone(),
        dedupe_key: upgrade_key(user, as_of),
        payload: json!({
            "from": from,
            "to": to,
            "reward": reward,
            "as_of": as_of,
            "title": {"ko": "등급이 올랐어요!", "en": "You moved up!"},
            "body": {
                "ko": format!("{to} 등급이 되었어요. 보상으로 사이버 토큰 {reward}개를 드려요."),
                "en": format!("You are now {to}. Here are {reward} cyber tokens as a reward."),
            },
        }),
    }
}

/// The key of a user's upgrade in one batch: it names the reward's ledger event too.
pub fn upgrade_key(user: &UserId, as_of: &str) -> String {
    format!("segment-upgrade/{as_of}/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_filled_in_both_languages() {
        let user = UserId::parse("u1").unwrap();
        for n in [
            token_arrival(&user, "e1", 150),
            segment_upgrade(&user, "2026-05-01", "Medium", "High Engaged", 100),
        ] {
            for field in ["title", "body"] {
                for lang in ["ko", "en"] {
                    let text = n.payload[field][lang].as_str().unwrap();
                    assert!(!text.is_empty() && !text.contains('{'), "{}: {text}", n.kind);
                }
            }
        }
        assert!(token_arrival(&user, "e1", 150).payload["body"]["ko"].as_str().unwrap().contains("150"));
    }
}
