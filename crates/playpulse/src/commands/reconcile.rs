//! `playpulse reconcile`: repair the Redis hot cache from the ledger.

use crate::app;
use crate::cli::ReconcileArgs;
use crate::config::Config;

pub async fn run(mut config: Config, args: ReconcileArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    args.cache.apply(&mut config);
    let store = app::open_store(&config).await?;
    let cache = app::open_cache(&config)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no Redis configured: pass --redis"))?;
    let report = cache.reconcile(store.as_ref()).await?;
    println!("checked={} drifted={}", report.checked, report.drifted);
    Ok(())
}
