//! Building an engine session: the events, a calendar, and each rollup table from its
//! committed files plus its stale days, which a writer rolls and commits and a reader
//! computes in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::Int32Builder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::{Analytics, session_config, view_types};
use crate::LakeError;
use crate::events::{EventLake, event_schema};
use crate::nights::NIGHTS;
use crate::rollups::{
    Input, Rolled, RollupReport, Settings, Size, TABLES, Table, TableDir, fill, run_collect, schema_of,
    user_state_schema,
};

/// Whether the stale days are committed or only computed for this session.
pub(crate) enum Mode {
    /// Running tables also cover the days after the last input up to `through`.
    Read {
        through: Option<i32>,
    },
    Write {
        rebuild: Option<(i32, i32)>,
    },
}

/// The calendar covers 1970-01-01 and the 100,000 days after it (to the year 2243).
const CALENDAR_DAYS: i32 = 100_000;

pub(crate) async fn build(
    root: &Path,
    settings: &Settings,
    mode: Mode,
) -> Result<(Analytics, RollupReport), LakeError> {
    let ctx = SessionContext::new_with_config(session_config()?);
    ctx.register_batch("calendar", calendar()?)?;
    // Empty for planning; each rolled day registers its own files.
    register(&ctx, "events", view_types(&event_schema()), Vec::new(), Vec::new()).await?;
    let mut inputs_of: BTreeMap<&str, BTreeMap<i32, Vec<String>>> = BTreeMap::new();
    inputs_of.insert("events", EventLake::files_by_day(root)?);
    let mut stale_of: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    let nights = TableDir::open(root, NIGHTS, false)?;
    inputs_of.insert(NIGHTS, nights.inputs_for_next());
    let files = nights.files_by_day().into_values().flatten().collect();
    register(&ctx, NIGHTS, crate::nights::schema(), files, Vec::new()).await?;
    let mut report = RollupReport::default();
    let mut days = BTreeMap::new();
    let write = matches!(mode, Mode::Write { .. });
    for table in &TABLES {
        let started = std::time::Instant::now();
        let input = table.input.source();
        let inputs = inputs_of.get(input).cloned().unwrap_or_default();
        let mut dir = TableDir::open(root, table.name, write)?;
        let forced = match mode {
            Mode::Write { rebuild } => rebuild,
            Mode::Read { .. } => None,
        };
        // A day still stale in the input is stale here too.
        let input_stale = stale_of.get(input).cloned().unwrap_or_default();
        let mut stale = dir.stale_days(table, &inputs, settings, forced, &input_stale);
        if let Mode::Read { through: Some(through) } = &mode
            && table.input.runs_on()
        {
            // Quiet days after the last input, computed for this session only.
            let last = inputs.keys().chain(&input_stale).max();
            if let Some(&last) = last {
                stale.extend(last + 1..=*through);
            }
        }
        let schema = schema_of(&ctx, table).await?;
        // Days with input: committed, or still in memory in the input table.
        let available: BTreeSet<i32> = inputs.keys().chain(&input_stale).copied().collect();
        let files_by_day = dir.files_by_day();
        if let Input::Folded(_) = table.input {
            // The first stale day folds into the last day before it.
            let before = stale.first().and_then(|first| files_by_day.get(&(first - 1))).cloned();
            register(&ctx, table.name, schema.clone(), before.unwrap_or_default(), Vec::new()).await?;
        }
        let source = Source { root, inputs: &inputs, available: &available };
        let batches = roll(&ctx, table, &stale, &source, settings, &mut dir, write).await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        let (files, held) = if write {
            dir.commit(Some(table.sql), &stale, &inputs, settings)?;
            let committed = dir.files_by_day();
            let held = committed.keys().copied().collect();
            (committed.into_values().flatten().collect(), held)
        } else {
            let held = files_by_day.keys().chain(&stale).copied().collect();
            let kept = files_by_day.into_iter().filter(|(day, _)| !stale.contains(day));
            (kept.flat_map(|(_, f)| f).collect(), held)
        };
        days.insert(table.name, held);
        let tail = if write { Vec::new() } else { batches };
        ctx.deregister_table(table.name)?;
        register(&ctx, table.name, schema, files, tail).await?;
        if !write && table.size == Size::PerDay {
            hold_in_memory(&ctx, table.name).await?;
        }
        let rolled = Rolled {
            days: stale.iter().copied().collect(),
            rows: rows + dir.written(),
            seconds: started.elapsed().as_secs_f64(),
        };
        report.tables.insert(table.name, rolled);
        inputs_of.insert(table.name, dir.inputs_for_next());
        stale_of.insert(table.name, if write { BTreeSet::new() } else { stale });
    }
    Ok((Analytics { ctx, days, settings: settings.clone() }, report))
}

pub(crate) async fn events_only(root: &Path) -> Result<Analytics, LakeError> {
    let ctx = SessionContext::new_with_config(session_config()?);
    register(&ctx, "events", view_types(&event_schema()), EventLake::live_files(root)?, Vec::new()).await?;
    Ok(Analytics { ctx, days: BTreeMap::new(), settings: Settings::default() })
}

/// What a table is rolled from.
struct Source<'a> {
    root: &'a Path,
    /// The input's committed files by day.
    inputs: &'a BTreeMap<i32, Vec<String>>,
    /// Days with input: committed, or still in memory in the input table.
    available: &'a BTreeSet<i32>,
}

/// The rows of the stale days: a writer writes each day's file as soon as it is computed
/// (and returns nothing), a reader gets them back.
async fn roll(
    ctx: &SessionContext,
    table: &Table,
    stale: &BTreeSet<i32>,
    source: &Source<'_>,
    settings: &Settings,
    dir: &mut TableDir,
    write: bool,
) -> Result<Vec<RecordBatch>, LakeError> {
    let mut kept = Vec::new();
    let mut keep = |batches: Vec<RecordBatch>, dir: &mut TableDir| -> Result<(), LakeError> {
        if write {
            dir.write(&batches)
        } else {
            kept.extend(batches);
            Ok(())
        }
    };
    match table.input {
        Input::Running(_) => {
            if let (Some(&from), Some(&to)) = (stale.first(), stale.last()) {
                keep(run_collect(ctx, &fill(table, from, to, settings, "TRUE")?).await?, dir)?;
            }
        }
        Input::Folded(_) => {
            for &day in stale {
                let rows = run_collect(ctx, &fill(table, day, day, settings, "TRUE")?).await?;
                // The next day folds into this one's rows.
                ctx.deregister_table(table.name)?;
                let previous = MemTable::try_new(user_state_schema(), vec![rows.clone()])?;
                ctx.register_table(table.name, Arc::new(previous))?;
                keep(rows, dir)?;
            }
        }
        Input::Events => {
            for &day in stale.intersection(source.available) {
                // The day's own files alone: what a night reads does not grow with the
                // lake's history (nor its file count).
                let files = source.inputs.get(&day).into_iter().flatten();
                let files = files.map(|f| source.root.join("events").join(f)).collect();
                ctx.deregister_table("events")?;
                register(ctx, "events", view_types(&event_schema()), files, Vec::new()).await?;
                keep(run_collect(ctx, &fill(table, day, day, settings, "TRUE")?).await?, dir)?;
            }
        }
        Input::Table(_) => {
            let days: Vec<i32> = stale.intersection(source.available).copied().collect();
            for (from, to) in runs(&days, if write { DAYS_PER_WRITE } else { usize::MAX }) {
                keep(run_collect(ctx, &fill(table, from, to, settings, "TRUE")?).await?, dir)?;
            }
        }
    }
    Ok(kept)
}

/// Days rolled by one query when writing: bounds the memory a large lake's rebuild takes.
const DAYS_PER_WRITE: usize = 4;

/// Sorted days as runs of consecutive days, each at most `longest` days long.
fn runs(days: &[i32], longest: usize) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32, usize)> = Vec::new();
    for &day in days {
        match out.last_mut() {
            Some((_, to, n)) if *to + 1 == day && *n < longest => {
                *to = day;
                *n += 1;
            }
            _ => out.push((day, day, 1)),
        }
    }
    out.into_iter().map(|(from, to, _)| (from, to)).collect()
}

/// Registers `name` over Parquet `files` and, if any, rows computed in memory.
async fn register(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    files: Vec<PathBuf>,
    tail: Vec<RecordBatch>,
) -> Result<(), LakeError> {
    let nothing_in_memory = tail.is_empty();
    let memory = Arc::new(MemTable::try_new(schema.clone(), vec![tail])?);
    if files.is_empty() {
        ctx.register_table(name, memory)?;
        return Ok(());
    }
    let urls =
        files.iter().map(|f| ListingTableUrl::parse(f.to_string_lossy())).collect::<Result<Vec<_>, _>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config =
        ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
    let stored = Arc::new(ListingTable::try_new(config)?);
    if nothing_in_memory {
        ctx.register_table(name, stored)?;
        return Ok(());
    }
    let both = ctx.read_table(stored)?.union(ctx.read_table(memory)?)?;
    ctx.register_table(name, both.into_view())?;
    Ok(())
}

/// Replaces table `name` by its rows in memory, read once per session: the table holds one
/// Parquet file per day, which each query over 90 days would otherwise open again.
async fn hold_in_memory(ctx: &SessionContext, name: &str) -> Result<(), LakeError> {
    let rows = ctx.table(name).await?;
    let schema = Arc::new(rows.schema().as_arrow().clone());
    let batches = rows.collect().await?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(())
}

/// Every day with the day its week starts on (Monday) and its month starts on, its weekday
/// (0 = Monday), and each period's ordinal (`*_number`: consecutive periods differ by 1), as
/// integers: period arithmetic any engine can join on.
fn calendar() -> Result<RecordBatch, LakeError> {
    const COLUMNS: [&str; 7] =
        ["business_day", "week", "month", "weekday", "business_day_number", "week_number", "month_number"];
    let mut columns: Vec<Int32Builder> =
        COLUMNS.iter().map(|_| Int32Builder::with_capacity(CALENDAR_DAYS as usize)).collect();
    let mut date = playpulse_core::time::EPOCH_DAY;
    for day in 0..CALENDAR_DAYS {
        // 1970-01-01 was a Thursday.
        let weekday = (day + 3) % 7;
        let monday = day - weekday;
        let values = [
            day,
            monday,
            day - i32::from(date.day()) + 1,
            weekday,
            day,
            (monday + 3) / 7,
            (i32::from(date.year()) - 1970) * 12 + i32::from(date.month()) - 1,
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.append_value(value);
        }
        date = date.tomorrow().map_err(|e| LakeError::Row(e.to_string()))?;
    }
    let schema = Schema::new(COLUMNS.map(|name| Field::new(name, DataType::Int32, false)).to_vec());
    let columns: Vec<ArrayRef> = columns.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef).collect();
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}
