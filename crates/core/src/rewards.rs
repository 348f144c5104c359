//! Segment-upgrade rewards: which of a night's transitions are upgrades, and the ledger event
//! that grants each one. The event's id derives from (night, user), so granting a night again
//! finds it a duplicate: a reward is paid once whatever re-runs.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use uuid::Uuid;

use crate::event::{Event, Rejection, ValidationPolicy};
use crate::ids::UserId;
use crate::notify::{self, Notification};
use crate::segments::SegmentRules;
use crate::time::BusinessZone;

/// A user moved up the ladder in one night.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub user: UserId,
    pub from: String,
    pub to: String,
}

/// The upgrades among a night's transitions `(user, previous segment, new segment)`: moves
/// to a higher rung. A user without a previous segment is new, not upgraded.
pub fn upgrades(
    rules: &SegmentRules,
    transitions: impl IntoIterator<Item = (UserId, Option<String>, String)>,
) -> Vec<Upgrade> {
    transitions
        .into_iter()
        .filter_map(|(user, from, to)| {
            let from = from?;
            (rules.rank(&to) < rules.rank(&from)).then_some(Upgrade { user, from, to })
        })
        .collect()
}

/// The ledger event granting `amount` tokens for `upgrade` in the night `as_of`. It is dated
/// the last second of that business day, so a backfill lands on its own day.
pub fn reward_event(
    upgrade: &Upgrade,
    as_of: Date,
    amount: i64,
    zone: &BusinessZone,
    now: Timestamp,
) -> Result<Event, Rejection> {
    let ts = as_of
        .tomorrow()
        .and_then(|d| d.to_zoned(zone.tz().clone()))
        .map(|z| z.timestamp() - SignedDuration::from_secs(1))
        .unwrap_or(now);
    let key = notify::upgrade_key(&upgrade.user, &as_of.to_string());
    let raw = json!({
        "event_id": Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes()).to_string(),
        "user_id": upgrade.user.as_str(),
        "type": "EARN_CYBER_TOKENS",
        "ts": ts.to_string(),
        "props": {"amount": amount, "source": "reward", "reward_id": "segment-upgrade"},
    });
    Event::parse(&raw, &ValidationPolicy::default(), now)
}

/// The notification of `upgrade`, under the same key as its reward.
pub fn notification(upgrade: &Upgrade, as_of: Date, amount: i64) -> Notification {
    notify::segment_upgrade(&upgrade.user, &as_of.to_string(), &upgrade.from, &upgrade.to, amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segments::SegmentRules;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    #[test]
    fn only_moves_up_an_existing_rung_are_upgrades() {
        let rules = SegmentRules::default();
        let top = rules.rules[0].name.clone();
        let bottom = rules.fallback.clone();
        let found = upgrades(
            &rules,
            [
                (user("up"), Some(bottom.clone()), top.clone()),
                (user("down"), Some(top.clone()), bottom.clone()),
                (user("new"), None, top.clone()),
            ],
        );
        assert_eq!(found, [Upgrade { user: user("up"), from: bottom, to: top }]);
    }

    #[test]
    fn a_night_grants_one_event_per_user_dated_on_its_own_day() {
        let zone = BusinessZone::default();
        let up = Upgrade { user: user("u1"), from: "Low".into(), to: "Medium".into() };
        let night = jiff::civil::date(2026, 4, 20);
        let now: Timestamp = "2026-05-01T03:00:00Z".parse().unwrap();
        let first = reward_event(&up, night, 100, &zone, now).unwrap();
        let again = reward_event(&up, night, 100, &zone, now).unwrap();
        assert_eq!(first.id, again.id, "a re-run finds the same event");
        assert_ne!(first.id, reward_event(&up, night.tomorrow().unwrap(), 100, &zone, now).unwrap().id);
        assert_eq!(zone.day_of(first.ts), night);
    }
}
