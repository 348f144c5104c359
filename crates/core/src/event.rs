//! The event envelope and its validation: raw JSON in, an [`Event`] or a [`Rejection`] out.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{EventId, UserId};
use crate::tokens::{MAX_EVENT_AMOUNT, Tokens};

/// Largest accepted `props` object, serialized, in bytes.
pub const MAX_PROPS_BYTES: usize = 8 * 1024;
/// Longest accepted string prop, in characters.
pub const MAX_PROP_STR_CHARS: usize = 128;
/// How far into the future an event timestamp may lie (clock skew of senders).
pub const MAX_FUTURE_SKEW: SignedDuration = SignedDuration::from_hours(24);
/// Longest accepted custom event type name.
pub const MAX_TYPE_LEN: usize = 64;
/// Longest accepted dwell time of one partner visit.
pub const MAX_DWELL_S: i64 = 24 * 3600;

/// The kinds of event playpulse understands, plus operator-defined custom types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    EarnCyberTokens,
    SpendCyberTokens,
    PurchaseTokens,
    SessionStart,
    GamePlay,
    FailGame,
    ContentUnlock,
    ViewContent,
    ClaimReward,
    BuyItem,
    PartnerVisit,
    ProposalImpression,
    ProposalClick,
    ProposalConversion,
    /// Accepted only when the operator's config allows custom events.
    Custom(String),
}

const KNOWN_TYPES: [(&str, EventType); 14] = [
    ("EARN_CYBER_TOKENS", EventType::EarnCyberTokens),
    ("SPEND_CYBER_TOKENS", EventType::SpendCyberTokens),
    ("PURCHASE_TOKENS", EventType::PurchaseTokens),
    ("SESSION_START", EventType::SessionStart),
    ("GAME_PLAY", EventType::GamePlay),
    ("FAIL_GAME", EventType::FailGame),
    ("CONTENT_UNLOCK", EventType::ContentUnlock),
    ("VIEW_CONTENT", EventType::ViewContent),
    ("CLAIM_REWARD", EventType::ClaimReward),
    ("BUY_ITEM", EventType::BuyItem),
    ("PARTNER_VISIT", EventType::PartnerVisit),
    ("PROPOSAL_IMPRESSION", EventType::ProposalImpression),
    ("PROPOSAL_CLICK", EventType::ProposalClick),
    ("PROPOSAL_CONVERSION", EventType::ProposalConversion),
];

impl EventType {
    /// The wire name, e.g. `EARN_CYBER_TOKENS`.
    pub fn as_str(&self) -> &str {
        if let Self::Custom(name) = self {
            return name;
        }
        KNOWN_TYPES
            .iter()
            .find(|(_, t)| t == self)
            .map(|(name, _)| *name)
            .expect("every non-custom type is listed in KNOWN_TYPES")
    }

    /// Parses a wire name; names outside the known list become [`EventType::Custom`] when
    /// they look like a type name (upper snake case, bounded).
    pub fn parse(raw: &str) -> Option<Self> {
        if let Some((_, t)) = KNOWN_TYPES.iter().find(|(name, _)| *name == raw) {
            return Some(t.clone());
        }
        let custom_ok = !raw.is_empty()
            && raw.len() <= MAX_TYPE_LEN
            && raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        custom_ok.then(|| Self::Custom(raw.to_owned()))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a ledger entry was written, e.g. `earn:partner`, `spend:game`, `purchase`.
pub type Reason = &'static str;

/// The balance change an event causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    /// Signed change of the balance; never zero.
    pub delta: Tokens,
    /// Why, as stored on the ledger entry.
    pub reason: Reason,
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub user: UserId,
    pub event_type: EventType,
    pub ts: Timestamp,
    /// The props object as JSON text (validated for the type, bounded in size), serialized
    /// once here: it is what the stores write.
    pub props: String,
    /// Set for the ledger-moving types only.
    pub movement: Option<Movement>,
    /// The event unlocks content marked adult (19+), itself or by paying for it, or plays an
    /// adult game: the ledger refuses it for a user who is not age-verified.
    pub adult: bool,
}

/// Stable machine codes for a refused event. The wire form is the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The event is not a JSON object with the envelope fields.
    InvalidEnvelope,
    InvalidEventId,
    InvalidUserId,
    InvalidTimestamp,
    TimestampInFuture,
    UnknownEventType,
    MissingProp,
    InvalidProp,
    InvalidAmount,
    PropsTooLarge,
    /// The same event id appears earlier in the same request.
    DuplicateInBatch,
    /// The spend would drive the balance below zero.
    InsufficientBalance,
    /// The balance would exceed the largest representable amount.
    BalanceOverflow,
    /// Adult (19+) content for a user who is not age-verified.
    AgeVerificationRequired,
    /// A spend past the user's own daily limit.
    DailyLimitReached,
    /// A spend during the user's cool-off period.
    CoolingOff,
    /// A spend during the user's self-exclusion.
    SelfExcluded,
}

impl RejectCode {
    /// The wire code, e.g. `insufficient_balance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEnvelope => "invalid_envelope",
            Self::InvalidEventId => "invalid_event_id",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::UnknownEventType => "unknown_event_type",
            Self::MissingProp => "missing_prop",
            Self::InvalidProp => "invalid_prop",
            Self::InvalidAmount => "invalid_amount",
            Self::PropsTooLarge => "props_too_large",
            Self::DuplicateInBatch => "duplicate_in_batch",
            Self::InsufficientBalance => "insufficient_balance",
            Self::BalanceOverflow => "balance_overflow",
            Self::AgeVerificationRequired => "age_verification_required",
            Self::DailyLimitReached => "daily_limit_reached",
            Self::CoolingOff => "cooling_off",
            Self::SelfExcluded => "self_excluded",
        }
    }
}

/// A refused event: a stable code and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// What the operator's config decides about validation.
#[derive(Debug, Clone, Default)]
pub struct ValidationPolicy {
    /// Accept event types outside the known list (stored, never ledger-moving).
    pub allow_custom_events: bool,
    /// Content and game ids marked adult (19+).
    pub adult_content: std::sync::Arc<std::collections::HashSet<String>>,
}

impl Event {
    /// Validates one raw event against the envelope and its type's props, as of `now`.
    pub fn parse(raw: &Value, policy: &ValidationPolicy, now: Timestamp) -> Result<Self, Rejection> {
        use RejectCode as C;
        let obj = raw
            .as_object()
            .ok_or_else(|| Rejection::new(C::InvalidEnvelope, "an event must be a JSON object"))?;
        let field = |name: &str, code| {
            obj.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| Rejection::new(code, format!("`{name}` is required and must be a string")))
        };
        let id = EventId::parse(field("event_id", C::InvalidEventId)?)
            .ok_or_else(|| Rejection::new(C::InvalidEventId, "`event_id` must be a UUID"))?;
        let user = UserId::parse(field("user_id", C::InvalidUserId)?)
            .map_err(|e| Rejection::new(C::InvalidUserId, e.to_string()))?;
        let type_name = field("type", C::UnknownEventType)?;
        let event_type = EventType::parse(type_name)
            .filter(|t| policy.allow_custom_events || !matches!(t, EventType::Custom(_)))
            .ok_or_else(|| {
                Rejection::new(C::UnknownEventType, format!("unknown event type `{type_name}`"))
            })?;
        let ts = parse_ts(field("ts", C::InvalidTimestamp)?, now)?;
        let props = match obj.get("props") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(Rejection::new(C::InvalidProp, "`props` must be an object")),
        };
        let text = serde_json::to_string(&props).unwrap_or_default();
        let size = text.len();
        if size > MAX_PROPS_BYTES {
            return Err(Rejection::new(
                C::PropsTooLarge,
                format!("props take {size} bytes; at most {MAX_PROPS_BYTES} are accepted"),
            ));
        }
        let movement = check_props(&event_type, &Props(&props))?;
        let adult = adult_request(&event_type, &props, policy);
        Ok(Event { id, user, event_type, ts, props: text, movement, adult })
    }
}

/// Whether an event asks for something marked adult: unlocking adult content (itself, or by
/// paying for it), or playing or staking on an adult game.
fn adult_request(event_type: &EventType, props: &Map<String, Value>, policy: &ValidationPolicy) -> bool {
    let marked = |key: &str| {
        props.get(key).and_then(Value::as_str).is_some_and(|id| policy.adult_content.contains(id))
    };
    match event_type {
        EventType::ContentUnlock => marked("content_id"),
        EventType::SpendCyberTokens => marked("content_id") || marked("game"),
        EventType::GamePlay => marked("game"),
        _ => false,
    }
}

fn parse_ts(raw: &str, now: Timestamp) -> Result<Timestamp, Rejection> {
    let ts: Timestamp = raw.parse().map_err(|_| {
        Rejection::new(RejectCode::InvalidTimestamp, "`ts` must be an RFC 3339 timestamp with an offset")
    })?;
    if ts < Timestamp::UNIX_EPOCH {
        return Err(Rejection::new(RejectCode::InvalidTimestamp, "`ts` must not be before 1970"));
    }
    if ts.duration_since(now) > MAX_FUTURE_SKEW {
        return Err(Rejection::new(
            RejectCode::TimestampInFuture,
            format!("`ts` {ts} is more than a day after the server's time {now}"),
        ));
    }
    Ok(ts)
}

/// Typed reads of the props object, each failing with a rejection that names the field.
struct Props<'a>(&'a Map<String, Value>);

impl Props<'_> {
    fn missing(name: &str) -> Rejection {
        Rejection::new(RejectCode::MissingProp, format!("props.{name} is required"))
    }

    fn int(&self, name: &str, min: i64, max: i64) -> Result<i64, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_i64().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be an integer from {min} to {max}"),
            )
        })
    }

    fn amount(&self, name: &str) -> Result<Tokens, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_i64().filter(|n| (1..=MAX_EVENT_AMOUNT).contains(n)).map(Tokens).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidAmount,
                format!("props.{name} must be a positive integer of at most {MAX_EVENT_AMOUNT}"),
            )
        })
    }

    fn text(&self, name: &str) -> Result<&str, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_str().filter(|s| !s.is_empty() && s.chars().count() <= MAX_PROP_STR_CHARS).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be a non-empty string of at most {MAX_PROP_STR_CHARS} characters"),
            )
        })
    }

    fn one_of(&self, name: &str, allowed: &[&'static str]) -> Result<&'static str, Rejection> {
        let text = self.text(name)?;
        allowed.iter().copied().find(|a| *a == text).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be one of {}", allowed.join(", ")),
            )
        })
    }

    fn opt_bool(&self, name: &str) -> Result<bool, Rejection> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => {
                Err(Rejection::new(RejectCode::InvalidProp, format!("props.{name} must be true or false")))
            }
        }
    }
}

/// Checks the props a type requires and derives the ledger movement of ledger-moving types.
fn check_props(event_type: &EventType, p: &Props<'_>) -> Result<Option<Movement>, Rejection> {
    use EventType as T;
    let movement = match event_type {
        T::EarnCyberTokens => {
            let amount = p.amount("amount")?;
            let reason = match p.one_of("source", &["partner", "app", "reward", "purchase"])? {
                "partner" => "earn:partner",
                "app" => "earn:app",
                "reward" => "earn:reward",
                _ => "earn:purchase",
            };
            Some(Movement { delta: amount, reason })
        }
        T::SpendCyberTokens => {
            let amount = p.amount("amount")?;
            p.opt_bool("paid")?;
            let reason = match p.one_of("sink", &["game", "unlock", "item"])? {
                "game" => "spend:game",
                "unlock" => "spend:unlock",
                _ => "spend:item",
            };
            Some(Movement { delta: Tokens(-amount.0), reason })
        }
        T::PurchaseTokens => {
            let tokens = p.amount("tokens")?;
            p.int("cash_amount", 0, i64::MAX)?;
            let currency = p.text("currency")?;
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(Rejection::new(
                    RejectCode::InvalidProp,
                    "props.currency must be an ISO 4217 code such as KRW",
                ));
            }
            Some(Movement { delta: tokens, reason: "purchase" })
        }
        T::GamePlay => {
            p.text("game")?;
            p.int("bet", 0, MAX_EVENT_AMOUNT)?;
            p.int("payout", 0, MAX_EVENT_AMOUNT)?;
            p.one_of("result", &["win", "lose", "draw"])?;
            None
        }
        T::FailGame => {
            p.text("game")?;
            None
        }
        T::ContentUnlock => {
            p.text("content_id")?;
            p.int("stage", 0, 10_000)?;
            None
        }
        T::ViewContent => {
            p.text("content_id")?;
            None
        }
        T::ClaimReward => {
            p.text("reward_id")?;
            None
        }
        T::BuyItem => {
            p.text("item_id")?;
            None
        }
        T::PartnerVisit => {
            p.int("dwell_s", 0, MAX_DWELL_S)?;
            p.int("actions", 0, 100_000)?;
            None
        }
        T::ProposalImpression | T::ProposalClick | T::ProposalConversion => {
            p.text("proposal_id")?;
            None
        }
        T::SessionStart | T::Custom(_) => None,
    };
    Ok(movement)
}

#[cfg(test)]
mod tests {
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
            (
                json!({"user_id": "u1", "type": "SESSION_START", "ts": "2026-04-30T00:00:00Z"}),
                C::InvalidEventId,
            ),
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
            (
                envelope("SPEND_CYBER_TOKENS", json!({"amount": 5, "sink": "game", "paid": "yes"})),
                C::InvalidProp,
            ),
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
}
