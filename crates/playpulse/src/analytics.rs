//! The analytics API's source: an engine session over the lake, re-opened when older than
//! `analytics.refresh_s`, after exporting what the lake lacks; days not rolled up yet (today)
//! are computed from their events on the fly, so figures are at most that old.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::civil::Date;
use playpulse_cache::HotCache;
use playpulse_core::analytics::{Cohort, KpiQuery, KpiTable, RetentionQuery};
use playpulse_core::notify::effects::{EffectQuery, TriggerEffect};
use playpulse_core::time::{BusinessZone, Clock, epoch_day};
use playpulse_lake::analytics::Analytics;
use playpulse_lake::effects::Exposed;
use playpulse_lake::rollups::Settings;
use playpulse_server::analytics::AnalyticsSource;
use playpulse_store::Store;
use tokio::sync::Mutex;

use crate::background;
use crate::commands::export::{export, lake_root};
use crate::config::Config;

/// Queries run on the [`background`] runtime, beside the night rather than the handlers.
pub struct LakeAnalytics(Arc<Lake>);

struct Lake {
    store: Arc<dyn Store>,
    root: PathBuf,
    zone: BusinessZone,
    settings: Settings,
    refresh: Duration,
    clock: Arc<dyn Clock>,
    /// The session and when it was opened; the lock also makes concurrent requests wait for
    /// one refresh instead of each running their own.
    session: Mutex<Option<(Instant, Arc<Analytics>)>>,
}

impl LakeAnalytics {
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Lake {
            store,
            root: lake_root(config),
            zone: BusinessZone::parse(&config.business.business_tz)?,
            settings: config.rollup_settings(),
            refresh: Duration::from_secs(config.analytics.refresh_s),
            clock,
            session: Mutex::new(None),
        })))
    }
}

impl Lake {
    async fn session(&self) -> anyhow::Result<Arc<Analytics>> {
        let mut session = self.session.lock().await;
        if let Some((opened, analytics)) = session.as_ref()
            && opened.elapsed() < self.refresh
        {
            return Ok(analytics.clone());
        }
        let page = playpulse_store::MAX_EXPORT_PAGE;
        // A request waits for no running transaction: what it holds back is in the next session.
        export(self.store.as_ref(), &self.root, self.zone.clone(), page, Duration::ZERO).await?;
        let today = playpulse_core::time::epoch_day(self.zone.day_of(self.clock.now()));
        let analytics = Arc::new(Analytics::open_through(&self.root, &self.settings, today).await?);
        *session = Some((Instant::now(), analytics.clone()));
        Ok(analytics)
    }
}

impl Lake {
    /// The users' first notifications of each trigger from the store, followed in the lake
    /// over windows that have ended by yesterday (today's figures can still grow).
    async fn trigger_effects(&self, query: EffectQuery) -> anyhow::Result<Vec<TriggerEffect>> {
        let start =
            |day: Date| self.zone.start_of(day).ok_or_else(|| anyhow::anyhow!("{day} is out of range"));
        let to = playpulse_core::time::add_days(query.to, 1).unwrap_or(query.to);
        let exposures = self.store.exposures(start(query.from)?, start(to)?).await?;
        let today = epoch_day(self.zone.day_of(self.clock.now()));
        let window = i32::try_from(query.window_days)?;
        let mut pending: BTreeMap<String, u64> = BTreeMap::new();
        let mut complete = Vec::new();
        for e in exposures {
            let day = epoch_day(self.zone.day_of(e.at));
            // The window's last day (returns are counted on it) must be over.
            if day + window < today {
                complete.push(Exposed { kind: e.kind, user_id: e.user_id, day, held_out: e.held_out });
            } else {
                *pending.entry(e.kind).or_default() += 1;
            }
        }
        let mut groups = self.session().await?.trigger_effects(&complete, query.window_days).await?;
        for kind in pending.keys() {
            groups.entry(kind.clone()).or_default();
        }
        Ok(groups
            .into_iter()
            .map(|(kind, g)| TriggerEffect {
                pending: pending.get(&kind).copied().unwrap_or(0),
                kind,
                treated: g.treated,
                holdout: g.holdout,
            })
            .collect())
    }
}

#[async_trait]
impl AnalyticsSource for LakeAnalytics {
    async fn kpi(&self, query: KpiQuery) -> anyhow::Result<KpiTable> {
        let lake = self.0.clone();
        background::run(async move { Ok(lake.session().await?.kpi(&query, &lake.settings).await?) }).await
    }

    async fn retention(&self, query: RetentionQuery) -> anyhow::Result<Vec<Cohort>> {
        let lake = self.0.clone();
        background::run(async move { Ok(lake.session().await?.retention(&query).await?) }).await
    }

    async fn trigger_effects(&self, query: EffectQuery) -> anyhow::Result<Vec<TriggerEffect>> {
        let lake = self.0.clone();
        background::run(async move { lake.trigger_effects(query).await }).await
    }

    async fn finish_erasures(&self, cache: Option<&HotCache>) -> anyhow::Result<()> {
        let lake = &self.0;
        let mut session = lake.session.lock().await;
        crate::privacy::finish_erasures(lake.store.as_ref(), cache, &lake.root, lake.clock.now()).await?;
        // The session's file lists may name files the erasure replaced.
        *session = None;
        Ok(())
    }
}
