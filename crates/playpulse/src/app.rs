//! Building a running service from the config: store, cache, state, listener.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use playpulse_cache::HotCache;
use playpulse_core::time::{BusinessZone, Clock, SystemClock};
use playpulse_server::auth::Gatekeeper;
use playpulse_server::dashboard::Desk;
use playpulse_server::partners::PartnerDesk;
use playpulse_server::{AppState, Monitoring, Product, Shared};
use playpulse_store::{RawInsert, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Opens the store the config names (applying migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_bench_store(config).await?)
}

/// The store the config names, with the benchmarks' raw insert.
pub async fn open_bench_store(config: &Config) -> anyhow::Result<Arc<dyn RawInsert>> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let url = Some(config.store.db.as_str()).filter(|u| !u.is_empty());
    let opened = playpulse_store::open_for_bench(url, &config.store.data_dir, zone, SystemClock.now()).await;
    opened.with_context(|| match url {
        Some(url) => format!("cannot open the database at {}", redact(url)),
        None => format!("cannot open the database in {}", config.store.data_dir.display()),
    })
}

/// Connects the hot cache, if one is configured.
pub async fn open_cache(config: &Config) -> anyhow::Result<Option<Arc<HotCache>>> {
    if config.cache.redis.is_empty() {
        return Ok(None);
    }
    let cache = HotCache::connect(&config.cache.redis, &config.cache.prefix)
        .await
        .with_context(|| format!("cannot reach Redis at {}", redact(&config.cache.redis)))?;
    Ok(Some(Arc::new(cache)))
}

/// Hides a password in a URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The shared state of a server over `store` and `cache`.
pub fn state(
    config: &Config,
    store: Arc<dyn Store>,
    cache: Option<Arc<HotCache>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    let per_second =
        NonZeroU32::new(config.server.rate_limit_per_s).context("server.rate_limit_per_s must be > 0")?;
    let burst =
        NonZeroU32::new(config.server.rate_limit_burst).context("server.rate_limit_burst must be > 0")?;
    let failures = NonZeroU32::new(config.server.auth_failures_per_minute)
        .context("server.auth_failures_per_minute must be > 0")?;
    let partner_rate =
        NonZeroU32::new(config.partners.rate_limit_per_s).context("partners.rate_limit_per_s must be > 0")?;
    let partner_burst =
        NonZeroU32::new(config.partners.rate_limit_burst).context("partners.rate_limit_burst must be > 0")?;
    let analytics = Arc::new(crate::analytics::LakeAnalytics::new(config, store.clone(), clock.clone())?);
    let jobs = Arc::new(crate::schedule::OnDemand {
        store: store.clone(),
        cache: cache.clone(),
        config: config.clone(),
        clock: clock.clone(),
    });
    Ok(AppState::new(Shared {
        analytics,
        store,
        cache,
        clock,
        zone: BusinessZone::parse(&config.business.business_tz)?,
        policy: config.validation(),
        gate: Gatekeeper::new(per_second, burst, failures),
        metrics: Monitoring::new(Duration::from_secs(config.server.metrics_refresh_s)),
        product: Product {
            quiz: config.quiz.clone(),
            proposals: config.proposals.clone(),
            games: config.games.clone(),
            harm: config.protection.harm,
            adult_content: config.adult_ids().collect(),
            fallback_segment: config.segments.fallback.clone(),
            segments: config.segments.names(),
            learner: config.learning,
        },
        learned: Default::default(),
        segment_hours: Default::default(),
        partner_desk: PartnerDesk::new(partner_rate, partner_burst),
        player_keys: Default::default(),
        catalog_policy: Default::default(),
        dashboard: Desk::new(config.dashboard.settings()?),
        opt_out_secret: config.notify.opt_out.links().map(|links| links.secret),
        jobs,
    }))
}

/// Opens everything the config names, with the system clock.
pub async fn build(config: &Config) -> anyhow::Result<AppState> {
    let store = open_store(config).await?;
    let cache = open_cache(config).await?;
    state(config, store, cache, Arc::new(SystemClock))
}

/// A server running in this process.
pub struct Running {
    pub addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
    recovery: Option<JoinHandle<()>>,
    learning: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        if let Some(recovery) = self.recovery {
            recovery.abort();
        }
        self.learning.abort();
        Ok(())
    }
}

/// Serves `state` on `listen` until [`Running::stop`]; in-flight requests always finish.
pub async fn spawn(state: AppState, listen: &str, recover_every: Duration) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    state.refresh_catalog().await;
    let recovery = state
        .cache
        .clone()
        .map(|cache| tokio::spawn(recover_cache(cache, state.store.clone(), recover_every)));
    let learning = tokio::spawn(refresh_learned(state.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = playpulse_server::router(state);
    let task = tokio::spawn(async move {
        // The peer address is what failed authentications are counted by.
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running { addr, task, recovery, learning, stop })
}

/// How often an instance reloads what the learning loop learned (the nightly batch of any
/// instance writes it).
const LEARNED_REFRESH: Duration = Duration::from_secs(300);

/// Loads the learned choice probabilities now, then every [`LEARNED_REFRESH`].
async fn refresh_learned(state: AppState) {
    let mut tick = tokio::time::interval(LEARNED_REFRESH);
    loop {
        tick.tick().await;
        if let Err(err) = state.refresh_learned().await {
            tracing::warn!(error = %err, "learned proposal weights not refreshed");
        }
        state.refresh_catalog().await;
    }
}

/// While the cache is degraded (a write failed), retries reconciliation until it succeeds.
async fn recover_cache(cache: Arc<HotCache>, store: Arc<dyn Store>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if !cache.is_degraded() {
            continue;
        }
        match cache.reconcile(store.as_ref()).await {
            Ok(report) => {
                tracing::info!(checked = report.checked, drifted = report.drifted, "hot cache recovered")
            }
            Err(err) => tracing::warn!(error = %err, "hot cache still unavailable"),
        }
    }
}
