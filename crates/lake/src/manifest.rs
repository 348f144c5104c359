//! The lake's commit protocol on disk: manifests, the files they name, and writes that a
//! reader never sees half done. `events.rs` builds the data; this decides what is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::LakeError;

/// One commit: the files it added (or, for a snapshot, every live file) and where the
/// export resumes.
#[derive(Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Where the export resumes: opaque to the lake, chosen by the store.
    pub mark: Value,
    pub files: Vec<String>,
    /// Rows this commit wrote (exported, or rewritten by compaction).
    pub rows: u64,
    /// The files are the whole lake, not an addition to it.
    #[serde(default)]
    pub snapshot: bool,
}

/// The lake's state from its manifests: the live files, the next commit number, the newest
/// mark, and the manifests a snapshot made obsolete.
pub(crate) type ManifestState = (BTreeSet<String>, u64, Option<Value>, Vec<PathBuf>);

pub(crate) fn read_manifests(root: &Path) -> Result<ManifestState, LakeError> {
    let (mut files, mut next_commit, mut mark) = (BTreeSet::new(), 0, None);
    let mut read = Vec::new();
    let mut obsolete = Vec::new();
    for (number, path) in manifests(root)? {
        let manifest: Manifest = serde_json::from_slice(&fs::read(&path)?)?;
        if manifest.snapshot {
            files.clear();
            obsolete.append(&mut read);
        }
        files.extend(manifest.files);
        next_commit = number + 1;
        mark = Some(manifest.mark).filter(|m| !m.is_null()).or(mark);
        read.push(path);
    }
    Ok((files, next_commit, mark, obsolete))
}

/// Opens (creating) a folder of manifests and partitions: removes what an interrupted commit
/// left and what a snapshot made obsolete; returns the live files, the next commit number
/// and the newest mark.
pub(crate) fn open_dir(root: &Path) -> Result<(BTreeSet<String>, u64, Option<Value>), LakeError> {
    fs::create_dir_all(root.join("_manifests"))?;
    let (files, next_commit, mark, obsolete) = read_manifests(root)?;
    for path in obsolete.into_iter().chain(unfinished_manifests(root)?) {
        fs::remove_file(path)?;
    }
    for file in data_files(root)? {
        if !files.contains(&relative(root, &file)) {
            fs::remove_file(&file)?;
        }
    }
    Ok((files, next_commit, mark))
}

/// Commits `manifest` (a snapshot) as number `number`, then deletes the manifests before it
/// and the files it no longer names: killed in between, the next open finishes the job.
pub(crate) fn commit_snapshot(
    root: &Path,
    number: u64,
    manifest: &Manifest,
    replaced: &BTreeSet<String>,
) -> Result<(), LakeError> {
    debug_assert!(manifest.snapshot);
    let path = root.join("_manifests").join(format!("{number:020}.json"));
    write_atomically(&path, |mut file| {
        Ok(std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(manifest)?)?)
    })?;
    for (n, path) in manifests(root)? {
        if n < number {
            fs::remove_file(path)?;
        }
    }
    for file in replaced {
        fs::remove_file(root.join(file))?;
    }
    Ok(())
}

/// The business day of a partition file's relative name (`date=2026-03-01/…`).
pub(crate) fn day_of_file(file: &str) -> Option<i32> {
    let date = file.strip_prefix("date=")?.split('/').next()?;
    Some(playpulse_core::time::epoch_day(date.parse().ok()?))
}

/// Files grouped by the business day of their partition, in name (commit) order.
pub(crate) fn by_day<'a>(files: impl IntoIterator<Item = &'a String>) -> BTreeMap<i32, Vec<String>> {
    let mut days: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for file in files {
        if let Some(day) = day_of_file(file) {
            days.entry(day).or_default().push(file.clone());
        }
    }
    days
}

/// Writes a file under a temporary name and renames it into place, so a reader never sees
/// half a file.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(fs::File) -> Result<(), LakeError>,
) -> Result<(), LakeError> {
    let tmp = path.with_extension("tmp");
    write(fs::File::create(&tmp)?)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// The committed manifests by number. Anything else in the folder is a manifest that never
/// finished its rename.
pub(crate) fn manifests(root: &Path) -> Result<Vec<(u64, PathBuf)>, LakeError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root.join("_manifests"))? {
        let path = entry?.path();
        let number = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json"));
        if let Some(number) = number.and_then(|n| n.parse::<u64>().ok()) {
            found.push((number, path));
        }
    }
    found.sort();
    Ok(found)
}

pub(crate) fn unfinished_manifests(root: &Path) -> Result<Vec<PathBuf>, LakeError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root.join("_manifests"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            found.push(path);
        }
    }
    Ok(found)
}

/// Every data or temporary file in the partitions.
pub(crate) fn data_files(root: &Path) -> Result<Vec<PathBuf>, LakeError> {
    let mut files = Vec::new();
    for partition in fs::read_dir(root)? {
        let partition = partition?.path();
        if !partition.is_dir()
            || !partition.file_name().is_some_and(|n| n.to_string_lossy().starts_with("date="))
        {
            continue;
        }
        for file in fs::read_dir(&partition)? {
            files.push(file?.path());
        }
    }
    Ok(files)
}

pub(crate) fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root).unwrap_or(file).to_string_lossy().replace('\\', "/")
}
