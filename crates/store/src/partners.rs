//! Partners that call playpulse directly: their records and secrets, their signed batches
//! (visits and rewards, written with the ledger in one transaction) and their summaries.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::event::Rejection;
use playpulse_core::partner::{PartnerEvent, PartnerId, RewardCaps};
use playpulse_core::time::BusinessZone;

use crate::rows::{Cells, FromCells, instant, json};
use crate::{IngestReport, StoreError};

/// A registered partner.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRecord {
    pub id: PartnerId,
    pub name: String,
    pub active: bool,
    pub caps: RewardCaps,
    pub created_at: Timestamp,
}

/// One of a partner's signing secrets (hex text, as the partner received it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSecret {
    pub secret_id: i64,
    pub secret: String,
    pub created_at: Timestamp,
    /// `None` for the current secret; a rotation sets it on the previous one.
    pub expires_at: Option<Timestamp>,
}

impl PartnerSecret {
    /// Whether the secret signs requests at `now`.
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// A verified partner request, ready to be applied.
#[derive(Debug)]
pub struct PartnerBatch {
    pub partner: PartnerId,
    /// The secret whose signature verified: it must still be active when the batch commits.
    pub secret_id: i64,
    /// The request's signature and its signed timestamp (Unix seconds): seen twice, the
    /// request is refused as a replay.
    pub signature: String,
    pub signed_at: i64,
    pub events: Vec<Result<PartnerEvent, Rejection>>,
}

/// Why a whole partner request was refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerRefusal {
    UnknownPartner,
    Disabled,
    /// The secret that signed it expired (a rotation's overlap ended) before it committed.
    SecretExpired,
    /// The same signed request was applied before, within the replay window.
    Replayed,
}

/// What a partner brought in a period: visits, rewards, and how much of the rewarded tokens
/// their users then spent in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartnerSummary {
    pub visits: i64,
    pub visitors: i64,
    pub rewards: i64,
    pub rewarded_users: i64,
    pub tokens_rewarded: i64,
    /// Per user, the lesser of the tokens the partner rewarded them in the period and the
    /// tokens they spent from their first such reward on (rewarded tokens are taken to be
    /// spent first).
    pub tokens_spent_after: i64,
}

/// Partners and their signed requests. Every method is one transaction.
#[async_trait]
pub trait Partners: Send + Sync {
    /// Registers a partner with its first secret; `false` if the id is taken.
    async fn create_partner(&self, partner: PartnerRecord, secret: String) -> Result<bool, StoreError>;

    async fn partner(
        &self,
        id: &PartnerId,
    ) -> Result<Option<(PartnerRecord, Vec<PartnerSecret>)>, StoreError>;

    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError>;

    /// Makes `secret` current; the current one stays valid until `old_until`, any older one
    /// stops now. `false` for an unknown partner.
    async fn rotate_partner_secret(
        &self,
        id: &PartnerId,
        secret: String,
        old_until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Enables or disables a partner; `false` for an unknown one.
    async fn set_partner_active(&self, id: &PartnerId, active: bool) -> Result<bool, StoreError>;

    /// Sets a partner's caps (and forgets its counted totals); `false` for an unknown one.
    async fn set_partner_caps(&self, id: &PartnerId, caps: RewardCaps) -> Result<bool, StoreError>;

    /// Applies a verified request: its events through the ledger (caps included), its visits
    /// and rewards to `site_visits` / `site_rewards`, all in one transaction.
    async fn partner_ingest(
        &self,
        batch: PartnerBatch,
        now: Timestamp,
    ) -> Result<Result<IngestReport, PartnerRefusal>, StoreError>;

    /// Visits and rewards with `ts` in `[from, to)`.
    async fn partner_summary(
        &self,
        id: &PartnerId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PartnerSummary, StoreError>;
}

/// The business day and month a request arrives in, as the caps count them.
pub(crate) struct Periods {
    pub day: String,
    pub month: String,
    pub month_start: String,
}

impl Periods {
    pub fn of(now: Timestamp, zone: &BusinessZone) -> Self {
        let day: Date = zone.day_of(now);
        Self {
            day: day.to_string(),
            month: day.strftime("%Y-%m").to_string(),
            month_start: day.first_of_month().to_string(),
        }
    }
}

/// One request in this many prunes the partner's old signatures: enough to bound the table,
/// without a delete on every request.
pub(crate) const PRUNE_EVERY: i64 = 64;

/// Signed timestamps before this can no longer verify: their requests need not be kept.
pub(crate) fn replay_horizon(now: Timestamp) -> i64 {
    now.as_second() - 2 * playpulse_core::partner::REPLAY_WINDOW.as_secs()
}

macro_rules! partner_columns {
    () => {
        "SELECT partner_id, name, active, caps, created_at_ms FROM partners"
    };
}

pub(crate) const CREATE: &str = "INSERT INTO partners (partner_id, name, active, caps, created_at_ms) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
pub(crate) const BY_ID: &str = concat!(partner_columns!(), " WHERE partner_id = $1");
pub(crate) const ALL: &str = concat!(partner_columns!(), " ORDER BY partner_id");
pub(crate) const SECRETS: &str = "SELECT secret_id, secret, created_at_ms, expires_at_ms \
     FROM partner_secrets WHERE partner_id = $1 ORDER BY secret_id";
pub(crate) const ADD_SECRET: &str = "INSERT INTO partner_secrets (partner_id, secret_id, secret, created_at_ms) \
     SELECT $1, COALESCE(MAX(secret_id), 0) + 1, $2, $3 FROM partner_secrets WHERE partner_id = $1";
/// Secrets already on their way out stop at `$1` (now)...
pub(crate) const END_EXPIRING: &str = "UPDATE partner_secrets SET expires_at_ms = $1 \
     WHERE partner_id = $2 AND expires_at_ms IS NOT NULL AND expires_at_ms > $1";
/// ...and the current one gets its overlap.
pub(crate) const EXPIRE_CURRENT: &str =
    "UPDATE partner_secrets SET expires_at_ms = $1 WHERE partner_id = $2 AND expires_at_ms IS NULL";
pub(crate) const SET_ACTIVE: &str = "UPDATE partners SET active = $1 WHERE partner_id = $2";
/// Locks a partner's row for the rest of the transaction, changing nothing.
pub(crate) const SET_ACTIVE_UNCHANGED: &str = "UPDATE partners SET active = active WHERE partner_id = $1";
pub(crate) const SET_CAPS: &str = "UPDATE partners SET caps = $1 WHERE partner_id = $2";
pub(crate) const CLEAR_TOTALS: &str = "DELETE FROM partner_totals WHERE partner_id = $1";

/// The partner's state and caps if the secret is still active at `$3`.
pub(crate) const SIGNER: &str = "SELECT p.active, p.caps FROM partners p \
     JOIN partner_secrets s ON s.partner_id = p.partner_id \
     WHERE p.partner_id = $1 AND s.secret_id = $2 AND (s.expires_at_ms IS NULL OR s.expires_at_ms > $3)";
pub(crate) const PRUNE_REQUESTS: &str =
    "DELETE FROM partner_requests WHERE partner_id = $1 AND signed_at_s < $2";
/// Notes a request; zero rows means it was seen before: a replay.
pub(crate) const NOTE_REQUEST: &str = "INSERT INTO partner_requests (partner_id, signed_at_s, signature) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
/// A period's total, row-locked for the rest of the transaction (a no-op update does that on
/// PostgreSQL; SQLite has one writer).
pub(crate) const LOCK_TOTAL: &str = "UPDATE partner_totals SET tokens = tokens \
     WHERE partner_id = $1 AND period = $2 RETURNING tokens";
/// A missing period total starts from the rewards already stored (days `$3` to `$4`).
pub(crate) const SEED_TOTAL: &str = "INSERT INTO partner_totals (partner_id, period, tokens) \
     SELECT $1, $2, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM site_rewards \
     WHERE partner_id = $1 AND day >= $3 AND day <= $4 ON CONFLICT DO NOTHING";
pub(crate) const ADD_TOTAL: &str =
    "UPDATE partner_totals SET tokens = tokens + $1 WHERE partner_id = $2 AND period = $3";
pub(crate) const INSERT_VISIT: &str = "INSERT INTO site_visits (event_id, partner_id, txn_id, user_id, \
     ts_ms, dwell_s, actions, page, campaign, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub(crate) const INSERT_REWARD: &str = "INSERT INTO site_rewards (event_id, partner_id, txn_id, user_id, \
     amount, campaign, ts_ms, day, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) const SUMMARY_VISITS: &str = "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM site_visits \
     WHERE partner_id = $1 AND ts_ms >= $2 AND ts_ms < $3";
pub(crate) const SUMMARY_REWARDS: &str = "SELECT COUNT(*), COUNT(DISTINCT user_id), \
     CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM site_rewards \
     WHERE partner_id = $1 AND ts_ms >= $2 AND ts_ms < $3";
pub(crate) const SUMMARY_SPENT: &str = "SELECT \
     CAST(COALESCE(SUM(CASE WHEN x.spent < x.tokens THEN x.spent ELSE x.tokens END), 0) AS BIGINT) \
     FROM (SELECT r.user_id, r.tokens, COALESCE(SUM(-l.delta), 0) AS spent \
       FROM (SELECT user_id, SUM(amount) AS tokens, MIN(ts_ms) AS first_ms FROM site_rewards \
             WHERE partner_id = $1 AND ts_ms >= $2 AND ts_ms < $3 GROUP BY user_id) r \
       LEFT JOIN ledger_entries l ON l.user_id = r.user_id AND l.delta < 0 AND l.ts_ms >= r.first_ms \
       GROUP BY r.user_id, r.tokens) x";

impl FromCells for PartnerRecord {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let id: String = row.get(at)?;
        Ok(PartnerRecord {
            id: PartnerId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("partner id {id}")))?,
            name: row.get(at + 1)?,
            active: row.get(at + 2)?,
            caps: json(&row.get::<String>(at + 3)?)?,
            created_at: instant(row.get(at + 4)?)?,
        })
    }
}

impl FromCells for PartnerSecret {
    const WIDTH: usize = 4;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(PartnerSecret {
            secret_id: row.get(at)?,
            secret: row.get(at + 1)?,
            created_at: instant(row.get(at + 2)?)?,
            expires_at: row.get::<Option<i64>>(at + 3)?.map(instant).transpose()?,
        })
    }
}

/// `(active, caps)` of [`SIGNER`].
pub(crate) struct Signer {
    pub active: bool,
    pub caps: RewardCaps,
}

impl FromCells for Signer {
    const WIDTH: usize = 2;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(Signer { active: row.get(at)?, caps: json(&row.get::<String>(at + 1)?)? })
    }
}

/// A partner batch as the ledger takes it: its events, and beside each accepted one what
/// the site tables record of it.
pub(crate) struct Split {
    pub events: Vec<Result<playpulse_core::event::Event, Rejection>>,
    pub sites: Vec<Option<(String, playpulse_core::partner::Site)>>,
}

impl Split {
    pub fn of(batch: Vec<Result<PartnerEvent, Rejection>>) -> Self {
        let (events, sites) = batch
            .into_iter()
            .map(|item| match item {
                Ok(p) => (Ok(p.event), Some((p.txn_id, p.site))),
                Err(rejection) => (Err(rejection), None),
            })
            .unzip();
        Self { events, sites }
    }
}

/// Whether the caps need the partner-wide totals.
pub(crate) fn partner_capped(caps: &RewardCaps) -> bool {
    caps.partner_daily.is_some() || caps.partner_monthly.is_some()
}
