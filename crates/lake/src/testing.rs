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

/// Every row of every rollup table, sorted, as text: what two lakes must agree on.
pub async fn contents(
    analytics: &crate::analytics::Analytics,
) -> std::collections::BTreeMap<&'static str, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for table in crate::rollups::TABLES {
        let batches = analytics.query(&format!("SELECT * FROM {}", table.name)).await.unwrap();
        let table_rows = crate::kpis::table_of(&batches).unwrap();
        let mut rows: Vec<String> =
            table_rows.rows.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        rows.sort();
        out.insert(table.name, rows);
    }
    out
}

/// A new lake holding `events`.
pub fn lake_of(events: &[Ev]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), events, 0);
    dir
}
