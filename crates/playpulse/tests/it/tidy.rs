//! The house rules that a machine can check.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Longest source file, in lines; a longer one usually holds two jobs.
const MAX_FILE_LINES: usize = 450;
/// Files allowed past the limit, with the reason.
const LONG_FILES: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    assert!(files.len() > 20, "the walk found the sources");
    files
        .into_iter()
        .map(|p| (p.strip_prefix(&root).unwrap().display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn sql_for_the_operational_db_stays_in_store() {
    let markers =
        ["INSERT INTO", "CREATE TABLE", "DELETE FROM", "UPDATE api_keys", "SELECT 1 FROM", "FROM events"];
    for (path, text) in sources() {
        if path.starts_with("crates/store/") || path.ends_with("tidy.rs") {
            continue;
        }
        for marker in markers {
            assert!(!text.contains(marker), "{path} contains SQL (`{marker}`): it belongs in crates/store");
        }
    }
}

#[test]
fn arrow_and_parquet_live_in_lake() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let heavy = ["arrow", "parquet", "datafusion"];
    let mut checked = 0;
    for package in meta["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        checked += 1;
        if name == "playpulse-lake" {
            continue;
        }
        for dep in package["dependencies"].as_array().unwrap() {
            let dep = dep["name"].as_str().unwrap();
            assert!(
                !heavy.iter().any(|h| dep.starts_with(h)),
                "{name} depends on {dep}: only playpulse-lake may"
            );
        }
    }
    assert!(checked >= 6);
}

#[test]
fn the_wall_clock_is_read_through_clock_only() {
    // Split so that this file does not match itself.
    let marker = ["Timestamp::", "now()"].concat();
    for (path, text) in sources() {
        if path == "crates/core/src/time.rs" {
            continue;
        }
        assert!(!text.contains(&marker), "{path} reads the wall clock: take a `Clock` (core::time)");
    }
}

#[test]
fn no_test_is_ignored() {
    let marker = ["#[", "ignore]"].concat();
    for (path, text) in sources() {
        assert!(!text.contains(&marker), "{path} ignores a test");
    }
}

#[test]
fn files_stay_small() {
    for (path, text) in sources() {
        let lines = text.lines().count();
        let allowed = LONG_FILES.iter().any(|(p, _)| *p == path);
        assert!(lines <= MAX_FILE_LINES || allowed, "{path} has {lines} lines (limit {MAX_FILE_LINES})");
    }
}
