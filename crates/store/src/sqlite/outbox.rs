//! The outbox on SQLite. Its one writer runs each claim whole, so two claims never meet.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::notify::Notification;
use playpulse_core::notify::effects::Exposure;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::outbox::{
    DEVICES, DISABLE_DEVICE, EXPOSURES, OF_USER, ONE, PENDING, RETRY, SENT_SINCE, SETTLE, before_id, claim,
    counted, put_device, settle_columns,
};
use crate::{Device, Outbox, Retried, Settlement, StoreError, StoredNotification};

pub(crate) const CLAIM: &str = claim!("");
pub(crate) const PUT_DEVICE: &str = put_device!("");

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError> {
        self.writer.write(move |conn| super::ledger::enqueue(conn, &notifications, now)).await
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        self.readers.read(move |conn| all(conn, PENDING, [limit])).await
    }

    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let (now, lease) = (now.as_millisecond(), lease_until.as_millisecond());
        self.writer.write(move |conn| all(conn, CLAIM, params![lease, now, limit])).await
    }

    async fn settle_notification(
        &self,
        id: i64,
        claim: i64,
        now: Timestamp,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        let (state, sent, channel, error, reason, next, undo) = settle_columns(settlement, now);
        self.writer
            .write(move |conn| {
                let values = params![state, sent, channel, error, reason, next, undo, id, claim];
                Ok(exec(conn, SETTLE, values)? == 1)
            })
            .await
    }

    async fn sent_since(
        &self,
        user: &UserId,
        day_since: Timestamp,
        week_since: Timestamp,
    ) -> Result<(u64, u64), StoreError> {
        let (user, day, week) = (user.clone(), day_since.as_millisecond(), week_since.as_millisecond());
        let counts =
            self.readers.read(move |conn| first(conn, SENT_SINCE, params![day, user.as_str(), week])).await?;
        Ok(counted(counts))
    }

    async fn notifications_of(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let user = user.clone();
        self.readers
            .read(move |conn| all(conn, OF_USER, params![user.as_str(), before_id(before), limit]))
            .await
    }

    async fn retry_notification(&self, id: i64, now: Timestamp) -> Result<Retried, StoreError> {
        self.writer
            .write(move |conn| {
                let requeued = exec(conn, RETRY, params![now.as_millisecond(), id])? == 1;
                Ok(Retried::from_row(requeued, first(conn, ONE, [id])?))
            })
            .await
    }

    async fn put_device(&self, d: Device) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let at = d.registered_at.as_millisecond();
                Ok(exec(conn, PUT_DEVICE, params![d.platform, d.token, d.app_id, at, d.user_id])? == 1)
            })
            .await
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        let user = user.clone();
        self.readers.read(move |conn| all(conn, DEVICES, [user.as_str()])).await
    }

    async fn disable_device(
        &self,
        platform: &str,
        token: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (platform, token, reason) = (platform.to_owned(), token.to_owned(), reason.to_owned());
        self.writer
            .write(move |conn| {
                exec(conn, DISABLE_DEVICE, params![now.as_millisecond(), reason, platform, token])?;
                Ok(())
            })
            .await
    }

    async fn exposures(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Exposure>, StoreError> {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        self.readers.read(move |conn| all(conn, EXPOSURES, params![from, to])).await
    }
}
