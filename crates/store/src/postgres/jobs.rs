//! Job runs on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;

use super::{PgStore, all, exec, first, limit_of};
use crate::jobs::{CLAIM, FINISH, RUN, RUNS, finish_columns};
use crate::{JobOutcome, JobRun, Jobs, StoreError};

#[async_trait]
impl Jobs for PgStore {
    async fn claim_job(
        &self,
        job: &str,
        as_of: Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let (now_ms, stale_ms) = (now.as_millisecond(), stale_before.as_millisecond());
        first(&self.pool.get().await?, CLAIM, &[&job, &as_of, &now_ms, &stale_ms]).await
    }

    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError> {
        let (status, rows, detail, error) = finish_columns(outcome);
        let client = self.pool.get().await?;
        exec(&client, FINISH, &[&status, &now.as_millisecond(), &rows, &detail, &error, &run]).await?;
        Ok(())
    }

    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        all(&self.pool.get().await?, RUNS, &[&limit_of(limit)]).await
    }

    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError> {
        first(&self.pool.get().await?, RUN, &[&id]).await
    }
}
