//! `playpulse bench train`: the churn model's feature build, training and scoring at scale,
//! over a synthetic lake (the generator of `bench lake`: a million users active at random,
//! a quarter of them busier). Random activity leaves the model little to learn; what is
//! measured is what each step costs in time and memory: the features of three as-of days
//! (training, calibration, scoring), the model trained on one day's users, and every user of
//! the last day scored with the three reasons of each score.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use playpulse_core::time::epoch_day;
use playpulse_lake::analytics::Analytics;
use playpulse_models::churn::ChurnModel;

use crate::config::Config;
use crate::models::churn::{Plan, labelled};

#[derive(Args)]
pub struct BenchTrainArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub users: u32,
    #[arg(long, default_value_t = 40_000_000)]
    pub events: u64,
    /// Business days the events spread over, ending on 2026-03-31.
    #[arg(long, default_value_t = 42)]
    pub days: u32,
    /// Folder of the lake, emptied first.
    #[arg(long, default_value = "playpulse-data/bench-train")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub async fn train(config: Config, args: BenchTrainArgs) -> anyhow::Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    let last_day = epoch_day("2026-03-31".parse()?);
    let started = Instant::now();
    let events =
        playpulse_lake::bench::generate(&args.dir, args.users, args.events, args.days, last_day, args.seed)?;
    println!("bench=train step=lake events={events} users={} seconds={:.1}", args.users, secs(started));
    let started = Instant::now();
    let (analytics, _) = Analytics::roll_up(&args.dir, &config.rollup_settings(), None).await?;
    println!("bench=train step=rollup seconds={:.1}", secs(started));

    // Judged on the last day whose 7 label days the lake holds; one training day.
    let plan = Plan { validation_day: last_day - 7, label_days: 7, training_days: 1 };
    let started = Instant::now();
    let training = labelled(&analytics, &args.dir, plan.training()[0], plan.label_days).await?;
    let calibration = labelled(&analytics, &args.dir, plan.calibration_day(), plan.label_days).await?;
    let scored = analytics.features(plan.validation_day).await?;
    let features = training.features.names.len();
    println!(
        "bench=train step=features days=3 rows={} features={features} seconds={:.1}",
        training.churned.len() + calibration.churned.len() + scored.users.len(),
        secs(started)
    );

    let started = Instant::now();
    let model =
        ChurnModel::train(&training.table(), &training.churned, &calibration.table(), &calibration.churned)
            .context("the synthetic lake gave one class only")?;
    println!(
        "bench=train step=training rows={} calibration_rows={} features={features} trees={} seconds={:.1}",
        training.churned.len(),
        calibration.churned.len(),
        model.trees(),
        secs(started)
    );

    let table = crate::models::table(&scored);
    let started = Instant::now();
    let probabilities = model.probabilities(&table)?;
    let scoring = secs(started);
    let started = Instant::now();
    let reasons = model.reasons(&table, config.models.reasons)?;
    let explaining = secs(started);
    anyhow::ensure!(probabilities.len() == reasons.len(), "one reason list per score");
    println!(
        "bench=train step=scoring users={} seconds={scoring:.2} users_per_s={:.0} with_reasons_seconds={explaining:.1} with_reasons_users_per_s={:.0}",
        probabilities.len(),
        probabilities.len() as f64 / scoring,
        probabilities.len() as f64 / explaining
    );
    println!(
        "bench=train peak_memory_mb={}",
        peak_memory_mb().map_or_else(|| "unknown".into(), |m| m.to_string())
    );
    Ok(())
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// The process's peak resident memory (VmHWM), in MiB; `None` where /proc does not tell.
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
