//! The event lake export: every event exactly once, even when the export is killed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use playpulse::commands::export::{MAX_WAIT_FOR_PENDING, export};
use playpulse::commands::import::import_file;
use playpulse_core::time::BusinessZone;
use playpulse_lake::events::{COMPACT_AT_FILES, EventLake};
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, Storage, TestApp, earn, simulate};

on_both_backends!(export_is_incremental_and_exact, an_interrupted_export_resumes_exactly_once);

fn simulated_history(dir: &Path) -> (u64, i64) {
    simulate(dir, &["--users", "200", "--days", "15", "--seed", "9", "--start", "2026-03-01"]);
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let amounts = events.iter().filter_map(|e| e["props"]["amount"].as_i64()).sum();
    (events.len() as u64, amounts)
}

fn audit(root: &Path) -> playpulse_lake::events::LakeAudit {
    EventLake::open(root, BusinessZone::default()).unwrap().audit().unwrap()
}

fn assert_exactly_once(audit: &playpulse_lake::events::LakeAudit, rows: u64, amounts: i64) {
    assert_eq!(audit.rows, rows);
    let mut ids = audit.event_ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, rows, "no event twice");
    assert_eq!(audit.amount_sum, amounts, "amounts add up to the operational DB's");
}

async fn export_is_incremental_and_exact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (rows, amounts) = simulated_history(dir.path());
    let imported = import_file(&app.state, &dir.path().join("events.parquet")).await.unwrap();
    assert_eq!(imported.accepted, rows);
    let root = app.dir.path().join("lake");
    // Small pages: many commits, many small files per business date.
    let first = export(app.state.store.as_ref(), &root, BusinessZone::default(), 50, MAX_WAIT_FOR_PENDING)
        .await
        .unwrap();
    assert_eq!(first.rows, rows);
    assert!(first.commits >= rows / 50);
    assert!(first.compacted > 0, "{first:?}");
    assert_exactly_once(&audit(&root), rows, amounts);
    // Partitions are business dates in Seoul; files hold typed columns.
    let partitions: Vec<String> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("date="))
        .collect();
    assert!(partitions.contains(&"date=2026-03-01".to_owned()), "{partitions:?}");
    // Busy partitions were merged: none is left with as many files as triggers a merge.
    for partition in &partitions {
        let files = std::fs::read_dir(root.join("events").join(partition)).unwrap().count();
        assert!(files < COMPACT_AT_FILES, "{partition}: {files} files after {} commits", first.commits);
    }

    app.send(&[earn("late", 7)]).await;
    let second =
        export(app.state.store.as_ref(), &root, BusinessZone::default(), 1_000, MAX_WAIT_FOR_PENDING)
            .await
            .unwrap();
    assert_eq!((second.rows, second.commits), (1, 1), "only what is new");
    assert_exactly_once(&audit(&root), rows + 1, amounts + 7);
    let nothing =
        export(app.state.store.as_ref(), &root, BusinessZone::default(), 1_000, MAX_WAIT_FOR_PENDING)
            .await
            .unwrap();
    assert_eq!(nothing.rows, 0);
    app.stop().await;
}

async fn an_interrupted_export_resumes_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (rows, amounts) = simulated_history(dir.path());
    import_file(&app.state, &dir.path().join("events.parquet")).await.unwrap();
    let run_export = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_playpulse"));
        cmd.args(["export", "--page", "100", "--data-dir", app.dir.path().to_str().unwrap()])
            .env_remove("PLAYPULSE_DB");
        if let Storage::Pg(db) = &app.storage {
            cmd.args(["--db", db.url()]);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        cmd
    };
    // Kill the export once a few commits are in.
    let manifests = app.dir.path().join("lake/events/_manifests");
    let mut child = run_export().spawn().unwrap();
    let started = Instant::now();
    while std::fs::read_dir(&manifests).map_or(0, |d| d.count()) < 5 {
        assert!(started.elapsed() < Duration::from_secs(60), "the export made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What a crash can leave: a data file no manifest names, a half-written temporary file.
    let stray = app.dir.path().join("lake/events/date=2026-03-02");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("part-99999999999999999999-0.parquet"), b"not committed").unwrap();
    std::fs::write(stray.join("part-99999999999999999999-1.tmp"), b"half").unwrap();

    let out = run_export().output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let resumed: u64 =
        line.split_whitespace().next().unwrap().trim_start_matches("exported=").parse().unwrap();
    assert!(resumed > 0 && resumed < rows, "the second run resumed where the first stopped: {line}");
    assert_exactly_once(&audit(&app.dir.path().join("lake")), rows, amounts);
    assert!(!stray.join("part-99999999999999999999-0.parquet").exists());
    app.stop().await;
}
