//! The event lake's commits, merges by tiers and crash safety.

use super::*;
use crate::manifest::{data_files, manifests};

fn row(seq: i64, day: u32) -> ExportRow {
    ExportRow {
        seq,
        event_id: format!("e{seq}"),
        user_id: format!("u{}", seq % 5),
        event_type: "SPEND_CYBER_TOKENS".into(),
        // Noon in Seoul on 2026-03-(day).
        ts_ms: jiff::civil::date(2026, 3, i8::try_from(day).unwrap())
            .at(3, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond(),
        props: format!(r#"{{"amount":{seq},"sink":"game"}}"#),
    }
}

/// Ten commits: each puts one file in 03-01's partition; the first also one in 03-02's.
fn busy_lake(root: &Path) -> EventLake {
    let mut lake = EventLake::open(root, BusinessZone::default()).unwrap();
    for c in 0..10 {
        let mut rows = vec![row(c * 10 + 1, 1), row(c * 10 + 2, 1)];
        if c == 0 {
            rows.push(row(3, 2));
        }
        lake.commit(&rows, serde_json::json!({"seq": c})).unwrap();
    }
    lake
}

fn file_count(root: &Path) -> usize {
    data_files(&root.join("events")).unwrap().len()
}

#[test]
fn compaction_merges_busy_partitions_and_keeps_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = busy_lake(dir.path());
    let before = lake.audit().unwrap();
    assert_eq!((before.rows, file_count(dir.path())), (21, 11));

    let done = lake.compact().unwrap();
    assert_eq!(done, Committed { rows: 20, files: 1 }, "03-01 merged, 03-02 (one file) left alone");
    assert_eq!(file_count(dir.path()), 2);
    assert_eq!(lake.audit().unwrap(), before, "same rows, same order, same sums");
    assert_eq!(manifests(&lake.root).unwrap().len(), 1, "the snapshot replaces older manifests");

    let reopened = EventLake::open(dir.path(), BusinessZone::default()).unwrap();
    assert_eq!(reopened.audit().unwrap(), before);
    assert_eq!(reopened.mark(), Some(&serde_json::json!({"seq": 9})), "the export resumes where it was");
    assert_eq!(EventLake::live_files(dir.path()).unwrap().len(), 2);
    let mut again = reopened;
    assert_eq!(again.compact().unwrap(), Committed::default(), "nothing left to merge");
}

#[test]
fn small_exports_are_merged_by_tiers_and_each_event_rewritten_a_few_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = EventLake::open(dir.path(), BusinessZone::default()).unwrap();
    let (commits, mut rewritten) = (200, 0);
    for c in 0..commits {
        lake.commit(&[row(c + 1, 1)], serde_json::json!({"seq": c})).unwrap();
        rewritten += lake.compact().unwrap().rows;
        assert!(file_count(dir.path()) < 3 * COMPACT_AT_FILES, "bounded files: {}", file_count(dir.path()));
    }
    let audit = lake.audit().unwrap();
    assert_eq!(audit.rows, 200);
    let order: Vec<String> = (1..=200).map(|seq| format!("e{seq}")).collect();
    assert_eq!(audit.event_ids, order, "commit order kept across tiers");
    // Tiers 1, 2 and 3 (at 8, 64 and 512 exports): at most two rewrites per event here,
    // where merging the whole partition every 8 exports rewrote 2,400 rows.
    assert!(rewritten <= 2 * 200, "{rewritten} rows rewritten");
    let tiers: BTreeSet<u32> =
        EventLake::live_files(dir.path()).unwrap().iter().map(|f| tier(f.to_str().unwrap())).collect();
    assert!(tiers.contains(&2), "{tiers:?}");
}

#[test]
fn a_file_keeps_its_tier_when_erased() {
    for (name, expected) in [
        ("date=2026-03-01/part-00000000000000000007-0.parquet", 0),
        ("date=2026-03-01/part-00000000000000000007-0-erased.parquet", 0),
        ("date=2026-03-01/part-00000000000000000008-compacted.parquet", 1),
        ("date=2026-03-01/part-00000000000000000008-compacted-erased2.parquet", 1),
        ("date=2026-03-01/part-00000000000000000064-compacted2.parquet", 2),
        ("date=2026-03-01/part-00000000000000000064-compacted12-erased.parquet", 12),
    ] {
        assert_eq!(tier(name), expected, "{name}");
    }
}

#[test]
fn a_compaction_killed_at_any_step_leaves_the_lake_whole() {
    // Killed after writing the merged file, before its manifest: the file is a leftover.
    let dir = tempfile::tempdir().unwrap();
    let lake = busy_lake(dir.path());
    let before = lake.audit().unwrap();
    let stray = lake.root.join("date=2026-03-01/part-00000000000000000010-compacted.parquet");
    fs::copy(lake.root.join("date=2026-03-01/part-00000000000000000000-0.parquet"), &stray).unwrap();
    let reopened = EventLake::open(dir.path(), BusinessZone::default()).unwrap();
    assert!(!stray.exists());
    assert_eq!(reopened.audit().unwrap(), before);

    // Killed after the snapshot manifest, before the old manifests and files were gone.
    let saved = tempfile::tempdir().unwrap();
    let copy_tree = |from: &Path, to: &Path| {
        for entry in fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                fs::create_dir_all(&target).unwrap();
                for file in fs::read_dir(&path).unwrap() {
                    let file = file.unwrap().path();
                    fs::copy(&file, target.join(file.file_name().unwrap())).unwrap();
                }
            }
        }
    };
    copy_tree(&reopened.root, saved.path());
    let mut lake = reopened;
    lake.compact().unwrap();
    copy_tree(saved.path(), &lake.root);
    assert_eq!(file_count(dir.path()), 12, "old files back beside the merged one");
    let reopened = EventLake::open(dir.path(), BusinessZone::default()).unwrap();
    assert_eq!(file_count(dir.path()), 2);
    assert_eq!(reopened.audit().unwrap(), before);
    assert_eq!(manifests(&reopened.root).unwrap().len(), 1);
}
