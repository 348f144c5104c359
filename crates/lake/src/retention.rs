//! Cohort retention over the daily rollups (`sql/kpi/retention.sql`), with the semantics of
//! PostHog's retention insight, written out in the README ("Cohort retention").

use std::collections::BTreeMap;

use arrow_array::{Array, Int64Array};
use jiff::civil::Date;
use playpulse_core::analytics::{Activity, Cohort, Granularity, Population, RetainedIn, RetentionQuery};

use crate::LakeError;
use crate::analytics::Analytics;
use crate::kpis::{period_column, population_condition};

pub(crate) const RETENTION_SQL: &str = include_str!("../sql/kpi/retention.sql");
/// The default grid (first-time cohorts, any event, every user) from the rollups.
const RETENTION_ROLLED_SQL: &str = include_str!("../sql/kpi/retention_rolled.sql");

fn condition(activity: &Activity) -> String {
    match activity {
        Activity::Any => "u.events > 0".to_owned(),
        Activity::Of(t) => format!("u.count_{} > 0", t.as_str().to_lowercase()),
    }
}

impl Analytics {
    /// The retention grid: one line per cohort, periods that have not begun by the last day
    /// of data left out.
    pub async fn retention(&self, query: &RetentionQuery) -> Result<Vec<Cohort>, LakeError> {
        let sql = self.rolled_retention(query).unwrap_or_else(|| RETENTION_SQL.to_owned());
        self.grid(query, &sql).await
    }

    /// The grid from `sql`: `retention.sql` or `retention_rolled.sql`, which give the same
    /// rows for the queries the latter answers.
    pub(crate) async fn grid(&self, query: &RetentionQuery, sql: &str) -> Result<Vec<Cohort>, LakeError> {
        let day = |d: Date| playpulse_core::time::epoch_day(d).to_string();
        let sql = sql
            .replace("{period}", period_column(query.granularity))
            .replace("{from}", &day(query.from))
            .replace("{to}", &day(query.to))
            .replace("{last_day}", &day(query.last_day))
            .replace("{start}", &condition(&query.start))
            .replace("{return}", &condition(&query.returns))
            .replace("{recurring}", if query.recurring { "TRUE" } else { "FALSE" })
            .replace("{population}", &population_condition(&query.population));
        // number → (start, size, exact by offset, last return by offset)
        type Counts = (Option<i32>, i64, BTreeMap<i64, i64>, BTreeMap<i64, i64>);
        let mut cohorts: BTreeMap<i64, Counts> = BTreeMap::new();
        for batch in self.query(&sql).await? {
            let int = |name: &'static str| -> Result<Int64Array, LakeError> {
                let column = batch.column_by_name(name).ok_or(LakeError::Column(name))?;
                let cast = datafusion::arrow::compute::cast(column, &arrow_schema::DataType::Int64)?;
                cast.as_any().downcast_ref::<Int64Array>().cloned().ok_or(LakeError::Column(name))
            };
            let (number, start, offset, users) =
                (int("number")?, int("period_start")?, int("period_offset")?, int("users")?);
            let kind = crate::analytics::strings(&batch, "kind")?;
            for i in 0..batch.num_rows() {
                let entry = cohorts.entry(number.value(i)).or_default();
                match kind.value(i) {
                    "size" => {
                        entry.0 = i32::try_from(start.value(i)).ok();
                        entry.1 = users.value(i);
                    }
                    "exact" => *entry.2.entry(offset.value(i)).or_default() += users.value(i),
                    _ => *entry.3.entry(offset.value(i)).or_default() += users.value(i),
                }
            }
        }
        let mut out = Vec::new();
        for (_, (start, users, exact, last)) in cohorts {
            let Some(start) = start.and_then(|d| crate::date_of(d).ok()) else { continue };
            let mut periods = Vec::new();
            for &offset in &query.offsets {
                let Some((begins, ends)) = period_bounds(query.granularity, start, offset) else { continue };
                if begins > query.last_day {
                    continue;
                }
                let n = i64::from(offset);
                periods.push(RetainedIn {
                    offset,
                    exact: exact.get(&n).copied().unwrap_or(0),
                    on_or_after: last.range(n..).map(|(_, u)| u).sum(),
                    complete: ends <= query.last_day,
                });
            }
            out.push(Cohort { start, users, periods });
        }
        Ok(out)
    }

    /// The grid's SQL over `retention_days` and one day of `user_state`, when the query asks
    /// for what they count (first-time cohorts, any event, every user): it reads a few
    /// thousand rows and a million users instead of every user-day of the history. `None`
    /// for any other query, or before any day was rolled.
    fn rolled_retention(&self, query: &RetentionQuery) -> Option<String> {
        let defaults = query.start == Activity::Any
            && query.returns == Activity::Any
            && !query.recurring
            && query.population == Population::All;
        let last_day = playpulse_core::time::epoch_day(query.last_day);
        let state_day = self.days.get("user_state")?.range(..=last_day).next_back()?;
        defaults.then(|| RETENTION_ROLLED_SQL.replace("{state_day}", &state_day.to_string()))
    }
}

/// The first and last day of period `offset` after the one starting on `start`.
fn period_bounds(granularity: Granularity, start: Date, offset: u32) -> Option<(Date, Date)> {
    let span = |span: jiff::Span| start.checked_add(span).ok();
    let n = i64::from(offset);
    let (begins, next) = match granularity {
        Granularity::Day => (span(jiff::Span::new().days(n))?, span(jiff::Span::new().days(n + 1))?),
        Granularity::Week => (span(jiff::Span::new().weeks(n))?, span(jiff::Span::new().weeks(n + 1))?),
        Granularity::Month => (span(jiff::Span::new().months(n))?, span(jiff::Span::new().months(n + 1))?),
    };
    Some((begins, next.yesterday().ok()?))
}
