//! `playpulse bench lake` and `playpulse bench rfm`: the embedded engine's side of the RFM
//! benchmark. `bench/rfm.py` runs both, then DuckDB on the same files and the same SQL text.

use std::time::Instant;

use playpulse_core::time::epoch_day;
use playpulse_lake::analytics::{Analytics, RfmQuery};

use crate::cli::{BenchLakeArgs, BenchRfmArgs};

pub fn lake(args: BenchLakeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let rows = playpulse_lake::bench::generate(
        &args.out,
        args.users,
        args.events,
        args.days,
        epoch_day(args.last_day),
        42,
    )?;
    println!("bench=lake rows={rows} users={} seconds={:.1}", args.users, started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn rfm(args: BenchRfmArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (analytics, _) = Analytics::roll_up(&args.lake, &Default::default(), None).await?;
    let figures = analytics.rfm(&RfmQuery::seed(epoch_day(args.as_of), args.window_days)).await?;
    let checksum: i64 =
        figures.iter().map(|f| f.rfm.frequency + f.rfm.monetary + f.rfm.recency_days + f.balance).sum();
    println!(
        "bench=rfm engine=datafusion users={} checksum={checksum} seconds={:.2}",
        figures.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
