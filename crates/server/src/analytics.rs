//! `GET /v1/analytics/{metric}` and `GET /v1/analytics/retention`: the operator's KPIs and
//! cohort retention from the lake's daily rollups, as JSON or (`Accept: text/csv`) CSV; and
//! `GET /v1/analytics/notification_effects`, each notification trigger against its holdout.

use std::collections::BTreeMap;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use playpulse_core::analytics::{
    Cohort, Granularity, KpiQuery, KpiTable, Metric, Population, RetentionQuery,
};
use playpulse_core::notify::effects::{EffectQuery, TriggerEffect};
use playpulse_core::quiz::RiskProfile;
use playpulse_policy::arms::ProposalId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{Input, Path, Query};
use crate::problem::{ApiError, Problem};

/// Where the figures come from: the lake, behind this trait so the server links no engine.
#[async_trait]
pub trait AnalyticsSource: Send + Sync {
    async fn kpi(&self, query: KpiQuery) -> anyhow::Result<KpiTable>;
    async fn retention(&self, query: RetentionQuery) -> anyhow::Result<Vec<Cohort>>;
    /// Each notification trigger's treated and held-out users over complete windows.
    async fn trigger_effects(&self, query: EffectQuery) -> anyhow::Result<Vec<TriggerEffect>>;
    /// Finishes the store's pending erasures: the users' entries in `cache`, and the lake's
    /// copy of their rows.
    async fn finish_erasures(&self, cache: Option<&playpulse_cache::HotCache>) -> anyhow::Result<()>;
}

/// Longest range one request may cover.
const MAX_DAYS: i64 = 3 * 366;
/// Days covered when `from` is not given.
const DEFAULT_DAYS: i64 = 30;

mod effects;
pub(crate) mod retention;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(retention::router()).merge(effects::router()).routes(routes!(metric))
}

/// The metrics, as the path names them.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum MetricName {
    /// period, dau (average over the period's days), wau and mau (on its last day), stickiness
    ActiveUsers,
    /// period, new_users (first event ever in the period)
    NewUsers,
    /// period, churn_base, churned, churn_rate (on the period's last day; README "Churn rate")
    Churn,
    /// period, revenue, purchases, purchased_tokens, payers, active_users, payer_share, arpdau, arppu
    Revenue,
    /// period, earned (partner, app, reward), purchased, spent (game, unlock, item, paid), net_flow
    TokenFlow,
    /// period, visits, dwell_s, tokens, users (partner A)
    Partner,
    /// weekday (0 = Monday), business_hour, events, plays, users
    PeakHours,
    /// policy, type, variant, impressions, clicks, conversions, click_rate, conversion_rate
    ProposalFunnel,
    /// period, night, segment, users
    SegmentMix,
    /// night, from_segment, to_segment, users
    Transitions,
    /// period, night, whales, users, whale_spend, spend, user_share, spend_share
    WhaleShare,
    /// period, night, risk_profile, users
    RiskMix,
}

/// Every parameter is taken as text and parsed by the handler, so a bad value is a 422
/// naming it.
#[derive(Deserialize, IntoParams)]
pub(crate) struct RangeQuery {
    /// First business day (YYYY-MM-DD), default 29 days before `to`.
    pub(crate) from: Option<String>,
    /// Last business day (YYYY-MM-DD), default today in the business zone.
    pub(crate) to: Option<String>,
    /// `day` (default), `week` (Monday to Sunday) or `month`.
    pub(crate) granularity: Option<String>,
    /// Only the users in this segment on the latest night.
    pub(crate) segment: Option<String>,
    /// Only the users with this quiz risk profile on the latest night.
    pub(crate) risk_profile: Option<String>,
}

impl Input for RangeQuery {
    const INVALID: &'static str = "invalid_query";
}

/// A metric's rows; `columns` gives their order.
#[derive(Serialize, ToSchema)]
pub struct MetricAnswer {
    pub metric: String,
    pub from: String,
    pub to: String,
    pub granularity: String,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
}

#[utoipa::path(
    get, path = "/v1/analytics/{metric}", tag = "analytics",
    params(("metric" = inline(MetricName), Path, description = "the KPI; its columns are listed with its name"), RangeQuery),
    responses(
        (status = 200, body = MetricAnswer, description = "JSON, or CSV (header row, then rows) on `Accept: text/csv`"),
        (status = 404, description = "no such metric", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad parameter, named in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn metric(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<RangeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let metric = Metric::parse(&name).ok_or_else(|| {
        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        ApiError::not_found(
            "unknown_metric",
            format!("no metric is named `{name}`: the metrics are {known:?}"),
        )
    })?;
    let (from, to) = range(&state, &query)?;
    let granularity = granularity(query.granularity.as_deref(), Granularity::Day)?;
    let population = population(&state, &query)?;
    if population != Population::All && !metric.filterable() {
        return Err(ApiError::unprocessable(
            "invalid_filter",
            format!("{name} describes the segments and profiles themselves: it takes no filter"),
        )
        .with_item(Some(if query.segment.is_some() { "segment" } else { "risk_profile" }.into())));
    }
    let top_segment = state.product.segments.first().cloned().unwrap_or_default();
    let kpi = KpiQuery { metric, from: day(from), to: day(to), granularity, population, top_segment };
    let mut table = state.analytics.kpi(kpi).await.map_err(unavailable)?;
    if metric == Metric::ProposalFunnel {
        table = funnel(&table, &state);
    }
    if wants_csv(&headers) {
        return Ok(csv(&table));
    }
    let rows = table.rows.iter().map(|row| table.columns.iter().cloned().zip(row.iter().cloned()).collect());
    Ok(Json(MetricAnswer {
        metric: name,
        from: from.to_string(),
        to: to.to_string(),
        granularity: granularity_name(granularity).into(),
        columns: table.columns.clone(),
        rows: rows.collect(),
    })
    .into_response())
}

pub(crate) fn unavailable(err: anyhow::Error) -> ApiError {
    tracing::error!(error = format!("{err:#}"), "an analytics query failed");
    ApiError::unavailable("the analytics engine could not answer; try again")
}

fn day(date: Date) -> i32 {
    playpulse_core::time::epoch_day(date)
}

/// `from` and `to`, defaulted and checked.
pub(crate) fn range(state: &AppState, query: &RangeQuery) -> Result<(Date, Date), ApiError> {
    let parse = |raw: &str, item: &str| {
        raw.parse::<Date>().map_err(|_| {
            ApiError::unprocessable("invalid_date", format!("{item} must be a date, YYYY-MM-DD"))
                .with_item(Some(item.into()))
        })
    };
    let to = match &query.to {
        Some(raw) => parse(raw, "to")?,
        None => state.zone.day_of(state.clock.now()),
    };
    let from = match &query.from {
        Some(raw) => parse(raw, "from")?,
        None => playpulse_core::time::add_days(to, 1 - DEFAULT_DAYS).unwrap_or(to),
    };
    let days = playpulse_core::time::days_between(from, to);
    if !(0..MAX_DAYS).contains(&days) || from < playpulse_core::time::EPOCH_DAY {
        return Err(ApiError::unprocessable(
            "invalid_range",
            format!("from must be on or before to, at most {MAX_DAYS} days apart, and not before 1970"),
        )
        .with_item(Some("from".into())));
    }
    Ok((from, to))
}

pub(crate) fn granularity(raw: Option<&str>, default: Granularity) -> Result<Granularity, ApiError> {
    raw.map_or(Ok(default), |raw| {
        Granularity::parse(raw).ok_or_else(|| {
            ApiError::unprocessable("invalid_granularity", "granularity is day, week or month")
                .with_item(Some("granularity".into()))
        })
    })
}

pub(crate) fn granularity_name(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

/// The `segment` or `risk_profile` filter: a configured segment, a known profile, not both.
pub(crate) fn population(state: &AppState, query: &RangeQuery) -> Result<Population, ApiError> {
    match (&query.segment, &query.risk_profile) {
        (None, None) => Ok(Population::All),
        (Some(_), Some(_)) => {
            Err(ApiError::unprocessable("invalid_filter", "filter by segment or by risk_profile, not both")
                .with_item(Some("risk_profile".into())))
        }
        (Some(segment), None) if state.product.segments.contains(segment) => {
            Ok(Population::Segment(segment.clone()))
        }
        (Some(_), None) => Err(ApiError::unprocessable(
            "invalid_segment",
            format!("segment must be one of {:?}", state.product.segments),
        )
        .with_item(Some("segment".into()))),
        (None, Some(profile)) => RiskProfile::parse(profile)
            .map(|p| Population::RiskProfile(p.as_str().to_owned()))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_risk_profile",
                    "risk_profile is High-Risk, Moderate-Risk or Low-Risk",
                )
                .with_item(Some("risk_profile".into()))
            }),
    }
}

/// The funnel per proposal id, grouped by the policy version, type and variant the ids carry
/// (ids this deployment did not sign are left out).
pub(crate) fn funnel(table: &KpiTable, state: &AppState) -> KpiTable {
    let mut groups: BTreeMap<(String, String, String), [i64; 3]> = BTreeMap::new();
    for row in &table.rows {
        let Some(id) = row.first().and_then(Value::as_str) else { continue };
        let Some(id) = ProposalId::parse(id, &state.product.proposals.id_key) else { continue };
        let counts = groups.entry((id.policy, id.kind.as_str().to_owned(), id.variant)).or_default();
        for (total, value) in counts.iter_mut().zip(&row[1..]) {
            *total += value.as_i64().unwrap_or(0);
        }
    }
    let rate = |n: i64, of: i64| if of > 0 { json!(n as f64 / of as f64) } else { Value::Null };
    let columns = [
        "policy",
        "type",
        "variant",
        "impressions",
        "clicks",
        "conversions",
        "click_rate",
        "conversion_rate",
    ];
    KpiTable {
        columns: columns.map(String::from).to_vec(),
        rows: groups
            .into_iter()
            .map(|((policy, kind, variant), [shown, clicked, converted])| {
                vec![
                    json!(policy),
                    json!(kind),
                    json!(variant),
                    json!(shown),
                    json!(clicked),
                    json!(converted),
                    rate(clicked, shown),
                    rate(converted, shown),
                ]
            })
            .collect(),
    }
}

pub(crate) fn wants_csv(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv"))
}

/// RFC 4180 CSV: a header row, then the rows; fields with a comma, quote or line break are
/// quoted.
pub(crate) fn csv(table: &KpiTable) -> Response {
    let field = |value: &Value| {
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text
        }
    };
    let mut out = String::new();
    let header: Vec<Value> = table.columns.iter().map(|c| json!(c)).collect();
    for row in std::iter::once(&header).chain(&table.rows) {
        out.push_str(&row.iter().map(field).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}
