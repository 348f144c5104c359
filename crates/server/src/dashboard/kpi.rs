//! The analytics API's figures, read for the pages: the same queries through the same
//! source, so that a page never shows a number the API would not.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use playpulse_core::analytics::{Granularity, KpiQuery, KpiTable, Metric, Population};
use playpulse_core::time::{add_days, epoch_day};
use serde_json::Value;

use super::i18n::Lang;
use super::layout::Refusal;
use crate::AppState;

/// An instant as the operator's team reads it: in the business zone, with its abbreviation.
pub fn when(state: &AppState, at: jiff::Timestamp) -> String {
    at.to_zoned(state.zone.tz().clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// Today in the business zone.
pub fn today(state: &AppState) -> Date {
    state.zone.day_of(state.clock.now())
}

/// The `days` days up to today.
pub fn last_days(state: &AppState, days: i64) -> (Date, Date) {
    let to = today(state);
    (add_days(to, 1 - days).unwrap_or(to), to)
}

/// A KPI for everyone, as `GET /v1/analytics/{metric}` answers it.
pub async fn kpi(
    state: &AppState,
    lang: Lang,
    metric: Metric,
    (from, to): (Date, Date),
    granularity: Granularity,
) -> Result<KpiTable, Response> {
    let top_segment = state.product.segments.first().cloned().unwrap_or_default();
    let query = KpiQuery {
        metric,
        from: epoch_day(from),
        to: epoch_day(to),
        granularity,
        population: Population::All,
        top_segment,
    };
    let table = state.analytics.kpi(query).await.map_err(|err| unavailable(lang, err))?;
    Ok(if metric == Metric::ProposalFunnel { crate::analytics::funnel(&table, state) } else { table })
}

pub fn unavailable(lang: Lang, err: anyhow::Error) -> Response {
    tracing::error!(error = format!("{err:#}"), "dashboard: an analytics query failed");
    let text = "The analytics engine could not answer; try again.";
    Refusal::new(lang, StatusCode::SERVICE_UNAVAILABLE, "analytics_unavailable", text).into_response()
}

/// The position of column `name`.
pub fn at(table: &KpiTable, name: &str) -> Option<usize> {
    table.columns.iter().position(|c| c == name)
}

/// Column `name`, each cell read by `read` (`None` where it reads nothing or the column is
/// absent).
fn column<T>(table: &KpiTable, name: &str, read: impl Fn(&Value) -> Option<T>) -> Vec<Option<T>> {
    let at = at(table, name);
    table.rows.iter().map(|row| at.and_then(|i| row.get(i)).and_then(&read)).collect()
}

/// Column `name` as numbers.
pub fn numbers(table: &KpiTable, name: &str) -> Vec<Option<f64>> {
    column(table, name, Value::as_f64)
}

/// Column `name` as whole numbers (`None` where fractional too).
pub fn integers(table: &KpiTable, name: &str) -> Vec<Option<i64>> {
    column(table, name, Value::as_i64)
}

/// Column `name` as text (empty where absent).
pub fn texts(table: &KpiTable, name: &str) -> Vec<String> {
    column(table, name, |v| Some(cell(v))).into_iter().map(Option::unwrap_or_default).collect()
}

/// A cell as a table shows it.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every row of a table as text, numbers formatted for `lang`.
pub fn rows(lang: Lang, table: &KpiTable) -> Vec<Vec<String>> {
    let show = |v: &Value| match v {
        Value::Number(n) if n.is_i64() => lang.int(n.as_i64().unwrap_or(0)),
        Value::Number(n) => lang.dec(n.as_f64().unwrap_or(f64::NAN), 4),
        other => cell(other),
    };
    table.rows.iter().map(|row| row.iter().map(show).collect()).collect()
}
