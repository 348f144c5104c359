//! Parquet and Arrow for playpulse: event files in the envelope's columns.
//!
//! Architecture invariant: Arrow, Parquet and DataFusion are linked by this crate only, so
//! the write path (store, server) builds and tests without them.

pub mod analytics;
pub mod bench;
pub mod effects;
pub mod erasure;
pub mod events;
pub mod features;
pub mod kpis;
mod manifest;
pub mod nights;
pub mod retention;
pub mod rollups;
#[cfg(test)]
mod testing;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The columns of an event file, in order; `props` holds the props object as JSON text.
pub const EVENT_COLUMNS: [&str; 5] = ["event_id", "user_id", "type", "ts", "props"];
/// Rows per Parquet record batch read or written.
pub(crate) const ROWS_PER_BATCH: usize = 8192;

/// Failures reading or writing event files.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("column `{0}` is missing or not a string column")]
    Column(&'static str),
    #[error("manifest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("event row: {0}")]
    Row(String),
    #[error("query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

/// The date of a business day given as days since 1970-01-01.
pub(crate) fn date_of(day: i32) -> Result<jiff::civil::Date, LakeError> {
    playpulse_core::time::add_days(playpulse_core::time::EPOCH_DAY, i64::from(day))
        .ok_or_else(|| LakeError::Row(format!("day {day} is out of range")))
}

/// One event as text columns, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub event_id: Option<String>,
    pub user_id: Option<String>,
    pub event_type: Option<String>,
    pub ts: Option<String>,
    pub props: Option<String>,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(EVENT_COLUMNS.map(|name| Field::new(name, DataType::Utf8, true)).to_vec()))
}

/// Reads an event file's rows, a record batch at a time.
pub fn read_events(
    path: &Path,
) -> Result<impl Iterator<Item = Result<Vec<EventRow>, LakeError>> + use<>, LakeError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?
        .with_batch_size(ROWS_PER_BATCH)
        .build()?;
    Ok(reader.map(|batch| rows_of(&batch?)))
}

/// The number of rows in an event file, from its footer.
pub fn count_events(path: &Path) -> Result<u64, LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

fn rows_of(batch: &RecordBatch) -> Result<Vec<EventRow>, LakeError> {
    let column = |name: &'static str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or(LakeError::Column(name))
    };
    let [ids, users, types, times, props] = EVENT_COLUMNS.map(column);
    let (ids, users, types, times) = (ids?, users?, types?, times?);
    // props may be absent altogether: events without props.
    let props = props.ok();
    let text = |col: &StringArray, i: usize| (!col.is_null(i)).then(|| col.value(i).to_owned());
    Ok((0..batch.num_rows())
        .map(|i| EventRow {
            event_id: text(ids, i),
            user_id: text(users, i),
            event_type: text(types, i),
            ts: text(times, i),
            props: props.and_then(|p| text(p, i)),
        })
        .collect())
}

/// Writes rows as an event file (zstd-compressed Parquet).
pub fn write_events(path: &Path, rows: &[EventRow]) -> Result<(), LakeError> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path)?, schema(), Some(props))?;
    for chunk in rows.chunks(ROWS_PER_BATCH) {
        let col = |f: fn(&EventRow) -> Option<&str>| -> Arc<dyn Array> {
            Arc::new(chunk.iter().map(f).collect::<StringArray>())
        };
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                col(|r| r.event_id.as_deref()),
                col(|r| r.user_id.as_deref()),
                col(|r| r.event_type.as_deref()),
                col(|r| r.ts.as_deref()),
                col(|r| r.props.as_deref()),
            ],
        )?;
        writer.write(&batch)?;
    }
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let rows: Vec<EventRow> = (0..20_000)
            .map(|i| EventRow {
                event_id: Some(format!("id-{i}")),
                user_id: Some(format!("u{}", i % 7)),
                event_type: Some("SESSION_START".into()),
                ts: Some("2026-01-01T00:00:00Z".into()),
                props: (i % 3 == 0).then(|| "{}".to_owned()),
            })
            .collect();
        write_events(&path, &rows).unwrap();
        assert_eq!(count_events(&path).unwrap(), 20_000);
        let back: Vec<EventRow> = read_events(&path).unwrap().flat_map(Result::unwrap).collect();
        assert_eq!(back, rows);
    }
}
