//! A user's data on request: everything held about them (export) and its erasure.
//!
//! Erasure is one transaction: rows derived from the user (state, segments, hours, quiz
//! answers, notifications) are deleted; rows that token totals rest on (events, ledger
//! entries, balance, partner records, unlocked rewards) stay under the user's pseudonym
//! ([`playpulse_core::erasure`]), events keeping only the props the ledger and analytics
//! read. An `erasures` row records who asked and when, under the pseudonym: it is how a
//! second request finds the first and how ingest refuses the erased id. The erased id itself
//! is kept there only until the lake's copy is rewritten too ([`Privacy::finish_lake_erasure`]).
//!
//! The per-user access path is the `events_by_user` index (migration 0011): export pages and
//! erasure find a user's events through it instead of scanning every event.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::erasure::{KEY_LEN, Pseudonyms};
use playpulse_core::ids::UserId;
use uuid::Uuid;

use crate::rows::{Cells, FromCells, instant};
use crate::{StoreError, StoredNotification};

/// The record of an erasure, with nothing of the erased user but their pseudonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    pub receipt_id: Uuid,
    pub pseudonym: UserId,
    /// The API key (or operator) that asked.
    pub requested_by: String,
    pub erased_at: Timestamp,
    /// When the lake's copy was rewritten; `None` while that is still to do.
    pub lake_erased_at: Option<Timestamp>,
}

/// How an erasure request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// Erased by this request.
    Now(ErasureReceipt),
    /// Erased before: nothing changed, the first receipt is returned.
    Before(ErasureReceipt),
    /// Nothing is held about this id.
    UnknownUser,
}

/// An erasure whose lake copy is still to be rewritten: the one place the erased id remains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLakeErasure {
    pub user: UserId,
    pub receipt: ErasureReceipt,
}

/// One stored event of a user, as the export shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub ts: Timestamp,
    pub received_at: Timestamp,
    pub props: serde_json::Value,
}

/// A change of a user's segment, by night.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentChange {
    pub as_of: Date,
    pub previous: Option<String>,
    pub segment: String,
}

/// Export and erasure of one user's data.
#[async_trait]
pub trait Privacy: Send + Sync {
    /// Erases `user` at `now` on behalf of `requested_by`; idempotent.
    async fn erase_user(
        &self,
        user: &UserId,
        requested_by: &str,
        now: Timestamp,
    ) -> Result<Erased, StoreError>;

    /// The receipt of the erasure that gave `pseudonym`, if there was one.
    async fn erasure(&self, pseudonym: &UserId) -> Result<Option<ErasureReceipt>, StoreError>;

    /// Erasures whose lake copy is still to be rewritten, oldest first.
    async fn lake_erasures_pending(&self) -> Result<Vec<PendingLakeErasure>, StoreError>;

    /// Records that the lake no longer holds the erased id, and forgets it.
    async fn finish_lake_erasure(&self, pseudonym: &UserId, now: Timestamp) -> Result<(), StoreError>;

    /// A user's events after `after_seq`, in stored order, at most `limit`.
    async fn user_events(
        &self,
        user: &UserId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<UserEvent>, StoreError>;

    /// Every notification queued for a user, oldest first.
    async fn user_notifications(&self, user: &UserId) -> Result<Vec<StoredNotification>, StoreError>;

    /// Every recorded change of a user's segment, oldest first.
    async fn segment_history(&self, user: &UserId) -> Result<Vec<SegmentChange>, StoreError>;
}

/// Rows the pseudonyms' key is kept in; made once, by whichever instance comes first.
pub(crate) const SEED_KEY: &str =
    "INSERT INTO store_secrets (name, secret) VALUES ('pseudonyms', $1) ON CONFLICT (name) DO NOTHING";
pub(crate) const KEY: &str = "SELECT secret FROM store_secrets WHERE name = 'pseudonyms'";

/// A fresh random key, hex-encoded, for [`SEED_KEY`].
pub(crate) fn new_key() -> String {
    let bytes: Vec<u8> = [Uuid::new_v4(), Uuid::new_v4()].iter().flat_map(|u| *u.as_bytes()).collect();
    hex::encode(bytes)
}

pub(crate) fn missing_key() -> StoreError {
    StoreError::Corrupt("the pseudonyms' key is missing".into())
}

/// The pseudonyms under the stored key.
pub(crate) fn pseudonyms(stored: &str) -> Result<Pseudonyms, StoreError> {
    let key: [u8; KEY_LEN] = hex::decode(stored)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("the pseudonyms' key".into()))?;
    Ok(Pseudonyms::new(key))
}

/// Whether an id is known, or already erased (by its pseudonym).
pub(crate) const KNOWN_USER: &str = "SELECT COUNT(*) FROM users WHERE user_id = $1";
pub(crate) const RECEIPT: &str = "SELECT pseudonym, receipt_id, requested_by, erased_at_ms, lake_erased_at_ms \
     FROM erasures WHERE pseudonym = $1";
pub(crate) const RECORD_ERASURE: &str = "INSERT INTO erasures \
     (pseudonym, receipt_id, requested_by, erased_at_ms, pending_user_id) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const PENDING: &str = "SELECT pending_user_id, pseudonym, receipt_id, requested_by, erased_at_ms, lake_erased_at_ms \
     FROM erasures WHERE lake_erased_at_ms IS NULL ORDER BY erased_at_ms, pseudonym";
pub(crate) const FINISH: &str =
    "UPDATE erasures SET lake_erased_at_ms = $1, pending_user_id = NULL WHERE pseudonym = $2";

/// What erasure does to each table, in this order (`$1` the user, or `$1` the pseudonym and
/// `$2` the user): derived rows go; the pseudonym's `users` row is made before the rows that
/// reference it move, and the user's own goes last.
pub(crate) enum Step {
    Drop(&'static str),
    Rename(&'static str),
}

#[cfg(test)]
impl Step {
    pub(crate) fn sql(&self) -> &'static str {
        match self {
            Step::Drop(sql) | Step::Rename(sql) => sql,
        }
    }
}

pub(crate) const STEPS: [Step; 15] = [
    Step::Drop("DELETE FROM user_state WHERE user_id = $1"),
    Step::Drop("DELETE FROM user_scores WHERE user_id = $1"),
    Step::Drop("DELETE FROM user_segments WHERE user_id = $1"),
    Step::Drop("DELETE FROM segment_history WHERE user_id = $1"),
    Step::Drop("DELETE FROM user_hours WHERE user_id = $1"),
    Step::Drop("DELETE FROM quiz_responses WHERE user_id = $1"),
    Step::Drop("DELETE FROM outbox WHERE user_id = $1"),
    Step::Drop("DELETE FROM devices WHERE user_id = $1"),
    Step::Rename(
        "INSERT INTO users (user_id, created_at_ms) SELECT $1, created_at_ms FROM users WHERE user_id = $2",
    ),
    Step::Rename("UPDATE user_rewards SET user_id = $1 WHERE user_id = $2"),
    Step::Drop("DELETE FROM users WHERE user_id = $1"),
    Step::Rename("UPDATE ledger_entries SET user_id = $1 WHERE user_id = $2"),
    Step::Rename("UPDATE balances SET user_id = $1 WHERE user_id = $2"),
    // A page address may say who the visitor was; the campaign is the partner's own.
    Step::Rename("UPDATE site_visits SET user_id = $1, page = NULL WHERE user_id = $2"),
    Step::Rename("UPDATE site_rewards SET user_id = $1 WHERE user_id = $2"),
];

/// The next events of the user still under their id (each page is renamed before the next).
pub(crate) const EVENTS_TO_RENAME: &str =
    "SELECT seq, props FROM events WHERE user_id = $1 ORDER BY seq LIMIT $2";
pub(crate) const RENAME_EVENT: &str = "UPDATE events SET user_id = $1, props = $2 WHERE seq = $3";
/// Events renamed per round trip.
pub(crate) const RENAME_PAGE: usize = 1_000;

pub(crate) const USER_EVENTS: &str = "SELECT seq, event_id, type, ts_ms, received_at_ms, props \
     FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
pub(crate) const USER_NOTIFICATIONS: &str =
    concat!("SELECT ", crate::outbox::notification_columns!(), " FROM outbox WHERE user_id = $1 ORDER BY id");
pub(crate) const SEGMENT_HISTORY: &str =
    "SELECT as_of, previous, segment FROM segment_history WHERE user_id = $1 ORDER BY as_of";
/// Which of some users (by pseudonym) were erased: ingest refuses their events.
pub(crate) const ERASED: &str = "SELECT pseudonym FROM erasures WHERE pseudonym = $1";

impl FromCells for ErasureReceipt {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let receipt: String = row.get(at + 1)?;
        Ok(ErasureReceipt {
            pseudonym: UserId::from_cells(row, at)?,
            receipt_id: Uuid::parse_str(&receipt).map_err(|_| StoreError::Corrupt("receipt id".into()))?,
            requested_by: row.get(at + 2)?,
            erased_at: instant(row.get(at + 3)?)?,
            lake_erased_at: row.get::<Option<i64>>(at + 4)?.map(instant).transpose()?,
        })
    }
}

impl FromCells for PendingLakeErasure {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(PendingLakeErasure {
            user: UserId::from_cells(row, at)?,
            receipt: ErasureReceipt::from_cells(row, at + 1)?,
        })
    }
}

impl FromCells for UserEvent {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(UserEvent {
            seq: row.get(at)?,
            event_id: row.get(at + 1)?,
            event_type: row.get(at + 2)?,
            ts: instant(row.get(at + 3)?)?,
            received_at: instant(row.get(at + 4)?)?,
            props: row.get(at + 5)?,
        })
    }
}

impl FromCells for SegmentChange {
    const WIDTH: usize = 3;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(SegmentChange { as_of: row.get(at)?, previous: row.get(at + 1)?, segment: row.get(at + 2)? })
    }
}

/// A new receipt for `pseudonym`.
pub(crate) fn receipt(pseudonym: UserId, requested_by: &str, now: Timestamp) -> ErasureReceipt {
    ErasureReceipt {
        receipt_id: Uuid::new_v4(),
        pseudonym,
        requested_by: requested_by.to_owned(),
        erased_at: now,
        lake_erased_at: None,
    }
}
