//! The operator's KPIs: one SQL file each in `sql/kpi/`, over the daily rollups, in the
//! business time zone, for a range of days at a granularity and optionally for one
//! population (a segment or a risk profile).

use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use datafusion::arrow::compute::cast;
use serde_json::{Number, Value};

use playpulse_core::analytics::{Granularity, KpiQuery, KpiTable, Metric, Population};

use crate::LakeError;
use crate::analytics::Analytics;
use crate::rollups::{Settings, TABLES, fill};

/// The SQL file of a metric.
pub fn sql_of(metric: Metric) -> &'static str {
    match metric {
        Metric::ActiveUsers => include_str!("../sql/kpi/active_users.sql"),
        Metric::NewUsers => include_str!("../sql/kpi/new_users.sql"),
        Metric::Churn => include_str!("../sql/kpi/churn.sql"),
        Metric::Revenue => include_str!("../sql/kpi/revenue.sql"),
        Metric::TokenFlow => include_str!("../sql/kpi/token_flow.sql"),
        Metric::Partner => include_str!("../sql/kpi/partner.sql"),
        Metric::PeakHours => include_str!("../sql/kpi/peak_hours.sql"),
        Metric::ProposalFunnel => include_str!("../sql/kpi/proposal_funnel.sql"),
        Metric::SegmentMix => include_str!("../sql/kpi/segment_mix.sql"),
        Metric::Transitions => include_str!("../sql/kpi/transitions.sql"),
        Metric::WhaleShare => include_str!("../sql/kpi/whale_share.sql"),
        Metric::RiskMix => include_str!("../sql/kpi/risk_mix.sql"),
    }
}

/// Distinct users per period, which more than one KPI reads (see the file).
const PERIOD_USERS_SQL: &str = include_str!("../sql/kpi/period_users.sql");

/// The calendar column holding the first day of a day's period.
pub(crate) fn period_column(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Day => "business_day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

/// Whether `day` is the first day of its period (weeks start on Monday, as in the calendar).
fn starts_period(day: i32, granularity: Granularity) -> Result<bool, LakeError> {
    Ok(match granularity {
        Granularity::Day => true,
        // 1970-01-01 was a Thursday.
        Granularity::Week => (day + 3).rem_euclid(7) == 0,
        Granularity::Month => crate::date_of(day)?.day() == 1,
    })
}

/// The SQL condition on `user_id` that selects a population. Names are quoted as SQL
/// literals (quotes doubled); the API admits only configured segment names and known
/// profiles besides.
pub(crate) fn population_condition(population: &Population) -> String {
    let latest = |column: &str, value: &str| {
        format!(
            "user_id IN (SELECT user_id FROM nights WHERE business_day = (SELECT MAX(business_day) FROM nights) AND {column} = {})",
            quote(value)
        )
    };
    match population {
        Population::All => "TRUE".to_owned(),
        Population::Segment(name) => latest("segment", name),
        Population::RiskProfile(name) => latest("risk_profile", name),
    }
}

/// A text as an SQL string literal.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Columns holding a business day as an integer, given back as a date.
const DAY_COLUMNS: [&str; 3] = ["period", "night", "business_day"];

impl Analytics {
    /// Runs one KPI.
    pub async fn kpi(&self, query: &KpiQuery, settings: &Settings) -> Result<KpiTable, LakeError> {
        let population = population_condition(&query.population);
        // A population's daily table is computed for the request, under a name of its own.
        let daily = match query.population {
            Population::All => None,
            _ => {
                let table = TABLES.iter().find(|t| t.name == "daily").expect("the daily table is a rollup");
                Some(self.register_result(&fill(table, query.from, query.to, settings, &population)?).await?)
            }
        };
        let fill_in = |sql: &str| {
            sql.replace("{daily}", daily.as_ref().map_or("daily", |d| d.name()))
                .replace("{population}", &population)
                .replace("{period}", period_column(query.granularity))
                .replace("{from}", &query.from.to_string())
                .replace("{to}", &query.to.to_string())
                .replace("{top}", &quote(&query.top_segment))
        };
        let sql = sql_of(query.metric);
        let period_users = if sql.contains("{period_users}") {
            let partial = !starts_period(query.from, query.granularity)?;
            let sql = fill_in(PERIOD_USERS_SQL).replace("{first_period_partial}", &partial.to_string());
            Some(self.register_result(&sql).await?)
        } else {
            None
        };
        let sql = fill_in(sql).replace("{period_users}", period_users.as_ref().map_or("", |t| t.name()));
        table_of(&self.query(&sql).await?)
    }
}

/// Arrow batches as a [`KpiTable`].
pub(crate) fn table_of(batches: &[RecordBatch]) -> Result<KpiTable, LakeError> {
    let Some(first) = batches.first() else { return Ok(KpiTable { columns: Vec::new(), rows: Vec::new() }) };
    let columns: Vec<String> = first.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = Vec::new();
    for batch in batches {
        let mut table: Vec<Vec<Value>> = vec![Vec::with_capacity(columns.len()); batch.num_rows()];
        for (c, name) in columns.iter().enumerate() {
            let values = values_of(batch.column(c), DAY_COLUMNS.contains(&name.as_str()))?;
            for (row, value) in table.iter_mut().zip(values) {
                row.push(value);
            }
        }
        rows.extend(table);
    }
    Ok(KpiTable { columns, rows })
}

fn values_of(column: &dyn Array, is_day: bool) -> Result<Vec<Value>, LakeError> {
    let data_type = column.data_type();
    let values = if data_type.is_integer() {
        let ints = cast(column, &DataType::Int64)?;
        let ints = ints.as_any().downcast_ref::<arrow_array::Int64Array>().ok_or(LakeError::Column("int"))?;
        ints.iter()
            .map(|v| match v {
                Some(day) if is_day => crate::date_of(i32::try_from(day).unwrap_or(i32::MAX))
                    .map(|d| Value::String(d.to_string()))
                    .unwrap_or(Value::Null),
                Some(n) => Value::from(n),
                None => Value::Null,
            })
            .collect()
    } else if data_type.is_floating() {
        let floats = cast(column, &DataType::Float64)?;
        let floats =
            floats.as_any().downcast_ref::<arrow_array::Float64Array>().ok_or(LakeError::Column("float"))?;
        floats.iter().map(|v| v.and_then(Number::from_f64).map_or(Value::Null, Value::Number)).collect()
    } else {
        let text = cast(column, &DataType::Utf8)?;
        let text =
            text.as_any().downcast_ref::<arrow_array::StringArray>().ok_or(LakeError::Column("text"))?;
        text.iter().map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned()))).collect()
    };
    Ok(values)
}

#[cfg(test)]
mod tests;
