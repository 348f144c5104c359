//! The operational store of playpulse: one [`Store`] trait, two backends.
//!
//! [`sqlite`] is the embedded default (one file in WAL mode, no setup); [`postgres`] is the
//! production backend, selected by a `postgres://` URL. Each backend keeps its SQL and its
//! migrations beside its code; callers never ask which one they talk to.
//!
//! Architecture invariant: this is the only crate that speaks SQL to the operational DB.
//! It depends on `core` and on nothing else of ours.

mod migrate;
pub mod postgres;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::access::Scope;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::Outcome;
use playpulse_core::ledger::UserState;
use playpulse_core::protection::Limits;
use playpulse_core::quiz::RiskProfile;
use playpulse_core::time::BusinessZone;
use playpulse_core::tokens::Tokens;

/// Most rows one page of a listing returns.
pub const MAX_PAGE_SIZE: usize = 500;
/// Most events one page of the lake export holds (memory bound of an export step).
pub const MAX_EXPORT_PAGE: usize = 200_000;

/// Failures of the store. None of them means an event was half-applied: every write is one
/// transaction.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with a database error's SQLSTATE and message, which the driver's own text
    /// (`db error`) leaves out: logs need them; answers never show them.
    #[error("postgres: {}{}", .0, .0.as_db_error().map(|db| format!(": SQLSTATE {}: {}", db.code().code(), db.message())).unwrap_or_default())]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(String),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The answer of [`Store::ingest`].
#[derive(Debug)]
pub struct IngestReport {
    /// One outcome per input event, in input order.
    pub outcomes: Vec<Outcome>,
    /// The committed state of every user an accepted event touched (for the hot cache).
    pub users: Vec<(UserId, UserState)>,
}

/// A user as the API shows them.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: UserId,
    pub state: UserState,
    pub tz: Option<String>,
    /// Language tag for texts (`ko`, `en`).
    pub lang: Option<String>,
    /// The latest quiz result: profile and score.
    pub risk: Option<(RiskProfile, f64)>,
    /// The segment of the latest batch, if one has run since the user appeared.
    pub segment: Option<StoredSegment>,
    /// The user's activity by business hour over the latest batch's window.
    pub hours: Option<Hours>,
}

/// A change to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub age_verified: Option<bool>,
    pub tz: Option<String>,
    pub lang: Option<String>,
}

/// One submitted and scored questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct QuizResponse {
    pub version: u32,
    /// The answers as submitted (item id → value).
    pub answers: serde_json::Value,
    pub score: f64,
    pub profile: RiskProfile,
    pub submitted_at: Timestamp,
}

/// Events per hour of the business day, 00 to 23.
pub type Hours = [i64; 24];

/// What the learning loop knows of one proposal variant in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub segment: String,
    /// The proposal type, e.g. `MID_STAKE`.
    pub kind: String,
    pub variant: String,
    pub impressions: i64,
    pub conversions: i64,
}

/// A user's segment as a batch decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSegment {
    pub segment: String,
    /// Position of the matching rule; `None` for the fallback.
    pub rule_index: Option<i64>,
    pub rfm: playpulse_core::segments::Rfm,
    pub balance: i64,
    /// Business day of the batch that decided it.
    pub as_of: jiff::civil::Date,
    /// Business day since which the user has been in this segment.
    pub since: jiff::civil::Date,
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Increasing in commit order per user; the pagination key.
    pub entry_id: i64,
    pub event_id: EventId,
    pub delta: Tokens,
    pub reason: String,
    pub balance_after: Tokens,
    pub ts: Timestamp,
}

/// An event as stored, for the lake export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: EventId,
    pub user_id: String,
    pub event_type: String,
    pub ts_ms: i64,
    /// The props object as JSON text.
    pub props: String,
}

/// How far the lake export has read: every event at or before this mark was exported.
/// Opaque to callers; each backend orders events so that no event can ever appear behind
/// a mark once it was handed out (SQLite: by seq; PostgreSQL: by committing transaction,
/// then seq).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ExportMark {
    pub txid: i64,
    pub seq: i64,
}

/// A notification as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    pub id: i64,
    pub kind: String,
    pub user_id: String,
    pub dedupe_key: String,
    pub payload: serde_json::Value,
}

/// One run of a scheduled job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub as_of: jiff::civil::Date,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub rows: Option<i64>,
    pub detail: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// How a job run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Succeeded { rows: i64, detail: serde_json::Value },
    Failed { error: String },
}

/// A page of the lake export.
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    pub events: Vec<StoredEvent>,
    /// Where the next page starts.
    pub next: ExportMark,
    /// Committed events exist past this page that are not final yet (PostgreSQL: a
    /// transaction that started earlier is still running); asking again soon will get them.
    pub pending: bool,
}

/// A stored API key (the secret itself is never stored, only its hash).
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub revoked: bool,
}

/// The operational store. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Validated-or-rejected events in, one outcome each out. Accepted events, their ledger
    /// entries and the users' new state are committed together before this returns.
    async fn ingest(
        &self,
        batch: Vec<Result<Event, Rejection>>,
        now: Timestamp,
    ) -> Result<IngestReport, StoreError>;

    /// A user's profile, or `None` if no event of theirs was ever accepted.
    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// A user's ledger, newest first, strictly before entry `before` when given.
    async fn ledger(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;

    /// Users' states in user-id order, strictly after `after` (for reconciliation).
    async fn user_states(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, UserState)>, StoreError>;

    /// The sum of a user's ledger deltas, for audits (must equal the balance).
    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError>;

    /// Stores a new API key.
    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError>;

    /// Looks up an API key by its public id.
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// All API keys, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes an API key; `false` if there is no such key.
    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError>;

    /// Up to `limit` final events after `mark`, in export order, with the mark after the
    /// last one.
    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError>;

    /// Every user's current segment.
    async fn segments(&self) -> Result<std::collections::HashMap<String, StoredSegment>, StoreError>;

    /// Stores a batch's segments (never over a newer batch's) and records every change in
    /// the history; running the same batch again changes nothing.
    async fn save_segments(&self, rows: Vec<(UserId, StoredSegment)>) -> Result<(), StoreError>;

    /// Adds notifications to the outbox; ones whose dedupe key is already there are skipped.
    async fn enqueue(
        &self,
        notifications: Vec<playpulse_core::notify::Notification>,
    ) -> Result<(), StoreError>;

    /// Undelivered notifications, oldest first.
    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError>;

    /// Claims the run of `job` for business day `as_of`: its id if this caller is to run it
    /// (no run yet, the last one failed, or a running one started before `stale_before`),
    /// `None` if another run has it. One atomic statement: of many callers, one wins.
    async fn claim_job(
        &self,
        job: &str,
        as_of: jiff::civil::Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError>;

    /// Records how a claimed run ended.
    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError>;

    /// The latest runs, newest first.
    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError>;

    /// Changes a user's profile; `false` if no event of the user was ever accepted.
    async fn update_profile(&self, user: &UserId, update: ProfileUpdate) -> Result<bool, StoreError>;

    /// Replaces a user's limits (the ledger enforces them from the next event on); `false`
    /// if no event of the user was ever accepted.
    async fn set_limits(&self, user: &UserId, limits: Limits) -> Result<bool, StoreError>;

    /// Stores a quiz response and makes its profile the user's current one.
    async fn save_quiz(&self, user: &UserId, response: QuizResponse) -> Result<(), StoreError>;

    /// A user's quiz responses, newest first.
    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError>;

    /// Replaces the activity hours of the given users and segments (one batch's).
    async fn save_hours(
        &self,
        users: Vec<(UserId, Hours)>,
        segments: Vec<(String, Hours)>,
        as_of: jiff::civil::Date,
    ) -> Result<(), StoreError>;

    /// Every segment's activity by business hour (the sum of its users').
    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError>;

    /// Replaces every arm of the learning loop with a batch's.
    async fn save_arms(&self, arms: Vec<Arm>, as_of: jiff::civil::Date) -> Result<(), StoreError>;

    /// Every arm of the learning loop.
    async fn arms(&self) -> Result<Vec<Arm>, StoreError>;

    /// Number of stored events (for benchmarks and audits).
    async fn event_count(&self) -> Result<u64, StoreError>;

    /// Inserts events as plain rows, without validation, ledger or user state: the raw
    /// ceiling that `playpulse bench ingest` compares the full path against.
    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Where the operational DB lives: a `postgres://` URL, a `sqlite://PATH` URL, or, when
/// no URL is given, `playpulse.db` inside the data directory.
pub async fn open(
    url: Option<&str>,
    data_dir: &Path,
    zone: BusinessZone,
) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(url, zone).await?))
        }
        Some(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .ok_or_else(|| StoreError::InvalidUrl(format!("{url}: expected postgres:// or sqlite://")))?;
            Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path), zone)?))
        }
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(Arc::new(sqlite::SqliteStore::open(&data_dir.join("playpulse.db"), zone)?))
        }
    }
}

/// Helpers shared by both backends to turn columns into domain values.
mod columns {
    use jiff::Timestamp;
    use jiff::civil::Date;
    use playpulse_core::ledger::UserState;
    use playpulse_core::quiz::RiskProfile;
    use playpulse_core::streak::Streak;
    use playpulse_core::tokens::Tokens;

    use super::StoreError;

    /// A user's state as both backends store it (`user_state` joined with `balances`).
    pub struct StateRow {
        pub version: i64,
        pub first_seen_ms: i64,
        pub last_action_ms: i64,
        pub last_play_day: Option<String>,
        pub play_mask: i64,
        pub streak_run_days: i64,
        pub balance: i64,
        pub age_verified: bool,
        /// `users.limits` and `user_state.tally`, JSON.
        pub limits: String,
        pub tally: String,
    }

    /// A stored segment as both backends read it (all NULL when the user has none yet).
    pub struct SegmentRow {
        pub segment: Option<String>,
        pub rule_index: Option<i64>,
        /// recency_days, frequency, monetary, partner_visits, partner_tokens, balance.
        pub figures: [Option<i64>; 6],
        pub as_of: Option<String>,
        pub since: Option<String>,
    }

    impl SegmentRow {
        pub fn into_segment(self) -> Result<Option<super::StoredSegment>, StoreError> {
            let Some(segment) = self.segment else { return Ok(None) };
            let [r, f, m, pv, pt, balance] = self.figures.map(Option::unwrap_or_default);
            let date = |d: Option<String>| {
                day(d)?.ok_or_else(|| StoreError::Corrupt("segment without a date".into()))
            };
            Ok(Some(super::StoredSegment {
                segment,
                rule_index: self.rule_index,
                rfm: playpulse_core::segments::Rfm {
                    recency_days: r,
                    frequency: f,
                    monetary: m,
                    partner_visits: pv,
                    partner_tokens: pt,
                },
                balance,
                as_of: date(self.as_of)?,
                since: date(self.since)?,
            }))
        }
    }

    impl StateRow {
        pub fn into_state(self) -> Result<UserState, StoreError> {
            let run = self.streak_run_days;
            Ok(UserState {
                version: self.version,
                first_seen: ts(self.first_seen_ms)?,
                last_action: ts(self.last_action_ms)?,
                streak: Streak {
                    last_play_day: day(self.last_play_day)?,
                    mask: mask_from_db(self.play_mask),
                    run_days: u32::try_from(run).map_err(|_| StoreError::Corrupt(format!("streak {run}")))?,
                },
                balance: Tokens(self.balance),
                age_verified: self.age_verified,
                limits: json(&self.limits)?,
                tally: json(&self.tally)?,
            })
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{text}: {e}")))
    }

    pub fn ts(ms: i64) -> Result<Timestamp, StoreError> {
        Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
    }

    pub fn day(text: Option<String>) -> Result<Option<Date>, StoreError> {
        text.map(|t| t.parse().map_err(|e| StoreError::Corrupt(format!("date {t}: {e}")))).transpose()
    }

    /// Hours are stored as a JSON array of 24 counts.
    pub fn hours(text: Option<String>) -> Result<Option<super::Hours>, StoreError> {
        text.map(|t| json(&t)).transpose()
    }

    pub fn to_json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("plain data always serializes")
    }

    pub fn risk(
        profile: Option<String>,
        score: Option<f64>,
    ) -> Result<Option<(RiskProfile, f64)>, StoreError> {
        match (profile, score) {
            (Some(p), Some(s)) => Ok(Some((
                RiskProfile::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("risk profile {p}")))?,
                s,
            ))),
            _ => Ok(None),
        }
    }

    /// The play-day bitmap is stored in a signed 64-bit column, bit for bit.
    pub fn mask_to_db(mask: u64) -> i64 {
        i64::from_ne_bytes(mask.to_ne_bytes())
    }

    pub fn mask_from_db(stored: i64) -> u64 {
        u64::from_ne_bytes(stored.to_ne_bytes())
    }
}

/// Scopes are stored as a comma-separated list.
fn join_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn parse_scopes(text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split(',')
        .map(|s| {
            s.parse().map_err(|e: playpulse_core::access::UnknownScope| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}
