//! The write path on SQLite: a batch's reads and writes, row by row on the one writer.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::UserId;
use playpulse_core::ingest::{self, Admit, AdmitAll, Plan, SeenEvent};
use playpulse_core::ledger::UserState;
use playpulse_core::notify::Notification;
use playpulse_core::time::BusinessZone;
use playpulse_core::tokens::Tokens;
use rusqlite::{Connection, params};

use super::{SqliteStore, all, exec, first};
use crate::bench::RawInsert;
use crate::ledger::{
    EVENT_COUNT, LEDGER_PAGE, LEDGER_SUM, Ledger, STREAKS_ENDING, USER_STATES, count, low_bits,
    state_columns, streaks,
};
use crate::privacy::ERASED;
use crate::rows::{mask_to_db, to_json};
use crate::{IngestReport, StoreError, StoredEntry};

const LOAD_STATE: &str = concat!(
    "SELECT ",
    state_columns!(),
    " FROM user_state s JOIN users u ON u.user_id = s.user_id \
     LEFT JOIN balances b ON b.user_id = s.user_id WHERE s.user_id = $1"
);
const SEEN_EVENT: &str = "SELECT user_id, type, ts_ms, props FROM events WHERE event_id = $1";
const REGISTER: &str = "INSERT INTO users (user_id, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const INSERT_EVENT: &str = "INSERT INTO events (event_id, user_id, type, ts_ms, received_at_ms, props) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const INSERT_ENTRY: &str = "INSERT INTO ledger_entries \
     (event_id, user_id, delta, reason, balance_after, ts_ms, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const UPSERT_BALANCE: &str = "INSERT INTO balances (user_id, balance, updated_at_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, updated_at_ms = excluded.updated_at_ms";
const UPSERT_STATE: &str = "INSERT INTO user_state (user_id, version, first_seen_ms, last_action_ms, \
     last_play_day, play_mask, streak_run_days, tally) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, first_seen_ms = excluded.first_seen_ms, \
     last_action_ms = excluded.last_action_ms, last_play_day = excluded.last_play_day, \
     play_mask = excluded.play_mask, streak_run_days = excluded.streak_run_days, tally = excluded.tally";

fn ingest_tx(
    conn: &Connection,
    batch: &[Result<Event, Rejection>],
    now: Timestamp,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
) -> Result<IngestReport, StoreError> {
    let (plan, prior) = plan_in(conn, batch, now, zone, pseudonyms, &mut AdmitAll)?;
    write_plan(conn, batch, &plan, &prior, now)?;
    Ok(IngestReport::of(plan))
}

/// Decides a batch inside the caller's transaction (registering its new users), with `admit`
/// as the rule beyond the ledger's; returns the plan and the users' prior states, for
/// [`write_plan`].
pub(super) fn plan_in(
    conn: &Connection,
    batch: &[Result<Event, Rejection>],
    now: Timestamp,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
    admit: &mut dyn Admit,
) -> Result<(Plan, HashMap<UserId, UserState>), StoreError> {
    let (users, ids) = ingest::keys_of(batch);
    let mut seen = HashMap::new();
    for id in ids {
        if let Some(stored) = first::<SeenEvent>(conn, SEEN_EVENT, [id.0])? {
            seen.insert(id, stored);
        }
    }
    let (mut prior, mut erased) = (HashMap::with_capacity(users.len()), HashSet::new());
    for user in users {
        if let Some(state) = first::<UserState>(conn, LOAD_STATE, [user.as_str()])? {
            prior.insert(user, state);
        } else if first::<String>(conn, ERASED, [pseudonyms.of(&user).as_str()])?.is_some() {
            erased.insert(user);
        } else {
            exec(conn, REGISTER, params![user.as_str(), now.as_millisecond()])?;
        }
    }
    let plan = ingest::plan(batch, &seen, &prior, &erased, zone, admit);
    Ok((plan, prior))
}

/// Writes what [`plan_in`] decided, in the same transaction.
pub(super) fn write_plan(
    conn: &Connection,
    batch: &[Result<Event, Rejection>],
    plan: &Plan,
    prior: &HashMap<UserId, UserState>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now_ms = now.as_millisecond();
    insert_events(conn, plan.accepted.iter().filter_map(|&i| batch[i].as_ref().ok()), now)?;
    let mut insert_entry = conn.prepare_cached(INSERT_ENTRY)?;
    for e in &plan.entries {
        insert_entry.execute(params![
            e.event_id.0,
            e.user.as_str(),
            e.delta.0,
            e.reason,
            e.balance_after.0,
            e.ts.as_millisecond(),
            now_ms
        ])?;
    }
    enqueue(conn, &plan.notifications, now)?;
    let mut upsert_balance = conn.prepare_cached(UPSERT_BALANCE)?;
    let mut upsert_state = conn.prepare_cached(UPSERT_STATE)?;
    for (user, state) in &plan.users {
        if prior.get(user).map(|p| p.balance) != Some(state.balance) {
            upsert_balance.execute(params![user.as_str(), state.balance.0, now_ms])?;
        }
        upsert_state.execute(params![
            user.as_str(),
            state.version,
            state.first_seen.as_millisecond(),
            state.last_action.as_millisecond(),
            state.streak.last_play_day,
            mask_to_db(state.streak.mask),
            state.streak.run_days,
            to_json(&state.tally)
        ])?;
    }
    Ok(())
}

const ENQUEUE: &str = "INSERT INTO outbox (kind, user_id, dedupe_key, payload, created_at_ms, \
     next_attempt_at_ms) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedupe_key) DO NOTHING";

/// Adds notifications to the outbox inside the caller's transaction.
pub(super) fn enqueue(
    conn: &Connection,
    notifications: &[Notification],
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(ENQUEUE)?;
    for n in notifications {
        insert.execute(params![n.kind, n.user.as_str(), n.dedupe_key, n.payload, now.as_millisecond()])?;
    }
    Ok(())
}

fn insert_events<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a Event>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(INSERT_EVENT)?;
    for e in events {
        insert.execute(params![
            e.id.0,
            e.user.as_str(),
            e.event_type.as_str(),
            e.ts.as_millisecond(),
            now.as_millisecond(),
            e.props
        ])?;
    }
    Ok(())
}

#[async_trait]
impl Ledger for SqliteStore {
    async fn ingest(
        &self,
        batch: Vec<Result<Event, Rejection>>,
        now: Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let (zone, pseudonyms) = (self.zone.clone(), self.pseudonyms.clone());
        self.writer.write(move |conn| ingest_tx(conn, &batch, now, &zone, &pseudonyms)).await
    }

    async fn ledger(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let (user, before) = (user.clone(), before.unwrap_or(i64::MAX));
        let limit = limit.min(crate::MAX_PAGE_SIZE);
        self.readers.read(move |conn| all(conn, LEDGER_PAGE, params![user.as_str(), before, limit])).await
    }

    async fn user_states(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, UserState)>, StoreError> {
        let after = after.map(|u| u.as_str().to_owned()).unwrap_or_default();
        self.readers.read(move |conn| all(conn, USER_STATES, params![after, limit])).await
    }

    async fn streaks_ending(&self, day: Date, min_days: u32) -> Result<Vec<(UserId, u32)>, StoreError> {
        let bits = low_bits(min_days);
        let rows = self.readers.read(move |conn| all(conn, STREAKS_ENDING, params![day, bits])).await?;
        Ok(streaks(rows, day, min_days))
    }

    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError> {
        let user = user.clone();
        let sum = self.readers.read(move |conn| first::<i64>(conn, LEDGER_SUM, [user.as_str()])).await?;
        Ok(Tokens(sum.unwrap_or_default()))
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        let n = self.readers.read(|conn| first::<i64>(conn, EVENT_COUNT, [])).await?;
        count(n.unwrap_or_default())
    }
}

#[async_trait]
impl RawInsert for SqliteStore {
    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError> {
        self.writer.write(move |conn| insert_events(conn, &events, now)).await
    }
}
