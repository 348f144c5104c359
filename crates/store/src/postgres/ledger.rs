//! The write path on PostgreSQL: row locks in key order, whole columns through `unnest`,
//! pipelined statements.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use futures::try_join;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::{self, Admit, AdmitAll, Plan, SeenEvent};
use playpulse_core::ledger::UserState;
use playpulse_core::notify::Notification;
use playpulse_core::time::BusinessZone;
use playpulse_core::tokens::Tokens;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::{Params, PgStore, all, first, limit_of};
use crate::bench::RawInsert;
use crate::ledger::{
    EVENT_COUNT, LEDGER_PAGE, LEDGER_SUM, Ledger, STREAKS_ENDING, USER_STATES, count, low_bits,
    state_columns, streaks,
};
use crate::rows::{FromCells, mask_to_db, to_json};
use crate::{IngestReport, StoreError, StoredEntry};

/// Attempts of a batch that lost a race (see [`is_retryable`]).
const MAX_INGEST_ATTEMPTS: usize = 3;

impl PgStore {
    async fn ingest_once(
        &self,
        batch: &[Result<Event, Rejection>],
        now: Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let (_slot, mut client) = self.writer().await?;
        let tx = client.transaction().await?;
        let (plan, prior) = plan_in(&tx, batch, now, &self.zone, &self.pseudonyms, &mut AdmitAll).await?;
        write_plan(&tx, batch, &plan, &prior, now).await?;
        tx.commit().await?;
        Ok(IngestReport::of(plan))
    }
}

/// Decides a batch inside the caller's transaction: registers and row-locks its users, reads
/// the ids already stored and the users' committed states, and plans with `admit` as the rule
/// beyond the ledger's. Returns the plan and the prior states, for [`write_plan`].
pub(super) async fn plan_in(
    tx: &impl GenericClient,
    batch: &[Result<Event, Rejection>],
    now: Timestamp,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
    admit: &mut dyn Admit,
) -> Result<(Plan, HashMap<UserId, UserState>), StoreError> {
    let (users, ids) = ingest::keys_of(batch);
    let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let now_ms = now.as_millisecond();
    let (register, lock, seen, load) = try_join!(
        tx.prepare_cached(REGISTER_USERS),
        tx.prepare_cached(LOCK_USERS),
        tx.prepare_cached(SEEN_EVENTS),
        tx.prepare_cached(LOAD_STATES),
    )?;
    // Pipelined, and run by the server in this order: the reads see the state committed
    // by whoever held these users' locks before.
    let (register_params, name_params, id_params): (Params<'_>, Params<'_>, Params<'_>) =
        (&[&names, &now_ms], &[&names], &[&ids]);
    let (_, _, seen_rows, state_rows) = try_join!(
        tx.execute(&register, register_params),
        tx.execute(&lock, name_params),
        tx.query(&seen, id_params),
        tx.query(&load, name_params),
    )?;
    let mut seen = HashMap::with_capacity(seen_rows.len());
    for row in &seen_rows {
        seen.insert(EventId(row.try_get(0)?), SeenEvent::from_cells(row, 1)?);
    }
    let mut prior = HashMap::with_capacity(state_rows.len());
    for row in &state_rows {
        let (user, state) = <(UserId, UserState)>::from_cells(row, 0)?;
        prior.insert(user, state);
    }
    let erased = erased_among(tx, users.iter().filter(|u| !prior.contains_key(*u)), pseudonyms).await?;
    let plan = ingest::plan(batch, &seen, &prior, &erased, zone, admit);
    Ok((plan, prior))
}

/// Which of `new` users (no state stored) were erased. Their `users` rows, just registered by
/// this batch, are removed again: an erased id is kept nowhere.
async fn erased_among<'a>(
    tx: &impl GenericClient,
    new: impl Iterator<Item = &'a UserId>,
    pseudonyms: &Pseudonyms,
) -> Result<HashSet<UserId>, StoreError> {
    let by_pseudonym: HashMap<UserId, &UserId> = new.map(|u| (pseudonyms.of(u), u)).collect();
    if by_pseudonym.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<&str> = by_pseudonym.keys().map(UserId::as_str).collect();
    let found: Vec<UserId> = all(tx, ERASED_AMONG, &[&keys]).await?;
    let erased: HashSet<UserId> =
        found.iter().filter_map(|p| by_pseudonym.get(p)).map(|u| (*u).clone()).collect();
    if !erased.is_empty() {
        let ids: Vec<&str> = erased.iter().map(UserId::as_str).collect();
        tx.execute(UNREGISTER, &[&ids]).await?;
    }
    Ok(erased)
}
const ERASED_AMONG: &str = "SELECT pseudonym FROM erasures WHERE pseudonym = ANY($1::text[])";
const UNREGISTER: &str = "DELETE FROM users WHERE user_id = ANY($1::text[])";

/// Every user of a batch gets a `users` row (in one order for all transactions)...
pub(super) const REGISTER_USERS: &str = "INSERT INTO users (user_id, created_at_ms) \
     SELECT k.id, $2 FROM unnest($1::text[]) AS k(id) ORDER BY k.id ON CONFLICT DO NOTHING";
/// ...which is then row-locked, again in that order, so concurrent batches sharing users
/// serialize on exactly those users and never deadlock. Row locks live in the rows, so a
/// batch of 1,000 users cannot exhaust the server's lock table as advisory locks could.
pub(super) const LOCK_USERS: &str = "SELECT 1 FROM unnest($1::text[]) AS k(id) JOIN users u ON u.user_id = k.id \
     ORDER BY u.user_id FOR NO KEY UPDATE OF u";
const SEEN_EVENTS: &str = "SELECT e.event_id, e.user_id, e.type, e.ts_ms, e.props::text \
     FROM unnest($1::uuid[]) AS k(id) JOIN events e ON e.event_id = k.id";
const LOAD_STATES: &str = concat!(
    "SELECT s.user_id, ",
    state_columns!(),
    " FROM unnest($1::text[]) AS k(id) JOIN user_state s ON s.user_id = k.id \
     JOIN users u ON u.user_id = k.id LEFT JOIN balances b ON b.user_id = k.id"
);

/// Writes what [`plan_in`] decided, in the same transaction.
pub(super) async fn write_plan(
    tx: &impl GenericClient,
    batch: &[Result<Event, Rejection>],
    plan: &Plan,
    prior: &HashMap<UserId, UserState>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now_ms = now.as_millisecond();
    let events = plan.accepted.iter().filter_map(|&i| batch[i].as_ref().ok());
    let entries = &plan.entries;
    let entry_ids: Vec<Uuid> = entries.iter().map(|e| e.event_id.0).collect();
    let entry_users: Vec<&str> = entries.iter().map(|e| e.user.as_str()).collect();
    let deltas: Vec<i64> = entries.iter().map(|e| e.delta.0).collect();
    let reasons: Vec<&str> = entries.iter().map(|e| e.reason).collect();
    let afters: Vec<i64> = entries.iter().map(|e| e.balance_after.0).collect();
    let entry_ts: Vec<i64> = entries.iter().map(|e| e.ts.as_millisecond()).collect();
    let changed: Vec<(&UserId, &UserState)> =
        plan.users.iter().filter(|(u, s)| prior.get(*u).map(|p| p.balance) != Some(s.balance)).collect();
    let balance_users: Vec<&str> = changed.iter().map(|(u, _)| u.as_str()).collect();
    let balances: Vec<i64> = changed.iter().map(|(_, s)| s.balance.0).collect();
    let states = StateColumns::of(&plan.users);
    let entry_params: Params<'_> =
        &[&entry_ids, &entry_users, &deltas, &reasons, &afters, &entry_ts, &now_ms];
    let balance_params: Params<'_> = &[&balance_users, &balances, &now_ms];
    let state_params: Params<'_> = &[
        &states.users,
        &states.versions,
        &states.first_seen,
        &states.last_action,
        &states.play_days,
        &states.masks,
        &states.runs,
        &states.tallies,
    ];
    let (insert_entries, upsert_balances, upsert_states) = try_join!(
        tx.prepare_cached(INSERT_ENTRIES),
        tx.prepare_cached(UPSERT_BALANCES),
        tx.prepare_cached(UPSERT_STATES),
    )?;
    try_join!(
        enqueue(tx, &plan.notifications, now),
        insert_events(tx, events, now),
        tx.execute(&insert_entries, entry_params),
        tx.execute(&upsert_balances, balance_params),
        tx.execute(&upsert_states, state_params),
    )?;
    Ok(())
}

const INSERT_ENTRIES: &str = "INSERT INTO ledger_entries \
     (event_id, user_id, delta, reason, balance_after, ts_ms, recorded_at_ms) \
     SELECT e, u, d, r, a, t, $7 FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::text[], $5::int8[], \
     $6::int8[]) AS x(e, u, d, r, a, t)";
const UPSERT_BALANCES: &str = "INSERT INTO balances (user_id, balance, updated_at_ms) \
     SELECT u, b, $3 FROM unnest($1::text[], $2::int8[]) AS x(u, b) \
     ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, updated_at_ms = excluded.updated_at_ms";
const UPSERT_STATES: &str = "INSERT INTO user_state \
     (user_id, version, first_seen_ms, last_action_ms, last_play_day, play_mask, streak_run_days, tally) \
     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[]::date[], $6::int8[], \
     $7::int4[], $8::text[]) ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, \
     first_seen_ms = excluded.first_seen_ms, last_action_ms = excluded.last_action_ms, \
     last_play_day = excluded.last_play_day, play_mask = excluded.play_mask, \
     streak_run_days = excluded.streak_run_days, tally = excluded.tally";
const INSERT_EVENTS: &str = "INSERT INTO events (event_id, user_id, type, ts_ms, received_at_ms, props) \
     SELECT e, u, t, s, $5, p FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int8[], $6::text[]::jsonb[]) \
     AS x(e, u, t, s, p)";

/// The user states of a plan as columns, for one `unnest` upsert.
struct StateColumns<'a> {
    users: Vec<&'a str>,
    versions: Vec<i64>,
    first_seen: Vec<i64>,
    last_action: Vec<i64>,
    play_days: Vec<Option<String>>,
    masks: Vec<i64>,
    runs: Vec<i32>,
    tallies: Vec<String>,
}

impl<'a> StateColumns<'a> {
    fn of(users: &'a std::collections::BTreeMap<UserId, UserState>) -> Self {
        Self {
            users: users.keys().map(UserId::as_str).collect(),
            versions: users.values().map(|s| s.version).collect(),
            first_seen: users.values().map(|s| s.first_seen.as_millisecond()).collect(),
            last_action: users.values().map(|s| s.last_action.as_millisecond()).collect(),
            play_days: users.values().map(|s| s.streak.last_play_day.map(|d| d.to_string())).collect(),
            masks: users.values().map(|s| mask_to_db(s.streak.mask)).collect(),
            runs: users.values().map(|s| i32::try_from(s.streak.run_days).unwrap_or(i32::MAX)).collect(),
            tallies: users.values().map(|s| to_json(&s.tally)).collect(),
        }
    }
}

const ENQUEUE: &str = "INSERT INTO outbox (kind, user_id, dedupe_key, payload, created_at_ms, \
     next_attempt_at_ms) SELECT k, u, d, p, $5, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS x(k, u, d, p) \
     ON CONFLICT (dedupe_key) DO NOTHING";

pub(super) async fn enqueue(
    tx: &impl GenericClient,
    notifications: &[Notification],
    now: Timestamp,
) -> Result<u64, tokio_postgres::Error> {
    if notifications.is_empty() {
        return Ok(0);
    }
    let kinds: Vec<&str> = notifications.iter().map(|n| n.kind).collect();
    let users: Vec<&str> = notifications.iter().map(|n| n.user.as_str()).collect();
    let keys: Vec<&str> = notifications.iter().map(|n| n.dedupe_key.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = notifications.iter().map(|n| &n.payload).collect();
    let now_ms = now.as_millisecond();
    let params: Params<'_> = &[&kinds, &users, &keys, &payloads, &now_ms];
    let statement = tx.prepare_cached(ENQUEUE).await?;
    tx.execute(&statement, params).await
}

async fn insert_events<'a>(
    tx: &impl GenericClient,
    events: impl Iterator<Item = &'a Event>,
    now: Timestamp,
) -> Result<u64, tokio_postgres::Error> {
    let (mut ids, mut users, mut types, mut times, mut props) = (vec![], vec![], vec![], vec![], vec![]);
    for e in events {
        ids.push(e.id.0);
        users.push(e.user.as_str());
        types.push(e.event_type.as_str());
        times.push(e.ts.as_millisecond());
        props.push(e.props.as_str());
    }
    let now_ms = now.as_millisecond();
    let params: Params<'_> = &[&ids, &users, &types, &times, &now_ms, &props];
    let statement = tx.prepare_cached(INSERT_EVENTS).await?;
    tx.execute(&statement, params).await
}

/// Errors after which the whole batch is simply tried again: an event id committed
/// concurrently under another user's lock (the retry reports it as a duplicate), or a
/// deadlock the server broke (ordered locking should make these impossible).
pub(super) fn is_retryable(err: &StoreError) -> bool {
    let retryable =
        [SqlState::UNIQUE_VIOLATION, SqlState::T_R_DEADLOCK_DETECTED, SqlState::T_R_SERIALIZATION_FAILURE];
    matches!(err, StoreError::Postgres(e) if e.code().is_some_and(|c| retryable.contains(c)))
}

#[async_trait]
impl Ledger for PgStore {
    async fn ingest(
        &self,
        batch: Vec<Result<Event, Rejection>>,
        now: Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let mut attempt = 1;
        loop {
            match self.ingest_once(&batch, now).await {
                Err(err) if is_retryable(&err) && attempt < MAX_INGEST_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    async fn ledger(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let limit = limit_of(limit.min(crate::MAX_PAGE_SIZE));
        let client = self.pool.get().await?;
        all(&client, LEDGER_PAGE, &[&user.as_str(), &before.unwrap_or(i64::MAX), &limit]).await
    }

    async fn user_states(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, UserState)>, StoreError> {
        let client = self.pool.get().await?;
        all(&client, USER_STATES, &[&after.map_or("", UserId::as_str), &limit_of(limit)]).await
    }

    async fn streaks_ending(&self, day: Date, min_days: u32) -> Result<Vec<(UserId, u32)>, StoreError> {
        let client = self.pool.get().await?;
        let rows = all(&client, STREAKS_ENDING, &[&day, &low_bits(min_days)]).await?;
        Ok(streaks(rows, day, min_days))
    }

    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError> {
        let client = self.pool.get().await?;
        Ok(Tokens(first::<i64>(&client, LEDGER_SUM, &[&user.as_str()]).await?.unwrap_or_default()))
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        count(first::<i64>(&client, EVENT_COUNT, &[]).await?.unwrap_or_default())
    }
}

#[async_trait]
impl RawInsert for PgStore {
    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        insert_events(&client, events.iter(), now).await?;
        Ok(())
    }
}
