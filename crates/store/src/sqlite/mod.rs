//! The embedded backend: one SQLite file in WAL mode, one writer thread with group commit,
//! a few read connections.

mod derived;
mod players;
mod pool;
mod writer;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::{self, Plan};
use playpulse_core::ledger::UserState;
use playpulse_core::notify::Notification;
use playpulse_core::protection::Limits;
use playpulse_core::time::BusinessZone;
use playpulse_core::tokens::Tokens;
use rusqlite::{Connection, Row, params};

use self::derived::{SEGMENT_COLUMNS, segment_from_row};
use self::pool::ReadPool;
use self::writer::Writer;
use crate::columns::{StateRow, hours, mask_to_db, risk, to_json, ts};
use crate::migrate::Migration;
use crate::{
    ApiKeyRecord, Arm, ExportMark, ExportPage, Hours, IngestReport, JobOutcome, JobRun, ProfileUpdate,
    QuizResponse, Store, StoreError, StoredEntry, StoredNotification, StoredSegment, UserRecord,
};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("migrations/0001_init.sql") },
    Migration { version: 2, sql: include_str!("migrations/0002_segments.sql") },
    Migration { version: 3, sql: include_str!("migrations/0003_outbox.sql") },
    Migration { version: 4, sql: include_str!("migrations/0004_jobs.sql") },
    Migration { version: 5, sql: include_str!("migrations/0005_players.sql") },
];

/// Read connections kept open beside the writer.
const READ_CONNECTIONS: usize = 4;
/// Page cache per connection, in KiB.
const PAGE_CACHE_KIB: i64 = 64 * 1024;
/// WAL size, in pages, that triggers a checkpoint: each checkpoint copies a hot page once
/// however often the WAL holds it, so rarer checkpoints write far less.
const WAL_CHECKPOINT_PAGES: i64 = 16 * 1024;
/// How long a connection waits for another process's write lock (e.g. the CLI beside a server).
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The embedded store.
pub struct SqliteStore {
    writer: Writer,
    readers: ReadPool,
    zone: BusinessZone,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    // WAL lets readers run beside the writer; FULL syncs every commit, so an acknowledged
    // event survives a power cut, not only a crash of the process.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A page cache large enough for the hot indexes (random event ids, per-user rows), so a
    // big batch neither rereads pages nor spills them mid-transaction; savepoint journals in RAM.
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )?;
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [m.version],
            |r| r.get(0),
        )?;
        if !done {
            tx.execute_batch(m.sql)
                .map_err(|e| StoreError::Migration { version: m.version, reason: e.to_string() })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
                params![m.version, Timestamp::now().as_millisecond()],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, zone: BusinessZone) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let readers = (0..READ_CONNECTIONS).map(|_| connect(path)).collect::<Result<_, _>>()?;
        Ok(Self { writer: Writer::spawn(conn)?, readers: ReadPool::new(readers), zone })
    }
}

/// A user's state: `user_state s` joined with `users u` and (left) `balances b`.
const STATE_COLUMNS: &str = "s.version, s.first_seen_ms, s.last_action_ms, s.last_play_day, s.play_mask, \
     s.streak_run_days, COALESCE(b.balance, 0), u.age_verified, u.limits, s.tally";

/// Reads the columns of [`STATE_COLUMNS`] starting at `at`.
fn state_from_row(row: &Row<'_>, at: usize) -> Result<UserState, StoreError> {
    StateRow {
        version: row.get(at)?,
        first_seen_ms: row.get(at + 1)?,
        last_action_ms: row.get(at + 2)?,
        last_play_day: row.get(at + 3)?,
        play_mask: row.get(at + 4)?,
        streak_run_days: row.get(at + 5)?,
        balance: row.get(at + 6)?,
        age_verified: row.get(at + 7)?,
        limits: row.get(at + 8)?,
        tally: row.get(at + 9)?,
    }
    .into_state()
}

fn load_state(conn: &Connection, user: &UserId) -> Result<Option<UserState>, StoreError> {
    let sql = format!(
        "SELECT {STATE_COLUMNS} FROM user_state s JOIN users u ON u.user_id = s.user_id \
         LEFT JOIN balances b ON b.user_id = s.user_id WHERE s.user_id = ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([user.as_str()])?;
    rows.next()?.map(|row| state_from_row(row, 0)).transpose()
}

fn ingest_tx(
    conn: &Connection,
    batch: &[Result<Event, Rejection>],
    now: Timestamp,
    zone: &BusinessZone,
) -> Result<IngestReport, StoreError> {
    let (users, ids) = ingest::keys_of(batch);
    let mut seen = HashSet::new();
    let mut exists = conn.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
    for id in ids {
        if exists.exists([id.0.as_bytes()])? {
            seen.insert(id);
        }
    }
    let mut prior = HashMap::with_capacity(users.len());
    let mut register = conn.prepare_cached(
        "INSERT INTO users (user_id, created_at_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for user in users {
        if let Some(state) = load_state(conn, &user)? {
            prior.insert(user, state);
        } else {
            register.execute(params![user.as_str(), now.as_millisecond()])?;
        }
    }
    let plan = ingest::plan(batch, &seen, &prior, zone);
    write_plan(conn, batch, &plan, &prior, now)?;
    Ok(IngestReport { outcomes: plan.outcomes, users: plan.users.into_iter().collect() })
}

fn write_plan(
    conn: &Connection,
    batch: &[Result<Event, Rejection>],
    plan: &Plan,
    prior: &HashMap<UserId, UserState>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now_ms = now.as_millisecond();
    insert_events(conn, plan.accepted.iter().filter_map(|&i| batch[i].as_ref().ok()), now)?;
    let mut insert_entry = conn.prepare_cached(
        "INSERT INTO ledger_entries (event_id, user_id, delta, reason, balance_after, ts_ms, recorded_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in &plan.entries {
        insert_entry.execute(params![
            e.event_id.0.as_bytes(),
            e.user.as_str(),
            e.delta.0,
            e.reason,
            e.balance_after.0,
            e.ts.as_millisecond(),
            now_ms
        ])?;
    }
    let mut upsert_balance = conn.prepare_cached(
        "INSERT INTO balances (user_id, balance, updated_at_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, updated_at_ms = excluded.updated_at_ms",
    )?;
    let mut upsert_state = conn.prepare_cached(
        "INSERT INTO user_state (user_id, version, first_seen_ms, last_action_ms, last_play_day, play_mask, \
         streak_run_days, tally) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, first_seen_ms = excluded.first_seen_ms, \
         last_action_ms = excluded.last_action_ms, last_play_day = excluded.last_play_day, \
         play_mask = excluded.play_mask, streak_run_days = excluded.streak_run_days, tally = excluded.tally",
    )?;
    enqueue(conn, &plan.notifications, now)?;
    for (user, state) in &plan.users {
        if prior.get(user).map(|p| p.balance) != Some(state.balance) {
            upsert_balance.execute(params![user.as_str(), state.balance.0, now_ms])?;
        }
        upsert_state.execute(params![
            user.as_str(),
            state.version,
            state.first_seen.as_millisecond(),
            state.last_action.as_millisecond(),
            state.streak.last_play_day.map(|d| d.to_string()),
            mask_to_db(state.streak.mask),
            state.streak.run_days,
            to_json(&state.tally)
        ])?;
    }
    Ok(())
}

fn enqueue(conn: &Connection, notifications: &[Notification], now: Timestamp) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO outbox (kind, user_id, dedupe_key, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )?;
    for n in notifications {
        insert.execute(params![
            n.kind,
            n.user.as_str(),
            n.dedupe_key,
            n.payload.to_string(),
            now.as_millisecond()
        ])?;
    }
    Ok(())
}

fn insert_events<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a Event>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (event_id, user_id, type, ts_ms, received_at_ms, props) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in events {
        insert.execute(params![
            e.id.0.as_bytes(),
            e.user.as_str(),
            e.event_type.as_str(),
            e.ts.as_millisecond(),
            now.as_millisecond(),
            e.props
        ])?;
    }
    Ok(())
}

fn key_from_row(row: &Row<'_>) -> Result<ApiKeyRecord, StoreError> {
    let scopes: String = row.get(3)?;
    Ok(ApiKeyRecord {
        key_id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: row.get(2)?,
        scopes: crate::parse_scopes(&scopes)?,
        created_at: ts(row.get(4)?)?,
        revoked: row.get::<_, Option<i64>>(5)?.is_some(),
    })
}

const KEY_COLUMNS: &str = "key_id, name, secret_hash, scopes, created_at_ms, revoked_at_ms";

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(
        &self,
        batch: Vec<Result<Event, Rejection>>,
        now: Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let zone = self.zone.clone();
        self.writer.write(move |conn| ingest_tx(conn, &batch, now, &zone)).await
    }

    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.readers
            .lookup(|conn| {
                let sql = format!(
                    "SELECT u.tz, u.lang, u.risk_profile, u.risk_score, {STATE_COLUMNS}, {SEGMENT_COLUMNS}, h.hours FROM users u \
                     JOIN user_state s ON s.user_id = u.user_id LEFT JOIN balances b ON b.user_id = u.user_id \
                     LEFT JOIN user_segments g ON g.user_id = u.user_id \
             LEFT JOIN user_hours h ON h.user_id = u.user_id WHERE u.user_id = ?1"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query([user.as_str()])?;
                let Some(row) = rows.next()? else { return Ok(None) };
                Ok(Some(UserRecord {
                    tz: row.get(0)?,
                    lang: row.get(1)?,
                    risk: risk(row.get(2)?, row.get(3)?)?,
                    state: state_from_row(row, 4)?,
                    segment: segment_from_row(row, 14)?,
                    hours: hours(row.get(24)?)?,
                    user: user.clone(),
                }))
            })
            .await
    }

    async fn ledger(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let user = user.clone();
        let limit = limit.min(crate::MAX_PAGE_SIZE);
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT entry_id, event_id, delta, reason, balance_after, ts_ms FROM ledger_entries \
                     WHERE user_id = ?1 AND entry_id < ?2 ORDER BY entry_id DESC LIMIT ?3",
                )?;
                let mut rows = stmt.query(params![user.as_str(), before.unwrap_or(i64::MAX), limit])?;
                let mut page = Vec::with_capacity(limit);
                while let Some(row) = rows.next()? {
                    let id: Vec<u8> = row.get(1)?;
                    let event_id = uuid::Uuid::from_slice(&id)
                        .map_err(|e| StoreError::Corrupt(format!("event id: {e}")))?;
                    page.push(StoredEntry {
                        entry_id: row.get(0)?,
                        event_id: EventId(event_id),
                        delta: Tokens(row.get(2)?),
                        reason: row.get(3)?,
                        balance_after: Tokens(row.get(4)?),
                        ts: ts(row.get(5)?)?,
                    });
                }
                Ok(page)
            })
            .await
    }

    async fn user_states(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, UserState)>, StoreError> {
        let after = after.map(|u| u.as_str().to_owned()).unwrap_or_default();
        self.readers
            .read(move |conn| {
                let sql = format!(
                    "SELECT s.user_id, {STATE_COLUMNS} FROM user_state s JOIN users u ON u.user_id = s.user_id \
                     LEFT JOIN balances b ON b.user_id = s.user_id WHERE s.user_id > ?1 ORDER BY s.user_id LIMIT ?2"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![after, limit])?;
                let mut page = Vec::with_capacity(limit);
                while let Some(row) = rows.next()? {
                    let id: String = row.get(0)?;
                    let user =
                        UserId::parse(&id).map_err(|_| StoreError::Corrupt(format!("user id {id}")))?;
                    page.push((user, state_from_row(row, 1)?));
                }
                Ok(page)
            })
            .await
    }

    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError> {
        let user = user.clone();
        self.readers
            .read(move |conn| {
                let sum = conn.query_row(
                    "SELECT COALESCE(SUM(delta), 0) FROM ledger_entries WHERE user_id = ?1",
                    [user.as_str()],
                    |r| r.get(0),
                )?;
                Ok(Tokens(sum))
            })
            .await
    }

    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO api_keys (key_id, name, secret_hash, scopes, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        &key.key_id,
                        &key.name,
                        &key.secret_hash,
                        crate::join_scopes(&key.scopes),
                        key.created_at.as_millisecond()
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.readers
            .lookup(|conn| {
                let mut stmt =
                    conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?1"))?;
                let mut rows = stmt.query([key_id])?;
                rows.next()?.map(key_from_row).transpose()
            })
            .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms, key_id"
                ))?;
                let mut rows = stmt.query([])?;
                let mut keys = Vec::new();
                while let Some(row) = rows.next()? {
                    keys.push(key_from_row(row)?);
                }
                Ok(keys)
            })
            .await
    }

    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        let key_id = key_id.to_owned();
        self.writer
            .write(move |conn| {
                let n = conn.execute(
                    "UPDATE api_keys SET revoked_at_ms = ?2 WHERE key_id = ?1 AND revoked_at_ms IS NULL",
                    params![&key_id, Timestamp::now().as_millisecond()],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError> {
        // One writer commits in seq order, so every seq a reader sees is final.
        self.readers.read(move |conn| derived::events_after(conn, mark, limit)).await
    }

    async fn segments(&self) -> Result<HashMap<String, StoredSegment>, StoreError> {
        self.readers.read(derived::segments).await
    }

    async fn save_segments(&self, rows: Vec<(UserId, StoredSegment)>) -> Result<(), StoreError> {
        self.writer.write(move |conn| derived::save_segments(conn, &rows)).await
    }

    async fn enqueue(&self, notifications: Vec<Notification>) -> Result<(), StoreError> {
        self.writer.write(move |conn| enqueue(conn, &notifications, Timestamp::now())).await
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError> {
        self.readers.read(move |conn| derived::outbox(conn, limit)).await
    }

    async fn claim_job(
        &self,
        job: &str,
        as_of: jiff::civil::Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let (job, as_of) = (job.to_owned(), as_of.to_string());
        let (now_ms, stale_ms) = (now.as_millisecond(), stale_before.as_millisecond());
        self.writer.write(move |conn| derived::claim_job(conn, &job, &as_of, now_ms, stale_ms)).await
    }

    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError> {
        self.writer.write(move |conn| derived::finish_job(conn, run, now.as_millisecond(), &outcome)).await
    }

    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        self.readers.read(move |conn| derived::job_runs(conn, limit)).await
    }

    async fn update_profile(&self, user: &UserId, update: ProfileUpdate) -> Result<bool, StoreError> {
        let user = user.clone();
        self.writer.write(move |conn| players::update_profile(conn, &user, &update)).await
    }

    async fn set_limits(&self, user: &UserId, limits: Limits) -> Result<bool, StoreError> {
        let user = user.clone();
        self.writer.write(move |conn| players::set_limits(conn, &user, &limits)).await
    }

    async fn save_quiz(&self, user: &UserId, response: QuizResponse) -> Result<(), StoreError> {
        let user = user.clone();
        self.writer.write(move |conn| players::save_quiz(conn, &user, &response)).await
    }

    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError> {
        let user = user.clone();
        self.readers.read(move |conn| players::quiz_responses(conn, &user, limit)).await
    }

    async fn save_hours(
        &self,
        users: Vec<(UserId, Hours)>,
        segments: Vec<(String, Hours)>,
        as_of: jiff::civil::Date,
    ) -> Result<(), StoreError> {
        self.writer.write(move |conn| players::save_hours(conn, &users, &segments, as_of)).await
    }

    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError> {
        self.readers.read(players::segment_hours).await
    }

    async fn save_arms(&self, arms: Vec<Arm>, as_of: jiff::civil::Date) -> Result<(), StoreError> {
        self.writer.write(move |conn| players::save_arms(conn, &arms, as_of)).await
    }

    async fn arms(&self) -> Result<Vec<Arm>, StoreError> {
        self.readers.read(players::arms).await
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        self.readers
            .read(|conn| {
                let n: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
                u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n}")))
            })
            .await
    }

    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError> {
        self.writer.write(move |conn| insert_events(conn, &events, now)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.readers.lookup(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await?;
        Ok(())
    }
}
