//! The lake's commit protocol on disk: manifests, the files they name, and writes that a
//! reader never sees half done. `events.rs` builds the data; this decides what is committed.

use std::collections::BTreeSet;
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
