//! `playpulse bench models`: the churn and spend models against the simulator's truth. Each
//! seed's population is written straight into a lake of its own, the churn model trains on
//! it by the same plan as `playpulse train churn` and scores every user active on the last
//! day; the simulator knows who was active in the 7 days after and the probability its own
//! hazard implied, the best any model can know. The value forecasts of the same users
//! (`models::ltv`) are judged against the tokens each spent and the cash each paid in the 30
//! days after (and the 90 days after, when the history is long enough to train on: 90 + 35
//! days and more).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use playpulse_core::time::{BusinessZone, epoch_day};
use playpulse_lake::analytics::Analytics;
use playpulse_lake::events::{EventLake, ExportRow};
use playpulse_lake::features::{Amount, write_features};
use playpulse_models::metrics::{AmountCard, Scorecard};
use playpulse_sim::event::SimEvent;
use playpulse_sim::truth::CHURN_LABEL_DAYS;
use playpulse_sim::{SimConfig, Simulation};
use serde_json::json;

use crate::commands::simulate::run_simulation;
use crate::config::Config;
use crate::models::churn::{Fitted, Plan, fit};
use crate::models::ltv::{Days, Target, fit_boosted, forecast};

#[derive(Args)]
pub struct BenchModelsArgs {
    /// Users of each simulated population.
    #[arg(long, default_value_t = 20_000)]
    pub users: u32,
    /// Business days simulated; the truth's as-of day is the last.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// One population per seed.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3])]
    pub seeds: Vec<u64>,
    /// Weekly as-of days the model learns from.
    #[arg(long, default_value_t = 4)]
    pub training_days: u32,
    /// Folder for the lakes, one per seed, emptied first.
    #[arg(long, default_value = "playpulse-data/bench-models")]
    pub dir: PathBuf,
}

/// One population's result: the model and the truth on the same users.
#[derive(Debug, Clone)]
pub struct Judged {
    pub seed: u64,
    pub users: usize,
    pub training_rows: usize,
    pub model: Scorecard,
    pub truth: Scorecard,
    pub train_seconds: f64,
    /// The value forecasts, each target each way: boosted, BG/NBD + Gamma-Gamma, naive.
    pub value: Vec<(String, &'static str, AmountCard)>,
}

impl Judged {
    pub fn auc_ratio(&self) -> f64 {
        self.model.auc / self.truth.auc
    }

    pub fn brier_ratio(&self) -> f64 {
        self.model.brier / self.truth.brier
    }
}

pub async fn models(config: Config, args: BenchModelsArgs) -> anyhow::Result<()> {
    let mut spend_lines = Vec::new();
    println!(
        "churn: seed  users  churned  train_rows  auc     truth_auc  ratio   brier   truth_brier  ratio   pr_auc  lift@10%  train_s"
    );
    for &seed in &args.seeds {
        let population =
            Population { users: args.users, days: args.days, seed, training_days: args.training_days };
        let j = judge(&config, &population, &args.dir.join(format!("seed-{seed}"))).await?;
        println!(
            "       {:<5} {:<6} {:<8.3} {:<11} {:<7.4} {:<10.4} {:<7.4} {:<7.4} {:<12.4} {:<7.4} {:<7.4} {:<9.2} {:.1}",
            j.seed,
            j.users,
            j.model.base_rate,
            j.training_rows,
            j.model.auc,
            j.truth.auc,
            j.auc_ratio(),
            j.model.brier,
            j.truth.brier,
            j.brier_ratio(),
            j.model.pr_auc,
            j.model.lift_top_decile,
            j.train_seconds
        );
        for (target, way, card) in &j.value {
            spend_lines.push(format!(
                "       {:<5} {:<10} {:<10} {:<6} {:<10.1} {:<9.4} {:.4}",
                j.seed, target, way, card.rows, card.mae, card.spearman, card.top_decile_captured
            ));
        }
    }
    println!("value: seed  target     forecast   users  mae        spearman  top_decile_captured");
    for line in spend_lines {
        println!("{line}");
    }
    Ok(())
}

/// A simulated population and how many weekly days the model learns from.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    pub users: u32,
    pub days: u32,
    pub seed: u64,
    pub training_days: u32,
}

/// Simulates `population` into a new lake under `dir`, trains and judges.
pub async fn judge(config: &Config, population: &Population, dir: &Path) -> anyhow::Result<Judged> {
    let Population { users, days, seed, training_days } = *population;
    let start: jiff::civil::Date = "2026-01-05".parse()?;
    let sim = SimConfig {
        users,
        days,
        seed,
        start,
        as_of: None,
        business_tz: config.business.business_tz.clone(),
        inject_overdrafts: false,
    };
    let simulation = run_simulation(&sim)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    write_lake(dir, &simulation, BusinessZone::parse(&config.business.business_tz)?)?;
    let (analytics, _) = Analytics::roll_up(dir, &config.rollup_settings(), None).await?;
    let last = start.checked_add(jiff::Span::new().days(i64::from(days) - 1))?;
    let plan = Plan { validation_day: epoch_day(last), label_days: CHURN_LABEL_DAYS, training_days };
    let started = Instant::now();
    let Fitted { model, training_rows, .. } = fit(&analytics, dir, &plan).await?;
    let train_seconds = started.elapsed().as_secs_f64();
    let features = analytics.features(plan.validation_day).await?;
    write_features(dir, &features)?;
    write_truth(dir, &simulation)?;
    let table = crate::models::table(&features);
    let predicted = model.probabilities(&table)?;
    let truth: HashMap<&str, (bool, f64)> = simulation
        .truth
        .iter()
        .filter_map(|t| Some((t.user_id.as_str(), (t.active_next_7d?, t.churn_prob_7d?))))
        .collect();
    let (mut ours, mut best, mut churned) = (Vec::new(), Vec::new(), Vec::new());
    for (user, p) in features.users.iter().zip(predicted) {
        let (active, truth_p) =
            *truth.get(user.as_str()).ok_or_else(|| anyhow::anyhow!("{user} has no truth"))?;
        ours.push(p);
        best.push(truth_p);
        churned.push(!active);
    }
    let judged =
        |scores: &[f64]| Scorecard::of(scores, &churned).ok_or_else(|| anyhow::anyhow!("one class only"));
    let value = judge_value(&analytics, dir, plan.validation_day, &simulation).await?;
    Ok(Judged {
        seed,
        users: churned.len(),
        training_rows,
        model: judged(&ours)?,
        truth: judged(&best)?,
        train_seconds,
        value,
    })
}

/// Each target's forecasts on `day` each way against the simulator's truth; 90-day targets
/// only when the lake holds the history to train their boosted model.
async fn judge_value(
    analytics: &Analytics,
    dir: &Path,
    day: i32,
    simulation: &Simulation,
) -> anyhow::Result<Vec<(String, &'static str, AmountCard)>> {
    let mut days = Days::new(analytics, dir);
    let mut judged = Vec::new();
    for target in Target::ALL {
        let Some(boosted) = fit_boosted(&mut days, target, day).await? else { continue };
        let forecast = forecast(&mut days, target, day, Some(&boosted)).await?;
        let came: HashMap<&str, i64> = simulation
            .truth
            .iter()
            .map(|t| {
                let amount = match (target.amount, target.horizon) {
                    (Amount::Spend, 30) => t.spend_next_30d,
                    (Amount::Spend, _) => t.spend_next_90d,
                    (Amount::Cash, 30) => t.cash_next_30d,
                    (Amount::Cash, _) => t.cash_next_90d,
                };
                (t.user_id.as_str(), amount)
            })
            .collect();
        let actual: Vec<f64> =
            forecast.users.iter().map(|u| came.get(u.as_str()).copied().unwrap_or(0) as f64).collect();
        for (way, predicted) in &forecast.ways {
            judged.push((target.name(), *way, AmountCard::of(predicted, &actual).context("no users")?));
        }
    }
    Ok(judged)
}

/// Writes each user's truth beside the lake (`truth.csv`: user, active in the 7 days after,
/// the truth's churn probability, tokens spent in the 30 days after), so that other learners
/// can be tried on the same feature files.
fn write_truth(dir: &Path, simulation: &Simulation) -> anyhow::Result<()> {
    let mut out = String::from("user_id,active_next_7d,churn_prob_7d,spend_next_30d\n");
    for t in &simulation.truth {
        if let (Some(active), Some(p)) = (t.active_next_7d, t.churn_prob_7d) {
            out += &format!("{},{},{p},{}\n", t.user_id, u8::from(active), t.spend_next_30d);
        }
    }
    std::fs::write(dir.join("truth.csv"), out)?;
    Ok(())
}

/// Writes the simulated events into a new lake at `root`, as the export would.
fn write_lake(root: &Path, simulation: &Simulation, zone: BusinessZone) -> anyhow::Result<()> {
    let mut lake = EventLake::open(root, zone)?;
    for (chunk, events) in simulation.events.chunks(500_000).enumerate() {
        let first = chunk * 500_000;
        let rows: Vec<ExportRow> = events
            .iter()
            .enumerate()
            .map(|(i, e)| export_row(e, i64::try_from(first + i + 1).unwrap_or(i64::MAX)))
            .collect();
        lake.commit(&rows, json!({"seq": first + rows.len()}))?;
    }
    Ok(())
}

fn export_row(event: &SimEvent, seq: i64) -> ExportRow {
    let envelope = event.envelope();
    let text = |key: &str| envelope[key].as_str().unwrap_or_default().to_owned();
    ExportRow {
        seq,
        event_id: text("event_id"),
        user_id: text("user_id"),
        event_type: text("type"),
        ts_ms: event.ts.as_millisecond(),
        props: envelope["props"].to_string(),
    }
}
