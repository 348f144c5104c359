//! Reads and writes of what the batch derives: the lake export's feed, segments and their
//! history, the notification outbox.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use playpulse_core::ids::{EventId, UserId};
use tokio_postgres::Row;

use super::Params;
use crate::columns::SegmentRow;
use crate::{
    ExportMark, ExportPage, JobOutcome, JobRun, StoreError, StoredEvent, StoredNotification, StoredSegment,
};

/// Segments written per statement.
const SEGMENT_CHUNK: usize = 5_000;

pub(super) const SEGMENT_COLUMNS: &str = "g.segment, g.rule_index::int8, g.recency_days, g.frequency, g.monetary, \
     g.partner_visits, g.partner_tokens, g.balance, g.as_of::text, g.since::text";

/// Reads the columns of [`SEGMENT_COLUMNS`] starting at `at`.
pub(super) fn segment_from_row(row: &Row, at: usize) -> Result<Option<StoredSegment>, StoreError> {
    SegmentRow {
        segment: row.try_get(at)?,
        rule_index: row.try_get(at + 1)?,
        figures: [
            row.try_get(at + 2)?,
            row.try_get(at + 3)?,
            row.try_get(at + 4)?,
            row.try_get(at + 5)?,
            row.try_get(at + 6)?,
            row.try_get(at + 7)?,
        ],
        as_of: row.try_get(at + 8)?,
        since: row.try_get(at + 9)?,
    }
    .into_segment()
}

/// One statement per chunk: the history rows of real changes, then the segments themselves,
/// never over a newer batch's. Both read the segments as they were before the statement.
pub(super) const SAVE_SEGMENTS: &str = "WITH input AS ( \
       SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::int8[], $6::int8[], \
         $7::int8[], $8::int8[], $9::int8[], $10::text[]::date[], $11::text[]::date[]) \
         AS i(user_id, segment, rule_index, recency_days, frequency, monetary, partner_visits, \
         partner_tokens, balance, as_of, since)), \
     history AS ( \
       INSERT INTO segment_history (as_of, user_id, segment, previous) \
       SELECT i.as_of, i.user_id, i.segment, g.segment FROM input i \
       LEFT JOIN user_segments g ON g.user_id = i.user_id \
       WHERE (g.as_of IS NULL OR g.as_of <= i.as_of) AND g.segment IS DISTINCT FROM i.segment \
       ON CONFLICT DO NOTHING) \
     INSERT INTO user_segments (user_id, segment, rule_index, recency_days, frequency, monetary, \
       partner_visits, partner_tokens, balance, as_of, since) \
     SELECT * FROM input ON CONFLICT (user_id) DO UPDATE SET segment = excluded.segment, \
       rule_index = excluded.rule_index, recency_days = excluded.recency_days, \
       frequency = excluded.frequency, monetary = excluded.monetary, \
       partner_visits = excluded.partner_visits, partner_tokens = excluded.partner_tokens, \
       balance = excluded.balance, as_of = excluded.as_of, since = excluded.since \
     WHERE user_segments.as_of <= excluded.as_of";

pub(super) async fn events_after(
    pool: &Pool,
    mark: ExportMark,
    limit: usize,
) -> Result<ExportPage, StoreError> {
    let client = pool.get().await?;
    // Only transactions older than the oldest one still running (in the whole cluster:
    // transaction ids are shared by its databases) are final: nothing can later commit
    // below them. One statement, so the page and `pending` see the same snapshot.
    let stmt = client
        .prepare_cached(
            "WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin), \
             page AS (SELECT e.txid, e.seq, e.event_id, e.user_id, e.type, e.ts_ms, e.props FROM events e, snap \
               WHERE (e.txid, e.seq) > ($1::text::xid8, $2) AND e.txid < snap.xmin ORDER BY e.txid, e.seq LIMIT $3) \
             SELECT p.txid::text::int8, p.seq, p.event_id, p.user_id, p.type, p.ts_ms, p.props::text, \
               EXISTS (SELECT 1 FROM events e, snap WHERE (e.txid, e.seq) > ($1::text::xid8, $2) \
                 AND e.txid >= snap.xmin) \
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

pub(super) async fn segments(pool: &Pool) -> Result<HashMap<String, StoredSegment>, StoreError> {
    let client = pool.get().await?;
    let rows =
        client.query(&format!("SELECT g.user_id, {SEGMENT_COLUMNS} FROM user_segments g"), &[]).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        if let Some(segment) = segment_from_row(row, 1)? {
            out.insert(row.try_get(0)?, segment);
        }
    }
    Ok(out)
}

pub(super) async fn save_segments(pool: &Pool, rows: Vec<(UserId, StoredSegment)>) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(SAVE_SEGMENTS).await?;
    for chunk in rows.chunks(SEGMENT_CHUNK) {
        let col = |f: fn(&StoredSegment) -> i64| chunk.iter().map(|(_, s)| f(s)).collect::<Vec<i64>>();
        let users: Vec<&str> = chunk.iter().map(|(u, _)| u.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|(_, s)| s.segment.as_str()).collect();
        let rules: Vec<Option<i32>> =
            chunk.iter().map(|(_, s)| s.rule_index.and_then(|r| i32::try_from(r).ok())).collect();
        let (r, f, m) = (col(|s| s.rfm.recency_days), col(|s| s.rfm.frequency), col(|s| s.rfm.monetary));
        let (pv, pt, bal) =
            (col(|s| s.rfm.partner_visits), col(|s| s.rfm.partner_tokens), col(|s| s.balance));
        let as_of: Vec<String> = chunk.iter().map(|(_, s)| s.as_of.to_string()).collect();
        let since: Vec<String> = chunk.iter().map(|(_, s)| s.since.to_string()).collect();
        let params: Params<'_> = &[&users, &names, &rules, &r, &f, &m, &pv, &pt, &bal, &as_of, &since];
        tx.execute(&stmt, params).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn outbox(pool: &Pool, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
    let client = pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT id, kind, user_id, dedupe_key, payload FROM outbox WHERE delivered_at_ms IS NULL \
             ORDER BY id LIMIT $1",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredNotification {
                id: row.try_get(0)?,
                kind: row.try_get(1)?,
                user_id: row.try_get(2)?,
                dedupe_key: row.try_get(3)?,
                payload: row.try_get(4)?,
            })
        })
        .collect()
}

pub(super) async fn claim_job(
    pool: &Pool,
    job: &str,
    as_of: &str,
    now_ms: i64,
    stale_before_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "INSERT INTO job_runs (job, as_of, status, started_at_ms) VALUES ($1, $2::text::date, 'running', $3) \
             ON CONFLICT (job, as_of) DO UPDATE SET status = 'running', started_at_ms = excluded.started_at_ms, \
             finished_at_ms = NULL, rows = NULL, detail = NULL, error = NULL \
             WHERE job_runs.status = 'failed' OR (job_runs.status = 'running' AND job_runs.started_at_ms < $4) \
             RETURNING id",
            &[&job, &as_of, &now_ms, &stale_before_ms],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) async fn finish_job(
    pool: &Pool,
    run: i64,
    now_ms: i64,
    outcome: &JobOutcome,
) -> Result<(), StoreError> {
    let (status, rows, detail, error) = match outcome {
        JobOutcome::Succeeded { rows, detail } => ("succeeded", Some(*rows), Some(detail), None),
        JobOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
    };
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE job_runs SET status = $2, finished_at_ms = $3, rows = $4, detail = $5, error = $6 WHERE id = $1",
            &[&run, &status, &now_ms, &rows, &detail, &error],
        )
        .await?;
    Ok(())
}

pub(super) async fn job_runs(pool: &Pool, limit: usize) -> Result<Vec<JobRun>, StoreError> {
    let client = pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT id, job, as_of::text, status, started_at_ms, finished_at_ms, rows, detail, error FROM job_runs \
             ORDER BY started_at_ms DESC, id DESC LIMIT $1",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let as_of: String = row.try_get(2)?;
            Ok(JobRun {
                id: row.try_get(0)?,
                job: row.try_get(1)?,
                as_of: as_of.parse().map_err(|e| StoreError::Corrupt(format!("job date {as_of}: {e}")))?,
                status: row.try_get(3)?,
                started_at: crate::columns::ts(row.try_get(4)?)?,
                finished_at: row.try_get::<_, Option<i64>>(5)?.map(crate::columns::ts).transpose()?,
                rows: row.try_get(6)?,
                detail: row.try_get(7)?,
                error: row.try_get(8)?,
            })
        })
        .collect()
}
