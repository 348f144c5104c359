//! The staged content catalog: items parsed at the edge, the rule that decides whether a
//! user may unlock one, and the two events an unlock is made of.
//!
//! Items belong to a series and sit at a stage (1..=[`MAX_STAGE`]); stage N of a series needs
//! stage N−1 of the same series unlocked first. The rule ([`check_unlock`]) is pure: the store
//! gathers the facts under the user's lock and runs it inside the unlock's transaction, and
//! the listing runs the same function over the same facts.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::event::{Event, Rejection, ValidationPolicy};
use crate::ids::{EventId, MAX_USER_ID_LEN, UserId, is_opaque_id};
use crate::tokens::{MAX_EVENT_AMOUNT, Tokens};

/// Highest stage of a series.
pub const MAX_STAGE: u32 = 1000;
/// Longest accepted thumbnail or media URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest accepted name, per language, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted description, per language, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Most items a catalog listing returns.
pub const MAX_CATALOG_ITEMS: usize = 5000;
/// The `reward_type` of an unlock in `user_rewards`.
pub const REWARD_TYPE: &str = "content_unlock";

/// Namespace of the CONTENT_UNLOCK event ids derived from unlock request ids (UUID v5), so a
/// retried request derives the same id.
const UNLOCK_EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x7d2c_4b1e_9a0f_4c3b_8e6d_5f1a_2b3c_4d5e);

/// A content item's id: the same alphabet and bounds as user ids, safe in URL paths.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ContentId(String);

impl ContentId {
    pub fn parse(raw: &str) -> Option<Self> {
        is_opaque_id(raw).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("content id {raw:?}")))
    }
}

/// A text in Korean and English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    pub ko: String,
    pub en: String,
}

/// One item of the catalog, valid by construction ([`ContentItem::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentItem {
    pub content_id: ContentId,
    pub series: String,
    pub stage: u32,
    pub name: Localized,
    pub description: Localized,
    pub thumbnail_url: String,
    pub media_url: String,
    /// The lowest segment that may unlock it; `None`: every segment.
    pub required_segment: Option<String>,
    /// For adults (19+): never listed to, nor unlockable by, a user who is not age-verified.
    pub adult: bool,
    /// Tokens an unlock spends (0: free).
    pub cost: Tokens,
}

/// Why an item was refused: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidContent {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidContent {
    InvalidContent { field: field.to_owned(), message: message.into() }
}

const FIELDS: [&str; 10] = [
    "content_id",
    "series",
    "stage",
    "name",
    "description",
    "thumbnail_url",
    "media_url",
    "required_segment",
    "adult",
    "cost",
];

impl ContentItem {
    /// Parses an item from its JSON form; `segments` are the configured segment names that
    /// `required_segment` may name. Errors name the field at fault.
    pub fn parse(raw: &Value, segments: &[String]) -> Result<Self, InvalidContent> {
        let obj = raw.as_object().ok_or_else(|| invalid("item", "an item must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(unknown, format!("unknown field; the fields are {}", FIELDS.join(", "))));
        }
        let id = |name: &str| {
            let text = string(obj, name)?;
            is_opaque_id(text).then(|| text.to_owned()).ok_or_else(|| {
                invalid(name, format!("must be 1 to {MAX_USER_ID_LEN} characters of A-Z a-z 0-9 _ . : -"))
            })
        };
        let content_id = ContentId(id("content_id")?);
        let series = id("series")?;
        let stage = integer(obj, "stage", 1, i64::from(MAX_STAGE))?;
        let cost = integer(obj, "cost", 0, MAX_EVENT_AMOUNT)?;
        let required_segment = match obj.get("required_segment") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if segments.contains(s) => Some(s.clone()),
            Some(_) => {
                return Err(invalid(
                    "required_segment",
                    format!("must be one of the configured segments: {}", segments.join(", ")),
                ));
            }
        };
        let adult = match obj.get("adult") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("adult", "must be true or false")),
        };
        Ok(Self {
            content_id,
            series,
            stage: u32::try_from(stage).expect("bounded by MAX_STAGE"),
            name: localized(obj, "name", 1, MAX_NAME_CHARS)?,
            description: localized(obj, "description", 0, MAX_DESCRIPTION_CHARS)?,
            thumbnail_url: url(obj, "thumbnail_url")?,
            media_url: url(obj, "media_url")?,
            required_segment,
            adult,
            cost: Tokens(cost),
        })
    }
}

impl ContentItem {
    /// Whether a user may see the item at all: adult items only for age-verified users.
    pub fn visible_to(&self, age_verified: bool) -> bool {
        !self.adult || age_verified
    }
}

fn string<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, InvalidContent> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(invalid(name, "is required")),
        Some(Value::String(s)) if s.contains('\0') => Err(invalid(name, "must not contain NUL")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(name, "must be a string")),
    }
}

fn integer(obj: &Map<String, Value>, name: &str, min: i64, max: i64) -> Result<i64, InvalidContent> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(invalid(name, "is required")),
        Some(v) => v
            .as_i64()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(name, format!("must be an integer from {min} to {max}"))),
    }
}

fn localized(
    obj: &Map<String, Value>,
    name: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<Localized, InvalidContent> {
    let texts = match obj.get(name) {
        Some(Value::Object(texts)) => texts,
        None | Some(Value::Null) => return Err(invalid(name, "is required")),
        Some(_) => return Err(invalid(name, "must be an object {\"ko\": …, \"en\": …}")),
    };
    let text = |lang: &str| {
        let field = format!("{name}.{lang}");
        let text = string(texts, lang).map_err(|e| invalid(&field, e.message))?;
        let chars = text.chars().count();
        if !(min_chars..=max_chars).contains(&chars) {
            return Err(invalid(&field, format!("must be {min_chars} to {max_chars} characters")));
        }
        Ok(text.to_owned())
    };
    if let Some(other) = texts.keys().find(|k| !["ko", "en"].contains(&k.as_str())) {
        return Err(invalid(&format!("{name}.{other}"), "unknown language; give ko and en"));
    }
    Ok(Localized { ko: text("ko")?, en: text("en")? })
}

fn url(obj: &Map<String, Value>, name: &str) -> Result<String, InvalidContent> {
    let text = string(obj, name)?;
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !host_ok || !clean || text.len() > MAX_URL_LEN {
        return Err(invalid(name, format!("must be an http or https URL of at most {MAX_URL_LEN} bytes")));
    }
    Ok(text.to_owned())
}

/// The segment ladder: the configured segments in rule order (the first is the top), the
/// fallback last, as [`crate::segments::SegmentRules::rank`] orders them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder(Vec<String>);

impl Ladder {
    /// `names`: the rules' names in order, then the fallback.
    pub fn new(names: Vec<String>) -> Self {
        assert!(!names.is_empty(), "a ladder has at least the fallback segment");
        Self(names)
    }

    /// A segment's rank (0 is the top); a user no batch has seen, or a segment no longer
    /// configured, ranks as the fallback (the bottom).
    pub fn rank(&self, segment: Option<&str>) -> usize {
        let bottom = self.0.len() - 1;
        segment.and_then(|s| self.0.iter().position(|n| n == s)).unwrap_or(bottom)
    }
}

/// What the rule needs to know of a user and an item, read under the user's lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnlockFacts {
    pub age_verified: bool,
    /// The user's current segment's rank on the [`Ladder`].
    pub segment_rank: usize,
    /// The rank `required_segment` names, if the item names one.
    pub required_rank: Option<usize>,
    /// The user holds the item at the previous stage of the series (true at stage 1).
    pub previous_unlocked: bool,
    pub already_unlocked: bool,
    pub balance: Tokens,
}

/// Why a user may not unlock an item. The wire form is [`UnlockRefusal::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockRefusal {
    AlreadyUnlocked,
    AgeVerificationRequired,
    PreviousStageRequired,
    SegmentLevelRequired,
    InsufficientBalance,
    /// The ledger refused one of the unlock's events (a limit, cool-off, exclusion, a bad
    /// timestamp…): its own rejection.
    Ledger(Rejection),
    /// The request id already names an event that is not this unlock.
    RequestIdConflict,
}

impl UnlockRefusal {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyUnlocked => "already_unlocked",
            Self::AgeVerificationRequired => "age_verification_required",
            Self::PreviousStageRequired => "previous_stage_required",
            Self::SegmentLevelRequired => "segment_level_required",
            Self::InsufficientBalance => "insufficient_balance",
            Self::Ledger(r) => r.code.as_str(),
            Self::RequestIdConflict => "request_id_conflict",
        }
    }

    /// A sentence for humans.
    pub fn message(&self, item: &ContentItem) -> String {
        match self {
            Self::AlreadyUnlocked => format!("`{}` is already unlocked", item.content_id),
            Self::AgeVerificationRequired => {
                format!("`{}` is for adults (19+) and the user is not age-verified", item.content_id)
            }
            Self::PreviousStageRequired => {
                format!("stage {} of series `{}` must be unlocked first", item.stage - 1, item.series)
            }
            Self::SegmentLevelRequired => format!(
                "`{}` needs segment {} or higher",
                item.content_id,
                item.required_segment.as_deref().unwrap_or("?")
            ),
            Self::InsufficientBalance => format!("`{}` costs {} tokens", item.content_id, item.cost),
            Self::Ledger(r) => r.message.clone(),
            Self::RequestIdConflict => "the request id already names another event".to_owned(),
        }
    }
}

/// The rule: may a user with `facts` unlock `item` now? Checked in this order, so a user
/// learns first what no payment can fix. The ledger's own rules (limits, cool-off,
/// exclusion) are applied after it, by the ledger, to the spend.
pub fn check_unlock(item: &ContentItem, facts: &UnlockFacts) -> Result<(), UnlockRefusal> {
    if facts.already_unlocked {
        return Err(UnlockRefusal::AlreadyUnlocked);
    }
    if item.adult && !facts.age_verified {
        return Err(UnlockRefusal::AgeVerificationRequired);
    }
    if item.stage > 1 && !facts.previous_unlocked {
        return Err(UnlockRefusal::PreviousStageRequired);
    }
    if facts.required_rank.is_some_and(|needed| facts.segment_rank > needed) {
        return Err(UnlockRefusal::SegmentLevelRequired);
    }
    if facts.balance < item.cost {
        return Err(UnlockRefusal::InsufficientBalance);
    }
    Ok(())
}

/// The id of the CONTENT_UNLOCK event of an unlock request (the spend carries the request
/// id itself).
pub fn unlock_event_id(request: EventId) -> EventId {
    EventId(Uuid::new_v5(&UNLOCK_EVENT_NAMESPACE, request.0.as_bytes()))
}

/// The events of an unlock, through [`Event::parse`] so that every ledger rule applies: a
/// `SPEND_CYBER_TOKENS` of the cost with the request id (none when the item is free), then
/// the `CONTENT_UNLOCK`. Both carry the item's adult flag, which the ledger's age gate reads.
pub fn unlock_events(
    item: &ContentItem,
    user: &UserId,
    request: EventId,
    ts: Timestamp,
    now: Timestamp,
) -> Vec<Result<Event, Rejection>> {
    let envelope = |id: EventId, kind: &str, props: Value| json!({"event_id": id.to_string(), "user_id": user.as_str(), "type": kind, "ts": ts.to_string(), "props": props});
    let mut raw = Vec::with_capacity(2);
    if item.cost.0 > 0 {
        let props = json!({"amount": item.cost.0, "sink": "unlock", "content_id": item.content_id.as_str()});
        raw.push(envelope(request, "SPEND_CYBER_TOKENS", props));
    }
    let props = json!({"content_id": item.content_id.as_str(), "stage": item.stage, "series": item.series});
    raw.push(envelope(unlock_event_id(request), "CONTENT_UNLOCK", props));
    let policy = ValidationPolicy::default();
    raw.iter()
        .map(|r| {
            Event::parse(r, &policy, now).map(|mut e| {
                e.adult = item.adult;
                e
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
