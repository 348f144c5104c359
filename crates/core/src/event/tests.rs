//! The validation table: every kind of bad input gets its stable code.

use serde_json::json;

use super::*;

fn now() -> Timestamp {
    "2026-05-01T00:00:00Z".parse().unwrap()
}

fn envelope(event_type: &str, props: Value) -> Value {
    json!({
        "event_id": "0191b7e2-8a4c-7d2e-9f3a-1c2b3d4e5f60",
        "user_id": "u1",
        "type": event_type,
        "ts": "2026-04-30T12:00:00+09:00",
        "props": props,
    })
}

fn code_of(raw: Value) -> Option<RejectCode> {
    Event::parse(&raw, &ValidationPolicy::default(), now()).err().map(|r| r.code)
}

#[test]
fn ledger_types_carry_their_movement() {
    let earn = Event::parse(
        &envelope("EARN_CYBER_TOKENS", json!({"amount": 50, "source": "partner"})),
        &ValidationPolicy::default(),
        now(),
    )
    .unwrap();
    assert_eq!(earn.movement, Some(Movement { delta: Tokens(50), reason: "earn:partner" }));
    let spend = Event::parse(
        &envelope("SPEND_CYBER_TOKENS", json!({"amount": 7, "sink": "game", "paid": true})),
        &ValidationPolicy::default(),
        now(),
    )
    .unwrap();
    assert_eq!(spend.movement, Some(Movement { delta: Tokens(-7), reason: "spend:game" }));
    let buy = Event::parse(
        &envelope("PURCHASE_TOKENS", json!({"tokens": 1000, "cash_amount": 9900, "currency": "KRW"})),
        &ValidationPolicy::default(),
        now(),
    )
    .unwrap();
    assert_eq!(buy.movement.map(|m| m.delta), Some(Tokens(1000)));
}

#[test]
fn bad_input_gets_a_stable_code() {
    use RejectCode as C;
    let cases = [
        (json!([1, 2]), C::InvalidEnvelope),
        (json!({"user_id": "u1", "type": "SESSION_START", "ts": "2026-04-30T00:00:00Z"}), C::InvalidEventId),
        (
            json!({"event_id": "nope", "user_id": "u1", "type": "SESSION_START", "ts": "2026-04-30T00:00:00Z"}),
            C::InvalidEventId,
        ),
        (envelope("EARN_CYBER_TOKENS", json!({"amount": -5, "source": "app"})), C::InvalidAmount),
        (envelope("EARN_CYBER_TOKENS", json!({"amount": 0, "source": "app"})), C::InvalidAmount),
        (envelope("EARN_CYBER_TOKENS", json!({"amount": 1.5, "source": "app"})), C::InvalidAmount),
        (envelope("EARN_CYBER_TOKENS", json!({"amount": "5", "source": "app"})), C::InvalidAmount),
        (envelope("EARN_CYBER_TOKENS", json!({"source": "app"})), C::MissingProp),
        (envelope("EARN_CYBER_TOKENS", json!({"amount": 5, "source": "casino"})), C::InvalidProp),
        (envelope("SPEND_CYBER_TOKENS", json!({"amount": 5, "sink": "game", "paid": "yes"})), C::InvalidProp),
        (
            envelope("PURCHASE_TOKENS", json!({"tokens": 5, "cash_amount": 100, "currency": "won"})),
            C::InvalidProp,
        ),
        (
            envelope("GAME_PLAY", json!({"game": "slot", "bet": 1, "payout": 0, "result": "maybe"})),
            C::InvalidProp,
        ),
        (envelope("PARTNER_VISIT", json!({"dwell_s": 90000, "actions": 1})), C::InvalidProp),
        (envelope("VIEW_CONTENT", json!({"content_id": "x".repeat(129)})), C::InvalidProp),
        (envelope("TELEPORT", json!({})), C::UnknownEventType),
        (envelope("lowercase", json!({})), C::UnknownEventType),
        (envelope("SESSION_START", json!("flat")), C::InvalidProp),
        (envelope("SESSION_START", json!({"blob": "x".repeat(9000)})), C::PropsTooLarge),
        (envelope("VIEW_CONTENT", json!({"content_id": "c\u{0}1"})), C::InvalidProp),
        (envelope("SESSION_START", json!({"deep": {"list": ["ok", "n\u{0}ul"]}})), C::InvalidProp),
        (envelope("SESSION_START", json!({"k\u{0}ey": 1})), C::InvalidProp),
    ];
    for (raw, expected) in cases {
        assert_eq!(code_of(raw.clone()), Some(expected), "{raw}");
    }
}

#[test]
fn timestamps_backfill_freely_but_not_into_the_far_future() {
    let mut raw = envelope("SESSION_START", json!({}));
    raw["ts"] = json!("1999-12-31T23:59:59Z");
    assert_eq!(code_of(raw.clone()), None);
    raw["ts"] = json!("1969-12-31T23:59:59Z");
    assert_eq!(code_of(raw.clone()), Some(RejectCode::InvalidTimestamp));
    raw["ts"] = json!("2026-05-01T23:00:00Z");
    assert_eq!(code_of(raw.clone()), None, "within a day of skew");
    raw["ts"] = json!("2026-05-02T00:00:01Z");
    assert_eq!(code_of(raw.clone()), Some(RejectCode::TimestampInFuture));
    raw["ts"] = json!("2026-04-30 12:00");
    assert_eq!(code_of(raw), Some(RejectCode::InvalidTimestamp));
}

#[test]
fn custom_types_need_the_operator_s_consent() {
    let raw = envelope("LEVEL_UP", json!({"level": 3}));
    assert_eq!(code_of(raw.clone()), Some(RejectCode::UnknownEventType));
    let open = ValidationPolicy { allow_custom_events: true, ..ValidationPolicy::default() };
    let event = Event::parse(&raw, &open, now()).unwrap();
    assert_eq!(event.event_type, EventType::Custom("LEVEL_UP".into()));
    assert_eq!(event.movement, None);
}

#[test]
fn a_nul_character_is_refused_naming_where_it_is() {
    let raw = envelope(
        "GAME_PLAY",
        json!({"game": "slot", "bet": 1, "payout": 0, "result": "win", "note": {"x": "a\u{0}"}}),
    );
    let rejection = Event::parse(&raw, &ValidationPolicy::default(), now()).unwrap_err();
    assert_eq!(rejection.code, RejectCode::InvalidProp);
    assert!(
        rejection.message.contains("props.note.x") && rejection.message.contains("NUL"),
        "{}",
        rejection.message
    );
}
