//! `playpulse import FILE`: events from JSONL, CSV or Parquet through the same validation and
//! ledger path as `POST /v1/events`, in batches. Safe to re-run: events already stored are
//! reported as duplicates and change nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_lake::EventRow;
use playpulse_server::AppState;
use playpulse_server::events::ingest_values;
use serde_json::{Map, Value};

use crate::app;
use crate::cli::ImportArgs;
use crate::config::Config;

/// Rejections listed in the closing summary.
const SHOWN_REJECTIONS: usize = 5;
/// Without a terminal, a plain progress line every this many rows.
const PLAIN_PROGRESS_EVERY: u64 = 100_000;

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub accepted: u64,
    pub duplicate: u64,
    pub rejected: u64,
    /// The first rejections: (1-based row, code, message).
    pub first_rejections: Vec<(u64, String, String)>,
}

impl ImportSummary {
    fn reject(&mut self, row: u64, code: &str, message: String) {
        self.rejected += 1;
        if self.first_rejections.len() < SHOWN_REJECTIONS {
            self.first_rejections.push((row, code.to_owned(), message));
        }
    }
}

pub async fn run(mut config: Config, args: ImportArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    args.cache.apply(&mut config);
    let state = app::build(&config).await?;
    let summary = import_file(&state, &args.file).await?;
    println!("accepted={} duplicate={} rejected={}", summary.accepted, summary.duplicate, summary.rejected);
    for (row, code, message) in &summary.first_rejections {
        println!("  row {row}: {code}: {message}");
    }
    Ok(())
}

/// A row read from a file: an envelope, or why it could not be read as one.
type Row = Result<Value, String>;

/// Imports every row of `path`, chosen by extension: `.jsonl`/`.ndjson`, `.csv`, `.parquet`.
pub async fn import_file(state: &AppState, path: &Path) -> anyhow::Result<ImportSummary> {
    let (total, rows) = open_rows(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
                .expect("the template is valid"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = ImportSummary::default();
    let mut chunk: Vec<(u64, Row)> = Vec::with_capacity(MAX_EVENTS_PER_BATCH);
    let mut row_no = 0u64;
    for row in rows {
        row_no += 1;
        chunk.push((row_no, row?));
        if chunk.len() == MAX_EVENTS_PER_BATCH {
            send(state, &mut chunk, &mut summary).await?;
        }
        bar.set_position(row_no);
        if bar.is_hidden() && row_no.is_multiple_of(PLAIN_PROGRESS_EVERY) {
            eprintln!("imported {row_no}/{total} rows");
        }
    }
    send(state, &mut chunk, &mut summary).await?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Ingests the readable rows of a chunk and records every rejection in row order.
async fn send(
    state: &AppState,
    chunk: &mut Vec<(u64, Row)>,
    summary: &mut ImportSummary,
) -> anyhow::Result<()> {
    let mut rejections: Vec<(u64, &str, String)> = Vec::new();
    let mut rows = Vec::with_capacity(chunk.len());
    let mut values = Vec::with_capacity(chunk.len());
    for (row_no, row) in std::mem::take(chunk) {
        match row {
            Ok(value) => {
                rows.push(row_no);
                values.push(value);
            }
            Err(reason) => rejections.push((row_no, "malformed_row", reason)),
        }
    }
    if !values.is_empty() {
        let answer = ingest_values(state, values)
            .await
            .map_err(|e| anyhow::anyhow!("ingest failed: {}: {}", e.code, e.detail))?;
        summary.accepted += answer.accepted as u64;
        summary.duplicate += answer.duplicate as u64;
        for result in answer.results.into_iter().filter(|r| r.status == "rejected") {
            rejections.push((
                rows[result.index],
                result.code.unwrap_or("rejected"),
                result.message.unwrap_or_default(),
            ));
        }
    }
    rejections.sort_by_key(|(row_no, _, _)| *row_no);
    for (row_no, code, message) in rejections {
        summary.reject(row_no, code, message);
    }
    Ok(())
}

type Rows = Box<dyn Iterator<Item = anyhow::Result<Row>>>;

/// The row count (for progress) and the rows of a file.
fn open_rows(path: &Path) -> anyhow::Result<(u64, Rows)> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => {
            let total = BufReader::new(File::open(path)?).lines().count() as u64;
            let lines = BufReader::new(File::open(path)?)
                .lines()
                .filter(|l| !matches!(l, Ok(t) if t.trim().is_empty()));
            Ok((
                total,
                Box::new(lines.map(|line| {
                    let line = line?;
                    Ok(serde_json::from_str::<Value>(&line).map_err(|e| format!("not a JSON event: {e}")))
                })),
            ))
        }
        "csv" => {
            let total = csv::Reader::from_path(path)?.records().count() as u64;
            let mut reader = csv::Reader::from_path(path)?;
            let headers = reader.headers()?.clone();
            let column = |name: &str| headers.iter().position(|h| h == name);
            let index = playpulse_lake::EVENT_COLUMNS.map(column);
            if index[..4].iter().any(Option::is_none) {
                bail!("a CSV of events needs the header event_id,user_id,type,ts[,props]");
            }
            Ok((
                total,
                Box::new(reader.into_records().map(move |record| {
                    let record = record?;
                    let field = |i: usize| index[i].and_then(|at| record.get(at)).map(str::to_owned);
                    Ok(Ok(envelope(EventRow {
                        event_id: field(0),
                        user_id: field(1),
                        event_type: field(2),
                        ts: field(3),
                        props: field(4).filter(|p| !p.is_empty()),
                    })))
                })),
            ))
        }
        "parquet" => {
            let total = playpulse_lake::count_events(path)?;
            let batches = playpulse_lake::read_events(path)?;
            Ok((
                total,
                Box::new(batches.flat_map(|batch| match batch {
                    Ok(rows) => rows.into_iter().map(|r| Ok(Ok(envelope(r)))).collect::<Vec<_>>(),
                    Err(err) => vec![Err(err.into())],
                })),
            ))
        }
        other => bail!("unknown file type `.{other}`: use .jsonl, .ndjson, .csv or .parquet"),
    }
}

/// Text columns into the JSON envelope; `props` text that is not JSON is passed on as a
/// string, which validation then rejects with a clear code.
fn envelope(row: EventRow) -> Value {
    let mut map = Map::new();
    let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
    map.insert("event_id".into(), text(row.event_id));
    map.insert("user_id".into(), text(row.user_id));
    map.insert("type".into(), text(row.event_type));
    map.insert("ts".into(), text(row.ts));
    if let Some(props) = row.props {
        map.insert("props".into(), serde_json::from_str(&props).unwrap_or(Value::String(props)));
    }
    Value::Object(map)
}
