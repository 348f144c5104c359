//! The operational store of playpulse: one trait per concern, two backends.
//!
//! [`sqlite`] is the embedded default (one file in WAL mode, no setup); [`postgres`] is the
//! production backend, selected by a `postgres://` URL. [`Store`] is every concern together,
//! and what the server holds; callers never ask which backend they talk to.
//!
//! One body per rule: the SQL of every statement both engines run alike is written once, in
//! the module of its concern (placeholders `$1, $2, …` in order of first use, which SQLite
//! reads as numbered too); rows are mapped once ([`rows`]); migrations are numbered alike and
//! applied by one runner. A backend module holds only what really differs: connections,
//! transactions, and the bulk forms of the write path (row by row on SQLite's one writer,
//! whole columns through `unnest` on PostgreSQL).
//!
//! Architecture invariant: this is the only crate that speaks SQL to the operational DB.
//! It depends on `core` and on nothing else of ours.

mod bench;
mod content;
mod error;
mod export;
mod jobs;
mod keys;
mod ledger;
mod migrate;
mod operators;
mod outbox;
mod partners;
mod players;
pub mod postgres;
mod privacy;
mod results;
mod rows;
mod scores;
pub mod sqlite;
mod vitals;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::time::BusinessZone;

pub use crate::bench::{RawInsert, open as open_for_bench};
pub use crate::content::{
    Content, ContentSaved, ContentUnlock, Expected, ImportCounts, StoredContent, UnlockOutcome, UnlockRequest,
};
pub use crate::error::StoreError;
pub use crate::export::{ExportFeed, ExportMark, ExportPage, MAX_EXPORT_PAGE, StoredEvent};
pub use crate::jobs::{JobOutcome, JobRun, JobStatus, Jobs};
pub use crate::keys::{ApiKeyRecord, Keys, TokenKey};
pub use crate::ledger::{IngestReport, Ledger, StoredEntry};
pub use crate::operators::{Lockout, OperatorRecord, OperatorSession, Operators};
pub use crate::outbox::{DeliveryState, Device, Outbox, Retried, Settlement, StoredNotification};
pub use crate::partners::{
    PartnerBatch, PartnerRecord, PartnerRefusal, PartnerSecret, PartnerSummary, Partners,
};
pub use crate::players::{LimitsChanged, Players, ProfileUpdate, QuizResponse, UserRecord};
pub use crate::privacy::{Erased, ErasureReceipt, PendingLakeErasure, Privacy, SegmentChange, UserEvent};
pub use crate::results::{Arm, Hours, MAX_MEMBERS_PAGE, Night, Results, StoredSegment, Transition};
pub use crate::scores::{CHURN, ScoreNight, Scores, StoredScore, WHALE_CANDIDATE};
pub use crate::vitals::{Monitor, PoolUse, Vitals};

/// Most rows one page of a listing returns.
pub const MAX_PAGE_SIZE: usize = 500;

/// The traits of every concern, for callers that use several.
pub mod prelude {
    pub use crate::{
        Content, ExportFeed, Jobs, Keys, Ledger, Monitor, Operators, Outbox, Partners, Players, Privacy,
        Results, Scores, Store,
    };
}

/// The operational store: every concern of one backend. Every method is one transaction.
#[async_trait]
pub trait Store:
    Ledger
    + Players
    + Keys
    + ExportFeed
    + Results
    + Scores
    + Jobs
    + Outbox
    + Partners
    + Content
    + Privacy
    + Monitor
    + Operators
    + 'static
{
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Where the operational DB lives: a `postgres://` URL, a `sqlite://PATH` URL, or, when
/// no URL is given, `playpulse.db` inside the data directory. Pending migrations are applied
/// (recorded as applied at `now`).
pub async fn open(
    url: Option<&str>,
    data_dir: &Path,
    zone: BusinessZone,
    now: Timestamp,
) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn RawInsert> = bench::open(url, data_dir, zone, now).await?;
    Ok(store)
}

/// Every statement both backends run from the same text (checked by each backend's tests).
#[cfg(test)]
fn shared_statements() -> Vec<&'static str> {
    let mut statements = vec![
        ledger::LEDGER_PAGE,
        ledger::LEDGER_SUM,
        ledger::USER_STATES,
        ledger::EVENT_COUNT,
        players::USER,
        players::UPDATE_PROFILE,
        players::LIMITS,
        players::SET_LIMITS,
        players::KNOWN,
        players::INSERT_QUIZ,
        players::SET_RISK,
        players::QUIZ_RESPONSES,
        players::RISK_PROFILES,
        keys::CREATE,
        keys::BY_ID,
        keys::ALL,
        keys::REVOKE,
        keys::TOKEN_KEYS,
        keys::CURRENT_TOKEN_KEY,
        keys::END_RETIRING,
        keys::RETIRE_CURRENT,
        keys::ADD_TOKEN_KEY,
        results::SEGMENTS,
        results::SEGMENT_MEMBERS,
        results::CLEAR_STAGED,
        results::RECORD_HISTORY,
        results::APPLY_SEGMENTS,
        results::TRANSITIONS,
        results::NEWER_ARMS,
        results::CLEAR_ARMS,
        scores::NEWER_SCORES,
        scores::DROP_OLDER,
        scores::USER_SCORES,
        results::ARMS,
        results::SEGMENT_HOURS,
        jobs::CLAIM,
        jobs::FINISH,
        jobs::RUNS,
        jobs::RUN,
        outbox::PENDING,
        outbox::SETTLE,
        outbox::SENT_SINCE,
        outbox::OF_USER,
        outbox::RETRY,
        outbox::ONE,
        // Their PostgreSQL versions add a lock clause only.
        sqlite::outbox::PUT_DEVICE,
        sqlite::outbox::CLAIM,
        outbox::DEVICES,
        outbox::DISABLE_DEVICE,
        vitals::VITALS,
        vitals::SEGMENT_SIZES,
        operators::CREATE,
        operators::BY_NAME,
        operators::ALL,
        operators::FAILED,
        operators::SUCCEEDED,
        operators::PRUNE_SESSIONS,
        operators::CREATE_SESSION,
        operators::SESSION,
        operators::END_SESSION,
        partners::CREATE,
        partners::BY_ID,
        partners::ALL,
        partners::SECRETS,
        partners::ADD_SECRET,
        partners::END_EXPIRING,
        partners::EXPIRE_CURRENT,
        partners::SET_ACTIVE,
        partners::SET_ACTIVE_UNCHANGED,
        partners::SET_CAPS,
        partners::CLEAR_TOTALS,
        partners::SIGNER,
        partners::PRUNE_REQUESTS,
        partners::NOTE_REQUEST,
        partners::LOCK_TOTAL,
        partners::SEED_TOTAL,
        partners::ADD_TOTAL,
        partners::INSERT_VISIT,
        partners::INSERT_REWARD,
        partners::SUMMARY_VISITS,
        partners::SUMMARY_REWARDS,
        partners::SUMMARY_SPENT,
        content::ITEMS,
        content::ITEM,
        content::STAGE_HOLDER,
        content::UPSERT_ITEM,
        content::INSERT_VERSION,
        content::VERSIONS,
        content::UNLOCKS_OF,
        content::UNLOCK_OF,
        content::REWARD_BY_EVENT,
        content::HOLDS_STAGE,
        content::SEGMENT_OF,
        content::INSERT_UNLOCK,
        content::UNLOCK_COUNTS,
        privacy::SEED_KEY,
        privacy::KEY,
        privacy::KNOWN_USER,
        privacy::RECEIPT,
        privacy::RECORD_ERASURE,
        privacy::PENDING,
        privacy::FINISH,
        privacy::EVENTS_TO_RENAME,
        privacy::RENAME_EVENT,
        privacy::USER_EVENTS,
        privacy::USER_NOTIFICATIONS,
        privacy::SEGMENT_HISTORY,
        privacy::ERASED,
        migrate::APPLIED,
        migrate::RECORD,
    ];
    statements.extend(privacy::STEPS.iter().map(privacy::Step::sql));
    statements
}
