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
    /// The first rejections: (row, code, message). Rows are numbered from 1: a JSONL row by
    /// its line, a CSV row by its record after the header, a Parquet row by its position.
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
/// A row that cannot be read (not UTF-8, not JSON, the wrong number of CSV fields) is
/// reported with its row number and skipped; only a failure to read the file itself stops
/// the import, and running it again then completes it (stored events are duplicates).
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
    for row in rows {
        let (row_no, row) = row.with_context(|| {
            format!("cannot read {}; the rows before were imported, and a re-run skips them", path.display())
        })?;
        chunk.push((row_no, row));
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
    if chunk.is_empty() {
        return Ok(());
    }
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

/// Numbered rows of a file; an `Err` item is a failure to read the file itself.
type Rows = Box<dyn Iterator<Item = anyhow::Result<(u64, Row)>>>;

/// The row count (for progress) and the numbered rows of a file.
fn open_rows(path: &Path) -> anyhow::Result<(u64, Rows)> {
    // A directory opens on Linux and then fails every read: refuse it before reading.
    if std::fs::metadata(path)?.is_dir() {
        bail!("it is a directory; give one .jsonl, .ndjson, .csv or .parquet file");
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => {
            // Counting stops at a read error, which the import itself then reports.
            let total =
                BufReader::new(File::open(path)?).split(b'\n').take_while(Result::is_ok).count() as u64;
            Ok((total, Box::new(json_lines(BufReader::new(File::open(path)?)))))
        }
        "csv" => csv_rows(path),
        "parquet" => {
            let total = playpulse_lake::count_events(path)?;
            let batches = playpulse_lake::read_events(path)?;
            let rows = batches.flat_map(|batch| match batch {
                Ok(rows) => rows.into_iter().map(|r| Ok(Ok(envelope(r)))).collect::<Vec<_>>(),
                Err(err) => vec![Err(err.into())],
            });
            Ok((total, Box::new((1..).zip(rows).map(|(n, row)| row.map(|row| (n, row))))))
        }
        other => bail!("unknown file type `.{other}`: use .jsonl, .ndjson, .csv or .parquet"),
    }
}

/// JSONL rows numbered by line (blank lines are skipped but counted). Lines are read as
/// bytes, so a line that is not UTF-8 is one bad row, not the end of the import; a UTF-8
/// byte order mark before the first line is ignored, as is a `\r` before each line end.
fn json_lines(reader: impl BufRead + 'static) -> impl Iterator<Item = anyhow::Result<(u64, Row)>> {
    (1u64..).zip(reader.split(b'\n')).filter_map(|(line_no, line)| {
        let mut line = match line {
            Ok(line) => line,
            Err(err) => return Some(Err(anyhow::Error::new(err).context(format!("line {line_no}")))),
        };
        if line_no == 1 && line.starts_with(UTF8_BOM) {
            line.drain(..UTF8_BOM.len());
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let row = match std::str::from_utf8(&line) {
            Ok(text) => serde_json::from_str::<Value>(text).map_err(|e| format!("not a JSON event: {e}")),
            Err(e) => Err(format!("not UTF-8 text: invalid byte at column {}", e.valid_up_to() + 1)),
        };
        Some(Ok((line_no, row)))
    })
}

/// The byte order mark some editors write at the start of a UTF-8 file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// CSV rows numbered from 1 after the header. A record with the wrong number of fields or
/// bytes that are not UTF-8 is one bad row; the reader goes on with the next record.
fn csv_rows(path: &Path) -> anyhow::Result<(u64, Rows)> {
    let total = csv::Reader::from_path(path)?
        .byte_records()
        .take_while(|r| !r.as_ref().is_err_and(csv::Error::is_io_error))
        .count() as u64;
    let mut reader = csv::Reader::from_path(path)?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let index = playpulse_lake::EVENT_COLUMNS.map(column);
    if index[..4].iter().any(Option::is_none) {
        bail!("a CSV of events needs the header event_id,user_id,type,ts[,props]");
    }
    let rows = (1u64..).zip(reader.into_records()).map(move |(row_no, record)| {
        let record = match record {
            Ok(record) => record,
            Err(err) if err.is_io_error() => return Err(anyhow::Error::new(err)),
            Err(err) => return Ok((row_no, Err(csv_problem(&err)))),
        };
        let field = |i: usize| index[i].and_then(|at| record.get(at)).map(str::to_owned);
        Ok((
            row_no,
            Ok(envelope(EventRow {
                event_id: field(0),
                user_id: field(1),
                event_type: field(2),
                ts: field(3),
                props: field(4).filter(|p| !p.is_empty()),
            })),
        ))
    });
    Ok((total, Box::new(rows)))
}

/// Why a CSV record could not be read, with its line.
fn csv_problem(err: &csv::Error) -> String {
    let line = err.position().map_or_else(String::new, |p| format!("line {}: ", p.line()));
    match err.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{line}{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => format!("{line}not UTF-8 text"),
        _ => format!("{line}{err}"),
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
