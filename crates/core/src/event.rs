//! The event envelope and its validation: raw JSON in, an [`Event`] or a [`Rejection`] out.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{EventId, UserId};
use crate::tokens::Tokens;

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

/// Reasons of tokens bought with cash: a `PURCHASE_TOKENS`, or an `EARN_CYBER_TOKENS` whose
/// source is a purchase.
const PURCHASE_REASONS: [Reason; 2] = ["purchase", "earn:purchase"];

/// The balance change an event causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    /// Signed change of the balance; never zero.
    pub delta: Tokens,
    /// Why, as stored on the ledger entry.
    pub reason: Reason,
}

impl Movement {
    /// Tokens bought with cash: refused during a cool-off or an exclusion like a spend.
    pub fn is_purchase(&self) -> bool {
        PURCHASE_REASONS.contains(&self.reason)
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub user: UserId,
    pub event_type: EventType,
    pub ts: Timestamp,
    /// The server's clock when the event arrived. Rules that protect someone now (limits,
    /// cool-off, exclusion, harm markers) are judged on it, never on `ts`, which the sender
    /// chooses.
    pub received_at: Timestamp,
    /// The props object as JSON text (validated for the type, bounded in size), serialized
    /// once here: it is what the stores write.
    pub props: String,
    /// Set for the ledger-moving types only.
    pub movement: Option<Movement>,
    /// The event unlocks content marked adult (19+), itself or by paying for it, or plays an
    /// adult game: the ledger refuses it for a user who is not age-verified.
    pub adult: bool,
    /// A purchase whose tokens count against the user's daily limit (the operator's
    /// `protection.daily_limit_covers_purchases`); always false for other events.
    pub purchase_within_daily_limit: bool,
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
    /// The same event id appears earlier in the same request, with the same content.
    DuplicateInBatch,
    /// The event id was accepted before (or appears earlier in the request) with other
    /// content: the client's record and ours differ, and nothing is changed.
    EventIdConflict,
    /// The user was erased (or the id is an erased user's pseudonym): nothing more is
    /// recorded about them.
    UserErased,
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
    /// A partner reward past the partner's cap for the business day.
    PartnerDailyCapReached,
    /// A partner reward past the partner's cap for the business month.
    PartnerMonthlyCapReached,
    /// A partner reward past what one user may receive from the partner in a business day.
    UserDailyCapReached,
    /// A partner reward past what one user may receive from the partner in a business month.
    UserMonthlyCapReached,
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
            Self::EventIdConflict => "event_id_conflict",
            Self::UserErased => "user_erased",
            Self::InsufficientBalance => "insufficient_balance",
            Self::BalanceOverflow => "balance_overflow",
            Self::AgeVerificationRequired => "age_verification_required",
            Self::DailyLimitReached => "daily_limit_reached",
            Self::CoolingOff => "cooling_off",
            Self::SelfExcluded => "self_excluded",
            Self::PartnerDailyCapReached => "partner_daily_cap_reached",
            Self::PartnerMonthlyCapReached => "partner_monthly_cap_reached",
            Self::UserDailyCapReached => "user_daily_cap_reached",
            Self::UserMonthlyCapReached => "user_monthly_cap_reached",
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
    /// Tokens bought count against a user's daily limit too, not only tokens spent.
    pub purchases_within_daily_limit: bool,
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
        if let Some(path) = nul_in(&props) {
            // PostgreSQL's jsonb cannot hold U+0000; refusing it here keeps both backends
            // answering alike, and refuses this event alone rather than its whole batch.
            return Err(Rejection::new(
                C::InvalidProp,
                format!("props.{path} contains a NUL character (\\u0000), which is not allowed"),
            ));
        }
        let text = serde_json::to_string(&props).unwrap_or_default();
        let size = text.len();
        if size > MAX_PROPS_BYTES {
            return Err(Rejection::new(
                C::PropsTooLarge,
                format!("props take {size} bytes; at most {MAX_PROPS_BYTES} are accepted"),
            ));
        }
        let movement = props::check(&event_type, &props)?;
        let adult = adult_request(&event_type, &props, policy);
        let purchase_within_daily_limit =
            policy.purchases_within_daily_limit && movement.is_some_and(|m| m.is_purchase());
        Ok(Event {
            id,
            user,
            event_type,
            ts,
            received_at: now,
            props: text,
            movement,
            adult,
            purchase_within_daily_limit,
        })
    }
}

/// The path of the first key or string holding a NUL character, if any.
fn nul_in(props: &Map<String, Value>) -> Option<String> {
    fn in_map(map: &Map<String, Value>, path: &str) -> Option<String> {
        map.iter().find_map(|(key, value)| {
            let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') { Some(at.replace('\0', "\\u0000")) } else { in_value(value, &at) }
        })
    }
    fn in_value(value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(text) => text.contains('\0').then(|| path.to_owned()),
            Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, item)| in_value(item, &format!("{path}[{i}]")))
            }
            Value::Object(map) => in_map(map, path),
            _ => None,
        }
    }
    in_map(props, "")
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

#[cfg(test)]
mod fuzz;
mod props;
#[cfg(test)]
mod tests;
