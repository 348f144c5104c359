//! The benchmarks' hook: the raw insert ceiling that `playpulse bench ingest` compares the
//! full write path against. Kept out of [`Store`], so nothing in production can call it.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::event::Event;
use playpulse_core::time::BusinessZone;

use crate::{Store, StoreError, postgres, sqlite};

/// A store that can also insert events as plain rows.
#[async_trait]
pub trait RawInsert: Store {
    /// Inserts events as plain rows, without validation, ledger or user state.
    async fn bench_raw_insert(&self, events: Vec<Event>, now: Timestamp) -> Result<(), StoreError>;
}

/// Opens a store as [`crate::open`] does, with the benchmarks' hook.
pub async fn open(
    url: Option<&str>,
    data_dir: &Path,
    zone: BusinessZone,
    now: Timestamp,
) -> Result<Arc<dyn RawInsert>, StoreError> {
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(url, zone, now).await?))
        }
        Some(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .ok_or_else(|| StoreError::InvalidUrl(format!("{url}: expected postgres:// or sqlite://")))?;
            Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path), zone, now)?))
        }
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(Arc::new(sqlite::SqliteStore::open(&data_dir.join("playpulse.db"), zone, now)?))
        }
    }
}
