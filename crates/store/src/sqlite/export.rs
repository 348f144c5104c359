//! The lake export's feed on SQLite: one writer commits in `seq` order, so every `seq` a
//! reader sees is final and `seq` alone is the mark.

use async_trait::async_trait;
use playpulse_core::ids::EventId;
use rusqlite::params;

use super::SqliteStore;
use crate::{ExportFeed, ExportMark, ExportPage, StoreError, StoredEvent};

const PAGE: &str =
    "SELECT seq, event_id, user_id, type, ts_ms, props FROM events WHERE seq > $1 ORDER BY seq LIMIT $2";

#[async_trait]
impl ExportFeed for SqliteStore {
    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(PAGE)?;
                let mut rows = stmt.query(params![mark.seq, limit])?;
                let mut next = mark;
                let mut events = Vec::with_capacity(limit.min(crate::MAX_EXPORT_PAGE));
                while let Some(row) = rows.next()? {
                    next.seq = row.get(0)?;
                    events.push(StoredEvent {
                        seq: next.seq,
                        event_id: EventId(row.get(1)?),
                        user_id: row.get(2)?,
                        event_type: row.get(3)?,
                        ts_ms: row.get(4)?,
                        props: row.get(5)?,
                    });
                }
                // One writer commits in seq order: nothing is ever held back, and nothing
                // committed later can come before any mark.
                Ok(ExportPage {
                    events,
                    next,
                    held_back: None,
                    horizon: ExportMark { txid: 0, seq: i64::MAX },
                })
            })
            .await
    }
}
