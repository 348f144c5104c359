//! What the store holds right now, for monitoring: a handful of aggregates cheap enough to
//! read every half minute, and how busy the connections are.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::StoreError;
use crate::ledger::count;
use crate::rows::{Cells, FromCells, instant};

/// The store's figures at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vitals {
    /// Users ever seen.
    pub users: u64,
    /// Tokens held by all users together (the sum of balances).
    pub token_supply: i64,
    /// Users whose last action is at or after the instant asked about.
    pub active: u64,
    /// Notifications still to deliver, and the earliest time one of them is due: a
    /// notification waiting for its retry, the user's quiet hours or the morning is not late
    /// until then.
    pub outbox_pending: u64,
    pub outbox_oldest: Option<Timestamp>,
    /// Users per segment as of the latest night, in segment-name order.
    pub segments: Vec<(String, u64)>,
}

/// Connections of the store's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections the pool may hold.
    pub max: usize,
    /// Connections lent out to a query now.
    pub in_use: usize,
    /// Callers waiting for a connection (0 where the pool cannot tell).
    pub waiting: usize,
}

/// Figures for monitoring.
#[async_trait]
pub trait Monitor: Send + Sync {
    /// The store's figures now; `active` counts users who acted at or after `active_since`.
    async fn vitals(&self, active_since: Timestamp) -> Result<Vitals, StoreError>;

    /// How many of the pool's connections are in use now.
    fn pool_use(&self) -> PoolUse;
}

pub(crate) const VITALS: &str = "SELECT (SELECT COUNT(*) FROM users), \
     (SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM balances), \
     (SELECT COUNT(*) FROM user_state WHERE last_action_ms >= $1), \
     (SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'failed')), \
     (SELECT MIN(next_attempt_at_ms) FROM outbox WHERE state IN ('queued', 'failed'))";

pub(crate) const SEGMENT_SIZES: &str =
    "SELECT segment, COUNT(*) FROM user_segments GROUP BY segment ORDER BY segment";

impl Vitals {
    /// The figures of [`VITALS`] and the rows of [`SEGMENT_SIZES`] together.
    pub(crate) fn with_segments(mut self, sizes: Vec<(String, i64)>) -> Result<Self, StoreError> {
        self.segments =
            sizes.into_iter().map(|(name, n)| Ok((name, count(n)?))).collect::<Result<_, StoreError>>()?;
        Ok(self)
    }
}

impl FromCells for Vitals {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(Vitals {
            users: count(row.get(at)?)?,
            token_supply: row.get(at + 1)?,
            active: count(row.get(at + 2)?)?,
            outbox_pending: count(row.get(at + 3)?)?,
            outbox_oldest: row.get::<Option<i64>>(at + 4)?.map(instant).transpose()?,
            segments: Vec::new(),
        })
    }
}
