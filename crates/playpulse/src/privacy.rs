//! Erasure's second half: the lake's copy of erased users' rows, rewritten under the lake's
//! writer lock. The store keeps an erasure pending (and the erased id with it) until this
//! has run, so a crash in between is finished by the next request or the next night.

use std::path::Path;

use jiff::Timestamp;
use playpulse_lake::erasure::{LakeErasure, Pseudonyms, erase_users};
use playpulse_store::Store;

use crate::commands::export;

/// Rewrites the lake for every pending erasure and records each as finished.
pub async fn finish_erasures(store: &dyn Store, root: &Path, now: Timestamp) -> anyhow::Result<LakeErasure> {
    let _lock = export::lock(root).await?;
    let pending = store.lake_erasures_pending().await?;
    if pending.is_empty() {
        return Ok(LakeErasure::default());
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
