//! The lake export's feed: committed events in an order nothing can later slip behind.

use async_trait::async_trait;
use playpulse_core::ids::EventId;

use crate::StoreError;

/// Most events one page of the lake export holds (memory bound of an export step).
pub const MAX_EXPORT_PAGE: usize = 200_000;

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

/// A page of the lake export.
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    pub events: Vec<StoredEvent>,
    /// Where the next page starts.
    pub next: ExportMark,
    /// The first committed event past this page that is not final yet (PostgreSQL: a
    /// transaction that started before it is still running); asking again soon will get it.
    pub held_back: Option<ExportMark>,
    /// Every event committed when the page was read lies before this mark: an export that
    /// waits for what is held back below the horizon of its first page has everything that
    /// was committed when it began, and does not chase what commits after.
    pub horizon: ExportMark,
}

/// The feed the lake export reads. The backends order it differently (see [`ExportMark`]),
/// so each keeps its own query.
#[async_trait]
pub trait ExportFeed: Send + Sync {
    /// Up to `limit` final events after `mark`, in export order, with the mark after the
    /// last one.
    async fn events_after(&self, mark: ExportMark, limit: usize) -> Result<ExportPage, StoreError>;
}
