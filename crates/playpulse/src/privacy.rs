//! Erasure's second half: the erased users' cache entries, and the lake's copy of their rows,
//! rewritten under the lake's writer lock. The store keeps an erasure pending (and the erased
//! id with it) until both are done, so a crash or an unreachable Redis in between is finished
//! by the next request or the next night.

use std::path::Path;

use jiff::Timestamp;
use playpulse_cache::HotCache;
use playpulse_lake::erasure::{LakeErasure, Pseudonyms, erase_users};
use playpulse_store::Store;

use crate::commands::export;

/// Removes the cache entries and rewrites the lake for every pending erasure, and records
/// each as finished.
pub async fn finish_erasures(
    store: &dyn Store,
    cache: Option<&HotCache>,
    root: &Path,
    now: Timestamp,
) -> anyhow::Result<LakeErasure> {
    let _lock = export::lock(root).await?;
    let pending = store.lake_erasures_pending().await?;
    if pending.is_empty() {
        return Ok(LakeErasure::default());
    }
    if let Some(cache) = cache {
        for p in &pending {
            cache.forget(&p.user).await?;
        }
    }
    let users: Pseudonyms =
        pending.iter().map(|p| (p.user.to_string(), p.receipt.pseudonym.to_string())).collect();
    let root = root.to_owned();
    let done = tokio::task::spawn_blocking(move || erase_users(&root, &users)).await??;
    for p in &pending {
        store.finish_lake_erasure(&p.receipt.pseudonym, now).await?;
    }
    tracing::info!(
        users = pending.len(),
        files = done.files,
        rows = done.rows,
        "erased users' rows in the lake"
    );
    Ok(done)
}
