//! Daily rollups: each business day's events folded into small tables that RFM, the KPIs
//! and the models read instead of the raw events.
//!
//! Layout under the lake root, one folder per table, with the events' commit protocol:
//!
//! ```text
//! rollups/user_days/date=2026-03-01/part-00000000000000000004.parquet
//! rollups/user_days/_manifests/00000000000000000004.json
//! ```
//!
//! A table holds at most one file per day, and every commit is a snapshot naming the whole
//! table and, per day, the input files the day was rolled from (`sources`). A day whose
//! inputs have changed since (late events exported, a partition compacted) is stale: the
//! next roll-up replaces its rows, and a reader in the meantime computes them on the fly from
//! the same SQL, so a figure is never older than the last export.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::LakeError;
use crate::manifest::{Manifest, by_day, commit_snapshot, open_dir, read_manifests, write_atomically};
use crate::nights::NIGHTS;

mod settings;
pub use settings::{Settings, fill};

/// What a rollup table is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The event lake: a day's rows come from that day's events.
    Events,
    /// Another rollup table, one day from the same day.
    Table(&'static str),
    /// Another rollup table, a day from every day up to it: a stale day makes every later
    /// day stale, and days without input get a row too.
    Running(&'static str),
    /// Another rollup table's day folded into this table's previous day, one day at a time;
    /// stale and quiet days as for [`Input::Running`].
    Folded(&'static str),
}

impl Input {
    /// The table read: `events` or a rollup table.
    pub fn source(self) -> &'static str {
        match self {
            Input::Events => "events",
            Input::Table(name) | Input::Running(name) | Input::Folded(name) => name,
        }
    }

    /// Whether a day's rows depend on every earlier day's input.
    pub fn runs_on(self) -> bool {
        matches!(self, Input::Running(_) | Input::Folded(_))
    }
}

/// A rollup table: its name, its SQL (one file in `sql/rollup/`), its input and its size.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub sql: &'static str,
    pub input: Input,
    pub size: Size,
}

/// How a table's rows grow, which decides where a reader keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Rows per user and day: read from the files by each query.
    PerUser,
    /// A few rows per day whatever the number of users: a reader loads them into memory
    /// once, so that a query does not open one file per day of history.
    PerDay,
}

/// Every rollup table, in the order they are built (each after its input).
pub const TABLES: [Table; 9] = [
    Table {
        name: "user_days",
        sql: include_str!("../sql/rollup/user_days.sql"),
        input: Input::Events,
        size: Size::PerUser,
    },
    Table {
        name: "user_hours",
        sql: include_str!("../sql/rollup/user_hours.sql"),
        input: Input::Events,
        size: Size::PerUser,
    },
    Table {
        name: "proposal_days",
        sql: include_str!("../sql/rollup/proposal_days.sql"),
        input: Input::Events,
        size: Size::PerDay,
    },
    Table {
        name: "day_hours",
        sql: include_str!("../sql/rollup/day_hours.sql"),
        input: Input::Table("user_hours"),
        size: Size::PerDay,
    },
    Table {
        name: "user_state",
        sql: include_str!("../sql/rollup/user_state.sql"),
        input: Input::Folded("user_days"),
        size: Size::PerUser,
    },
    Table {
        name: "retention_days",
        sql: include_str!("../sql/rollup/retention_days.sql"),
        input: Input::Table("user_state"),
        size: Size::PerDay,
    },
    Table {
        name: "daily",
        sql: include_str!("../sql/rollup/daily.sql"),
        input: Input::Running("user_state"),
        size: Size::PerDay,
    },
    Table {
        name: "night_segments",
        sql: include_str!("../sql/rollup/night_segments.sql"),
        input: Input::Table(NIGHTS),
        size: Size::PerDay,
    },
    Table {
        name: "night_moves",
        sql: include_str!("../sql/rollup/night_moves.sql"),
        input: Input::Running(NIGHTS),
        size: Size::PerDay,
    },
];

/// The columns of `user_state`, which its SQL reads back (the previous day) and so cannot
/// be planned without.
pub(crate) fn user_state_schema() -> SchemaRef {
    let day = |name: &str| Field::new(name, DataType::Int32, true);
    let sum = |name: &str| Field::new(name, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8View, true),
        day("business_day"),
        day("first_day"),
        day("last_day"),
        day("previous_day"),
        day("last_paid_day"),
        day("last_partner_day"),
        sum("balance"),
        sum("window_frequency"),
        sum("window_spent"),
        sum("window_paid_spend"),
        sum("window_partner_visits"),
        sum("window_partner_tokens"),
    ]))
}

/// What a manifest's mark holds for a rollup table.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Mark {
    /// Per business day, the input files its rows were rolled from.
    sources: BTreeMap<i32, Vec<String>>,
    settings: Option<Settings>,
    /// The fingerprint of the SQL the rows were rolled with: a new version of the SQL
    /// re-rolls every day.
    sql: Option<String>,
}

/// SHA-256 of a table's SQL, in hex.
fn fingerprint(sql: &str) -> String {
    Sha256::digest(sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// One rollup table's folder.
pub(crate) struct TableDir {
    root: PathBuf,
    next_commit: u64,
    files: BTreeSet<String>,
    mark: Mark,
    /// Files written for the next commit, and their rows.
    pending: BTreeSet<String>,
    written: u64,
}

impl TableDir {
    /// Opens a table's folder. A writer (who holds the lake's lock) also removes what an
    /// interrupted commit left; a reader only reads the manifests.
    pub(crate) fn open(lake_root: &Path, name: &str, write: bool) -> Result<Self, LakeError> {
        let root = lake_root.join("rollups").join(name);
        let (files, next_commit, mark) = if write {
            open_dir(&root)?
        } else if root.join("_manifests").is_dir() {
            let (files, next_commit, mark, _) = read_manifests(&root)?;
            (files, next_commit, mark)
        } else {
            Default::default()
        };
        let mark = mark.map(serde_json::from_value).transpose()?.unwrap_or_default();
        Ok(Self { root, next_commit, files, mark, pending: BTreeSet::new(), written: 0 })
    }

    /// The live files of each day, as absolute paths.
    pub(crate) fn files_by_day(&self) -> BTreeMap<i32, Vec<PathBuf>> {
        by_day(&self.files)
            .into_iter()
            .map(|(day, files)| (day, files.iter().map(|f| self.root.join(f)).collect()))
            .collect()
    }

    /// The days whose rows no longer match their inputs (`inputs`: the input files of each
    /// day), or were rolled with other settings, or fall in `forced` or `also`.
    pub(crate) fn stale_days(
        &self,
        table: &Table,
        inputs: &BTreeMap<i32, Vec<String>>,
        settings: &Settings,
        forced: Option<(i32, i32)>,
        also: &BTreeSet<i32>,
    ) -> BTreeSet<i32> {
        let days: BTreeSet<i32> =
            inputs.keys().chain(self.mark.sources.keys()).chain(also).copied().collect();
        let running = table.input.runs_on();
        let resettled = self.mark.sql.as_deref() != Some(fingerprint(table.sql).as_str())
            || settings.changed_for(self.mark.settings.as_ref(), table.sql);
        let mut stale: BTreeSet<i32> = days
            .into_iter()
            .filter(|day| {
                resettled
                    || also.contains(day)
                    || forced.is_some_and(|(from, to)| (from..=to).contains(day))
                    || inputs.get(day) != self.mark.sources.get(day)
            })
            .collect();
        if running {
            // Every day from the first stale one to the last day with input (committed or
            // still in memory), empty days too.
            if let (Some(&first), Some(&last)) = (stale.first(), inputs.keys().chain(also).max()) {
                stale.extend(first..=last);
            }
        }
        stale
    }

    /// Writes rows of the next commit, one file per day they hold.
    pub(crate) fn write(&mut self, batches: &[RecordBatch]) -> Result<(), LakeError> {
        let mut by_day: BTreeMap<i32, Vec<RecordBatch>> = BTreeMap::new();
        for batch in batches {
            for (day, rows) in split_by_day(batch)? {
                by_day.entry(day).or_default().push(rows);
            }
        }
        for (day, batches) in by_day {
            let relative = format!("date={}/part-{:020}.parquet", crate::date_of(day)?, self.next_commit);
            if self.pending.contains(&relative) {
                return Err(LakeError::Row(format!("day {day} was rolled twice in one commit")));
            }
            let path = self.root.join(&relative);
            fs::create_dir_all(path.parent().expect("a partition file has a folder"))?;
            write_atomically(&path, |file| {
                let props = crate::events::writer_properties();
                let mut writer = ArrowWriter::try_new(file, batches[0].schema(), Some(props))?;
                for batch in &batches {
                    self.written += batch.num_rows() as u64;
                    writer.write(batch)?;
                }
                writer.close()?;
                Ok(())
            })?;
            self.pending.insert(relative);
        }
        Ok(())
    }

    /// Rows written since the folder was opened.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Commits the written files as the rows of `days` (a day with no file has no rows),
    /// recording `inputs` as their sources and the `sql` they were rolled with (none for a
    /// table written directly).
    pub(crate) fn commit(
        &mut self,
        sql: Option<&str>,
        days: &BTreeSet<i32>,
        inputs: &BTreeMap<i32, Vec<String>>,
        settings: &Settings,
    ) -> Result<(), LakeError> {
        let sql = sql.map(fingerprint);
        if days.is_empty() && self.mark.settings.as_ref() == Some(settings) && self.mark.sql == sql {
            return Ok(());
        }
        if let Some(stray) = self.pending.iter().find(|f| !day_in(f, days)) {
            return Err(LakeError::Row(format!("{stray} holds a day that was not rolled")));
        }
        let mut live: BTreeSet<String> = self.files.iter().filter(|f| !day_in(f, days)).cloned().collect();
        let replaced: BTreeSet<String> = self.files.difference(&live).cloned().collect();
        live.append(&mut self.pending);
        for day in days {
            match inputs.get(day) {
                Some(files) => self.mark.sources.insert(*day, files.clone()),
                None => self.mark.sources.remove(day),
            };
        }
        self.mark.settings = Some(settings.clone());
        self.mark.sql = sql;
        let number = self.next_commit;
        let manifest = Manifest {
            mark: serde_json::to_value(&self.mark)?,
            files: live.iter().cloned().collect(),
            rows: self.written,
            snapshot: true,
        };
        commit_snapshot(&self.root, number, &manifest, &replaced)?;
        self.next_commit = number + 1;
        self.files = live;
        Ok(())
    }

    /// The table's folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The committed files, relative to [`Self::root`].
    pub(crate) fn live_files(&self) -> &BTreeSet<String> {
        &self.files
    }

    /// Commits `rewritten` (old name → new) in place of the files they copy, with the input
    /// files in the record of sources renamed by `inputs`; then deletes the old files.
    pub(crate) fn replace_files(
        &mut self,
        rewritten: &BTreeMap<String, String>,
        inputs: &BTreeMap<String, String>,
    ) -> Result<(), LakeError> {
        let renames_an_input = self.mark.sources.values().flatten().any(|f| inputs.contains_key(f));
        if rewritten.is_empty() && !renames_an_input {
            return Ok(());
        }
        for sources in self.mark.sources.values_mut() {
            for file in sources.iter_mut() {
                if let Some(new) = inputs.get(file) {
                    file.clone_from(new);
                }
            }
        }
        let live: BTreeSet<String> =
            self.files.iter().map(|f| rewritten.get(f).unwrap_or(f).clone()).collect();
        let number = self.next_commit;
        let manifest = Manifest {
            mark: serde_json::to_value(&self.mark)?,
            files: live.iter().cloned().collect(),
            rows: 0,
            snapshot: true,
        };
        commit_snapshot(&self.root, number, &manifest, &rewritten.keys().cloned().collect())?;
        self.next_commit = number + 1;
        self.files = live;
        Ok(())
    }

    /// The live files of each day, relative: what a table built from this one records as
    /// its sources.
    pub(crate) fn inputs_for_next(&self) -> BTreeMap<i32, Vec<String>> {
        by_day(&self.files)
    }
}

fn day_in(file: &str, days: &BTreeSet<i32>) -> bool {
    crate::manifest::day_of_file(file).is_some_and(|d| days.contains(&d))
}

/// A batch's rows grouped by its `business_day` column.
fn split_by_day(batch: &RecordBatch) -> Result<BTreeMap<i32, RecordBatch>, LakeError> {
    let days = batch
        .column_by_name("business_day")
        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
        .ok_or(LakeError::Column("business_day"))?;
    let mut rows: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for (i, day) in (0..u32::try_from(batch.num_rows()).unwrap_or(u32::MAX)).zip(days.values()) {
        rows.entry(*day).or_default().push(i);
    }
    let mut out = BTreeMap::new();
    for (day, indices) in rows {
        let indices = arrow_array::UInt32Array::from(indices);
        out.insert(day, datafusion::arrow::compute::take_record_batch(batch, &indices)?);
    }
    Ok(out)
}

/// Runs `sql` and collects its rows as a stream of batches, so a large day is never held
/// twice.
pub(crate) async fn run_collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if batch.num_rows() > 0 {
            out.push(batch);
        }
    }
    Ok(out)
}

/// The schema a table's SQL produces, without running it.
pub(crate) async fn schema_of(ctx: &SessionContext, table: &Table) -> Result<SchemaRef, LakeError> {
    if let Input::Folded(_) = table.input {
        // `user_state`, the one folded table, reads itself.
        return Ok(user_state_schema());
    }
    let sql = fill(table, 0, 0, &Settings::default(), "TRUE")?;
    Ok(Arc::new(ctx.sql(&sql).await?.schema().as_arrow().clone()))
}

/// What a roll-up did, per table: the days re-rolled and the rows written.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RollupReport {
    pub tables: BTreeMap<&'static str, Rolled>,
}

/// One table's part of a roll-up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rolled {
    pub days: Vec<i32>,
    pub rows: u64,
    pub seconds: f64,
}

impl RollupReport {
    /// The days of the base table (`user_days`) that were rolled.
    pub fn days(&self) -> &[i32] {
        self.tables.get("user_days").map_or(&[], |t| &t.days)
    }
}

#[cfg(test)]
mod tests;
