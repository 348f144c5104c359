//! Model versions in the lake, one folder per model and version: `models/churn/v000001/`
//! holds `model.json` (what predicts) and `card.json` (what it is and how it measured). A
//! version is written whole before its folder gets its final name, so a reader never sees
//! half a model.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The churn model's folder name.
pub const CHURN: &str = "churn";
/// The value forecasts' folder name.
pub const LTV: &str = "ltv";

/// A card that carries its version number.
pub trait Versioned: Serialize {
    fn set_version(&mut self, version: u32);
}

fn folder(lake_root: &Path, model: &str) -> PathBuf {
    lake_root.join("models").join(model)
}

fn version_dir(lake_root: &Path, model: &str, version: u32) -> PathBuf {
    folder(lake_root, model).join(format!("v{version:06}"))
}

/// The versions of `model` stored, oldest first.
pub fn versions(lake_root: &Path, model: &str) -> anyhow::Result<Vec<u32>> {
    let dir = folder(lake_root, model);
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

/// Stores `trained` with `card` as the next version of `model` and returns its number. Two
/// trainers at once each get their own number: the final rename fails for the one that comes
/// second, which tries the next number.
pub fn register(
    lake_root: &Path,
    model: &str,
    trained: &impl Serialize,
    card: &mut impl Versioned,
) -> anyhow::Result<u32> {
    fs::create_dir_all(folder(lake_root, model))?;
    loop {
        let version = versions(lake_root, model)?.last().map_or(1, |v| v + 1);
        card.set_version(version);
        let staging = folder(lake_root, model).join(format!(".v{version:06}.{}", std::process::id()));
        fs::create_dir_all(&staging)?;
        fs::write(staging.join("model.json"), serde_json::to_vec(trained)?)?;
        fs::write(staging.join("card.json"), serde_json::to_vec_pretty(card)?)?;
        for file in ["model.json", "card.json"] {
            fs::File::open(staging.join(file))?.sync_all()?;
        }
        // rename(2) onto an existing non-empty folder fails: the number was taken meanwhile.
        match fs::rename(&staging, version_dir(lake_root, model, version)) {
            Ok(()) => return Ok(version),
            Err(_) if version_dir(lake_root, model, version).exists() => fs::remove_dir_all(&staging)?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The card of `model`'s `version`.
pub fn card<C: DeserializeOwned>(lake_root: &Path, model: &str, version: u32) -> anyhow::Result<C> {
    read(&version_dir(lake_root, model, version).join("card.json"))
}

/// What `model`'s `version` predicts with.
pub fn load<M: DeserializeOwned>(lake_root: &Path, model: &str, version: u32) -> anyhow::Result<M> {
    read(&version_dir(lake_root, model, version).join("model.json"))
}

fn read<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not what it should be", path.display()))
}
