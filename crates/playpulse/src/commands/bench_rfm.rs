//! `playpulse bench lake`, `bench rfm` and `bench nightly`: the embedded engine's side of the
//! RFM and analytics benchmarks. `bench/rfm.py` and `bench/analytics.py` run them, then DuckDB
//! on the same files.

use std::time::Instant;

use playpulse_core::analytics::{Activity, Granularity, KpiQuery, Metric, Population, RetentionQuery};
use playpulse_core::time::epoch_day;
use playpulse_lake::analytics::{Analytics, RfmQuery};
use playpulse_lake::nights::{NightRow, write_night};

use crate::cli::{BenchLakeArgs, BenchNightlyArgs, BenchRfmArgs};
use crate::config::Config;

pub fn lake(args: BenchLakeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let rows = playpulse_lake::bench::generate(
        &args.out,
        args.users,
        args.events,
        args.days,
        epoch_day(args.last_day),
        args.seed,
    )?;
    println!("bench=lake rows={rows} users={} seconds={:.1}", args.users, started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn rfm(args: BenchRfmArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (users, checksum) =
        playpulse_lake::bench::rfm_over_events(&args.lake, epoch_day(args.as_of), args.window_days).await?;
    println!(
        "bench=rfm engine=datafusion users={users} checksum={checksum} seconds={:.2}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// On a lake whose last day (`--as-of`) has just arrived: a full rebuild of the rollups, then
/// the incremental night that day would get (its rollups, RFM, segments stored in the lake,
/// every KPI), then each KPI over `--kpi-days` days `--kpi-runs` times.
pub async fn nightly(config: Config, args: BenchNightlyArgs) -> anyhow::Result<()> {
    let settings = config.rollup_settings();
    let day = epoch_day(args.as_of);
    let started = Instant::now();
    let (_, rebuilt) = Analytics::roll_up(&args.lake, &settings, Some((i32::MIN, i32::MAX))).await?;
    let rebuild = started.elapsed().as_secs_f64();
    let rows: u64 = rebuilt.tables.values().map(|t| t.rows).sum();
    println!("bench=rebuild rows={rows} seconds={rebuild:.2}");

    // The night of the new day: exactly the work an incremental roll-up finds stale.
    let started = Instant::now();
    let (analytics, night) = Analytics::roll_up(&args.lake, &settings, Some((day, day))).await?;
    let rolled = started.elapsed().as_secs_f64();
    for (table, t) in &night.tables {
        println!("bench=night_table table={table} rows={} seconds={:.2}", t.rows, t.seconds);
    }
    let segments = &config.segments;
    let query = RfmQuery { as_of_day: day, monetary: segments.monetary };
    let figures = analytics.rfm(&query).await?;
    let rules = segments.rules();
    let nights: Vec<NightRow> = figures
        .iter()
        .map(|f| NightRow {
            user_id: f.user_id.clone(),
            segment: rules.assign(&f.rfm, f.balance).segment,
            risk_profile: None,
            recency_days: f.rfm.recency_days,
            frequency: f.rfm.frequency,
            monetary: f.rfm.monetary,
            tokens_spent: f.tokens_spent,
        })
        .collect();
    write_night(&args.lake, day, &nights)?;
    let rfm = started.elapsed().as_secs_f64() - rolled;
    let opened = Instant::now();
    let analytics = Analytics::open(&args.lake, &settings).await?;
    let open = opened.elapsed().as_secs_f64();
    let kpi = |metric| KpiQuery {
        metric,
        from: day - i32::try_from(args.kpi_days).unwrap_or(90) + 1,
        to: day,
        granularity: Granularity::Day,
        population: Population::All,
        top_segment: rules.rules.first().map(|r| r.name.clone()).unwrap_or_default(),
    };
    // Per metric: the first (cold) run, which a night pays, and every run sorted.
    let mut latencies: Vec<(String, f64, Vec<f64>)> = Vec::new();
    for metric in Metric::ALL {
        let mut runs = Vec::with_capacity(args.kpi_runs);
        for _ in 0..args.kpi_runs.max(1) {
            let one = Instant::now();
            analytics.kpi(&kpi(metric), &settings).await?;
            runs.push(one.elapsed().as_secs_f64() * 1000.0);
        }
        let first = runs[0];
        runs.sort_by(f64::total_cmp);
        latencies.push((metric.name().to_owned(), first, runs));
    }
    let first_runs: f64 = latencies.iter().map(|(_, first, _)| first).sum::<f64>() / 1000.0;
    // The default retention grid of each granularity over the same days (not part of the
    // night: nothing computes it ahead of a request).
    let first_day =
        args.as_of.checked_sub(jiff::Span::new().days(i64::from(day - kpi(Metric::ActiveUsers).from)))?;
    for (name, granularity) in
        [("day", Granularity::Day), ("week", Granularity::Week), ("month", Granularity::Month)]
    {
        let query = RetentionQuery {
            granularity,
            from: first_day,
            to: args.as_of,
            last_day: args.as_of,
            start: Activity::Any,
            returns: Activity::Any,
            recurring: false,
            offsets: match granularity {
                Granularity::Day => (1..=7).chain([14, 30]).collect(),
                _ => (1..=12).collect(),
            },
            population: Population::All,
        };
        let mut runs = Vec::with_capacity(args.kpi_runs);
        for _ in 0..args.kpi_runs.max(1) {
            let one = Instant::now();
            analytics.retention(&query).await?;
            runs.push(one.elapsed().as_secs_f64() * 1000.0);
        }
        runs.sort_by(f64::total_cmp);
        latencies.push((format!("retention_{name}"), runs[0], runs));
    }
    let night = rolled + rfm + open + first_runs;
    println!(
        "bench=night users={} rollup_seconds={rolled:.2} rfm_segments_seconds={rfm:.2} kpis_seconds={first_runs:.2} seconds={night:.2}",
        figures.len()
    );
    for (metric, _, runs) in &latencies {
        let p99 = runs[((runs.len() * 99).div_ceil(100)).saturating_sub(1)];
        println!(
            "bench=kpi metric={metric} days={} p50_ms={:.1} p99_ms={p99:.1}",
            args.kpi_days,
            runs[runs.len() / 2]
        );
    }
    Ok(())
}
