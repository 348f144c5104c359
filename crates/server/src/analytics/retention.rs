//! `GET /v1/analytics/retention`: the cohort retention grid.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use playpulse_core::analytics::{Activity, Granularity, KpiTable, RetentionQuery};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{RangeQuery, csv, granularity, granularity_name, population, range, unavailable, wants_csv};
use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{Input, Query};
use crate::problem::{ApiError, Problem};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(retention))
}

#[derive(Deserialize, IntoParams)]
struct RetentionParams {
    /// Cohorts whose period starts on or after this day (default: 29 days before `to`).
    from: Option<String>,
    /// Cohorts whose period starts on or before this day, and the last day of data (default
    /// today in the business zone).
    to: Option<String>,
    /// `day` (default; periods 1–7, 14, 30), `week` (1–12) or `month` (1–12).
    granularity: Option<String>,
    /// Event type that puts a user in a cohort, or `any` (default).
    start_event: Option<String>,
    /// Event type that counts as a return, or `any` (default).
    return_event: Option<String>,
    /// `first_time` (default: the period of the user's first start event) or `recurring`
    /// (every period with a start event).
    cohort_type: Option<String>,
    segment: Option<String>,
    risk_profile: Option<String>,
}

impl Input for RetentionParams {
    const INVALID: &'static str = "invalid_query";
}

/// The retention grid.
#[derive(Serialize, ToSchema)]
pub struct RetentionAnswer {
    pub granularity: String,
    pub cohort_type: String,
    pub last_day: String,
    pub cohorts: Vec<CohortLine>,
}

#[derive(Serialize, ToSchema)]
pub struct CohortLine {
    /// First day of the cohort's period.
    pub cohort: String,
    pub users: i64,
    pub periods: Vec<PeriodCell>,
}

#[derive(Serialize, ToSchema)]
pub struct PeriodCell {
    /// N: the Nth period after the cohort's own.
    pub period: u32,
    /// Users who returned in period N.
    pub returned: i64,
    pub returned_share: f64,
    /// Users who returned in period N or later.
    pub returned_on_or_after: i64,
    pub returned_on_or_after_share: f64,
    /// False while period N has not ended: its counts can still grow.
    pub complete: bool,
}

/// The periods reported: days 1–7, 14 and 30; weeks or months 1–12.
pub(crate) fn offsets(granularity: Granularity) -> Vec<u32> {
    match granularity {
        Granularity::Day => (1..=7).chain([14, 30]).collect(),
        Granularity::Week | Granularity::Month => (1..=12).collect(),
    }
}

#[utoipa::path(
    get, path = "/v1/analytics/retention", tag = "analytics",
    params(RetentionParams),
    responses(
        (status = 200, body = RetentionAnswer, description = "JSON, or CSV (one row per cohort and period) on `Accept: text/csv`"),
        (status = 422, description = "a bad parameter, named in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn retention(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Query(params): Query<RetentionParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let range_query = RangeQuery {
        from: params.from.clone(),
        to: params.to.clone(),
        granularity: None,
        segment: params.segment.clone(),
        risk_profile: params.risk_profile.clone(),
    };
    let (from, to) = range(&state, &range_query)?;
    let granularity = granularity(params.granularity.as_deref(), Granularity::Day)?;
    let activity = |raw: Option<&str>, item: &str| {
        Activity::parse(raw.unwrap_or("any")).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_event_type",
                format!("{item} must be `any` or a known event type"),
            )
            .with_item(Some(item.into()))
        })
    };
    let recurring = match params.cohort_type.as_deref().unwrap_or("first_time") {
        "first_time" => false,
        "recurring" => true,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_cohort_type",
                "cohort_type is first_time or recurring",
            )
            .with_item(Some("cohort_type".into())));
        }
    };
    let offsets = offsets(granularity);
    let query = RetentionQuery {
        granularity,
        from,
        to,
        last_day: to,
        start: activity(params.start_event.as_deref(), "start_event")?,
        returns: activity(params.return_event.as_deref(), "return_event")?,
        recurring,
        offsets,
        population: population(&state, &range_query)?,
    };
    let cohorts = state.analytics.retention(query).await.map_err(unavailable)?;
    let share = |n: i64, of: i64| if of > 0 { n as f64 / of as f64 } else { 0.0 };
    let lines: Vec<CohortLine> = cohorts
        .into_iter()
        .map(|c| CohortLine {
            cohort: c.start.to_string(),
            users: c.users,
            periods: c
                .periods
                .iter()
                .map(|p| PeriodCell {
                    period: p.offset,
                    returned: p.exact,
                    returned_share: share(p.exact, c.users),
                    returned_on_or_after: p.on_or_after,
                    returned_on_or_after_share: share(p.on_or_after, c.users),
                    complete: p.complete,
                })
                .collect(),
        })
        .collect();
    if wants_csv(&headers) {
        let columns = ["cohort", "users", "period", "returned", "returned_on_or_after", "complete"];
        let rows = lines
            .iter()
            .flat_map(|l| {
                l.periods.iter().map(|p| {
                    vec![
                        json!(l.cohort),
                        json!(l.users),
                        json!(p.period),
                        json!(p.returned),
                        json!(p.returned_on_or_after),
                        json!(p.complete),
                    ]
                })
            })
            .collect();
        return Ok(csv(&KpiTable { columns: columns.map(String::from).to_vec(), rows }));
    }
    Ok(Json(RetentionAnswer {
        granularity: granularity_name(granularity).into(),
        cohort_type: if recurring { "recurring" } else { "first_time" }.into(),
        last_day: to.to_string(),
        cohorts: lines,
    })
    .into_response())
}
