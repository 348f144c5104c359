//! The nightly schedule inside `playpulse serve`: the batch at a configured local time, with
//! missed nights caught up on start. Every night is claimed atomically in the store, so of
//! several instances on one database exactly one runs it.

use std::time::{Duration, Instant};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use playpulse_cache::HotCache;
use playpulse_core::segments::SegmentReport;
use playpulse_core::time::{BusinessZone, Clock};
use playpulse_server::monitoring::record_job;
use playpulse_store::{JobOutcome, JobStatus, MAX_EXPORT_PAGE, Store};
use serde_json::json;

use crate::commands::batch::{batch, check_as_of};
use crate::commands::export::export;
use crate::commands::rollup::secs;
use crate::config::Config;

/// The job name of the nightly batch in `job_runs`.
pub const NIGHTLY: &str = "nightly";

/// Runs every night from `catch_up_days` ago to yesterday that no instance has done yet;
/// returns the nights this call ran.
pub async fn catch_up(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<Vec<Date>> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let yesterday = zone.day_of(clock.now()).yesterday()?;
    let mut ran = Vec::new();
    for back in (0..i64::from(config.schedule.catch_up_days)).rev() {
        let day = yesterday.checked_sub(jiff::Span::new().days(back))?;
        // A failed night is recorded and retried on the next pass; the later ones still run.
        if !matches!(run_night(store, cache, config, clock, day).await?, Night::Taken) {
            ran.push(day);
        }
    }
    Ok(ran)
}

/// What [`run_night`] did.
pub enum Night {
    /// This caller claimed the night and ran it; the report of the batch.
    Ran(SegmentReport),
    /// This caller claimed the night, and the batch failed; the failure is recorded.
    Failed(anyhow::Error),
    /// Another run has the night, or it succeeded already: nothing was done.
    Taken,
}

/// Claims the nightly batch of `day` and, if this caller won it, runs it and records how it
/// ended.
pub async fn run_night(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    clock: &dyn Clock,
    day: Date,
) -> anyhow::Result<Night> {
    let stale = SignedDuration::from_mins(i64::from(config.schedule.stale_after_minutes));
    let now = clock.now();
    check_as_of(day, &BusinessZone::parse(&config.business.business_tz)?, now)?;
    let Some(run) = store.claim_job(NIGHTLY, day, now, now - stale).await? else { return Ok(Night::Taken) };
    let started = Instant::now();
    match nightly(store, cache, config, day, now).await {
        Ok((report, rows, detail)) => {
            store.finish_job(run, clock.now(), JobOutcome::Succeeded { rows, detail }).await?;
            record_job(NIGHTLY, JobStatus::Succeeded, started.elapsed());
            Ok(Night::Ran(report))
        }
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), night = %day, "nightly batch failed");
            store.finish_job(run, clock.now(), JobOutcome::Failed { error: format!("{err:#}") }).await?;
            record_job(NIGHTLY, JobStatus::Failed, started.elapsed());
            Ok(Night::Failed(err))
        }
    }
}

/// Runs the nightly batch on an operator's request (the dashboard's "run again"), in the
/// background, claimed like a scheduled night.
pub struct OnDemand {
    pub store: std::sync::Arc<dyn Store>,
    pub cache: Option<std::sync::Arc<HotCache>>,
    pub config: Config,
    pub clock: std::sync::Arc<dyn Clock>,
}

impl playpulse_server::JobRunner for OnDemand {
    fn start(&self, job: &str, as_of: Date) -> Result<(), playpulse_server::JobNotRunnable> {
        if job != NIGHTLY {
            return Err(playpulse_server::JobNotRunnable(job.to_owned()));
        }
        let (store, cache, config, clock) =
            (self.store.clone(), self.cache.clone(), self.config.clone(), self.clock.clone());
        crate::background::spawn(async move {
            match run_night(store.as_ref(), cache.as_deref(), &config, clock.as_ref(), as_of).await {
                Ok(Night::Ran(_)) => tracing::info!(night = %as_of, "night run again"),
                Ok(Night::Failed(_)) => {}
                Ok(Night::Taken) => tracing::info!(night = %as_of, "another run has the night"),
                Err(err) => {
                    tracing::error!(error = format!("{err:#}"), night = %as_of, "night not run again")
                }
            }
        });
        Ok(())
    }
}

/// One night: the batch, then the hot cache reconciled against the ledger.
async fn nightly(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    day: Date,
    now: Timestamp,
) -> anyhow::Result<(SegmentReport, i64, serde_json::Value)> {
    let report = batch(store, cache, config, day, now).await?;
    let started = Instant::now();
    let drifted = match cache {
        Some(cache) => Some(cache.reconcile(store).await?.drifted),
        None => None,
    };
    tracing::info!(seconds = secs(started), "hot cache reconciled");
    let users: u64 = report.users.values().sum();
    let detail = json!({
        "segments": report.users,
        "between_bands": report.between_bands,
        "upgrades": report.upgrades,
        "rewards_granted": report.rewards_granted,
        "cache_drifted": drifted,
        "churn_scoring": report.churn_scoring,
        "value_scoring": report.value_scoring,
    });
    Ok((report, i64::try_from(users).unwrap_or(i64::MAX), detail))
}

/// The next instant at `at` (HH:MM) in the business zone, strictly after `now`.
pub fn next_run(zone: &BusinessZone, at: jiff::civil::Time, now: Timestamp) -> anyhow::Result<Timestamp> {
    let today = zone.day_of(now);
    let candidate = today.to_datetime(at).to_zoned(zone.tz().clone())?.timestamp();
    if candidate > now {
        return Ok(candidate);
    }
    Ok(today.tomorrow()?.to_datetime(at).to_zoned(zone.tz().clone())?.timestamp())
}

/// Copies newly committed events into the lake every `schedule.export_every_s`, until the
/// task is dropped. It never waits for events a running transaction holds back: they are the
/// next copy's.
pub async fn export_continuously(store: std::sync::Arc<dyn Store>, config: Config) {
    let every = Duration::from_secs(u64::from(config.schedule.export_every_s).max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(err) = export_lake(store.as_ref(), &config).await {
            tracing::warn!(error = format!("{err:#}"), "the lake export failed; the next one catches up");
        }
    }
}

/// Copies every event committed so far, and final, into the lake.
pub async fn export_lake(store: &dyn Store, config: &Config) -> anyhow::Result<()> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let root = crate::commands::export::lake_root(config);
    export(store, &root, zone, MAX_EXPORT_PAGE, Duration::ZERO).await.map(drop)
}

/// Catches up, then runs every night at the configured time, until the task is dropped.
pub async fn run(store: std::sync::Arc<dyn Store>, cache: Option<std::sync::Arc<HotCache>>, config: Config) {
    let clock = playpulse_core::time::SystemClock;
    loop {
        if let Err(err) = catch_up(store.as_ref(), cache.as_deref(), &config, &clock).await {
            tracing::error!(error = format!("{err:#}"), "the nightly schedule could not run");
        }
        let wait = BusinessZone::parse(&config.business.business_tz)
            .map_err(anyhow::Error::from)
            .and_then(|zone| next_run(&zone, config.schedule.nightly_at, clock.now()))
            .map_or(Duration::from_secs(3600), |next| {
                Duration::try_from(next.duration_since(clock.now())).unwrap_or(Duration::from_secs(60))
            });
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_is_the_next_local_time() {
        let seoul = BusinessZone::default();
        let three = jiff::civil::time(3, 0, 0, 0);
        // 17:00 UTC is 02:00 in Seoul: the run is an hour later, the same Seoul day.
        let next = next_run(&seoul, three, "2026-05-01T17:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(next.to_string(), "2026-05-01T18:00:00Z");
        // 19:00 UTC is 04:00 in Seoul: tomorrow's run.
        let next = next_run(&seoul, three, "2026-05-01T19:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(next.to_string(), "2026-05-02T18:00:00Z");
    }
}
