//! The event lake: every exported event once, as typed Parquet, partitioned by business date.
//!
//! Layout under the lake root:
//!
//! ```text
//! events/date=2026-03-01/part-00000000000000000007-0.parquet
//! events/_manifests/00000000000000000007.json     {"mark": …, "files": [...], "rows": N}
//! ```
//!
//! A commit writes its data files, then its manifest (each by write-then-rename). The
//! manifest is the commit point: files no manifest names are leftovers of an interrupted
//! export and are deleted on open, and the newest manifest's mark says where the next export
//! resumes. So an export killed at any instant and run again stores each event exactly once.
//!
//! Compaction merges a partition's small files into one and commits a snapshot manifest that
//! lists every live file. The lake is then the newest snapshot plus the commits after it;
//! older manifests and the files they alone named are deleted, on the spot or on next open.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use jiff::civil::Date;
use parquet::arrow::ArrowWriter;
use playpulse_core::time::BusinessZone;
use serde_json::{Map, Value};

use crate::LakeError;
use crate::manifest::{Manifest, by_day, commit_snapshot, open_dir, read_manifests, write_atomically};

/// One event handed to the lake, as the operational store keeps it.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub seq: i64,
    pub event_id: String,
    pub user_id: String,
    pub event_type: String,
    pub ts_ms: i64,
    /// The props object as JSON text.
    pub props: String,
}

/// What one commit wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub rows: u64,
    pub files: u64,
}

/// The `events` table of the lake.
pub struct EventLake {
    root: PathBuf,
    zone: BusinessZone,
    next_commit: u64,
    mark: Option<Value>,
    /// Every committed data file, relative to the root.
    files: BTreeSet<String>,
}

/// A partition with this many files of one tier is merged by [`EventLake::compact`].
pub const COMPACT_AT_FILES: usize = 8;

/// Props lifted into typed columns: integers, then `paid` (boolean), then text.
const INT_PROPS: [&str; 8] =
    ["amount", "tokens", "cash_amount", "bet", "payout", "dwell_s", "actions", "stage"];
const TEXT_PROPS: [&str; 8] =
    ["source", "sink", "currency", "game", "result", "content_id", "proposal_id", "reward_id"];

/// The lake's event schema: envelope, business date and hour, the props analytics use as
/// typed columns (`paid` as a boolean), and the whole props object as JSON text.
pub fn event_schema() -> Arc<Schema> {
    let mut fields = vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("business_date", DataType::Date32, false),
        // The same day as a plain integer (days since 1970-01-01): day arithmetic in SQL then
        // needs no engine-specific date functions.
        Field::new("business_day", DataType::Int32, false),
        Field::new("business_hour", DataType::Int32, false),
    ];
    for name in INT_PROPS {
        fields.push(Field::new(name, DataType::Int64, true));
    }
    fields.push(Field::new("paid", DataType::Boolean, true));
    for name in TEXT_PROPS {
        fields.push(Field::new(name, DataType::Utf8, true));
    }
    fields.push(Field::new("props", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

impl EventLake {
    /// Opens (creating) the lake under `root`, removing what an interrupted export or
    /// compaction left and what a snapshot made obsolete.
    pub fn open(root: &Path, zone: BusinessZone) -> Result<Self, LakeError> {
        let root = root.join("events");
        let (files, next_commit, mark) = open_dir(&root)?;
        Ok(Self { root, zone, next_commit, mark, files })
    }

    /// The committed data files, as absolute paths: what a reader of the lake reads.
    pub fn live_files(root: &Path) -> Result<Vec<PathBuf>, LakeError> {
        let root = root.join("events");
        if !root.join("_manifests").is_dir() {
            return Ok(Vec::new());
        }
        let (files, ..) = read_manifests(&root)?;
        Ok(files.iter().map(|f| root.join(f)).collect())
    }

    /// The committed data files relative to `root`'s `events` folder, by business day.
    pub(crate) fn files_by_day(root: &Path) -> Result<BTreeMap<i32, Vec<String>>, LakeError> {
        let root = root.join("events");
        if !root.join("_manifests").is_dir() {
            return Ok(BTreeMap::new());
        }
        Ok(by_day(&read_manifests(&root)?.0))
    }

    /// The mark of the newest commit, where the next export resumes.
    pub fn mark(&self) -> Option<&Value> {
        self.mark.as_ref()
    }

    /// Writes `rows` into their business-date partitions and commits them with `mark`.
    pub fn commit(&mut self, rows: &[ExportRow], mark: Value) -> Result<Committed, LakeError> {
        let mut by_day: BTreeMap<Date, Vec<&ExportRow>> = BTreeMap::new();
        for row in rows {
            let ts =
                jiff::Timestamp::from_millisecond(row.ts_ms).map_err(|e| LakeError::Row(e.to_string()))?;
            by_day.entry(self.zone.day_of(ts)).or_default().push(row);
        }
        let number = self.next_commit;
        let mut files = Vec::with_capacity(by_day.len());
        for (k, (day, rows)) in by_day.iter().enumerate() {
            let relative = format!("date={day}/part-{number:020}-{k}.parquet");
            let path = self.root.join(&relative);
            fs::create_dir_all(path.parent().expect("a partition file has a folder"))?;
            write_atomically(&path, |file| self.write_parquet(file, rows))?;
            files.push(relative);
        }
        let manifest = Manifest { mark: mark.clone(), files, rows: rows.len() as u64, snapshot: false };
        self.write_manifest(&manifest)?;
        self.files.extend(manifest.files.iter().cloned());
        self.mark = Some(mark);
        Ok(Committed { rows: manifest.rows, files: manifest.files.len() as u64 })
    }

    /// Commits data files already written in place (relative to the `events` folder), as
    /// the benchmark's generator writes them.
    pub(crate) fn commit_files(&mut self, files: Vec<String>, rows: u64) -> Result<(), LakeError> {
        let mark = self.mark.clone().unwrap_or(Value::Null);
        self.write_manifest(&Manifest { mark, files: files.clone(), rows, snapshot: false })?;
        self.files.extend(files);
        Ok(())
    }

    fn write_manifest(&mut self, manifest: &Manifest) -> Result<(), LakeError> {
        let path = self.root.join("_manifests").join(format!("{:020}.json", self.next_commit));
        write_atomically(&path, |mut file| Ok(file.write_all(&serde_json::to_vec_pretty(manifest)?)?))?;
        self.next_commit += 1;
        Ok(())
    }

    /// Merges files by tiers, in every partition: an exported file is of tier 0, and a file
    /// merged from tier L's is of tier L + 1. Where the highest tier with [`COMPACT_AT_FILES`]
    /// files is L, every file of tiers up to L is merged into one of tier L + 1, in commit
    /// order. An event is thus rewritten once per tier, a few times in all, however often
    /// small exports arrive (merging whole partitions rewrote today's at every merge). The
    /// result is committed as a snapshot: killed at any instant, the lake holds either the
    /// old files or the merged ones, never both.
    pub fn compact(&mut self) -> Result<Committed, LakeError> {
        let mut by_partition: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for file in &self.files {
            let (partition, _) = file.split_once('/').unwrap_or(("", file));
            by_partition.entry(partition).or_default().push(file);
        }
        let number = self.next_commit;
        let mut merged = Vec::new();
        let mut replaced = BTreeSet::new();
        let mut rows = 0;
        for (partition, files) in by_partition {
            let mut per_tier: BTreeMap<u32, usize> = BTreeMap::new();
            for file in &files {
                *per_tier.entry(tier(file)).or_default() += 1;
            }
            let Some(top) = per_tier.iter().rev().find(|(_, n)| **n >= COMPACT_AT_FILES).map(|(t, _)| *t)
            else {
                continue;
            };
            // Lower tiers hold only events newer than every file of a higher one, so the
            // files taken are the partition's newest, and the merged file, named with a
            // later commit number, keeps name order equal to commit order.
            let mut files: Vec<&String> = files.into_iter().filter(|f| tier(f) <= top).collect();
            files.sort();
            let relative = match top + 1 {
                1 => format!("{partition}/part-{number:020}-compacted.parquet"),
                next => format!("{partition}/part-{number:020}-compacted{next}.parquet"),
            };
            write_atomically(&self.root.join(&relative), |file| {
                rows += self.merge(file, &files)?;
                Ok(())
            })?;
            replaced.extend(files.into_iter().cloned());
            merged.push(relative);
        }
        if merged.is_empty() {
            return Ok(Committed::default());
        }
        let mut live: BTreeSet<String> = self.files.difference(&replaced).cloned().collect();
        live.extend(merged.iter().cloned());
        let mark = self.mark.clone().unwrap_or(Value::Null);
        let manifest = Manifest { mark, files: live.iter().cloned().collect(), rows, snapshot: true };
        commit_snapshot(&self.root, number, &manifest, &replaced)?;
        self.next_commit = number + 1;
        self.files = live;
        Ok(Committed { rows, files: merged.len() as u64 })
    }

    /// Copies the rows of `files` into one Parquet file; returns the rows copied.
    fn merge(&self, out: fs::File, files: &[&String]) -> Result<u64, LakeError> {
        let mut writer = ArrowWriter::try_new(out, event_schema(), Some(writer_properties()))?;
        let mut rows = 0;
        for file in files {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                fs::File::open(self.root.join(file))?,
            )?
            .with_batch_size(crate::ROWS_PER_BATCH)
            .build()?;
            for batch in reader {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
        }
        writer.close()?;
        Ok(rows)
    }

    fn write_parquet(&self, file: fs::File, rows: &[&ExportRow]) -> Result<(), LakeError> {
        let mut writer = ArrowWriter::try_new(file, event_schema(), Some(writer_properties()))?;
        for chunk in rows.chunks(crate::ROWS_PER_BATCH) {
            writer.write(&self.batch(chunk)?)?;
        }
        writer.close()?;
        Ok(())
    }

    fn batch(&self, rows: &[&ExportRow]) -> Result<RecordBatch, LakeError> {
        let n = rows.len();
        let mut seq = Int64Builder::with_capacity(n);
        let (mut ids, mut users, mut types) =
            (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let (mut dates, mut days, mut hours) =
            (Date32Builder::with_capacity(n), Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
        let mut ints: Vec<Int64Builder> = INT_PROPS.iter().map(|_| Int64Builder::with_capacity(n)).collect();
        let mut paid = BooleanBuilder::with_capacity(n);
        let mut texts: Vec<StringBuilder> = TEXT_PROPS.iter().map(|_| StringBuilder::new()).collect();
        let mut raw = StringBuilder::new();
        for row in rows {
            let at =
                jiff::Timestamp::from_millisecond(row.ts_ms).map_err(|e| LakeError::Row(e.to_string()))?;
            let local = at.to_zoned(self.zone.tz().clone());
            seq.append_value(row.seq);
            ids.append_value(&row.event_id);
            users.append_value(&row.user_id);
            types.append_value(&row.event_type);
            ts.append_value(row.ts_ms);
            let day = playpulse_core::time::epoch_day(local.date());
            dates.append_value(day);
            days.append_value(day);
            hours.append_value(i32::from(local.hour()));
            let props: Map<String, Value> = serde_json::from_str(&row.props).unwrap_or_default();
            for (builder, name) in ints.iter_mut().zip(INT_PROPS) {
                builder.append_option(props.get(name).and_then(Value::as_i64));
            }
            paid.append_option(props.get("paid").and_then(Value::as_bool));
            for (builder, name) in texts.iter_mut().zip(TEXT_PROPS) {
                builder.append_option(props.get(name).and_then(Value::as_str));
            }
            raw.append_value(&row.props);
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(seq.finish()),
            Arc::new(ids.finish()),
            Arc::new(users.finish()),
            Arc::new(types.finish()),
            Arc::new(ts.finish()),
            Arc::new(dates.finish()),
            Arc::new(days.finish()),
            Arc::new(hours.finish()),
        ];
        columns.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(paid.finish()));
        columns.extend(texts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(raw.finish()));
        Ok(RecordBatch::try_new(event_schema(), columns)?)
    }
}

/// What the committed lake holds, for audits and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LakeAudit {
    pub rows: u64,
    /// Every event id, in file order (duplicates would show here).
    pub event_ids: Vec<String>,
    /// Sum of the `amount` column (earn and spend amounts).
    pub amount_sum: i64,
}

impl EventLake {
    /// Reads every committed file.
    pub fn audit(&self) -> Result<LakeAudit, LakeError> {
        use arrow_array::{Array, Int64Array, StringArray};
        let mut audit = LakeAudit::default();
        for file in &self.files {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                fs::File::open(self.root.join(file))?,
            )?
            .build()?;
            for batch in reader {
                let batch = batch?;
                let ids = batch
                    .column_by_name("event_id")
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
                let amounts = batch
                    .column_by_name("amount")
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
                let (Some(ids), Some(amounts)) = (ids, amounts) else {
                    return Err(LakeError::Column("event_id"));
                };
                audit.rows += batch.num_rows() as u64;
                audit.event_ids.extend(ids.iter().flatten().map(str::to_owned));
                audit.amount_sum += amounts.iter().flatten().sum::<i64>();
            }
        }
        Ok(audit)
    }
}

/// A data file's merge tier, from its name: `-compacted` is tier 1, `-compactedN` tier N,
/// anything else (as exported) tier 0. An erased file keeps its tier (`-compacted2-erased`).
fn tier(file: &str) -> u32 {
    let Some((_, rest)) = file.rsplit('/').next().unwrap_or(file).split_once("-compacted") else {
        return 0;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(1)
}

pub(crate) fn writer_properties() -> parquet::file::properties::WriterProperties {
    parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build()
}

#[cfg(test)]
mod tests;
