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

/// A rule beyond the ledger's own that an event must also pass, decided inside the batch's
/// transaction (a partner's reward caps, say). It sees each event after the ledger accepted
/// it, with the user's state as the event would leave it, and before it counts; an event it
/// refuses changes nothing.
pub trait Admit: Send {
    /// Admits `event` (and counts it towards whatever the rule tracks) or refuses it.
    fn admit(&mut self, event: &Event, after: &UserState) -> Result<(), Rejection>;
}

/// No rule beyond the ledger's: what `POST /v1/events` and imports use.
pub struct AdmitAll;

impl Admit for AdmitAll {
    fn admit(&mut self, _: &Event, _: &UserState) -> Result<(), Rejection> {
        Ok(())
    }
}

/// What is stored under an event id a batch carries again: a re-send must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    pub user: String,
    pub event_type: String,
    pub ts_ms: i64,
    /// The props as stored (JSON text; PostgreSQL's `jsonb` may space it differently).
    pub props: String,
}

impl SeenEvent {
    /// What an accepted event stores.
    pub fn of(event: &Event) -> Self {
        Self {
            user: event.user.as_str().to_owned(),
            event_type: event.event_type.as_str().to_owned(),
            ts_ms: event.ts.as_millisecond(),
            props: event.props.clone(),
        }
    }

    /// The fields in which `event` differs from this, by name (`user_id`, `type`, `ts`,
    /// `props.amount`…), never by value; empty when it is the same event.
    pub fn differences(&self, event: &Event) -> Vec<String> {
        let mut fields = Vec::new();
        if self.user != event.user.as_str() {
            fields.push("user_id".to_owned());
        }
        if self.event_type != event.event_type.as_str() {
            fields.push("type".to_owned());
        }
        if self.ts_ms != event.ts.as_millisecond() {
            fields.push("ts".to_owned());
        }
        let parse = |text: &str| match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let (stored, sent) = (parse(&self.props), parse(&event.props));
        let keys: std::collections::BTreeSet<&String> = stored.keys().chain(sent.keys()).collect();
        fields.extend(
            keys.into_iter().filter(|k| stored.get(*k) != sent.get(*k)).map(|k| format!("props.{k}")),
        );
        fields
    }
}

fn conflict(event: &Event, fields: &[String], earlier: &str) -> Rejection {
    Rejection::new(
        RejectCode::EventIdConflict,
        format!("event_id {} {earlier} with other content: {} differ", event.id, fields.join(", ")),
    )
}

/// Decides a batch given the events already stored under its ids and the stored state of
/// its users. A re-sent id is `Duplicate` if its content is the stored one, and refused
/// with `event_id_conflict` otherwise; a new id repeated inside the batch likewise, against
/// its first occurrence (`duplicate_in_batch` when equal). Events of `erased` users, and of
/// ids in the pseudonyms' namespace, are refused with `user_erased` before anything else.
pub fn plan(
    batch: &[Result<Event, Rejection>],
    seen: &HashMap<EventId, SeenEvent>,
    prior: &HashMap<UserId, UserState>,
    erased: &HashSet<UserId>,
    zone: &BusinessZone,
    admit: &mut dyn Admit,
) -> Plan {
    let mut out = Plan { outcomes: Vec::with_capacity(batch.len()), ..Plan::default() };
    let mut in_batch: HashMap<EventId, &Event> = HashMap::with_capacity(batch.len());
    for (index, item) in batch.iter().enumerate() {
        let event = match item {
            Ok(event) => event,
            Err(rejection) => {
                out.outcomes.push(Outcome::Rejected(rejection.clone()));
                continue;
            }
        };
        if event.user.is_pseudonym() || erased.contains(&event.user) {
            out.outcomes.push(Outcome::Rejected(Rejection::new(
                RejectCode::UserErased,
                format!("user {} was erased: nothing more is recorded about them", event.user),
            )));
            continue;
        }
        if let Some(stored) = seen.get(&event.id) {
            let fields = stored.differences(event);
            out.outcomes.push(if fields.is_empty() {
                Outcome::Duplicate
            } else {
                Outcome::Rejected(conflict(event, &fields, "was accepted before"))
            });
            continue;
        }
        if let Some(first) = in_batch.get(&event.id) {
            let fields = SeenEvent::of(first).differences(event);
            out.outcomes.push(Outcome::Rejected(if fields.is_empty() {
                Rejection::new(
                    RejectCode::DuplicateInBatch,
                    format!("event_id {} appears earlier in this batch", event.id),
                )
            } else {
                conflict(event, &fields, "appears earlier in this batch")
            }));
            continue;
        }
        in_batch.insert(event.id, event);
        let state = match out.users.get(&event.user) {
            Some(state) => state.clone(),
            None => prior.get(&event.user).cloned().unwrap_or_else(|| UserState::new(event.ts)),
        };
        let mut next = state;
        match next.apply(event, zone).and_then(|entry| admit.admit(event, &next).map(|()| entry)) {
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
            received_at: Timestamp::from_second(1_700_000_000).unwrap(),
            props: "{}".into(),
            movement: Some(Movement { delta: Tokens(delta), reason: "test" }),
            adult: false,
            purchase_within_daily_limit: false,
        }
    }

    #[test]
    fn a_batch_is_decided_in_order() {
        let seen = HashMap::from([(EventId(uuid::Uuid::from_u128(9)), SeenEvent::of(&event(9, "b", 5)))]);
        let batch = vec![
            Ok(event(1, "a", 100)),
            Ok(event(2, "a", -60)),
            Ok(event(3, "a", -60)),
            Ok(event(1, "a", 100)),
            Ok(event(9, "b", 5)),
            Ok(event(4, "b", 5)),
        ];
        let plan =
            plan(&batch, &seen, &HashMap::new(), &HashSet::new(), &BusinessZone::default(), &mut AdmitAll);
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

    #[test]
    fn an_erased_user_and_the_pseudonym_namespace_are_refused_first() {
        let erased = HashSet::from([UserId::parse("gone").unwrap()]);
        // Even a re-send of an event the user had stored is `user_erased`, not a conflict.
        let seen = HashMap::from([(EventId(uuid::Uuid::from_u128(1)), SeenEvent::of(&event(1, "b", 5)))]);
        let batch = vec![Ok(event(1, "gone", 5)), Ok(event(2, "erased:00ff", 5)), Ok(event(3, "kept", 5))];
        let plan = plan(&batch, &seen, &HashMap::new(), &erased, &BusinessZone::default(), &mut AdmitAll);
        let codes: Vec<_> = plan
            .outcomes
            .iter()
            .map(|o| match o {
                Outcome::Rejected(r) => r.code.as_str(),
                other => panic!("{other:?}"),
            })
            .take(2)
            .collect();
        assert_eq!(codes, ["user_erased", "user_erased"]);
        assert_eq!(plan.accepted, [2]);
        assert_eq!(plan.users.keys().map(UserId::as_str).collect::<Vec<_>>(), ["kept"]);
    }

    #[test]
    fn a_resent_id_with_other_content_is_refused_by_field() {
        use serde_json::json;

        use crate::event::ValidationPolicy;
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let id = uuid::Uuid::from_u128(7).to_string();
        let earn = |user: &str, amount: i64, ts: &str| {
            let raw = json!({"event_id": id, "user_id": user, "type": "EARN_CYBER_TOKENS", "ts": ts,
                "props": {"amount": amount, "source": "app"}});
            Event::parse(&raw, &ValidationPolicy::default(), now).unwrap()
        };
        let first = earn("a", 100, "2023-11-14T22:00:00Z");
        // As PostgreSQL gives it back: other spacing, other key order.
        let stored =
            SeenEvent { props: r#"{"source": "app", "amount": 100}"#.into(), ..SeenEvent::of(&first) };
        let seen = HashMap::from([(first.id, stored)]);
        let code = |batch: Vec<Event>| {
            let batch: Vec<_> = batch.into_iter().map(Ok).collect();
            let plan = plan(
                &batch,
                &seen,
                &HashMap::new(),
                &HashSet::new(),
                &BusinessZone::default(),
                &mut AdmitAll,
            );
            plan.outcomes
                .into_iter()
                .map(|o| match o {
                    Outcome::Accepted => "accepted".to_owned(),
                    Outcome::Duplicate => "duplicate".to_owned(),
                    Outcome::Rejected(r) => format!("{}: {}", r.code.as_str(), r.message),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(code(vec![earn("a", 100, "2023-11-14T22:00:00Z")]), ["duplicate"]);
        let other = code(vec![earn("b", 900, "2023-11-14T22:00:01Z")]);
        assert_eq!(other.len(), 1);
        assert!(other[0].starts_with("event_id_conflict"), "{other:?}");
        assert!(other[0].ends_with("user_id, ts, props.amount differ"), "{other:?}");
        assert!(!other[0].contains("900"), "fields are named, values are not");

        let fresh = |user: &str, amount: i64| {
            let raw = json!({"event_id": uuid::Uuid::from_u128(8).to_string(), "user_id": user,
                "type": "EARN_CYBER_TOKENS", "ts": "2023-11-14T22:00:00Z", "props": {"amount": amount, "source": "app"}});
            Event::parse(&raw, &ValidationPolicy::default(), now).unwrap()
        };
        let in_batch = code(vec![fresh("a", 1), fresh("a", 1), fresh("a", 2)]);
        assert_eq!(in_batch[0], "accepted");
        assert!(in_batch[1].starts_with("duplicate_in_batch"), "{in_batch:?}");
        assert!(in_batch[2].starts_with("event_id_conflict") && in_batch[2].ends_with("props.amount differ"));
    }

    mod limits {
        //! Whatever timestamps the sender chooses, the ledger keeps the user's own limits as
        //! the server's clock sees them.

        use jiff::SignedDuration;
        use proptest::prelude::*;
        use serde_json::json;

        use super::*;
        use crate::event::ValidationPolicy;
        use crate::protection::Limits;

        /// The first arrival: 2026-05-01 12:00 in Seoul.
        const START_S: i64 = 1_777_604_400;

        /// One event as the test sends it: spend or purchase, tokens, how far its `ts` lies
        /// from its arrival, and how long after the previous event it arrives.
        #[derive(Debug, Clone)]
        struct Step {
            purchase: bool,
            tokens: i64,
            ts_offset_s: i64,
            arrives_after_s: i64,
        }

        fn step() -> impl Strategy<Value = Step> {
            // Timestamps from before 1970's end to the full allowed skew ahead.
            let offset = prop_oneof![
                Just(0),
                -400 * 86_400..0i64,
                0..=MAX_SKEW_S,
                Just(MAX_SKEW_S),
                Just(-(START_S - 86_400)),
            ];
            (any::<bool>(), 1..=400i64, offset, 0..=8 * 3600i64).prop_map(
                |(purchase, tokens, ts_offset_s, arrives_after_s)| Step {
                    purchase,
                    tokens,
                    ts_offset_s,
                    arrives_after_s,
                },
            )
        }

        const MAX_SKEW_S: i64 = crate::event::MAX_FUTURE_SKEW.as_secs();

        fn at(s: i64) -> Timestamp {
            Timestamp::from_second(s).expect("within jiff's range")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn no_day_passes_the_limit_and_nothing_passes_a_break(
                cap in 1..=1_000i64,
                cool_off_h in proptest::option::of(1..=48i64),
                excluded_h in proptest::option::of(1..=48i64),
                steps in proptest::collection::vec(step(), 1..60),
            ) {
                let zone = BusinessZone::default();
                let policy = ValidationPolicy { purchases_within_daily_limit: true, ..ValidationPolicy::default() };
                let limits = Limits {
                    daily_spend_tokens: Some(cap),
                    cool_off_until: cool_off_h.map(|h| at(START_S + h * 3600)),
                    excluded_until: excluded_h.map(|h| at(START_S + h * 3600)),
                };
                let user = UserId::parse("p").unwrap();
                let mut state = UserState::new(at(START_S));
                state.limits = limits;
                // Enough tokens that the balance never decides: only the limits do.
                state.balance = Tokens(1_000_000);
                let prior = HashMap::from([(user.clone(), state)]);

                let mut arrival_s = START_S;
                let mut batch = Vec::new();
                for (n, step) in steps.iter().enumerate() {
                    arrival_s += step.arrives_after_s;
                    let ts = at(arrival_s) + SignedDuration::from_secs(step.ts_offset_s);
                    let (kind, props) = if step.purchase {
                        ("PURCHASE_TOKENS", json!({"tokens": step.tokens, "cash_amount": 100, "currency": "KRW"}))
                    } else {
                        ("SPEND_CYBER_TOKENS", json!({"amount": step.tokens, "sink": "game"}))
                    };
                    let raw = json!({
                        "event_id": uuid::Uuid::from_u128(n as u128 + 1).to_string(),
                        "user_id": "p", "type": kind, "ts": ts.to_string(), "props": props,
                    });
                    batch.push(Event::parse(&raw, &policy, at(arrival_s)));
                }
                let plan = plan(&batch, &HashMap::new(), &prior, &HashSet::new(), &zone, &mut AdmitAll);

                let mut per_day: HashMap<(jiff::civil::Date, bool), i64> = HashMap::new();
                for (item, outcome) in batch.iter().zip(&plan.outcomes) {
                    let Ok(event) = item else { continue };
                    if *outcome != Outcome::Accepted {
                        continue;
                    }
                    let now = event.received_at;
                    prop_assert!(limits.cool_off_until.is_none_or(|t| t <= now), "accepted during the cool-off: {event:?}");
                    prop_assert!(limits.excluded_until.is_none_or(|t| t <= now), "accepted during the exclusion: {event:?}");
                    let movement = event.movement.expect("spends and purchases move tokens");
                    let total = per_day.entry((zone.day_of(now), movement.is_purchase())).or_default();
                    *total += movement.delta.0.abs();
                    prop_assert!(*total <= cap, "{total} tokens on one day past the limit of {cap}");
                }
                // And something was accepted whenever the limits allowed it: the first step
                // after every break, within the cap, goes through.
                if let (Some(first), Ok(event)) = (steps.first(), &batch[0]) {
                    let free = limits.cool_off_until.is_none_or(|t| t <= event.received_at)
                        && limits.excluded_until.is_none_or(|t| t <= event.received_at);
                    if free && first.tokens <= cap {
                        prop_assert_eq!(&plan.outcomes[0], &Outcome::Accepted);
                    }
                }
            }
        }
    }
}
