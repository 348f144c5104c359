//! The outbox on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::notify::Notification;

use super::{PgStore, all, limit_of};
use crate::outbox::UNDELIVERED;
use crate::{Outbox, StoreError, StoredNotification};

#[async_trait]
impl Outbox for PgStore {
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError> {
        super::ledger::enqueue(&self.pool.get().await?, &notifications, now).await?;
        Ok(())
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        all(&self.pool.get().await?, UNDELIVERED, &[&limit_of(limit)]).await
    }
}
