//! Monitoring figures on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PgStore, all, first};
use crate::vitals::{SEGMENT_SIZES, VITALS};
use crate::{Monitor, PoolUse, StoreError, Vitals};

#[async_trait]
impl Monitor for PgStore {
    async fn vitals(&self, active_since: Timestamp) -> Result<Vitals, StoreError> {
        let client = self.pool.get().await?;
        let vitals: Vitals = first(&client, VITALS, &[&active_since.as_millisecond()])
            .await?
            .ok_or_else(|| StoreError::Corrupt("no vitals".into()))?;
        vitals.with_segments(all(&client, SEGMENT_SIZES, &[]).await?)
    }

    fn pool_use(&self) -> PoolUse {
        let status = self.pool.status();
        PoolUse {
            max: status.max_size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }
}
