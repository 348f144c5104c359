//! Export and erasure on SQLite. Every connection zeroes what it deletes (`secure_delete`);
//! an erasure then empties the write-ahead log, so no old page image keeps the erased id.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::erasure;
use playpulse_core::ids::UserId;
use rusqlite::{Connection, params};

use super::{SqliteStore, all, exec, first};
use crate::privacy::*;
use crate::{StoreError, StoredNotification};

#[async_trait]
impl Privacy for SqliteStore {
    async fn erase_user(
        &self,
        user: &UserId,
        requested_by: &str,
        now: Timestamp,
    ) -> Result<Erased, StoreError> {
        let (user, by, pseudonym) = (user.clone(), requested_by.to_owned(), self.pseudonyms.of(user));
        let erased = self
            .writer
            .write(move |conn| {
                if let Some(before) = first(conn, RECEIPT, [pseudonym.as_str()])? {
                    return Ok(Erased::Before(before));
                }
                if first::<i64>(conn, KNOWN_USER, [user.as_str()])? != Some(1) {
                    return Ok(Erased::UnknownUser);
                }
                erase(conn, &user, &pseudonym, &by, now)
            })
            .await?;
        if matches!(erased, Erased::Now(_)) {
            self.empty_the_log().await?;
        }
        Ok(erased)
    }

    async fn erasure(&self, pseudonym: &UserId) -> Result<Option<ErasureReceipt>, StoreError> {
        let pseudonym = pseudonym.clone();
        self.readers.read(move |conn| first(conn, RECEIPT, [pseudonym.as_str()])).await
    }

    async fn lake_erasures_pending(&self) -> Result<Vec<PendingLakeErasure>, StoreError> {
        self.readers.read(|conn| all(conn, PENDING, [])).await
    }

    async fn finish_lake_erasure(&self, pseudonym: &UserId, now: Timestamp) -> Result<(), StoreError> {
        let pseudonym = pseudonym.clone();
        self.writer
            .write(move |conn| exec(conn, FINISH, params![now.as_millisecond(), pseudonym.as_str()]))
            .await?;
        self.empty_the_log().await
    }

    async fn user_events(
        &self,
        user: &UserId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<UserEvent>, StoreError> {
        let (user, limit) = (user.clone(), limit.min(crate::MAX_EXPORT_PAGE));
        self.readers.read(move |conn| all(conn, USER_EVENTS, params![user.as_str(), after_seq, limit])).await
    }

    async fn user_notifications(&self, user: &UserId) -> Result<Vec<StoredNotification>, StoreError> {
        let user = user.clone();
        self.readers.read(move |conn| all(conn, USER_NOTIFICATIONS, [user.as_str()])).await
    }

    async fn segment_history(&self, user: &UserId) -> Result<Vec<SegmentChange>, StoreError> {
        let user = user.clone();
        self.readers.read(move |conn| all(conn, SEGMENT_HISTORY, [user.as_str()])).await
    }
}

fn erase(
    conn: &Connection,
    user: &UserId,
    pseudonym: &UserId,
    by: &str,
    now: Timestamp,
) -> Result<Erased, StoreError> {
    let (user, pseudonym) = (user.as_str(), pseudonym.as_str());
    for step in &STEPS {
        match step {
            Step::Drop(sql) => exec(conn, sql, [user])?,
            Step::Rename(sql) => exec(conn, sql, [pseudonym, user])?,
        };
    }
    loop {
        let page: Vec<(i64, serde_json::Value)> = all(conn, EVENTS_TO_RENAME, params![user, RENAME_PAGE])?;
        if page.is_empty() {
            break;
        }
        for (seq, props) in page {
            exec(conn, RENAME_EVENT, params![pseudonym, erasure::kept(&props), seq])?;
        }
    }
    let receipt = receipt(UserId::parse(pseudonym).expect("a pseudonym is a user id"), by, now);
    let id = receipt.receipt_id.to_string();
    exec(conn, RECORD_ERASURE, params![pseudonym, id, by, now.as_millisecond(), user])?;
    Ok(Erased::Now(receipt))
}

impl SqliteStore {
    /// Copies the log into the file and truncates it: the log would otherwise keep the
    /// pages as they were before the erasure until it wraps around.
    async fn empty_the_log(&self) -> Result<(), StoreError> {
        self.readers.read(|conn| Ok(conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)).await
    }
}
