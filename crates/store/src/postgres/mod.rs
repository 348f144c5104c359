//! The production backend: PostgreSQL through a connection pool.
//!
//! Concurrent ingest transactions serialize per user with transaction-scoped advisory locks,
//! always taken in ascending key order (no deadlocks), and then read the committed state of
//! their users. Every batch statement sends whole columns as arrays (`unnest`), and the
//! statements of one step are pipelined, so a batch of 500 events costs a handful of round
//! trips.

mod derived;
mod players;
mod scratch;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::try_join;
use jiff::Timestamp;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::{self, Plan};
use playpulse_core::ledger::UserState;
use playpulse_core::notify::Notification;
use playpulse_core::protection::Limits;
use playpulse_core::time::BusinessZone;
use playpulse_core::tokens::Tokens;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use self::derived::{SEGMENT_COLUMNS, segment_from_row};
pub use self::scratch::ScratchDatabase;
use crate::columns::{StateRow, hours, mask_to_db, risk, to_json, ts};
use crate::migrate::Migration;
use crate::{
    ApiKeyRecord, Arm, ExportMark, ExportPage, Hours, IngestReport, JobOutcome, JobRun, ProfileUpdate,
    QuizResponse, Store, StoreError, StoredEntry, StoredNotification, StoredSegment, UserRecord,
};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("migrations/0001_init.sql") },
    Migration { version: 2, sql: include_str!("migrations/0002_export_order.sql") },
    Migration { version: 3, sql: include_str!("migrations/0003_segments.sql") },
    Migration { version: 4, sql: include_str!("migrations/0004_outbox.sql") },
    Migration { version: 5, sql: include_str!("migrations/0005_jobs.sql") },
    Migration { version: 6, sql: include_str!("migrations/0006_players.sql") },
];

/// Connections per process.
const POOL_SIZE: usize = 16;
/// Attempts of a batch that lost a race (see [`is_retryable`]).
const MAX_INGEST_ATTEMPTS: usize = 3;
/// Advisory-lock key that serializes migrations across instances.
const MIGRATION_LOCK: i64 = 0x7070_6d69_6772_6174;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    zone: BusinessZone,
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        StoreError::Pool(err.to_string())
    }
}

impl PgStore {
    /// Connects, and applies pending migrations (one instance at a time).
    pub async fn connect(url: &str, zone: BusinessZone) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = Self { pool, zone };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
        )
        .await?;
        for m in MIGRATIONS {
            let version = i32::try_from(m.version).expect("migration versions are small");
            let done =
                tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[&version]).await?;
            if done.is_none() {
                tx.batch_execute(m.sql)
                    .await
                    .map_err(|e| StoreError::Migration { version: m.version, reason: e.to_string() })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
                    &[&version, &Timestamp::now().as_millisecond()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ingest_once(
        &self,
        batch: &[Result<Event, Rejection>],
        now: Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (users, ids) = ingest::keys_of(batch);
        let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let now_ms = now.as_millisecond();
        let (register, lock, seen, load) = try_join!(
            tx.prepare_cached(REGISTER_USERS),
            tx.prepare_cached(LOCK_USERS),
            tx.prepare_cached(SEEN_EVENTS),
            tx.prepare_cached(&LOAD_STATES),
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
        let seen: HashSet<EventId> = seen_rows.iter().map(|r| EventId(r.get(0))).collect();
        let mut prior = HashMap::with_capacity(state_rows.len());
        for row in &state_rows {
            prior.insert(user_of(row.get(0))?, state_from_row(row, 1)?);
        }
        let plan = ingest::plan(batch, &seen, &prior, &self.zone);
        write_plan(&tx, batch, &plan, &prior, now).await?;
        tx.commit().await?;
        Ok(IngestReport { outcomes: plan.outcomes, users: plan.users.into_iter().collect() })
    }
}

/// Every user of a batch gets a `users` row (in one order for all transactions)...
const REGISTER_USERS: &str = "INSERT INTO users (user_id, created_at_ms) \
     SELECT k.id, $2 FROM unnest($1::text[]) AS k(id) ORDER BY k.id ON CONFLICT DO NOTHING";
/// ...which is then row-locked, again in that order, so concurrent batches sharing users
/// serialize on exactly those users and never deadlock. Row locks live in the rows, so a
/// batch of 1,000 users cannot exhaust the server's lock table as advisory locks could.
const LOCK_USERS: &str = "SELECT 1 FROM unnest($1::text[]) AS k(id) JOIN users u ON u.user_id = k.id \
     ORDER BY u.user_id FOR NO KEY UPDATE OF u";
const SEEN_EVENTS: &str =
    "SELECT e.event_id FROM unnest($1::uuid[]) AS k(id) JOIN events e ON e.event_id = k.id";
static LOAD_STATES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT s.user_id, {STATE_COLUMNS} FROM unnest($1::text[]) AS k(id) \
         JOIN user_state s ON s.user_id = k.id JOIN users u ON u.user_id = k.id \
         LEFT JOIN balances b ON b.user_id = k.id"
    )
});

/// Statement parameters, named so that pipelined statements can borrow them.
pub(super) type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

fn user_of(text: &str) -> Result<UserId, StoreError> {
    UserId::parse(text).map_err(|_| StoreError::Corrupt(format!("user id {text}")))
}

/// A user's state: `user_state s` joined with `users u` and (left) `balances b`.
const STATE_COLUMNS: &str = "s.version, s.first_seen_ms, s.last_action_ms, s.last_play_day::text, s.play_mask, \
     s.streak_run_days, COALESCE(b.balance, 0), u.age_verified, u.limits, s.tally";

/// Reads the columns of [`STATE_COLUMNS`] starting at `at`.
fn state_from_row(row: &Row, at: usize) -> Result<UserState, StoreError> {
    StateRow {
        version: row.try_get(at)?,
        first_seen_ms: row.try_get(at + 1)?,
        last_action_ms: row.try_get(at + 2)?,
        last_play_day: row.try_get(at + 3)?,
        play_mask: row.try_get(at + 4)?,
        streak_run_days: i64::from(row.try_get::<_, i32>(at + 5)?),
        balance: row.try_get(at + 6)?,
        age_verified: row.try_get(at + 7)?,
        limits: row.try_get(at + 8)?,
        tally: row.try_get(at + 9)?,
    }
    .into_state()
}

async fn write_plan(
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

const ENQUEUE: &str = "INSERT INTO outbox (kind, user_id, dedupe_key, payload, created_at_ms) \
     SELECT k, u, d, p, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS x(k, u, d, p) \
     ON CONFLICT (dedupe_key) DO NOTHING";

async fn enqueue(
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

fn key_from_row(row: &Row) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        key_id: row.try_get(0)?,
        name: row.try_get(1)?,
        secret_hash: row.try_get(2)?,
        scopes: crate::parse_scopes(row.try_get(3)?)?,
        created_at: ts(row.try_get(4)?)?,
        revoked: row.try_get::<_, Option<i64>>(5)?.is_some(),
    })
}

const KEY_COLUMNS: &str = "key_id, name, secret_hash, scopes, created_at_ms, revoked_at_ms";

/// Errors after which the whole batch is simply tried again: an event id committed
/// concurrently under another user's lock (the retry reports it as a duplicate), or a
/// deadlock the server broke (ordered locking should make these impossible).
fn is_retryable(err: &StoreError) -> bool {
    let retryable =
        [SqlState::UNIQUE_VIOLATION, SqlState::T_R_DEADLOCK_DETECTED, SqlState::T_R_SERIALIZATION_FAILURE];
    matches!(err, StoreError::Postgres(e) if e.code().is_some_and(|c| retryable.contains(c)))
}

#[async_trait]
impl Store for PgStore {
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

    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT u.tz, u.lang, u.risk_profile, u.risk_score, {STATE_COLUMNS}, {SEGMENT_COLUMNS}, h.hours FROM users u \
             JOIN user_state s ON s.user_id = u.user_id LEFT JOIN balances b ON b.user_id = u.user_id \
             LEFT JOIN user_segments g ON g.user_id = u.user_id \
             LEFT JOIN user_hours h ON h.user_id = u.user_id WHERE u.user_id = $1"
        );
        let stmt = client.prepare_cached(&sql).await?;
        let Some(row) = client.query_opt(&stmt, &[&user.as_str()]).await? else { return Ok(None) };
        Ok(Some(UserRecord {
            user: user.clone(),
            tz: row.try_get(0)?,
            lang: row.try_get(1)?,
            risk: risk(row.try_get(2)?, row.try_get(3)?)?,
            state: state_from_row(&row, 4)?,
            segment: segment_from_row(&row, 14)?,
            hours: hours(row.try_get(24)?)?,
        }))
    }

    async fn ledger(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT entry_id, event_id, delta, reason, balance_after, ts_ms FROM ledger_entries \
                 WHERE user_id = $1 AND entry_id < $2 ORDER BY entry_id DESC LIMIT $3",
            )
            .await?;
        let limit = i64::try_from(limit.min(crate::MAX_PAGE_SIZE)).expect("page sizes are small");
        let rows = client.query(&stmt, &[&user.as_str(), &before.unwrap_or(i64::MAX), &limit]).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEntry {
                    entry_id: row.try_get(0)?,
                    event_id: EventId(row.try_get(1)?),
                    delta: Tokens(row.try_get(2)?),
                    reason: row.try_get(3)?,
                    balance_after: Tokens(row.try_get(4)?),
                    ts: ts(row.try_get(5)?)?,
                })
            })
            .collect()
    }

    async fn user_states(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, UserState)>, StoreError> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT s.user_id, {STATE_COLUMNS} FROM user_state s JOIN users u ON u.user_id = s.user_id \
             LEFT JOIN balances b ON b.user_id = s.user_id WHERE s.user_id > $1 ORDER BY s.user_id LIMIT $2"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client.query(&sql, &[&after.map_or("", UserId::as_str), &limit]).await?;
        rows.iter().map(|row| Ok((user_of(row.try_get(0)?)?, state_from_row(row, 1)?))).collect()
    }

    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(SUM(delta), 0)::int8 FROM ledger_entries WHERE user_id = $1",
                &[&user.as_str()],
            )
            .await?;
        Ok(Tokens(row.try_get(0)?))
    }

    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO api_keys (key_id, name, secret_hash, scopes, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &key.key_id,
                    &key.name,
                    &key.secret_hash,
                    &crate::join_scopes(&key.scopes),
                    &key.created_at.as_millisecond(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let client = self.pool.get().await?;
        let stmt =
            client.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = $1")).await?;
        client.query_opt(&stmt, &[&key_id]).await?.as_ref().map(key_from_row).transpose()
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms, key_id"), &[])
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET revoked_at_ms = $2 WHERE key_id = $1 AND revoked_at_ms IS NULL",
                &[&key_id, &Timestamp::now().as_millisecond()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError> {
        derived::events_after(&self.pool, mark, limit).await
    }

    async fn segments(&self) -> Result<HashMap<String, StoredSegment>, StoreError> {
        derived::segments(&self.pool).await
    }

    async fn save_segments(&self, rows: Vec<(UserId, StoredSegment)>) -> Result<(), StoreError> {
        derived::save_segments(&self.pool, rows).await
    }

    async fn enqueue(&self, notifications: Vec<Notification>) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        enqueue(&client, &notifications, Timestamp::now()).await?;
        Ok(())
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        derived::outbox(&self.pool, limit).await
    }

    async fn claim_job(
        &self,
        job: &str,
        as_of: jiff::civil::Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let as_of = as_of.to_string();
        derived::claim_job(&self.pool, job, &as_of, now.as_millisecond(), stale_before.as_millisecond()).await
    }

    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError> {
        derived::finish_job(&self.pool, run, now.as_millisecond(), &outcome).await
    }

    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        derived::job_runs(&self.pool, limit).await
    }

    async fn update_profile(&self, user: &UserId, update: ProfileUpdate) -> Result<bool, StoreError> {
        players::update_profile(&self.pool.get().await?, user, &update).await
    }

    async fn set_limits(&self, user: &UserId, limits: Limits) -> Result<bool, StoreError> {
        players::set_limits(&self.pool.get().await?, user, &limits).await
    }

    async fn save_quiz(&self, user: &UserId, response: QuizResponse) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        players::save_quiz(&tx, user, &response).await?;
        Ok(tx.commit().await?)
    }

    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError> {
        players::quiz_responses(&self.pool.get().await?, user, limit).await
    }

    async fn save_hours(
        &self,
        users: Vec<(UserId, Hours)>,
        segments: Vec<(String, Hours)>,
        as_of: jiff::civil::Date,
    ) -> Result<(), StoreError> {
        players::save_hours(&self.pool.get().await?, &users, &segments, as_of).await
    }

    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError> {
        players::segment_hours(&self.pool.get().await?).await
    }

    async fn save_arms(&self, arms: Vec<Arm>, as_of: jiff::civil::Date) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        players::save_arms(&tx, &arms, as_of).await?;
        Ok(tx.commit().await?)
    }

    async fn arms(&self) -> Result<Vec<Arm>, StoreError> {
        players::arms(&self.pool.get().await?).await
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client.query_one("SELECT COUNT(*) FROM events", &[]).await?.try_get(0)?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n}")))
    }

    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        insert_events(&client, events.iter(), now).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}
