//! The outbox on PostgreSQL. A claim locks the rows it picks and skips those another claim
//! holds, so concurrent dispatchers share the due rows without waiting on each other.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::notify::Notification;
use playpulse_core::notify::effects::Exposure;

use super::{PgStore, all, exec, first, limit_of};
use crate::outbox::{
    DEVICES, DISABLE_DEVICE, EXPOSURES, OF_USER, ONE, PENDING, RETRY, SENT_SINCE, SETTLE, before_id, claim,
    counted, put_device, settle_columns,
};
use crate::{Device, Outbox, Retried, Settlement, StoreError, StoredNotification};

pub(crate) const CLAIM: &str = claim!(" FOR UPDATE SKIP LOCKED");
const PUT_DEVICE: &str = put_device!(" FOR SHARE");

#[async_trait]
impl Outbox for PgStore {
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError> {
        super::ledger::enqueue(&self.pool.get().await?, &notifications, now).await?;
        Ok(())
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        all(&self.pool.get().await?, PENDING, &[&limit_of(limit)]).await
    }

    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let (now, lease) = (now.as_millisecond(), lease_until.as_millisecond());
        all(&self.pool.get().await?, CLAIM, &[&lease, &now, &limit_of(limit)]).await
    }

    async fn settle_notification(
        &self,
        id: i64,
        claim: i64,
        now: Timestamp,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        let (state, sent, channel, error, reason, next, undo) = settle_columns(settlement, now);
        let client = self.pool.get().await?;
        let changed =
            exec(&client, SETTLE, &[&state, &sent, &channel, &error, &reason, &next, &undo, &id, &claim])
                .await?;
        Ok(changed == 1)
    }

    async fn sent_since(
        &self,
        user: &UserId,
        day_since: Timestamp,
        week_since: Timestamp,
    ) -> Result<(u64, u64), StoreError> {
        let (day, week) = (day_since.as_millisecond(), week_since.as_millisecond());
        let client = self.pool.get().await?;
        Ok(counted(first(&client, SENT_SINCE, &[&day, &user.as_str(), &week]).await?))
    }

    async fn notifications_of(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let client = self.pool.get().await?;
        all(&client, OF_USER, &[&user.as_str(), &before_id(before), &limit_of(limit)]).await
    }

    async fn retry_notification(&self, id: i64, now: Timestamp) -> Result<Retried, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let requeued = exec(&tx, RETRY, &[&now.as_millisecond(), &id]).await? == 1;
        let retried = Retried::from_row(requeued, first(&tx, ONE, &[&id]).await?);
        tx.commit().await?;
        Ok(retried)
    }

    async fn put_device(&self, d: Device) -> Result<bool, StoreError> {
        let at = d.registered_at.as_millisecond();
        let client = self.pool.get().await?;
        Ok(exec(&client, PUT_DEVICE, &[&d.platform, &d.token, &d.app_id, &at, &d.user_id]).await? == 1)
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        all(&self.pool.get().await?, DEVICES, &[&user.as_str()]).await
    }

    async fn disable_device(
        &self,
        platform: &str,
        token: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        exec(&client, DISABLE_DEVICE, &[&now.as_millisecond(), &reason, &platform, &token]).await?;
        Ok(())
    }

    async fn exposures(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Exposure>, StoreError> {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        all(&self.pool.get().await?, EXPOSURES, &[&from, &to]).await
    }
}
