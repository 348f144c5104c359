//! Lakes built from hand-written events, for the tests of the SQL.

use jiff::Timestamp;
use playpulse_core::time::BusinessZone;
use serde_json::json;

use crate::events::{EventLake, ExportRow};

/// (user, instant, type, props)
pub type Ev = (&'static str, Timestamp, &'static str, serde_json::Value);

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn day_number(date: &str) -> i32 {
    playpulse_core::time::epoch_day(date.parse().unwrap())
}

/// Appends `events` to the lake under `root` as one export commit; `first` numbers them.
pub fn export(root: &std::path::Path, events: &[Ev], first: usize) {
    let mut lake = EventLake::open(root, BusinessZone::default()).unwrap();
    let rows: Vec<ExportRow> = events
        .iter()
        .enumerate()
        .map(|(i, (user, ts, kind, props))| ExportRow {
            seq: (first + i) as i64 + 1,
            event_id: format!("e{}", first + i),
            user_id: (*user).to_owned(),
            event_type: (*kind).to_owned(),
            ts_ms: ts.as_millisecond(),
            props: props.to_string(),
        })
        .collect();
    if !rows.is_empty() {
        lake.commit(&rows, json!({"seq": first + rows.len()})).unwrap();
    }
}

/// A new lake holding `events`.
pub fn lake_of(events: &[Ev]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), events, 0);
    dir
}
