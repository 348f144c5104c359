//! `playpulse rollup`: the lake's daily rollups brought up to date (the nightly batch does
//! the same before RFM), or rebuilt from the events.

use std::time::Instant;

use playpulse_core::time::{BusinessZone, epoch_day};
use playpulse_lake::analytics::Analytics;
use playpulse_lake::rollups::RollupReport;
use playpulse_store::Store;

use crate::app;
use crate::cli::RollupArgs;
use crate::commands::export::{MAX_WAIT_FOR_PENDING, export, lake_root, lock};
use crate::config::Config;

pub async fn run(mut config: Config, args: RollupArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    let store = app::open_store(&config).await?;
    let rebuild =
        args.rebuild.then(|| (args.from.map_or(i32::MIN, epoch_day), args.to.map_or(i32::MAX, epoch_day)));
    let (_, report) = update(store.as_ref(), &config, rebuild).await?;
    print!("{}", render(&report));
    Ok(())
}

/// Exports what the lake lacks, then rolls up every stale day (and the days of `rebuild`):
/// the session returned reads the fresh rollups.
pub async fn update(
    store: &dyn Store,
    config: &Config,
    rebuild: Option<(i32, i32)>,
) -> anyhow::Result<(Analytics, RollupReport)> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let root = lake_root(config);
    let started = Instant::now();
    let exported = export(store, &root, zone, playpulse_store::MAX_EXPORT_PAGE, MAX_WAIT_FOR_PENDING).await?;
    tracing::info!(rows = exported.rows, commits = exported.commits, seconds = secs(started), "lake export");
    let _lock = lock(&root).await?;
    let started = Instant::now();
    let rolled = Analytics::roll_up(&root, &config.rollup_settings(), rebuild).await?;
    tracing::info!(seconds = secs(started), "rollups");
    Ok(rolled)
}

/// One line per table: the days rolled (first and last) and the rows written.
pub fn render(report: &RollupReport) -> String {
    report
        .tables
        .iter()
        .map(|(table, rolled)| {
            let (days, rows) = (&rolled.days, rolled.rows);
            let span = match (days.first(), days.last()) {
                (Some(first), Some(last)) => format!("{}..{}", day(*first), day(*last)),
                _ => "-".to_owned(),
            };
            format!(
                "rollup table={table} days={} span={span} rows={rows} seconds={:.2}\n",
                days.len(),
                rolled.seconds
            )
        })
        .collect()
}

fn day(n: i32) -> String {
    playpulse_core::time::add_days(playpulse_core::time::EPOCH_DAY, i64::from(n))
        .map_or_else(|| n.to_string(), |d| d.to_string())
}

/// Seconds since `started`, for the night's log lines.
pub fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}
