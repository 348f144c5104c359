//! The content catalog (items, their versions) and the unlocks users hold (`user_rewards`).
//!
//! An unlock is one transaction on the ledger's write path: the backend plans the unlock's
//! events with the ledger's `plan_in` (which locks the user on PostgreSQL; SQLite has one
//! writer), reads the facts of the rule under that lock, decides with [`decide_unlock`] (the
//! pure rule of `core::content` and the ledger's verdict), and writes the plan and the reward
//! together, or nothing.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::content::{ContentId, ContentItem, Ladder, UnlockFacts, UnlockRefusal, check_unlock};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::{Outcome, Plan};
use playpulse_core::ledger::UserState;
use playpulse_core::tokens::Tokens;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant, json};

/// An item as stored: its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContent {
    pub item: ContentItem,
    /// 1 for a new item, one more at every change (retiring included).
    pub version: i64,
    /// Retired (deleted) items stay for history and for the users who hold them.
    pub retired: bool,
    pub updated_at: Timestamp,
}

/// The version a write expects to replace (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A create: no item of that id may exist.
    Absent,
    /// An update of exactly this version.
    Version(i64),
    /// Whatever is there, if anything (imports).
    Any,
}

/// How a write of the catalog ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentSaved {
    /// Written (or already so: the same item saved again keeps its version).
    Saved {
        stored: Box<StoredContent>,
        created: bool,
        changed: bool,
    },
    /// A create of an id that exists (live or retired).
    Exists,
    UnknownContent,
    /// The item changed since the version the writer read.
    VersionConflict {
        current: i64,
    },
    /// Another live item holds that stage of that series.
    StageTaken {
        by: ContentId,
    },
}

/// What an import did, when it did it all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// One unlock a user holds (a `content_unlock` row of `user_rewards`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentUnlock {
    pub user: UserId,
    pub content_id: ContentId,
    /// Tokens it cost.
    pub tokens: Tokens,
    /// When it happened (the request's `ts`).
    pub awarded_at: Timestamp,
    /// The action that caused it: `unlock_request:<request id>`.
    pub triggered_by: String,
    /// The CONTENT_UNLOCK event that records it.
    pub event_id: EventId,
}

/// An unlock to attempt.
#[derive(Debug, Clone)]
pub struct UnlockRequest {
    pub user: UserId,
    pub content_id: ContentId,
    /// The client's idempotency key: the spend's event id.
    pub request: EventId,
    /// When it happened (analytics); the rules are judged at `now`.
    pub ts: Timestamp,
    pub now: Timestamp,
    /// The segments, to rank the user's and the item's requirement.
    pub ladder: Ladder,
}

/// How an unlock ended. Only `Unlocked` wrote anything.
#[derive(Debug, Clone)]
pub enum UnlockOutcome {
    /// Unlocked now; the user's new state is for the hot cache.
    Unlocked {
        unlock: ContentUnlock,
        state: Box<UserState>,
    },
    /// The request id was already this unlock: the original answer, nothing changed.
    Replayed(ContentUnlock),
    Refused {
        item: Box<ContentItem>,
        refusal: UnlockRefusal,
    },
    /// No live item of that id.
    UnknownContent,
}

/// The catalog and the unlocks. Every method is one transaction.
#[async_trait]
pub trait Content: Send + Sync {
    /// Every item (retired ones too), by series and stage, at most `MAX_CATALOG_ITEMS`.
    async fn content_items(&self) -> Result<Vec<StoredContent>, StoreError>;

    async fn content_item(&self, id: &ContentId) -> Result<Option<StoredContent>, StoreError>;

    /// Creates or replaces an item (reviving a retired one), expecting `expected`.
    async fn save_content(
        &self,
        item: ContentItem,
        expected: Expected,
        now: Timestamp,
    ) -> Result<ContentSaved, StoreError>;

    /// Saves every item (created or updated) or, on the first that cannot be saved, none:
    /// that item's id and why.
    async fn import_content(
        &self,
        items: Vec<ContentItem>,
        now: Timestamp,
    ) -> Result<Result<ImportCounts, (ContentId, ContentSaved)>, StoreError>;

    /// Retires an item; its history and its holders' unlocks stay.
    async fn retire_content(&self, id: &ContentId, now: Timestamp) -> Result<ContentSaved, StoreError>;

    /// An item's versions, newest first.
    async fn content_versions(&self, id: &ContentId) -> Result<Vec<StoredContent>, StoreError>;

    /// The items a user unlocked, in unlock order.
    async fn unlocks_of(&self, user: &UserId) -> Result<Vec<ContentUnlock>, StoreError>;

    /// Unlocks an item for a user: the spend, the CONTENT_UNLOCK event and the reward in one
    /// transaction, or nothing.
    async fn unlock_content(&self, request: UnlockRequest) -> Result<UnlockOutcome, StoreError>;

    /// Unlocks per item, counted in the operational DB.
    async fn unlock_counts(&self) -> Result<Vec<(ContentId, u64)>, StoreError>;
}

pub(crate) const ITEMS: &str = "SELECT body, version, retired, updated_at_ms FROM content_items \
     ORDER BY series, stage, content_id LIMIT $1";
pub(crate) const ITEM: &str =
    "SELECT body, version, retired, updated_at_ms FROM content_items WHERE content_id = $1";
pub(crate) const STAGE_HOLDER: &str = "SELECT content_id FROM content_items \
     WHERE series = $1 AND stage = $2 AND retired = FALSE AND content_id <> $3";
pub(crate) const UPSERT_ITEM: &str = "INSERT INTO content_items \
     (content_id, series, stage, adult, cost, body, version, retired, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (content_id) DO UPDATE SET \
     series = excluded.series, stage = excluded.stage, adult = excluded.adult, cost = excluded.cost, \
     body = excluded.body, version = excluded.version, retired = excluded.retired, \
     updated_at_ms = excluded.updated_at_ms";
pub(crate) const INSERT_VERSION: &str = "INSERT INTO content_versions \
     (content_id, version, body, retired, changed_at_ms) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const VERSIONS: &str = "SELECT body, version, retired, changed_at_ms FROM content_versions \
     WHERE content_id = $1 ORDER BY version DESC LIMIT $2";

pub(crate) const UNLOCKS_OF: &str = "SELECT user_id, value, tokens, awarded_at_ms, triggered_by, event_id \
     FROM user_rewards WHERE user_id = $1 AND reward_type = 'content_unlock' ORDER BY reward_id LIMIT $2";
pub(crate) const UNLOCK_OF: &str = "SELECT user_id, value, tokens, awarded_at_ms, triggered_by, event_id \
     FROM user_rewards WHERE user_id = $1 AND reward_type = 'content_unlock' AND value = $2";
pub(crate) const REWARD_BY_EVENT: &str = "SELECT user_id, value, tokens, awarded_at_ms, triggered_by, \
     event_id FROM user_rewards WHERE event_id = $1";
/// Whether the user holds the item at a stage of a series (retired items count: they hold it).
pub(crate) const HOLDS_STAGE: &str = "SELECT COUNT(*) FROM user_rewards r \
     JOIN content_items c ON c.content_id = r.value \
     WHERE r.user_id = $1 AND r.reward_type = 'content_unlock' AND c.series = $2 AND c.stage = $3";
pub(crate) const SEGMENT_OF: &str = "SELECT segment FROM user_segments WHERE user_id = $1";
pub(crate) const INSERT_UNLOCK: &str = "INSERT INTO user_rewards \
     (user_id, reward_type, value, tokens, awarded_at_ms, triggered_by, event_id) \
     VALUES ($1, 'content_unlock', $2, $3, $4, $5, $6)";
pub(crate) const UNLOCK_COUNTS: &str = "SELECT value, COUNT(*) FROM user_rewards \
     WHERE reward_type = 'content_unlock' GROUP BY value ORDER BY value";

impl FromCells for StoredContent {
    const WIDTH: usize = 4;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(StoredContent {
            item: json(&row.get::<String>(at)?)?,
            version: row.get(at + 1)?,
            retired: row.get(at + 2)?,
            updated_at: instant(row.get(at + 3)?)?,
        })
    }
}

impl FromCells for ContentId {
    const WIDTH: usize = 1;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let text: String = row.get(at)?;
        ContentId::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("content id {text}")))
    }
}

impl FromCells for ContentUnlock {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(ContentUnlock {
            user: UserId::from_cells(row, at)?,
            content_id: ContentId::from_cells(row, at + 1)?,
            tokens: Tokens(row.get(at + 2)?),
            awarded_at: instant(row.get(at + 3)?)?,
            triggered_by: row.get(at + 4)?,
            event_id: EventId(row.get(at + 5)?),
        })
    }
}

/// What a save writes: the next version, or the answer without writing.
pub(crate) enum SaveStep {
    Write { version: i64, created: bool },
    Answer(ContentSaved),
}

/// The rule of a save, one body for both backends: `current` is the stored item (read
/// under a lock on PostgreSQL), `holder` the other live item at the new item's stage.
pub(crate) fn decide_save(
    item: &ContentItem,
    current: Option<StoredContent>,
    expected: Expected,
    holder: Option<ContentId>,
) -> SaveStep {
    match (&current, expected) {
        (Some(_), Expected::Absent) => return SaveStep::Answer(ContentSaved::Exists),
        (None, Expected::Version(_)) => return SaveStep::Answer(ContentSaved::UnknownContent),
        (Some(c), Expected::Version(v)) if c.version != v => {
            return SaveStep::Answer(ContentSaved::VersionConflict { current: c.version });
        }
        _ => {}
    }
    if let Some(by) = holder {
        return SaveStep::Answer(ContentSaved::StageTaken { by });
    }
    match current {
        Some(c) if c.item == *item && !c.retired => {
            SaveStep::Answer(ContentSaved::Saved { stored: Box::new(c), created: false, changed: false })
        }
        Some(c) => SaveStep::Write { version: c.version + 1, created: false },
        None => SaveStep::Write { version: 1, created: true },
    }
}

/// The stored form of a write that [`decide_save`] allowed.
pub(crate) fn saved(
    item: ContentItem,
    version: i64,
    retired: bool,
    created: bool,
    now: Timestamp,
) -> ContentSaved {
    ContentSaved::Saved {
        stored: Box::new(StoredContent { item, version, retired, updated_at: now }),
        created,
        changed: true,
    }
}

/// The facts of the rule as a backend read them under the user's lock.
pub(crate) struct ReadFacts {
    pub already_unlocked: bool,
    pub previous_unlocked: bool,
    pub segment: Option<String>,
}

/// The decision of an unlock, one body for both backends: the catalog's rule first, then
/// the ledger's verdict on the unlock's events. A duplicate event means the request id names
/// an event that is not this unlock (a replay of this unlock was answered before).
pub(crate) fn decide_unlock(
    item: &ContentItem,
    read: &ReadFacts,
    prior: Option<&UserState>,
    ladder: &Ladder,
    plan: &Plan,
) -> Result<(), UnlockRefusal> {
    let facts = UnlockFacts {
        age_verified: prior.is_some_and(|s| s.age_verified),
        segment_rank: ladder.rank(read.segment.as_deref()),
        required_rank: item.required_segment.as_deref().map(|s| ladder.rank(Some(s))),
        previous_unlocked: read.previous_unlocked,
        already_unlocked: read.already_unlocked,
        balance: prior.map_or(Tokens::ZERO, |s| s.balance),
    };
    check_unlock(item, &facts)?;
    for outcome in &plan.outcomes {
        match outcome {
            Outcome::Accepted => {}
            Outcome::Duplicate => return Err(UnlockRefusal::RequestIdConflict),
            Outcome::Rejected(r) => return Err(UnlockRefusal::Ledger(r.clone())),
        }
    }
    Ok(())
}

/// A replayed request id: the original unlock if it is this one, else a conflict.
pub(crate) fn replay(found: ContentUnlock, request: &UnlockRequest, item: &ContentItem) -> UnlockOutcome {
    if found.user == request.user && found.content_id == request.content_id {
        UnlockOutcome::Replayed(found)
    } else {
        UnlockOutcome::Refused { item: Box::new(item.clone()), refusal: UnlockRefusal::RequestIdConflict }
    }
}

/// The `triggered_by` of an unlock request.
pub(crate) fn trigger(request: EventId) -> String {
    format!("unlock_request:{request}")
}
