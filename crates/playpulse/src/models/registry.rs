//! Model versions in the lake, one folder each: `models/churn/v000001/` holds `model.json`
//! (what predicts) and `card.json` (what it is and how it measured). A version is written
//! whole before its folder gets its final name, so a reader never sees half a model.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::models::churn::{Card, Trained};
use playpulse_models::churn::ChurnModel;

fn folder(lake_root: &Path) -> PathBuf {
    lake_root.join("models").join("churn")
}

fn version_dir(lake_root: &Path, version: u32) -> PathBuf {
    folder(lake_root).join(format!("v{version:06}"))
}

/// The versions stored, oldest first.
pub fn versions(lake_root: &Path) -> anyhow::Result<Vec<u32>> {
    let dir = folder(lake_root);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let name = entry?.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_prefix('v')).and_then(|n| n.parse().ok()) {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Stores `trained` as the next version and returns its number. Two trainers at once each
/// get their own number: the final rename fails for the one that comes second, which tries
/// the next number.
pub fn register(lake_root: &Path, trained: &mut Trained) -> anyhow::Result<u32> {
    fs::create_dir_all(folder(lake_root))?;
    loop {
        let version = versions(lake_root)?.last().map_or(1, |v| v + 1);
        trained.card.version = version;
        let staging = folder(lake_root).join(format!(".v{version:06}.{}", std::process::id()));
        fs::create_dir_all(&staging)?;
        fs::write(staging.join("model.json"), serde_json::to_vec(&trained.model)?)?;
        fs::write(staging.join("card.json"), serde_json::to_vec_pretty(&trained.card)?)?;
        for file in ["model.json", "card.json"] {
            fs::File::open(staging.join(file))?.sync_all()?;
        }
        // rename(2) onto an existing non-empty folder fails: the number was taken meanwhile.
        match fs::rename(&staging, version_dir(lake_root, version)) {
            Ok(()) => return Ok(version),
            Err(_) if version_dir(lake_root, version).exists() => fs::remove_dir_all(&staging)?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The card of `version`.
pub fn card(lake_root: &Path, version: u32) -> anyhow::Result<Card> {
    let path = version_dir(lake_root, version).join("card.json");
    let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

/// The model of `version`.
pub fn load(lake_root: &Path, version: u32) -> anyhow::Result<ChurnModel> {
    let path = version_dir(lake_root, version).join("model.json");
    let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not a churn model", path.display()))
}
