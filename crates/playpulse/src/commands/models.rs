//! `playpulse train churn`: a churn model trained on the lake and stored as a new version;
//! `playpulse models list`: the versions stored and how each measured.

use clap::{Args, Subcommand};
use playpulse_core::time::{Clock, SystemClock, epoch_day};

use crate::app;
use crate::cli::StoreArgs;
use crate::commands::export::lake_root;
use crate::commands::rollup::update;
use crate::config::Config;
use crate::models::churn::{Card, Plan, train};
use crate::models::registry;

#[derive(Subcommand)]
pub enum TrainCommand {
    /// The 7-day churn model: gradient-boosted trees, calibrated, judged on a later day.
    Churn(TrainChurnArgs),
}

#[derive(Args)]
pub struct TrainChurnArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The day the model is judged on (default: the latest day whose label the lake holds).
    /// It calibrates on the day a label's length before and learns from weekly days before that.
    #[arg(long)]
    pub as_of: Option<jiff::civil::Date>,
    /// How many weekly as-of days it learns from.
    #[arg(long, default_value_t = 4)]
    pub training_days: u32,
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// The stored versions, newest last, with their validation metrics.
    List(ModelsListArgs),
}

#[derive(Args)]
pub struct ModelsListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn train_command(mut config: Config, command: TrainCommand) -> anyhow::Result<()> {
    let TrainCommand::Churn(args) = command;
    args.store.apply(&mut config);
    let store = app::open_store(&config).await?;
    let (analytics, _) = update(store.as_ref(), &config, None).await?;
    let label_days = config.analytics.churn_days;
    let validation_day = match args.as_of {
        Some(day) => epoch_day(day),
        None => {
            let last =
                analytics.last_event_day().ok_or_else(|| anyhow::anyhow!("the lake holds no events"))?;
            last - i32::try_from(label_days)?
        }
    };
    let plan = Plan { validation_day, label_days, training_days: args.training_days.max(1) };
    let started = std::time::Instant::now();
    let root = lake_root(&config);
    let mut trained = train(&analytics, &root, &plan, SystemClock.now().to_string()).await?;
    let version = registry::register(&root, &mut trained)?;
    print!("{}", render(&trained.card));
    println!("stored version={version} seconds={:.1}", started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn models_command(mut config: Config, command: ModelsCommand) -> anyhow::Result<()> {
    let ModelsCommand::List(args) = command;
    args.store.apply(&mut config);
    let root = lake_root(&config);
    println!("version  trained_at                validation_day  rows      auc     pr_auc  brier   lift@10%");
    for version in registry::versions(&root)? {
        let card = registry::card(&root, version)?;
        let v = &card.validation;
        println!(
            "{:<8} {:<25} {:<15} {:<9} {:<7.4} {:<7.4} {:<7.4} {:.2}",
            card.version,
            card.trained_at,
            card.validation_day,
            card.training_rows,
            v.auc,
            v.pr_auc,
            v.brier,
            v.lift_top_decile
        );
    }
    Ok(())
}

/// The card as the command prints it: the split, the metrics, calibration by decile and the
/// strongest features.
pub fn render(card: &Card) -> String {
    let v = &card.validation;
    let mut out = format!(
        "churn model: label {} days; trained on {} ({} rows), calibrated on {}, validated on {} ({} users, {:.1}% churned)\n",
        card.label_days,
        card.training_days.join(", "),
        card.training_rows,
        card.calibration_day,
        card.validation_day,
        v.rows,
        100.0 * v.base_rate
    );
    out += &format!(
        "auc={:.4} pr_auc={:.4} brier={:.4} lift_top_decile={:.2}\n",
        v.auc, v.pr_auc, v.brier, v.lift_top_decile
    );
    out += "decile  users   predicted  observed\n";
    for (i, d) in v.deciles.iter().enumerate() {
        out += &format!("{:<7} {:<7} {:<10.3} {:.3}\n", i + 1, d.rows, d.mean_predicted, d.observed);
    }
    let top: Vec<String> =
        card.importance.iter().take(8).map(|(name, gain)| format!("{name} {:.1}%", 100.0 * gain)).collect();
    out += &format!("features: {} ({})\n", card.features.len(), top.join(", "));
    out
}
