//! Export and erasure on PostgreSQL. The erasure holds the user's `users` row for update, so
//! a concurrent batch of theirs either commits before it (and is erased with the rest) or
//! waits and then finds the user erased.
//!
//! PostgreSQL keeps the old row versions until vacuum reclaims them; they are invisible to
//! every query, and gone from the files once autovacuum (or `VACUUM`) has passed.

use async_trait::async_trait;
use futures::future::try_join_all;
use jiff::Timestamp;
use playpulse_core::erasure;
use playpulse_core::ids::UserId;
use tokio_postgres::types::ToSql;

use super::{PgStore, all, exec, first, limit_of};
use crate::privacy::*;
use crate::{StoreError, StoredNotification};

/// Takes the user's row, if any, for the rest of the transaction.
const LOCK_USER: &str = "SELECT user_id FROM users WHERE user_id = $1 FOR UPDATE";

#[async_trait]
impl Privacy for PgStore {
    async fn erase_user(
        &self,
        user: &UserId,
        requested_by: &str,
        now: Timestamp,
    ) -> Result<Erased, StoreError> {
        let pseudonym = self.pseudonyms.of(user);
        let (user, p) = (user.as_str(), pseudonym.as_str());
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let known: Option<String> = first(&tx, LOCK_USER, &[&user]).await?;
        // Read after the lock: a concurrent erasure of the same id has committed by now.
        if let Some(before) = first(&tx, RECEIPT, &[&p]).await? {
            return Ok(Erased::Before(before));
        }
        if known.is_none() {
            return Ok(Erased::UnknownUser);
        }
        for step in &STEPS {
            match step {
                Step::Drop(sql) => exec(&tx, sql, &[&user]).await?,
                Step::Rename(sql) => exec(&tx, sql, &[&p, &user]).await?,
            };
        }
        let rename = tx.prepare_cached(RENAME_EVENT).await?;
        loop {
            let page: Vec<(i64, serde_json::Value)> =
                all(&tx, EVENTS_TO_RENAME, &[&user, &limit_of(RENAME_PAGE)]).await?;
            if page.is_empty() {
                break;
            }
            let kept: Vec<(i64, serde_json::Value)> =
                page.into_iter().map(|(seq, props)| (seq, erasure::kept(&props))).collect();
            let params: Vec<[&(dyn ToSql + Sync); 3]> =
                kept.iter().map(|(seq, props)| [&p as &(dyn ToSql + Sync), props, seq]).collect();
            // Pipelined: one round trip per page, not per event.
            try_join_all(params.iter().map(|row| tx.execute(&rename, row))).await?;
        }
        let receipt = receipt(pseudonym.clone(), requested_by, now);
        let id = receipt.receipt_id.to_string();
        exec(&tx, RECORD_ERASURE, &[&p, &id, &requested_by, &now.as_millisecond(), &user]).await?;
        tx.commit().await?;
        Ok(Erased::Now(receipt))
    }

    async fn erasure(&self, pseudonym: &UserId) -> Result<Option<ErasureReceipt>, StoreError> {
        first(&self.pool.get().await?, RECEIPT, &[&pseudonym.as_str()]).await
    }

    async fn lake_erasures_pending(&self) -> Result<Vec<PendingLakeErasure>, StoreError> {
        all(&self.pool.get().await?, PENDING, &[]).await
    }

    async fn finish_lake_erasure(&self, pseudonym: &UserId, now: Timestamp) -> Result<(), StoreError> {
        exec(&self.pool.get().await?, FINISH, &[&now.as_millisecond(), &pseudonym.as_str()]).await?;
        Ok(())
    }

    async fn user_events(
        &self,
        user: &UserId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<UserEvent>, StoreError> {
        let limit = limit_of(limit.min(crate::MAX_EXPORT_PAGE));
        all(&self.pool.get().await?, USER_EVENTS, &[&user.as_str(), &after_seq, &limit]).await
    }

    async fn user_notifications(&self, user: &UserId) -> Result<Vec<StoredNotification>, StoreError> {
        all(&self.pool.get().await?, USER_NOTIFICATIONS, &[&user.as_str()]).await
    }

    async fn segment_history(&self, user: &UserId) -> Result<Vec<SegmentChange>, StoreError> {
        all(&self.pool.get().await?, SEGMENT_HISTORY, &[&user.as_str()]).await
    }
}
