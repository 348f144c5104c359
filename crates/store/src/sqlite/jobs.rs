//! Job runs on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::jobs::{CLAIM, FINISH, RUN, RUNS, finish_columns};
use crate::{JobOutcome, JobRun, Jobs, StoreError};

#[async_trait]
impl Jobs for SqliteStore {
    async fn claim_job(
        &self,
        job: &str,
        as_of: Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let job = job.to_owned();
        let (now_ms, stale_ms) = (now.as_millisecond(), stale_before.as_millisecond());
        self.writer.write(move |conn| first(conn, CLAIM, params![job, as_of, now_ms, stale_ms])).await
    }

    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError> {
        let (status, rows, detail, error) = finish_columns(outcome);
        self.writer
            .write(move |conn| {
                exec(conn, FINISH, params![status, now.as_millisecond(), rows, detail, error, run])?;
                Ok(())
            })
            .await
    }

    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        self.readers.read(move |conn| all(conn, RUNS, [limit])).await
    }

    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError> {
        self.readers.lookup(|conn| first(conn, RUN, [id])).await
    }
}
