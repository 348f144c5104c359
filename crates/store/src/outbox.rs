//! The notification outbox: rows written in the transaction that caused them.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::notify::Notification;

use crate::StoreError;
use crate::rows::{Cells, FromCells};

/// A notification as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    pub id: i64,
    pub kind: String,
    pub user_id: String,
    pub dedupe_key: String,
    pub payload: serde_json::Value,
}

/// Notifications waiting for delivery.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds notifications to the outbox at `now`; ones whose dedupe key is already there
    /// are skipped.
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError>;

    /// Undelivered notifications, oldest first.
    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError>;
}

pub(crate) const UNDELIVERED: &str = "SELECT id, kind, user_id, dedupe_key, payload FROM outbox \
     WHERE delivered_at_ms IS NULL ORDER BY id LIMIT $1";

impl FromCells for StoredNotification {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(StoredNotification {
            id: row.get(at)?,
            kind: row.get(at + 1)?,
            user_id: row.get(at + 2)?,
            dedupe_key: row.get(at + 3)?,
            payload: row.get(at + 4)?,
        })
    }
}
