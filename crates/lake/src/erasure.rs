//! Erasure in the lake: every file holding an erased user's rows is rewritten with their id
//! replaced by its pseudonym (and, in events, the props stripped to what analytics read), and
//! committed under the manifest discipline: a snapshot names the new files in place of the
//! old, which are then deleted. Killed at any instant, the lake holds the old files or the new
//! ones, and the caller (who keeps the erasure pending until this returns) runs it again.
//!
//! Rollups are rewritten the same way rather than re-rolled: their rows of the pseudonym are
//! the rows the pseudonymised events would give. Each rollup's record of the input files it
//! was rolled from is renamed alike, so the next roll-up sees nothing stale.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use datafusion::arrow::compute::cast;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use playpulse_core::erasure::kept_props;

use crate::LakeError;
use crate::manifest::{Manifest, commit_snapshot, open_dir, write_atomically};
use crate::nights::NIGHTS;
use crate::rollups::{TABLES, TableDir};

/// Erased user ids and the pseudonym each takes.
pub type Pseudonyms = BTreeMap<String, String>;
/// Old file name → rewritten file name, relative to the table's folder.
pub(crate) type Renamed = BTreeMap<String, String>;

/// What an erasure rewrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LakeErasure {
    pub files: u64,
    pub rows: u64,
}

/// Rewrites every table of the lake under `root` so that none holds the ids of `users`.
/// The caller holds the lake's writer lock.
pub fn erase_users(root: &Path, users: &Pseudonyms) -> Result<LakeErasure, LakeError> {
    let mut done = LakeErasure::default();
    if users.is_empty() {
        return Ok(done);
    }
    let mut renamed: BTreeMap<&str, Renamed> = BTreeMap::new();
    renamed.insert("events", erase_events(&root.join("events"), users, &mut done)?);
    let mut nights = TableDir::open(root, NIGHTS, true)?;
    let rewritten = rewrite_files(nights.root(), nights.live_files(), users, &mut done)?;
    nights.replace_files(&rewritten, &Renamed::new())?;
    renamed.insert(NIGHTS, rewritten);
    for table in TABLES {
        let inputs = renamed.get(table.input.source()).cloned().unwrap_or_default();
        let mut dir = TableDir::open(root, table.name, true)?;
        let rewritten = rewrite_files(dir.root(), dir.live_files(), users, &mut done)?;
        dir.replace_files(&rewritten, &inputs)?;
        renamed.insert(table.name, rewritten);
    }
    erase_features(root, users, &mut done)?;
    Ok(done)
}

/// The models' feature files: one per as-of day without a manifest, each replaced whole by a
/// rename, so rewritten in place.
fn erase_features(root: &Path, users: &Pseudonyms, done: &mut LakeErasure) -> Result<(), LakeError> {
    let folder = root.join(crate::features::FEATURES_DIR);
    if !folder.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(folder)? {
        let path = entry?.path().join(crate::features::FEATURES_FILE);
        if path.is_file() && holds_any(&path, users)? {
            write_atomically(&path, |out| {
                done.rows += rewrite(&path, out, users)?;
                Ok(())
            })?;
            done.files += 1;
        }
    }
    Ok(())
}

fn erase_events(root: &Path, users: &Pseudonyms, done: &mut LakeErasure) -> Result<Renamed, LakeError> {
    if !root.join("_manifests").is_dir() {
        return Ok(Renamed::new());
    }
    let (files, next_commit, mark) = open_dir(root)?;
    let rewritten = rewrite_files(root, &files, users, done)?;
    if rewritten.is_empty() {
        return Ok(rewritten);
    }
    let live = files.iter().map(|f| rewritten.get(f).unwrap_or(f).clone()).collect();
    let mark = mark.unwrap_or(serde_json::Value::Null);
    let manifest = Manifest { mark, files: live, rows: 0, snapshot: true };
    commit_snapshot(root, next_commit, &manifest, &rewritten.keys().cloned().collect())?;
    Ok(rewritten)
}

/// Writes a rewritten copy of each of `files` that holds one of `users`; returns the new
/// name of each file copied.
fn rewrite_files<'a>(
    root: &Path,
    files: impl IntoIterator<Item = &'a String>,
    users: &Pseudonyms,
    done: &mut LakeErasure,
) -> Result<Renamed, LakeError> {
    let mut renamed = Renamed::new();
    for file in files {
        if !holds_any(&root.join(file), users)? {
            continue;
        }
        let new = erased_name(file);
        write_atomically(&root.join(&new), |out| {
            done.rows += rewrite(&root.join(file), out, users)?;
            Ok(())
        })?;
        done.files += 1;
        renamed.insert(file.clone(), new);
    }
    Ok(renamed)
}

/// `date=…/part-7-0.parquet` → `date=…/part-7-0-erased.parquet`, which sorts where the old
/// name did; a file erased twice alternates with `-erased2`, so a new name never equals the
/// name it replaces.
fn erased_name(file: &str) -> String {
    let stem = file.strip_suffix(".parquet").unwrap_or(file);
    match stem.strip_suffix("-erased") {
        Some(base) => format!("{base}-erased2.parquet"),
        None => format!("{}-erased.parquet", stem.strip_suffix("-erased2").unwrap_or(stem)),
    }
}

/// Whether the file's `user_id` column holds one of `users` (reading that column only).
fn holds_any(path: &Path, users: &Pseudonyms) -> Result<bool, LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path)?)?;
    let Some(index) = builder.parquet_schema().columns().iter().position(|c| c.name() == "user_id") else {
        return Ok(false);
    };
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [index]);
    for batch in builder.with_projection(mask).with_batch_size(crate::ROWS_PER_BATCH).build()? {
        let ids = strings(batch?.column(0))?;
        if ids.iter().flatten().any(|id| users.contains_key(id)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Copies `path` into `out` with the users' ids replaced and their props stripped; returns
/// the rows copied.
fn rewrite(path: &Path, out: fs::File, users: &Pseudonyms) -> Result<u64, LakeError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path)?)?
        .with_batch_size(crate::ROWS_PER_BATCH)
        .build()?;
    let mut writer = None;
    let mut rows = 0;
    for batch in reader {
        let batch = erase_batch(&batch?, users)?;
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(ArrowWriter::try_new(
                out.try_clone()?,
                batch.schema(),
                Some(crate::events::writer_properties()),
            )?),
        };
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    if let Some(writer) = writer {
        writer.close()?;
    }
    Ok(rows)
}

fn erase_batch(batch: &RecordBatch, users: &Pseudonyms) -> Result<RecordBatch, LakeError> {
    let schema = batch.schema();
    let at = schema.index_of("user_id")?;
    let ids = strings(batch.column(at))?;
    let erased: Vec<bool> = ids.iter().map(|id| id.is_some_and(|id| users.contains_key(id))).collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let new_ids: StringArray =
        ids.iter().map(|id| id.map(|id| users.get(id).map_or(id, String::as_str))).collect();
    columns[at] = cast(&(Arc::new(new_ids) as ArrayRef), schema.field(at).data_type())?;
    if let Ok(props_at) = schema.index_of("props") {
        let props = strings(batch.column(props_at))?;
        let kept: StringArray = props
            .iter()
            .zip(&erased)
            .map(|(p, &erase)| p.map(|p| if erase { kept_props(p) } else { p.to_owned() }))
            .collect();
        columns[props_at] = cast(&(Arc::new(kept) as ArrayRef), schema.field(props_at).data_type())?;
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The ids of the events the lake holds of `user`: what an export or an erasure is checked
/// against.
pub fn event_ids_of(root: &Path, user: &str) -> Result<std::collections::BTreeSet<String>, LakeError> {
    let mut ids = std::collections::BTreeSet::new();
    for path in crate::events::EventLake::live_files(root)? {
        let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path)?)?
            .with_batch_size(crate::ROWS_PER_BATCH)
            .build()?;
        for batch in reader {
            let batch = batch?;
            let users = strings(batch.column(batch.schema().index_of("user_id")?))?;
            let events = strings(batch.column(batch.schema().index_of("event_id")?))?;
            for (u, e) in users.iter().zip(events.iter()) {
                if let (Some(u), Some(e)) = (u, e)
                    && u == user
                {
                    ids.insert(e.to_owned());
                }
            }
        }
    }
    Ok(ids)
}

/// A text column as plain strings, whatever its Arrow encoding.
fn strings(column: &ArrayRef) -> Result<StringArray, LakeError> {
    let plain = cast(column, &DataType::Utf8)?;
    plain.as_any().downcast_ref::<StringArray>().cloned().ok_or(LakeError::Column("user_id"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analytics::Analytics;
    use crate::nights::{NightRow, write_night};
    use crate::rollups::Settings;
    use crate::testing::{at, contents, day_number, lake_of};

    const NOTE: &str = "lives at 12 Secret Lane";

    #[tokio::test]
    async fn an_erased_user_is_renamed_everywhere_and_nothing_re_rolls() {
        let play = json!({"game": "slot", "bet": 10, "payout": 0, "result": "lose"});
        let dir = lake_of(&[
            (
                "gone-7",
                at("2026-03-01T03:00:00Z"),
                "EARN_CYBER_TOKENS",
                json!({"amount": 50, "source": "app", "note": NOTE}),
            ),
            ("kept-1", at("2026-03-01T04:00:00Z"), "GAME_PLAY", play.clone()),
            ("gone-7", at("2026-03-02T03:00:00Z"), "GAME_PLAY", play),
        ]);
        let root = dir.path();
        let night = |user: &str| NightRow {
            user_id: user.to_owned(),
            segment: "Low".into(),
            risk_profile: None,
            recency_days: 0,
            frequency: 1,
            monetary: 0,
            tokens_spent: 0,
        };
        write_night(root, day_number("2026-03-02"), &[night("gone-7"), night("kept-1")]).unwrap();
        let (analytics, _) = Analytics::roll_up(root, &Settings::default(), None).await.unwrap();
        let before = contents(&analytics).await;
        let features = analytics.features(day_number("2026-03-02")).await.unwrap();
        assert_eq!(features.users, ["gone-7", "kept-1"]);
        let features_file = crate::features::write_features(root, &features).unwrap();
        drop(analytics);
        let ids = event_ids_of(root, "gone-7").unwrap();
        assert_eq!(ids.len(), 2);

        let users = Pseudonyms::from([("gone-7".to_owned(), "erased:00aa".to_owned())]);
        let done = erase_users(root, &users).unwrap();
        assert!(done.files >= 5, "{done:?}");
        assert!(event_ids_of(root, "gone-7").unwrap().is_empty());
        assert_eq!(event_ids_of(root, "erased:00aa").unwrap(), ids);
        assert_eq!(erase_users(root, &users).unwrap(), LakeErasure::default(), "a second run finds nothing");
        let bytes = fs::read(&features_file).unwrap();
        assert!(bytes.windows(11).any(|w| w == b"erased:00aa"), "the features keep the row, renamed");

        // Nothing re-rolls (the rollups' sources were renamed too), and every row is the row
        // before with the pseudonym in place of the id.
        let (analytics, report) = Analytics::roll_up(root, &Settings::default(), None).await.unwrap();
        assert!(report.tables.values().all(|t| t.days.is_empty()), "{report:?}");
        let renamed = |rows: &Vec<String>| -> Vec<String> {
            let mut rows: Vec<String> =
                rows.iter().map(|r| r.replace("\"gone-7\"", "\"erased:00aa\"")).collect();
            rows.sort();
            rows
        };
        let after = contents(&analytics).await;
        for (table, rows) in &before {
            assert_eq!(&after[table], &renamed(rows), "{table}");
        }
        let files = crate::manifest::data_files(&root.join("events")).unwrap().into_iter().chain(
            ["user_days", "user_hours", "proposal_days", "user_state", "nights"]
                .iter()
                .flat_map(|t| crate::manifest::data_files(&root.join("rollups").join(t)).unwrap()),
        );
        for file in files.chain([features_file.clone()]) {
            let bytes = fs::read(&file).unwrap();
            for needle in ["gone-7", NOTE] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} holds {needle}",
                    file.display()
                );
            }
        }
    }

    #[test]
    fn a_new_name_never_equals_the_one_it_replaces() {
        let once = erased_name("date=2026-03-01/part-00000000000000000007-0.parquet");
        assert_eq!(once, "date=2026-03-01/part-00000000000000000007-0-erased.parquet");
        let twice = erased_name(&once);
        assert_eq!(twice, "date=2026-03-01/part-00000000000000000007-0-erased2.parquet");
        assert_eq!(erased_name(&twice), once);
        assert_eq!(crate::manifest::day_of_file(&twice), crate::manifest::day_of_file(&once));
    }
}
