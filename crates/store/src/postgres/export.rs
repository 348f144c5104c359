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
        // below them. One statement, so the page, what is held back and the horizon come from
        // one snapshot. Every mark is below an earlier snapshot's xmin, so the first held-back
        // event is simply the first at or after this one's: the index starts right there.
        let stmt = client
            .prepare_cached(
                "WITH snap AS (SELECT pg_snapshot_xmin(s) AS xmin, pg_snapshot_xmax(s) AS xmax \
                   FROM pg_current_snapshot() AS s), \
                 page AS (SELECT e.txid, e.seq, e.event_id, e.user_id, e.type, e.ts_ms, e.props FROM events e, snap \
                   WHERE (e.txid, e.seq) > ($1::text::xid8, $2) AND e.txid < snap.xmin ORDER BY e.txid, e.seq LIMIT $3), \
                 held AS (SELECT e.txid, e.seq FROM events e, snap WHERE e.txid >= snap.xmin \
                   ORDER BY e.txid, e.seq LIMIT 1) \
                 SELECT p.txid::text::int8, p.seq, p.event_id, p.user_id, p.type, p.ts_ms, p.props::text, \
                   (SELECT txid::text::int8 FROM held), (SELECT seq FROM held), (SELECT xmax::text::int8 FROM snap) \
                 FROM (SELECT 1) AS one LEFT JOIN page p ON true ORDER BY p.txid, p.seq",
            )
            .await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client.query(&stmt, &[&mark.txid.to_string(), &mark.seq, &limit]).await?;
        let mut next = mark;
        let mut events = Vec::with_capacity(rows.len());
        let (mut held_back, mut horizon) = (None, ExportMark::default());
        for row in &rows {
            if let (Some(txid), Some(seq)) = (row.try_get(7)?, row.try_get(8)?) {
                held_back = Some(ExportMark { txid, seq });
            }
            horizon = ExportMark { txid: row.try_get(9)?, seq: 0 };
            // An empty page is one row of NULLs carrying only the snapshot's columns.
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
        Ok(ExportPage { events, next, held_back, horizon })
    }
}
