//! Scheduled jobs: each (job, business day) is claimed by exactly one runner, and every run
//! is recorded.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// One run of a scheduled job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub as_of: Date,
    pub status: JobStatus,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub rows: Option<i64>,
    pub detail: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// How a job run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Succeeded { rows: i64, detail: serde_json::Value },
    Failed { error: String },
}

/// Runs of scheduled jobs, claimed in the database so that no leader election is needed.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Claims the run of `job` for business day `as_of`: its id if this caller is to run it
    /// (no run yet, the last one failed, or a running one started before `stale_before`),
    /// `None` if another run has it. One atomic statement: of many callers, one wins.
    async fn claim_job(
        &self,
        job: &str,
        as_of: Date,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<i64>, StoreError>;

    /// Records how a claimed run ended.
    async fn finish_job(&self, run: i64, now: Timestamp, outcome: JobOutcome) -> Result<(), StoreError>;

    /// The latest runs, newest first.
    async fn job_runs(&self, limit: usize) -> Result<Vec<JobRun>, StoreError>;

    /// One run by its id.
    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError>;
}

pub(crate) const CLAIM: &str = "INSERT INTO job_runs (job, as_of, status, started_at_ms) \
     VALUES ($1, $2, 'running', $3) ON CONFLICT (job, as_of) DO UPDATE SET status = 'running', \
     started_at_ms = excluded.started_at_ms, finished_at_ms = NULL, rows = NULL, detail = NULL, error = NULL \
     WHERE job_runs.status = 'failed' OR (job_runs.status = 'running' AND job_runs.started_at_ms < $4) \
     RETURNING id";
pub(crate) const FINISH: &str = "UPDATE job_runs SET status = $1, finished_at_ms = $2, rows = $3, \
     detail = $4, error = $5 WHERE id = $6";
pub(crate) const RUNS: &str = "SELECT id, job, as_of, status, started_at_ms, finished_at_ms, rows, detail, \
     error FROM job_runs ORDER BY started_at_ms DESC, id DESC LIMIT $1";
pub(crate) const RUN: &str = "SELECT id, job, as_of, status, started_at_ms, finished_at_ms, rows, detail, \
     error FROM job_runs WHERE id = $1";

/// The columns [`FINISH`] sets after the run id: status, rows, detail, error.
pub(crate) fn finish_columns(
    outcome: JobOutcome,
) -> (&'static str, Option<i64>, Option<serde_json::Value>, Option<String>) {
    match outcome {
        JobOutcome::Succeeded { rows, detail } => {
            (JobStatus::Succeeded.as_str(), Some(rows), Some(detail), None)
        }
        JobOutcome::Failed { error } => (JobStatus::Failed.as_str(), None, None, Some(error)),
    }
}

impl FromCells for JobRun {
    const WIDTH: usize = 9;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let status: String = row.get(at + 3)?;
        Ok(JobRun {
            id: row.get(at)?,
            job: row.get(at + 1)?,
            as_of: row.get(at + 2)?,
            status: JobStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("job status {status}")))?,
            started_at: instant(row.get(at + 4)?)?,
            finished_at: row.get::<Option<i64>>(at + 5)?.map(instant).transpose()?,
            rows: row.get(at + 6)?,
            detail: row.get(at + 7)?,
            error: row.get(at + 8)?,
        })
    }
}
