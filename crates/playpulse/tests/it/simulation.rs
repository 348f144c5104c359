//! The simulator's history through the real ingest path, and the demo as a newcomer runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use playpulse::commands::import::import_file;
use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, simulate, truth};

on_both_backends!(a_simulated_history_imports_exactly);

const HISTORY: [&str; 8] = ["--users", "300", "--days", "20", "--seed", "3", "--start", "2026-03-01"];

/// Zero rejections, and every balance is the one the simulator believes; with overdrafts
/// injected, exactly those are rejected.
async fn a_simulated_history_imports_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &[&HISTORY[..], &["--inject-overdrafts"]].concat());
    let summary = import_file(&app.state, &dir.path().join("events.parquet")).await.unwrap();
    let truth = truth(dir.path());
    let injected: u64 = truth.iter().map(|t| t["injected_rejects"].as_u64().unwrap()).sum();
    assert_eq!(injected, 3);
    assert_eq!(summary.rejected, injected, "{summary:?}");
    assert!(summary.first_rejections.iter().all(|(_, code, _)| code == "insufficient_balance"));
    assert!(summary.accepted > 10_000, "{summary:?}");
    let lines = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap().lines().count() as u64;
    assert_eq!(summary.accepted + summary.rejected, lines, "JSONL and Parquet hold the same events");
    for t in &truth {
        let user = playpulse_core::ids::UserId::parse(t["user_id"].as_str().unwrap()).unwrap();
        let stored = app.state.store.user(&user).await.unwrap().map_or(0, |u| u.state.balance.0);
        assert_eq!(stored, t["balance_at_window_end"].as_i64().unwrap(), "{user}");
    }
    app.stop().await;
}

/// The seed's default rules on two months of a simulated population: a pyramid, with few
/// users between bands. One backend is enough: the figures come from the lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_population_forms_a_pyramid() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &["--users", "800", "--days", "60", "--seed", "7", "--start", "2026-03-01"]);
    let summary = import_file(&app.state, &dir.path().join("events.parquet")).await.unwrap();
    assert_eq!(summary.rejected, 0, "{summary:?}");
    let report = app.batch("2026-04-29".parse().unwrap()).await.unwrap();
    let users: u64 = report.users.values().sum();
    let share = |n: u64| n as f64 / users as f64;
    let segment = |name: &str| share(report.users.get(name).copied().unwrap_or(0));
    let shape = [
        ("Whale", segment("Whale"), 0.01..=0.03),
        ("High Engaged", segment("High Engaged"), 0.05..=0.15),
        ("Medium", segment("Medium"), 0.15..=0.35),
        ("between bands", share(report.between_bands), 0.0..=0.10),
    ];
    for (what, got, bounds) in shape {
        assert!(bounds.contains(&got), "{what}: {got:.3} outside {bounds:?} ({report:?})");
    }
    println!(
        "segments of the simulated population: {:?}, between bands {}",
        report.users, report.between_bands
    );
    app.stop().await;
}

#[test]
fn simulate_is_deterministic_in_bytes() {
    let (a, b, c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    simulate(a.path(), &HISTORY);
    simulate(b.path(), &HISTORY);
    for file in ["events.jsonl", "events.parquet", "truth.jsonl"] {
        let (x, y) =
            (std::fs::read(a.path().join(file)).unwrap(), std::fs::read(b.path().join(file)).unwrap());
        assert!(x == y, "{file} differs between two runs of one seed");
    }
    simulate(c.path(), &["--users", "300", "--days", "20", "--seed", "4", "--start", "2026-03-01"]);
    assert_ne!(
        std::fs::read(a.path().join("events.jsonl")).unwrap(),
        std::fs::read(c.path().join("events.jsonl")).unwrap()
    );
}

/// Starts `playpulse demo`, waits for its key and address, and checks the API answers.
async fn run_demo(data_dir: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_playpulse"))
        .args(["demo", "--users", "200", "--days", "10", "--listen", "127.0.0.1:0"])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .env_remove("PLAYPULSE_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut key, mut user) = (String::new(), String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"API:") => base = words[1].to_owned(),
            Some(&"admin") => key = words[2].to_owned(),
            Some(&"curl") if user.is_empty() => {
                user = line.rsplit('/').next().unwrap().to_owned();
            }
            Some(&"data:") => break,
            _ => {}
        }
        assert!(!line.contains("rejected=") || line.contains("rejected=0"), "{line}");
    }
    assert!(base.starts_with("http://127.0.0.1:") && key.starts_with("pp_") && !user.is_empty());
    let response =
        reqwest::Client::new().get(format!("{base}/v1/users/{user}")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.unwrap();
    assert!(profile["balance"].as_i64().unwrap() >= 0);
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "Ctrl-C ends the demo cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_and_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    run_demo(&data).await;
    run_demo(&data).await;
    // A folder that is not the demo's is never wiped.
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_playpulse"))
        .args(["demo", "--users", "10", "--days", "2", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(foreign.join("keep.txt").exists());
}
