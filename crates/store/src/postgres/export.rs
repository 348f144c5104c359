//! The lake export's feed on PostgreSQL: ordered by committing transaction, then `seq`.

use async_trait::async_trait;
use playpulse_core::ids::EventId;

use super::PgStore;
use crate::{ExportFeed, ExportMark, ExportPage, StoreError, StoredEvent};

#[async_trait]
impl ExportFeed for PgStore {
    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError> {
        let client = self.pool.get().await?;
        // Only transactions older than the oldest one still running (in the whole cluster:
        // transaction ids are shared by its databases) are final: nothing can later commit
        // below them. One statement, so the page and `pending` see the same snapshot.
        // `pending` needs no bound by the mark: every mark is below an earlier snapshot's
        // xmin, so at or after this one's is past it, and the index starts right there
        // instead of walking every final event after the mark.
        let stmt = client
        .prepare_cached(
            "WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin), \
             page AS (SELECT e.txid, e.seq, e.event_id, e.user_id, e.type, e.ts_ms, e.props FROM events e, snap \
               WHERE (e.txid, e.seq) > ($1::text::xid8, $2) AND e.txid < snap.xmin ORDER BY e.txid, e.seq LIMIT $3) \
             SELECT p.txid::text::int8, p.seq, p.event_id, p.user_id, p.type, p.ts_ms, p.props::text, \
               EXISTS (SELECT 1 FROM events e, snap WHERE e.txid >= snap.xmin) \
             FROM (SELECT 1) AS one LEFT JOIN page p ON true ORDER BY p.txid, p.seq",
        )
        .await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client.query(&stmt, &[&mark.txid.to_string(), &mark.seq, &limit]).await?;
        let mut next = mark;
        let mut events = Vec::with_capacity(rows.len());
        let mut pending = false;
        for row in &rows {
            pending = row.try_get(7)?;
            // An empty page is one row of NULLs carrying only `pending`.
            let (Some(txid), Some(seq)) = (row.try_get(0)?, row.try_get(1)?) else { continue };
            next = ExportMark { txid, seq };
            events.push(StoredEvent {
                seq,
                event_id: EventId(row.try_get(2)?),
                user_id: row.try_get(3)?,
                event_type: row.try_get(4)?,
                ts_ms: row.try_get(5)?,
                props: row.try_get(6)?,
            });
        }
        Ok(ExportPage { events, next, pending })
    }
}
