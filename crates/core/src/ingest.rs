//! Planning a batch: which events are accepted, duplicate or rejected, and what to write.
//!
//! The store loads what the batch needs (ids already seen, the prior state of its users)
//! under its lock, calls [`plan`], and writes the plan in one transaction. Both backends share
//! this logic; only the SQL differs.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::event::{Event, RejectCode, Rejection};
use crate::ids::{EventId, UserId};
use crate::ledger::{LedgerEntry, UserState};
use crate::notify::{self, Notification};
use crate::time::BusinessZone;

/// Most events one request or one import chunk may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;

/// The answer for one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// The event id was seen before: nothing changed.
    Duplicate,
    Rejected(Rejection),
}

/// What a batch writes, and what it answers.
#[derive(Debug, Default)]
pub struct Plan {
    /// One outcome per input event, in input order.
    pub outcomes: Vec<Outcome>,
    /// Input positions of the accepted events, in input order.
    pub accepted: Vec<usize>,
    /// Ledger entries of the accepted ledger-moving events, in input order.
    pub entries: Vec<LedgerEntry>,
    /// Final state of every user with an accepted event.
    pub users: BTreeMap<UserId, UserState>,
    /// Notifications the accepted events cause (tokens arriving from partner A).
    pub notifications: Vec<Notification>,
}

/// Decides a batch given the ids already stored and the stored state of its users.
pub fn plan(
    batch: &[Result<Event, Rejection>],
    seen: &HashSet<EventId>,
    prior: &HashMap<UserId, UserState>,
    zone: &BusinessZone,
) -> Plan {
    let mut out = Plan { outcomes: Vec::with_capacity(batch.len()), ..Plan::default() };
    let mut in_batch = HashSet::with_capacity(batch.len());
    for (index, item) in batch.iter().enumerate() {
        let event = match item {
            Ok(event) => event,
            Err(rejection) => {
                out.outcomes.push(Outcome::Rejected(rejection.clone()));
                continue;
            }
        };
        if !in_batch.insert(event.id) {
            out.outcomes.push(Outcome::Rejected(Rejection::new(
                RejectCode::DuplicateInBatch,
                format!("event_id {} appears earlier in this batch", event.id),
            )));
            continue;
        }
        if seen.contains(&event.id) {
            out.outcomes.push(Outcome::Duplicate);
            continue;
        }
        let state = match out.users.get(&event.user) {
            Some(state) => state.clone(),
            None => prior.get(&event.user).cloned().unwrap_or_else(|| UserState::new(event.ts)),
        };
        let mut next = state;
        match next.apply(event, zone) {
            Ok(entry) => {
                if let Some(e) = entry.as_ref().filter(|e| e.reason == "earn:partner") {
                    out.notifications.push(notify::token_arrival(
                        &e.user,
                        &e.event_id.to_string(),
                        e.delta.0,
                    ));
                }
                out.entries.extend(entry);
                out.users.insert(event.user.clone(), next);
                out.accepted.push(index);
                out.outcomes.push(Outcome::Accepted);
            }
            Err(rejection) => out.outcomes.push(Outcome::Rejected(rejection)),
        }
    }
    out
}

/// The distinct users and event ids a batch touches, which the store must lock and load.
pub fn keys_of(batch: &[Result<Event, Rejection>]) -> (Vec<UserId>, Vec<EventId>) {
    let mut users: Vec<UserId> = batch.iter().flatten().map(|e| e.user.clone()).collect();
    users.sort_unstable();
    users.dedup();
    let ids = batch.iter().flatten().map(|e| e.id).collect();
    (users, ids)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::event::{EventType, Movement};
    use crate::tokens::Tokens;

    fn event(n: u128, user: &str, delta: i64) -> Event {
        Event {
            id: EventId(uuid::Uuid::from_u128(n)),
            user: UserId::parse(user).unwrap(),
            event_type: if delta >= 0 { EventType::EarnCyberTokens } else { EventType::SpendCyberTokens },
            ts: Timestamp::from_second(1_700_000_000).unwrap(),
            props: "{}".into(),
            movement: Some(Movement { delta: Tokens(delta), reason: "test" }),
            adult: false,
        }
    }

    #[test]
    fn a_batch_is_decided_in_order() {
        let seen = HashSet::from([EventId(uuid::Uuid::from_u128(9))]);
        let batch = vec![
            Ok(event(1, "a", 100)),
            Ok(event(2, "a", -60)),
            Ok(event(3, "a", -60)),
            Ok(event(1, "a", 100)),
            Ok(event(9, "b", 5)),
            Ok(event(4, "b", 5)),
        ];
        let plan = plan(&batch, &seen, &HashMap::new(), &BusinessZone::default());
        let codes: Vec<_> = plan
            .outcomes
            .iter()
            .map(|o| match o {
                Outcome::Accepted => "accepted",
                Outcome::Duplicate => "duplicate",
                Outcome::Rejected(r) => r.code.as_str(),
            })
            .collect();
        assert_eq!(
            codes,
            ["accepted", "accepted", "insufficient_balance", "duplicate_in_batch", "duplicate", "accepted"]
        );
        assert_eq!(plan.users[&UserId::parse("a").unwrap()].balance, Tokens(40));
        assert_eq!(plan.users[&UserId::parse("a").unwrap()].version, 2);
        assert_eq!(plan.entries.len(), 3);
        assert_eq!(plan.users.len(), 2);
    }
}
