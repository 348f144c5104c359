//! The analytics engine: DataFusion in-process over the event lake. Every query is SQL text
//! in `crates/lake/sql/`, one file per metric, in standard SQL that a distributed engine
//! (Spark, Ballista) runs unchanged over the same Parquet files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use datafusion::prelude::{SessionConfig, SessionContext};
use playpulse_core::segments::{Monetary, Rfm};

use crate::LakeError;
use crate::rollups::{RollupReport, Settings};

mod build;
use build::{Mode, build};

/// The RFM query (see the file for its parameters).
pub const RFM_SQL: &str = include_str!("../sql/rfm.sql");
/// Events per user and business hour.
pub const HOURS_SQL: &str = include_str!("../sql/hours.sql");
/// Impressions and conversions per proposal id.
pub const PROPOSAL_OUTCOMES_SQL: &str = include_str!("../sql/proposal_outcomes.sql");

/// Fills the window parameters every query takes.
fn windowed(sql: &str, as_of_day: i32, window_days: u32) -> String {
    sql.replace("{as_of_day}", &as_of_day.to_string()).replace("{window_days}", &window_days.to_string())
}

/// The schema with text columns read as string views: no copy on read, and faster grouping
/// and comparison (measured: the RFM benchmark runs ~25% faster).
fn view_types(schema: &arrow_schema::Schema) -> arrow_schema::SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == &arrow_schema::DataType::Utf8 {
                f.as_ref().clone().with_data_type(arrow_schema::DataType::Utf8View)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(arrow_schema::Schema::new(fields))
}

/// The engine's settings: `DATAFUSION_*` environment variables (e.g.
/// `DATAFUSION_EXECUTION_TARGET_PARTITIONS`) win; otherwise two partitions per core, so
/// decoding and aggregating overlap, and batches of 32 Ki rows (both measured on the RFM
/// benchmark: ~15% faster than DataFusion's defaults on two cores).
fn session_config() -> Result<SessionConfig, LakeError> {
    let mut config = SessionConfig::from_env()?;
    let set = |name: &str| std::env::var_os(name).is_some();
    if !set("DATAFUSION_EXECUTION_TARGET_PARTITIONS") {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        config = config.with_target_partitions(2 * cores);
    }
    if !set("DATAFUSION_EXECUTION_BATCH_SIZE") {
        config = config.with_batch_size(32 * 1024);
    }
    Ok(config)
}

/// A text column of a result as plain strings, whichever string layout the engine chose.
pub(crate) fn strings(batch: &RecordBatch, name: &'static str) -> Result<StringArray, LakeError> {
    let column = batch.column_by_name(name).ok_or(LakeError::Column(name))?;
    let text = datafusion::arrow::compute::cast(column, &arrow_schema::DataType::Utf8)?;
    text.as_any().downcast_ref::<StringArray>().cloned().ok_or(LakeError::Column(name))
}

pub(crate) fn ints<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a Int64Array, LakeError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or(LakeError::Column(name))
}

pub(crate) fn floats<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a Float64Array, LakeError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
        .ok_or(LakeError::Column(name))
}

/// An engine session with the lake's tables registered: `events`, `calendar`, and every
/// rollup table, whose stale days (exported since the last roll-up) are computed on the fly.
pub struct Analytics {
    ctx: SessionContext,
    /// The days each rollup table holds rows for.
    pub(crate) days: BTreeMap<&'static str, BTreeSet<i32>>,
    /// What the rollups were computed with.
    settings: Settings,
}

impl Analytics {
    /// Registers the lake's committed files (as their manifests name them, so a file being
    /// written or merged right now is never read twice or half), reading only.
    pub async fn open(lake_root: &Path, settings: &Settings) -> Result<Self, LakeError> {
        Ok(build(lake_root, settings, Mode::Read { through: None }).await?.0)
    }

    /// Registers the lake's `events` alone, for queries over the raw events.
    pub async fn open_events(lake_root: &Path) -> Result<Self, LakeError> {
        build::events_only(lake_root).await
    }

    /// As [`Analytics::open`], with the daily table running on to `today` (days since
    /// 1970-01-01) when the last events are older: a quiet day still has its active users.
    pub async fn open_through(lake_root: &Path, settings: &Settings, today: i32) -> Result<Self, LakeError> {
        Ok(build(lake_root, settings, Mode::Read { through: Some(today) }).await?.0)
    }

    /// Rolls up every stale day (and every day of `rebuild`, if given) into the rollup
    /// tables and commits them; the caller holds the lake's writer lock.
    pub async fn roll_up(
        lake_root: &Path,
        settings: &Settings,
        rebuild: Option<(i32, i32)>,
    ) -> Result<(Self, RollupReport), LakeError> {
        build(lake_root, settings, Mode::Write { rebuild }).await
    }

    /// Registers the result of `sql` under a fresh name until the returned guard goes.
    pub(crate) async fn register_result(&self, sql: &str) -> Result<Temporary, LakeError> {
        let result = self.ctx.sql(sql).await?;
        let schema = Arc::new(result.schema().as_arrow().clone());
        let rows = result.collect().await?;
        self.register_rows(schema, rows)
    }

    /// Registers `rows` under a fresh name until the returned guard goes.
    pub(crate) fn register_rows(
        &self,
        schema: SchemaRef,
        rows: Vec<RecordBatch>,
    ) -> Result<Temporary, LakeError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!("temporary_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let table = datafusion::datasource::MemTable::try_new(schema, vec![rows])?;
        self.ctx.register_table(&name, Arc::new(table))?;
        Ok(Temporary { ctx: self.ctx.clone(), name })
    }

    /// Runs one query over the registered tables.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
        self.run(sql).await
    }

    /// Runs one query; with its schema, which an empty result does not carry.
    pub(crate) async fn query_with_schema(
        &self,
        sql: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), LakeError> {
        let frame = self.ctx.sql(sql).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        Ok((schema, frame.collect().await?))
    }

    async fn run(&self, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }

    /// Each user's events per business hour (00–23) inside the window.
    pub async fn hours(
        &self,
        as_of_day: i32,
        window_days: u32,
    ) -> Result<Vec<(String, [i64; 24])>, LakeError> {
        let mut by_user: std::collections::BTreeMap<String, [i64; 24]> = Default::default();
        for batch in self.run(&windowed(HOURS_SQL, as_of_day, window_days)).await? {
            let users = &strings(&batch, "user_id")?;
            let hours = batch
                .column_by_name("business_hour")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::Int32Array>())
                .ok_or(LakeError::Column("business_hour"))?;
            let events = ints(&batch, "events")?;
            for i in 0..batch.num_rows() {
                let hour = usize::try_from(hours.value(i)).ok().filter(|h| *h < 24);
                let hour = hour.ok_or_else(|| LakeError::Row(format!("business hour {}", hours.value(i))))?;
                by_user.entry(users.value(i).to_owned()).or_insert([0; 24])[hour] += events.value(i);
            }
        }
        Ok(by_user.into_iter().collect())
    }

    /// (proposal id, impressions, conversions) of every proposal shown or converted inside
    /// the window.
    pub async fn proposal_outcomes(
        &self,
        as_of_day: i32,
        window_days: u32,
    ) -> Result<Vec<(String, i64, i64)>, LakeError> {
        let mut out = Vec::new();
        for batch in self.run(&windowed(PROPOSAL_OUTCOMES_SQL, as_of_day, window_days)).await? {
            let (ids, shown, converted) = (
                &strings(&batch, "proposal_id")?,
                ints(&batch, "impressions")?,
                ints(&batch, "conversions")?,
            );
            out.extend(
                (0..batch.num_rows()).map(|i| (ids.value(i).to_owned(), shown.value(i), converted.value(i))),
            );
        }
        Ok(out)
    }

    /// Every user with an event at or before the query's as-of day, with their figures.
    pub async fn rfm(&self, query: &RfmQuery) -> Result<Vec<UserFigures>, LakeError> {
        let mut out = Vec::new();
        let as_of = query.as_of_day;
        let sql = self.settings.apply(RFM_SQL)?;
        // The users' state as of the as-of day: that of the last day held up to it (the days
        // after it, if any, had no events).
        let state_days = self.days.get("user_state").and_then(|d| d.range(..=as_of).next_back());
        let Some(state_day) = state_days else {
            return Ok(out);
        };
        let sql =
            sql.replace("{as_of_day}", &as_of.to_string()).replace("{state_day}", &state_day.to_string());
        for batch in self.run(&sql).await? {
            let users = &strings(&batch, "user_id")?;
            let int = |name: &'static str| ints(&batch, name);
            let [r, f, spent, paid, pv, pt, balance] = [
                "recency_days",
                "frequency",
                "tokens_spent",
                "paid_spend",
                "partner_visits",
                "partner_tokens",
                "balance",
            ]
            .map(int);
            let (r, f, spent, paid, pv, pt, balance) = (r?, f?, spent?, paid?, pv?, pt?, balance?);
            let monetary = match query.monetary {
                Monetary::TokensSpent => spent,
                Monetary::PaidSpend => paid,
                Monetary::PartnerEarnings => pt,
            };
            for i in (0..batch.num_rows()).filter(|&i| !users.is_null(i)) {
                out.push(UserFigures {
                    user_id: users.value(i).to_owned(),
                    rfm: Rfm {
                        recency_days: r.value(i),
                        frequency: f.value(i),
                        monetary: monetary.value(i),
                        partner_visits: pv.value(i),
                        partner_tokens: pt.value(i),
                    },
                    balance: balance.value(i),
                    tokens_spent: spent.value(i),
                });
            }
        }
        Ok(out)
    }
}

/// A table registered for one request, deregistered when dropped.
pub(crate) struct Temporary {
    ctx: SessionContext,
    name: String,
}

impl Temporary {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        let _ = self.ctx.deregister_table(self.name.as_str());
    }
}

/// What the RFM batch asks: the as-of day and what M measures. The window and what F counts
/// are the rollups' settings, which `user_state` is folded with.
#[derive(Debug, Clone, Copy)]
pub struct RfmQuery {
    /// The as-of business day, as days since 1970-01-01.
    pub as_of_day: i32,
    pub monetary: Monetary,
}

impl RfmQuery {
    /// The seed's definition: M is tokens spent.
    pub fn seed(as_of_day: i32) -> RfmQuery {
        RfmQuery { as_of_day, monetary: Monetary::TokensSpent }
    }
}

/// One user's figures from the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFigures {
    pub user_id: String,
    pub rfm: Rfm,
    /// The balance at the end of the as-of day: every ledger movement up to it.
    pub balance: i64,
    /// Tokens spent in the window, whatever M measures.
    pub tokens_spent: i64,
}

#[cfg(test)]
mod tests;
