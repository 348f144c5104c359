//! `GET /v1/jobs`: runs of the scheduled jobs, newest first.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{Input, Query};
use crate::problem::{ApiError, Problem};

const DEFAULT_RUNS: usize = 50;
const MAX_RUNS: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jobs))
}

#[derive(Deserialize, IntoParams)]
struct JobsQuery {
    /// Runs to list, 1 to 500 (default 50).
    limit: Option<usize>,
}

impl Input for JobsQuery {
    // `limit` is the only field that can fail to parse.
    const INVALID: &'static str = "invalid_limit";
}

/// One run of a scheduled job.
#[derive(Serialize, ToSchema)]
pub struct JobRunView {
    pub id: i64,
    pub job: String,
    /// Business date the run computed.
    pub as_of: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Users the run segmented.
    pub rows: Option<i64>,
    /// The run's report (segments, between bands, upgrades, rewards, cache drift).
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JobRuns {
    pub runs: Vec<JobRunView>,
}

#[utoipa::path(
    get, path = "/v1/jobs", tag = "jobs", params(JobsQuery),
    responses(
        (status = 200, body = JobRuns),
        (status = 400, description = "a bad limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn jobs(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Query(query): Query<JobsQuery>,
) -> Result<Json<JobRuns>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_RUNS);
    if !(1..=MAX_RUNS).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be from 1 to {MAX_RUNS}")));
    }
    let runs = state
        .store
        .job_runs(limit)
        .await?
        .into_iter()
        .map(|r| JobRunView {
            id: r.id,
            job: r.job,
            as_of: r.as_of.to_string(),
            status: r.status.as_str().to_owned(),
            started_at: r.started_at.to_string(),
            finished_at: r.finished_at.map(|t| t.to_string()),
            rows: r.rows,
            detail: r.detail,
            error: r.error,
        })
        .collect();
    Ok(Json(JobRuns { runs }))
}
