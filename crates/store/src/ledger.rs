//! The ledger and the write path: ingest, users' states, ledger pages and audits.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::event::{Event, Rejection};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::{Outcome, Plan, SeenEvent};
use playpulse_core::ledger::UserState;
use playpulse_core::streak::Streak;
use playpulse_core::tokens::Tokens;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant, json, mask_from_db};

/// The answer of [`Ledger::ingest`].
#[derive(Debug)]
pub struct IngestReport {
    /// One outcome per input event, in input order.
    pub outcomes: Vec<Outcome>,
    /// The committed state of every user an accepted event touched (for the hot cache).
    pub users: Vec<(UserId, UserState)>,
    /// Tokens the accepted events moved, net per ledger reason, in reason order.
    pub flows: Vec<(&'static str, Tokens)>,
}

impl IngestReport {
    /// The answer of a committed plan.
    pub(crate) fn of(plan: Plan) -> Self {
        let mut flows = std::collections::BTreeMap::<&'static str, i64>::new();
        for entry in &plan.entries {
            *flows.entry(entry.reason).or_default() += entry.delta.0;
        }
        IngestReport {
            outcomes: plan.outcomes,
            users: plan.users.into_iter().collect(),
            flows: flows.into_iter().map(|(reason, net)| (reason, Tokens(net))).collect(),
        }
    }
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

/// Events in, balances and users' states out. Every method is one transaction.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Validated-or-rejected events in, one outcome each out. Accepted events, their ledger
    /// entries and the users' new state are committed together before this returns.
    async fn ingest(
        &self,
        batch: Vec<Result<Event, Rejection>>,
        now: Timestamp,
    ) -> Result<IngestReport, StoreError>;

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

    /// Users whose run of play days ends on business day `day` and is at least `min_days`
    /// (1 to 63) long, with the run: whom a streak reminder is for.
    async fn streaks_ending(&self, day: Date, min_days: u32) -> Result<Vec<(UserId, u32)>, StoreError>;

    /// The sum of a user's ledger deltas, for audits (must equal the balance).
    async fn ledger_sum(&self, user: &UserId) -> Result<Tokens, StoreError>;

    /// Number of stored events (for benchmarks and audits).
    async fn event_count(&self) -> Result<u64, StoreError>;
}

/// A user's state: `user_state s` joined with `users u` and (left) `balances b`; read by
/// [`UserState::from_cells`].
macro_rules! state_columns {
    () => {
        "s.version, s.first_seen_ms, s.last_action_ms, s.last_play_day, s.play_mask, \
         s.streak_run_days, COALESCE(b.balance, 0), u.age_verified, u.limits, s.tally"
    };
}
pub(crate) use state_columns;

pub(crate) const LEDGER_PAGE: &str = "SELECT entry_id, event_id, delta, reason, balance_after, ts_ms \
     FROM ledger_entries WHERE user_id = $1 AND entry_id < $2 ORDER BY entry_id DESC LIMIT $3";
pub(crate) const LEDGER_SUM: &str =
    "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM ledger_entries WHERE user_id = $1";
pub(crate) const USER_STATES: &str = concat!(
    "SELECT s.user_id, ",
    state_columns!(),
    " FROM user_state s JOIN users u ON u.user_id = s.user_id \
     LEFT JOIN balances b ON b.user_id = s.user_id WHERE s.user_id > $1 ORDER BY s.user_id LIMIT $2"
);
pub(crate) const EVENT_COUNT: &str = "SELECT COUNT(*) FROM events";
/// Users whose latest play day is `$1` and whose last days in the bitmap are all play days
/// (`$2`: that many low bits set): the candidates of [`Ledger::streaks_ending`], whose exact
/// runs [`streaks`] counts.
pub(crate) const STREAKS_ENDING: &str = "SELECT user_id, play_mask, streak_run_days FROM user_state \
     WHERE last_play_day = $1 AND (play_mask & $2) = $2";

/// The runs of [`STREAKS_ENDING`]'s rows that ended on `day`, at least `min_days` long.
pub(crate) fn streaks(rows: Vec<(UserId, (i64, i32))>, day: Date, min_days: u32) -> Vec<(UserId, u32)> {
    rows.into_iter()
        .filter_map(|(user, (mask, run))| {
            let streak = Streak {
                last_play_day: Some(day),
                mask: mask_from_db(mask),
                run_days: u32::try_from(run).ok()?,
            };
            (streak.run() >= min_days).then_some((user, streak.run()))
        })
        .collect()
}

/// The bitmap of the last `min_days` days (at most 63).
pub(crate) fn low_bits(min_days: u32) -> i64 {
    (1_i64 << min_days.clamp(1, 63)) - 1
}

impl FromCells for UserState {
    const WIDTH: usize = 10;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let run: i32 = row.get(at + 5)?;
        Ok(UserState {
            version: row.get(at)?,
            first_seen: instant(row.get(at + 1)?)?,
            last_action: instant(row.get(at + 2)?)?,
            streak: Streak {
                last_play_day: row.get(at + 3)?,
                mask: mask_from_db(row.get(at + 4)?),
                run_days: u32::try_from(run).map_err(|_| StoreError::Corrupt(format!("streak {run}")))?,
            },
            balance: Tokens(row.get(at + 6)?),
            age_verified: row.get(at + 7)?,
            limits: json(&row.get::<String>(at + 8)?)?,
            tally: json(&row.get::<String>(at + 9)?)?,
        })
    }
}

impl FromCells for SeenEvent {
    const WIDTH: usize = 4;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(SeenEvent {
            user: row.get(at)?,
            event_type: row.get(at + 1)?,
            ts_ms: row.get(at + 2)?,
            props: row.get(at + 3)?,
        })
    }
}

impl FromCells for StoredEntry {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(StoredEntry {
            entry_id: row.get(at)?,
            event_id: EventId(row.get(at + 1)?),
            delta: Tokens(row.get(at + 2)?),
            reason: row.get(at + 3)?,
            balance_after: Tokens(row.get(at + 4)?),
            ts: instant(row.get(at + 5)?)?,
        })
    }
}

/// A count read from the database.
pub(crate) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n}")))
}
