//! The notification outbox: rows written in the transaction that caused them, claimed and
//! delivered by the dispatcher, and the devices pushes go to.
//!
//! A dispatcher claims a due row by raising its attempt number and leasing it; it records the
//! attempt's end under the claim's own number, so a dispatcher whose lease lapsed (it hung,
//! or died and came back) cannot overwrite what a later claim recorded.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::notify::Notification;
use playpulse_core::notify::effects::Exposure;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant};

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Queued,
    /// An attempt failed; another follows at `next_attempt_at`.
    Failed,
    Sent,
    /// Every attempt failed, or the receiver refused it for good.
    Dead,
    /// A policy kept it from the user; the reason is recorded.
    Suppressed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Queued,
        DeliveryState::Failed,
        DeliveryState::Sent,
        DeliveryState::Dead,
        DeliveryState::Suppressed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Failed => "failed",
            DeliveryState::Sent => "sent",
            DeliveryState::Dead => "dead",
            DeliveryState::Suppressed => "suppressed",
        }
    }
}

/// A notification as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    pub id: i64,
    pub kind: String,
    pub user_id: String,
    pub dedupe_key: String,
    pub payload: serde_json::Value,
    pub state: DeliveryState,
    /// Attempts claimed so far (the one in flight included; a deferral takes its attempt
    /// back, an admin's retry starts again).
    pub attempts: i64,
    /// The number of the row's last claim: it only grows, so it names one claim.
    pub claim: i64,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// The channel that delivered it.
    pub channel: Option<String>,
    pub last_error: Option<String>,
    /// Why it was suppressed, or last deferred.
    pub reason: Option<String>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Sent {
        channel: String,
    },
    /// Tried again at `retry_at`.
    Failed {
        error: String,
        retry_at: Timestamp,
    },
    Dead {
        error: String,
    },
    Suppressed {
        reason: String,
    },
    /// Not now (quiet hours, the night rule): queued again for `until`, the attempt not
    /// counted.
    Deferred {
        until: Timestamp,
        reason: String,
    },
}

/// What [`Outbox::retry_notification`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Retried {
    /// It was dead and is queued again; as it is now.
    Queued(StoredNotification),
    /// It is not dead, and nothing changed.
    NotDead(StoredNotification),
    Unknown,
}

/// A user's device, as registered for push.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub user_id: String,
    /// `android`, `ios` or `web`.
    pub platform: String,
    pub token: String,
    pub app_id: String,
    pub registered_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    pub disabled_reason: Option<String>,
}

/// Notifications waiting for delivery, their delivery, and the devices they go to.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds notifications to the outbox at `now`; ones whose dedupe key is already there
    /// are skipped.
    async fn enqueue(&self, notifications: Vec<Notification>, now: Timestamp) -> Result<(), StoreError>;

    /// Notifications still to deliver (queued or failed), oldest first.
    async fn outbox(&self, limit: usize) -> Result<Vec<StoredNotification>, StoreError>;

    /// Claims up to `limit` notifications due at `now` that no live lease holds, leasing
    /// them until `lease_until`; each comes back with its new attempt number. Of several
    /// dispatchers on one database, each row goes to one.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError>;

    /// Records how the attempt of claim `claim` of notification `id` ended, at `now`. False,
    /// and nothing changed, when that claim is no longer the row's last (its lease lapsed and
    /// another claim took it) or the row is gone.
    async fn settle_notification(
        &self,
        id: i64,
        claim: i64,
        now: Timestamp,
        settlement: Settlement,
    ) -> Result<bool, StoreError>;

    /// How many notifications were sent to `user` since `day_since` and since `week_since`
    /// (the earlier).
    async fn sent_since(
        &self,
        user: &UserId,
        day_since: Timestamp,
        week_since: Timestamp,
    ) -> Result<(u64, u64), StoreError>;

    /// A user's notifications, newest first, those with an id below `before` when given.
    async fn notifications_of(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredNotification>, StoreError>;

    /// Queues a dead notification again, due at `now`, with its attempts counted afresh.
    async fn retry_notification(&self, id: i64, now: Timestamp) -> Result<Retried, StoreError>;

    /// Registers a device for its user (again, maybe from another user: the token moves, and
    /// a disabled one is enabled). False, and nothing changed, when the user is unknown or
    /// erased.
    async fn put_device(&self, device: Device) -> Result<bool, StoreError>;

    /// A user's devices, the disabled ones included, newest first.
    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError>;

    /// Disables a device token (the provider called it invalid or unregistered).
    async fn disable_device(
        &self,
        platform: &str,
        token: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Each user's first notification of each kind created in [`from`, `to`), held out or
    /// not: the ones whose group is decided (a claim has looked at them), their user known.
    async fn exposures(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Exposure>, StoreError>;
}

/// The columns a [`StoredNotification`] is read from.
macro_rules! notification_columns {
    () => {
        "id, kind, user_id, dedupe_key, payload, state, attempts, created_at_ms, next_attempt_at_ms, \
         delivered_at_ms, channel, last_error, reason, claims"
    };
}
pub(crate) use notification_columns;

pub(crate) const PENDING: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM outbox WHERE state IN ('queued', 'failed') ORDER BY id LIMIT $1"
);
/// The claim; PostgreSQL locks the chosen rows and skips rows another claim holds.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET attempts = attempts + 1, claims = claims + 1, lease_until_ms = $1 WHERE id IN \
             (SELECT id FROM outbox WHERE state IN ('queued', 'failed') AND next_attempt_at_ms <= $2 \
             AND COALESCE(lease_until_ms, 0) <= $2 ORDER BY next_attempt_at_ms, id LIMIT $3",
            $lock,
            ") RETURNING ",
            $crate::outbox::notification_columns!()
        )
    };
}
pub(crate) use claim;
pub(crate) const SETTLE: &str = "UPDATE outbox SET state = $1, delivered_at_ms = $2, channel = $3, \
     last_error = COALESCE($4, last_error), reason = $5, next_attempt_at_ms = COALESCE($6, next_attempt_at_ms), \
     attempts = attempts - $7, lease_until_ms = NULL WHERE id = $8 AND claims = $9";
/// What a user was sent: the operator's notifications about them
/// ([`playpulse_core::notify::SEGMENT_MOVE`]) are not among it.
pub(crate) const SENT_SINCE: &str = "SELECT CAST(COALESCE(SUM(CASE WHEN delivered_at_ms >= $1 THEN 1 ELSE 0 END), 0) \
     AS BIGINT), COUNT(*) FROM outbox WHERE user_id = $2 AND state = 'sent' AND delivered_at_ms >= $3 \
     AND kind <> 'SEGMENT_MOVE'";
pub(crate) const OF_USER: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM outbox WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
);
pub(crate) const RETRY: &str = "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at_ms = $1, \
     lease_until_ms = NULL WHERE id = $2 AND state = 'dead'";
pub(crate) const ONE: &str = concat!("SELECT ", notification_columns!(), " FROM outbox WHERE id = $1");
/// Registers a device of a user the `users` table holds; PostgreSQL shares the user's row
/// until the end, so an erasure (which holds it for update) goes wholly before or after.
macro_rules! put_device {
    ($lock:literal) => {
        concat!(
            "INSERT INTO devices (platform, token, app_id, registered_at_ms, user_id) \
             SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), user_id \
             FROM users WHERE user_id = $5",
            $lock,
            " ON CONFLICT (platform, token) DO UPDATE SET user_id = excluded.user_id, \
             app_id = excluded.app_id, registered_at_ms = excluded.registered_at_ms, disabled_at_ms = NULL, \
             disabled_reason = NULL"
        )
    };
}
pub(crate) use put_device;
pub(crate) const DEVICES: &str = "SELECT user_id, platform, token, app_id, registered_at_ms, disabled_at_ms, \
     disabled_reason FROM devices WHERE user_id = $1 ORDER BY registered_at_ms DESC, token";
/// A row still queued without a reason has not been looked at; one suppressed as
/// `unknown_user` has no user left to follow; the operator's are not sent to users. All are
/// left out.
pub(crate) const EXPOSURES: &str = "SELECT kind, user_id, MIN(created_at_ms), \
     CAST(MAX(CASE WHEN reason = 'holdout' THEN 1 ELSE 0 END) AS BIGINT) FROM outbox \
     WHERE created_at_ms >= $1 AND created_at_ms < $2 AND (state <> 'queued' OR reason IS NOT NULL) \
     AND COALESCE(reason, '') <> 'unknown_user' AND kind <> 'SEGMENT_MOVE' \
     GROUP BY kind, user_id ORDER BY kind, user_id";
pub(crate) const DISABLE_DEVICE: &str = "UPDATE devices SET disabled_at_ms = $1, disabled_reason = $2 \
     WHERE platform = $3 AND token = $4 AND disabled_at_ms IS NULL";

/// The columns of [`SETTLE`] before the row's id and claim: state, delivered at, channel,
/// error, reason, next attempt, attempts taken back.
pub(crate) type SettleColumns =
    (&'static str, Option<i64>, Option<String>, Option<String>, Option<String>, Option<i64>, i64);

pub(crate) fn settle_columns(settlement: Settlement, now: Timestamp) -> SettleColumns {
    use DeliveryState::{Dead, Failed, Queued, Sent, Suppressed};
    let ms = |t: Timestamp| Some(t.as_millisecond());
    match settlement {
        Settlement::Sent { channel } => (Sent.as_str(), ms(now), Some(channel), None, None, None, 0),
        Settlement::Failed { error, retry_at } => {
            (Failed.as_str(), None, None, Some(error), None, ms(retry_at), 0)
        }
        Settlement::Dead { error } => (Dead.as_str(), None, None, Some(error), None, None, 0),
        Settlement::Suppressed { reason } => (Suppressed.as_str(), None, None, None, Some(reason), None, 0),
        Settlement::Deferred { until, reason } => {
            (Queued.as_str(), None, None, None, Some(reason), ms(until), 1)
        }
    }
}

impl Retried {
    /// From whether [`RETRY`] changed the row, and the row as [`ONE`] read it after.
    pub(crate) fn from_row(requeued: bool, now: Option<StoredNotification>) -> Self {
        match (requeued, now) {
            (true, Some(n)) => Retried::Queued(n),
            (false, Some(n)) => Retried::NotDead(n),
            (_, None) => Retried::Unknown,
        }
    }
}

/// The counts [`SENT_SINCE`] read (a row always comes back; negatives cannot).
pub(crate) fn counted(row: Option<(i64, i64)>) -> (u64, u64) {
    let (day, week) = row.unwrap_or_default();
    (u64::try_from(day).unwrap_or(0), u64::try_from(week).unwrap_or(0))
}

/// The `before` of [`Outbox::notifications_of`] as [`OF_USER`] takes it.
pub(crate) fn before_id(before: Option<i64>) -> i64 {
    before.unwrap_or(i64::MAX)
}

impl FromCells for StoredNotification {
    const WIDTH: usize = 14;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let state: String = row.get(at + 5)?;
        Ok(StoredNotification {
            id: row.get(at)?,
            kind: row.get(at + 1)?,
            user_id: row.get(at + 2)?,
            dedupe_key: row.get(at + 3)?,
            payload: row.get(at + 4)?,
            state: DeliveryState::ALL
                .into_iter()
                .find(|s| s.as_str() == state)
                .ok_or_else(|| StoreError::Corrupt(format!("notification state {state}")))?,
            attempts: row.get(at + 6)?,
            created_at: instant(row.get(at + 7)?)?,
            next_attempt_at: instant(row.get(at + 8)?)?,
            sent_at: row.get::<Option<i64>>(at + 9)?.map(instant).transpose()?,
            channel: row.get(at + 10)?,
            last_error: row.get(at + 11)?,
            reason: row.get(at + 12)?,
            claim: row.get(at + 13)?,
        })
    }
}

impl FromCells for Device {
    const WIDTH: usize = 7;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(Device {
            user_id: row.get(at)?,
            platform: row.get(at + 1)?,
            token: row.get(at + 2)?,
            app_id: row.get(at + 3)?,
            registered_at: instant(row.get(at + 4)?)?,
            disabled_at: row.get::<Option<i64>>(at + 5)?.map(instant).transpose()?,
            disabled_reason: row.get(at + 6)?,
        })
    }
}

impl FromCells for Exposure {
    const WIDTH: usize = 4;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(Exposure {
            kind: row.get(at)?,
            user_id: row.get(at + 1)?,
            at: instant(row.get(at + 2)?)?,
            held_out: row.get::<i64>(at + 3)? == 1,
        })
    }
}
