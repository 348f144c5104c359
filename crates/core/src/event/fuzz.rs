//! Generated inputs against the event decoder and the partner decoder: whatever arrives,
//! decoding never panics, and whatever it accepts keeps every validation rule.
//!
//! `PLAYPULSE_FUZZ_CASES` sets the number of cases (default 2,000, what CI runs); a longer
//! run on request: `PLAYPULSE_FUZZ_CASES=1000000 cargo test -p playpulse-core fuzz`.

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ingest::MAX_EVENTS_PER_BATCH;
use crate::partner::{PartnerEvent, PartnerId};
use crate::tokens::MAX_EVENT_AMOUNT;

fn now() -> Timestamp {
    "2026-05-01T00:00:00Z".parse().unwrap()
}

fn cases() -> u32 {
    std::env::var("PLAYPULSE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

/// Strings that probe the edges: empty, NUL, control and wide characters, long ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("토큰".repeat(70)),
        Just("x".repeat(129)),
        "[ -~]{0,12}",
        "\\PC{0,8}",
        "[A-Z_]{1,20}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1)),
        Just(json!(MAX_EVENT_AMOUNT)),
        Just(json!(MAX_EVENT_AMOUNT + 1)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!(1e300)),
        any::<i64>().prop_map(|n| json!(n)),
        (0..1_000i64).prop_map(|n| json!(n)),
    ]
}

/// Any JSON value, a few levels deep.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String)
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PROP_NAMES: [&str; 14] = [
    "amount",
    "source",
    "sink",
    "paid",
    "tokens",
    "cash_amount",
    "currency",
    "game",
    "bet",
    "payout",
    "result",
    "content_id",
    "dwell_s",
    "actions",
];

fn props() -> impl Strategy<Value = Value> {
    let known = prop_oneof![
        Just(json!("partner")),
        Just(json!("game")),
        Just(json!("KRW")),
        Just(json!("win")),
        number(),
        value()
    ];
    proptest::collection::btree_map(prop::sample::select(PROP_NAMES.to_vec()), known, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// Envelopes near the valid ones (where the interesting refusals are), and anything at all.
fn envelope() -> impl Strategy<Value = Value> {
    let id = prop_oneof![Just(json!("0191b7e2-8a4c-7d2e-9f3a-1c2b3d4e5f60")), value()];
    let user = prop_oneof![Just(json!("u1")), text().prop_map(Value::String), value()];
    let kind = prop_oneof![
        prop::sample::select(KNOWN_TYPES.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    let ts = prop_oneof![
        Just(json!("2026-04-30T12:00:00+09:00")),
        Just(json!("2026-05-02T00:00:01Z")),
        Just(json!("1969-12-31T23:59:59Z")),
        Just(json!("9999-12-31T23:59:59Z")),
        text().prop_map(Value::String),
        value(),
    ];
    let near = (id, user, kind, ts, prop_oneof![props(), value()]).prop_map(|(id, user, kind, ts, props)| {
        json!({"event_id": id, "user_id": user, "type": kind, "ts": ts, "props": props})
    });
    prop_oneof![4 => near, 1 => value()]
}

/// Every rule an accepted event must keep.
fn check_accepted(event: &Event, policy: &ValidationPolicy) -> Result<(), TestCaseError> {
    prop_assert!(event.ts >= Timestamp::UNIX_EPOCH && event.ts.duration_since(now()) <= MAX_FUTURE_SKEW);
    prop_assert!(event.props.len() <= MAX_PROPS_BYTES && !event.props.contains("\\u0000"));
    prop_assert!(crate::ids::UserId::parse(event.user.as_str()).is_ok());
    prop_assert!(!event.user.is_pseudonym(), "an erased user's pseudonym was accepted");
    prop_assert!(policy.allow_custom_events || !matches!(event.event_type, EventType::Custom(_)));
    let moving = matches!(
        event.event_type,
        EventType::EarnCyberTokens | EventType::SpendCyberTokens | EventType::PurchaseTokens
    );
    prop_assert_eq!(event.movement.is_some(), moving);
    if let Some(movement) = event.movement {
        let size = movement.delta.0.abs();
        prop_assert!((1..=MAX_EVENT_AMOUNT).contains(&size), "{:?}", movement);
        prop_assert_eq!(movement.delta.0 < 0, event.event_type == EventType::SpendCyberTokens);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_event_decoder_never_panics_and_accepts_only_valid_events(raw in envelope(), custom in any::<bool>()) {
        let policy = ValidationPolicy { allow_custom_events: custom, ..ValidationPolicy::default() };
        if let Ok(event) = Event::parse(&raw, &policy, now()) {
            check_accepted(&event, &policy)?;
        }
    }

    #[test]
    fn the_partner_decoder_never_panics(raw in prop_oneof![value(), (text(), text(), number(), number()).prop_map(|(t, u, a, d)| {
        json!({"type": "reward", "txn_id": t, "user_id": u, "ts": "2026-04-30T12:00:00Z", "amount": a, "dwell_s": d})
    })]) {
        let partner = PartnerId::parse("a").unwrap();
        let policy = ValidationPolicy::default();
        if let Ok(accepted) = PartnerEvent::parse(&raw, &partner, &policy, now()) {
            check_accepted(&accepted.event, &policy)?;
            let clean = !accepted.txn_id.is_empty() && !accepted.txn_id.chars().any(char::is_control);
            prop_assert!(clean, "txn_id {:?}", accepted.txn_id);
        }
    }

    /// A whole batch of generated events, ids repeated among them: one outcome per event,
    /// and every accepted one keeps the rules.
    #[test]
    fn a_generated_batch_is_decided_event_by_event(events in proptest::collection::vec(envelope(), 0..12)) {
        prop_assert!(events.len() <= MAX_EVENTS_PER_BATCH);
        let policy = ValidationPolicy::default();
        let decided: Vec<_> = events.iter().map(|raw| Event::parse(raw, &policy, now())).collect();
        let plan = crate::ingest::plan(
            &decided,
            &Default::default(),
            &Default::default(),
            &Default::default(),
            &crate::time::BusinessZone::default(),
            &mut crate::ingest::AdmitAll,
        );
        prop_assert_eq!(plan.outcomes.len(), events.len());
        for &index in &plan.accepted {
            let event = decided[index].as_ref().expect("only decoded events are accepted");
            check_accepted(event, &policy)?;
        }
    }
}
