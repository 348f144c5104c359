//! The outbox on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::notify::Notification;

use super::{SqliteStore, all};
use crate::outbox::UNDELIVERED;
use crate::{Outbox, StoreError, StoredNotification};

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError> {
        self.writer.write(move |conn| super::ledger::enqueue(conn, &notifications, now)).await
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        self.readers.read(move |conn| all(conn, UNDELIVERED, [limit])).await
    }
}
