//! `playpulse import`: JSONL, CSV and Parquet through the ingest path; re-runs change nothing.

use std::path::Path;
use std::process::Command;

use playpulse::commands::import::{ImportSummary, import_file};
use playpulse_lake::EventRow;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, earn, event, spend};

on_both_backends!(every_format_imports_once);

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
