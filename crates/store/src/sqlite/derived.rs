//! Reads and writes of what the batch derives: the lake export's feed, segments and their
//! history, the notification outbox.

use std::collections::HashMap;

use playpulse_core::ids::{EventId, UserId};
use rusqlite::{Connection, Row, params};

use crate::columns::SegmentRow;
use crate::{
    ExportMark, ExportPage, JobOutcome, JobRun, StoreError, StoredEvent, StoredNotification, StoredSegment,
};

pub(super) const SEGMENT_COLUMNS: &str = "g.segment, g.rule_index, g.recency_days, g.frequency, g.monetary, \
     g.partner_visits, g.partner_tokens, g.balance, g.as_of, g.since";

/// Reads the columns of [`SEGMENT_COLUMNS`] starting at `at`.
pub(super) fn segment_from_row(row: &Row<'_>, at: usize) -> Result<Option<StoredSegment>, StoreError> {
    SegmentRow {
        segment: row.get(at)?,
        rule_index: row.get(at + 1)?,
        figures: [
            row.get(at + 2)?,
            row.get(at + 3)?,
            row.get(at + 4)?,
            row.get(at + 5)?,
            row.get(at + 6)?,
            row.get(at + 7)?,
        ],
        as_of: row.get(at + 8)?,
        since: row.get(at + 9)?,
    }
    .into_segment()
}

pub(super) fn events_after(
    conn: &Connection,
    mark: ExportMark,
    limit: usize,
) -> Result<ExportPage, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, user_id, type, ts_ms, props FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![mark.seq, limit])?;
    let mut next = mark;
    let mut events = Vec::with_capacity(limit.min(crate::MAX_EXPORT_PAGE));
    while let Some(row) = rows.next()? {
        let id: Vec<u8> = row.get(1)?;
        next.seq = row.get(0)?;
        events.push(StoredEvent {
            seq: next.seq,
            event_id: EventId(
                uuid::Uuid::from_slice(&id).map_err(|e| StoreError::Corrupt(format!("event id: {e}")))?,
            ),
            user_id: row.get(2)?,
            event_type: row.get(3)?,
            ts_ms: row.get(4)?,
            props: row.get(5)?,
        });
    }
    Ok(ExportPage { events, next, pending: false })
}

pub(super) fn segments(conn: &Connection) -> Result<HashMap<String, StoredSegment>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT g.user_id, {SEGMENT_COLUMNS} FROM user_segments g"))?;
    let mut rows = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        if let Some(segment) = segment_from_row(row, 1)? {
            out.insert(row.get(0)?, segment);
        }
    }
    Ok(out)
}

pub(super) fn save_segments(conn: &Connection, rows: &[(UserId, StoredSegment)]) -> Result<(), StoreError> {
    let mut current = conn.prepare_cached("SELECT segment, as_of FROM user_segments WHERE user_id = ?1")?;
    let mut history = conn.prepare_cached(
        "INSERT INTO segment_history (as_of, user_id, segment, previous) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT DO NOTHING",
    )?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO user_segments (user_id, segment, rule_index, recency_days, frequency, monetary, \
         partner_visits, partner_tokens, balance, as_of, since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (user_id) DO UPDATE SET \
         segment = excluded.segment, rule_index = excluded.rule_index, \
         recency_days = excluded.recency_days, frequency = excluded.frequency, \
         monetary = excluded.monetary, partner_visits = excluded.partner_visits, \
         partner_tokens = excluded.partner_tokens, balance = excluded.balance, \
         as_of = excluded.as_of, since = excluded.since",
    )?;
    for (user, s) in rows {
        let as_of = s.as_of.to_string();
        let before: Option<(String, String)> = current
            .query_row([user.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        if before.as_ref().is_some_and(|(_, stored)| *stored > as_of) {
            continue; // a newer batch already decided this user
        }
        let previous = before.map(|(segment, _)| segment);
        if previous.as_deref() != Some(s.segment.as_str()) {
            history.execute(params![as_of, user.as_str(), s.segment, previous])?;
        }
        upsert.execute(params![
            user.as_str(),
            s.segment,
            s.rule_index,
            s.rfm.recency_days,
            s.rfm.frequency,
            s.rfm.monetary,
            s.rfm.partner_visits,
            s.rfm.partner_tokens,
            s.balance,
            as_of,
            s.since.to_string()
        ])?;
    }
    Ok(())
}

pub(super) fn outbox(conn: &Connection, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, user_id, dedupe_key, payload FROM outbox WHERE delivered_at_ms IS NULL \
         ORDER BY id LIMIT ?1",
    )?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let payload: String = row.get(4)?;
        out.push(StoredNotification {
            id: row.get(0)?,
            kind: row.get(1)?,
            user_id: row.get(2)?,
            dedupe_key: row.get(3)?,
            payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        });
    }
    Ok(out)
}

/// Claims a job run (see [`crate::Store::claim_job`]).
pub(super) fn claim_job(
    conn: &Connection,
    job: &str,
    as_of: &str,
    now_ms: i64,
    stale_before_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let mut claim = conn.prepare_cached(
        "INSERT INTO job_runs (job, as_of, status, started_at_ms) VALUES (?1, ?2, 'running', ?3) \
         ON CONFLICT (job, as_of) DO UPDATE SET status = 'running', started_at_ms = excluded.started_at_ms, \
         finished_at_ms = NULL, rows = NULL, detail = NULL, error = NULL \
         WHERE job_runs.status = 'failed' OR (job_runs.status = 'running' AND job_runs.started_at_ms < ?4) \
         RETURNING id",
    )?;
    let mut rows = claim.query(params![job, as_of, now_ms, stale_before_ms])?;
    Ok(rows.next()?.map(|row| row.get(0)).transpose()?)
}

pub(super) fn finish_job(
    conn: &Connection,
    run: i64,
    now_ms: i64,
    outcome: &JobOutcome,
) -> Result<(), StoreError> {
    let (status, rows, detail, error) = match outcome {
        JobOutcome::Succeeded { rows, detail } => ("succeeded", Some(*rows), Some(detail.to_string()), None),
        JobOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
    };
    conn.execute(
        "UPDATE job_runs SET status = ?2, finished_at_ms = ?3, rows = ?4, detail = ?5, error = ?6 WHERE id = ?1",
        params![run, status, now_ms, rows, detail, error],
    )?;
    Ok(())
}

pub(super) fn job_runs(conn: &Connection, limit: usize) -> Result<Vec<JobRun>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, job, as_of, status, started_at_ms, finished_at_ms, rows, detail, error FROM job_runs \
         ORDER BY started_at_ms DESC, id DESC LIMIT ?1",
    )?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let as_of: String = row.get(2)?;
        let detail: Option<String> = row.get(7)?;
        out.push(JobRun {
            id: row.get(0)?,
            job: row.get(1)?,
            as_of: as_of.parse().map_err(|e| StoreError::Corrupt(format!("job date {as_of}: {e}")))?,
            status: row.get(3)?,
            started_at: crate::columns::ts(row.get(4)?)?,
            finished_at: row.get::<_, Option<i64>>(5)?.map(crate::columns::ts).transpose()?,
            rows: row.get(6)?,
            detail: detail
                .map(|d| serde_json::from_str(&d))
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            error: row.get(8)?,
        });
    }
    Ok(out)
}
