//! Monitoring figures on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqliteStore, all, first};
use crate::vitals::{SEGMENT_SIZES, VITALS};
use crate::{Monitor, PoolUse, StoreError, Vitals};

#[async_trait]
impl Monitor for SqliteStore {
    async fn vitals(&self, active_since: Timestamp) -> Result<Vitals, StoreError> {
        let since = active_since.as_millisecond();
        self.readers
            .read(move |conn| {
                let vitals: Vitals =
                    first(conn, VITALS, [since])?.ok_or_else(|| StoreError::Corrupt("no vitals".into()))?;
                vitals.with_segments(all(conn, SEGMENT_SIZES, [])?)
            })
            .await
    }

    /// The read pool's connections (the writer has one of its own, always open).
    fn pool_use(&self) -> PoolUse {
        let (max, in_use) = self.readers.use_now();
        PoolUse { max, in_use, waiting: 0 }
    }
}
