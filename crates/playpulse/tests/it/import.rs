//! `playpulse import`: JSONL, CSV and Parquet through the ingest path; re-runs change nothing.

use std::path::Path;
use std::process::Command;

use playpulse::commands::import::{ImportSummary, import_file};
use playpulse_lake::EventRow;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, earn, event, spend};

on_both_backends!(every_format_imports_once, bad_rows_are_reported_and_skipped);

/// 300 events over 30 users, plus one spend that no balance covers.
fn history() -> Vec<Value> {
    let mut events = Vec::new();
    for u in 0..30 {
        let user = format!("imp-{u}");
        events.push(earn(&user, 100));
        for _ in 0..8 {
            events.push(spend(&user, 10));
        }
        events.push(event(&user, "PARTNER_VISIT", json!({"dwell_s": 40, "actions": 2})));
    }
    events.push(spend("imp-0", 1_000));
    events
}

fn row(e: &Value) -> EventRow {
    let text = |k: &str| e[k].as_str().map(str::to_owned);
    EventRow {
        event_id: text("event_id"),
        user_id: text("user_id"),
        event_type: text("type"),
        ts: text("ts"),
        props: Some(e["props"].to_string()),
    }
}

/// Writes events in one file format.
type WriteFile = fn(&Path, &[Value]);

fn write_jsonl(path: &Path, events: &[Value]) {
    let mut text: String = events.iter().map(|e| format!("{e}\n")).collect();
    text.push_str("{oops\n");
    std::fs::write(path, text).unwrap();
}

fn write_csv(path: &Path, events: &[Value]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["event_id", "user_id", "type", "ts", "props"]).unwrap();
    for e in events {
        let r = row(e);
        w.write_record([r.event_id, r.user_id, r.event_type, r.ts, r.props].map(Option::unwrap)).unwrap();
    }
    w.flush().unwrap();
}

async fn every_format_imports_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let formats: [(&str, WriteFile); 3] = [
        ("events.jsonl", write_jsonl),
        ("events.csv", write_csv),
        ("events.parquet", |p, evs| {
            playpulse_lake::write_events(p, &evs.iter().map(row).collect::<Vec<_>>()).unwrap()
        }),
    ];
    for (name, write) in formats {
        let events = history();
        let path = dir.path().join(name);
        write(&path, &events);
        let malformed = u64::from(name.ends_with(".jsonl"));
        let first = import_file(&app.state, &path).await.unwrap();
        assert_eq!((first.accepted, first.duplicate, first.rejected), (300, 0, 1 + malformed), "{name}");
        assert_eq!(first.first_rejections[0].1, "insufficient_balance", "{name}: {first:?}");
        assert_eq!(first.first_rejections[0].0, 301, "rows are numbered from 1");
        let again = import_file(&app.state, &path).await.unwrap();
        assert_eq!(
            again,
            ImportSummary { accepted: 0, duplicate: 300, ..first },
            "{name}: a re-run reports every stored event as duplicate"
        );
    }
    // Three imports of 30 users × (100 − 80) tokens each.
    for u in 0..30 {
        assert_eq!(app.balance(&format!("imp-{u}")).await, 60);
    }
    assert_eq!(app.state.store.event_count().await.unwrap(), 900);
    app.stop().await;
}

/// A corrupt line deep in a JSONL file, a short CSV row and a byte order mark cost one row
/// each, not the import; a directory is refused at once.
async fn bad_rows_are_reported_and_skipped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();

    // A BOM, 1,500 good rows, one line that is not UTF-8, 20 good rows more.
    let jsonl = dir.path().join("events.jsonl");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    for n in 0..1_500 {
        bytes.extend(format!("{}\n", earn(&format!("bad-{}", n % 50), 1)).into_bytes());
    }
    bytes.extend(b"{\"event_id\": \"\xff\xfe\"}\n");
    for n in 0..20 {
        bytes.extend(format!("{}\r\n", earn(&format!("bad-{n}"), 1)).into_bytes());
    }
    std::fs::write(&jsonl, bytes).unwrap();
    let summary = import_file(&app.state, &jsonl).await.expect("a bad row does not stop the import");
    assert_eq!((summary.accepted, summary.rejected), (1_520, 1), "{summary:?}");
    let (line, code, message) = &summary.first_rejections[0];
    assert_eq!((*line, code.as_str()), (1_501, "malformed_row"), "{message}");
    assert!(message.contains("UTF-8"), "{message}");
    assert_eq!(app.balance("bad-0").await, 31, "30 rows of the first 1,500 and one after the bad line");

    // A CSV row with 3 fields between good ones.
    let csv_path = dir.path().join("events.csv");
    let mut w = csv::WriterBuilder::new().flexible(true).from_path(&csv_path).unwrap();
    w.write_record(["event_id", "user_id", "type", "ts", "props"]).unwrap();
    for n in 0..6 {
        if n == 3 {
            w.write_record(["0191b7e2-8a4c-7d2e-9f3a-1c2b3d4e5f60", "short", "SESSION_START"]).unwrap();
        }
        let r = row(&earn("csv-user", 1));
        w.write_record([r.event_id, r.user_id, r.event_type, r.ts, r.props].map(Option::unwrap)).unwrap();
    }
    w.flush().unwrap();
    let summary = import_file(&app.state, &csv_path).await.expect("a short row does not stop the import");
    assert_eq!((summary.accepted, summary.rejected), (6, 1), "{summary:?}");
    let (row_no, code, message) = &summary.first_rejections[0];
    assert_eq!((*row_no, code.as_str()), (4, "malformed_row"), "{message}");
    assert!(message.contains("line 5") && message.contains("3 fields"), "{message}");
    assert_eq!(app.balance("csv-user").await, 6);

    // A directory, even one named like a data file.
    let folder = dir.path().join("more.jsonl");
    std::fs::create_dir(&folder).unwrap();
    let refused = tokio::time::timeout(std::time::Duration::from_secs(10), import_file(&app.state, &folder))
        .await
        .expect("a directory is refused at once, not read forever")
        .expect_err("a directory is not a file of events");
    assert!(format!("{refused:#}").contains("directory"), "{refused:#}");
    assert_eq!(app.state.store.event_count().await.unwrap(), 1_526);
    app.stop().await;
}

#[test]
fn the_cli_prints_a_parsable_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    write_jsonl(&file, &history());
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_playpulse"))
            .args(["import", file.to_str().unwrap(), "--data-dir", dir.path().join("data").to_str().unwrap()])
            .env_remove("PLAYPULSE_DB")
            .env_remove("PLAYPULSE_REDIS")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert!(first.starts_with("accepted=300 duplicate=0 rejected=2\n"), "{first}");
    assert!(first.contains("row 301: insufficient_balance"), "{first}");
    assert!(first.contains("row 302: malformed_row"), "{first}");
    assert!(run().starts_with("accepted=0 duplicate=300 rejected=2\n"));
}
