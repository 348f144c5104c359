//! `playpulse train churn` and `playpulse train ltv`: models trained on the lake and stored
//! as new versions; `playpulse models list`: the versions stored and how each measured.

use clap::{Args, Subcommand};
use playpulse_core::time::{Clock, SystemClock, epoch_day};

use crate::app;
use crate::cli::StoreArgs;
use crate::commands::export::lake_root;
use crate::commands::rollup::update;
use crate::config::Config;
use crate::models::churn::{Card, Plan, train};
use crate::models::{ltv, registry};

#[derive(Subcommand)]
pub enum TrainCommand {
    /// The 7-day churn model: gradient-boosted trees, calibrated, judged on a later day.
    Churn(TrainChurnArgs),
    /// The value forecasts (token spend and cash over 30 and 90 days): boosted trees beside
    /// BG/NBD with Gamma-Gamma, each judged on the day a horizon before the as-of day.
    Ltv(TrainLtvArgs),
}

#[derive(Args)]
pub struct TrainLtvArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The day the models forecast from (default: the lake's last day with events). Each
    /// target is judged on the day its horizon before, against what came up to this day.
    #[arg(long)]
    pub as_of: Option<jiff::civil::Date>,
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
    let store_args = match &command {
        TrainCommand::Churn(args) => &args.store,
        TrainCommand::Ltv(args) => &args.store,
    };
    store_args.apply(&mut config);
    let store = app::open_store(&config).await?;
    let (analytics, _) = update(store.as_ref(), &config, None).await?;
    let last = analytics.last_event_day().ok_or_else(|| anyhow::anyhow!("the lake holds no events"));
    let started = std::time::Instant::now();
    let root = lake_root(&config);
    let now = SystemClock.now().to_string();
    let version = match command {
        TrainCommand::Churn(args) => {
            let label_days = config.analytics.churn_days;
            let validation_day = match args.as_of {
                Some(day) => epoch_day(day),
                None => last? - i32::try_from(label_days)?,
            };
            let plan = Plan { validation_day, label_days, training_days: args.training_days.max(1) };
            let mut trained = train(&analytics, &root, &plan, now).await?;
            let version = registry::register(&root, registry::CHURN, &trained.model, &mut trained.card)?;
            print!("{}", render(&trained.card));
            version
        }
        TrainCommand::Ltv(args) => {
            let as_of = match args.as_of {
                Some(day) => epoch_day(day),
                None => last?,
            };
            let mut trained = ltv::train(&analytics, &root, as_of, now).await?;
            let version = registry::register(&root, registry::LTV, &trained.models, &mut trained.card)?;
            print!("{}", render_ltv(&trained.card));
            version
        }
    };
    println!("stored version={version} seconds={:.1}", started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn models_command(mut config: Config, command: ModelsCommand) -> anyhow::Result<()> {
    let ModelsCommand::List(args) = command;
    args.store.apply(&mut config);
    let root = lake_root(&config);
    println!(
        "churn: version  trained_at                validation_day  rows      auc     pr_auc  brier   lift@10%"
    );
    for version in registry::versions(&root, registry::CHURN)? {
        let card: Card = registry::card(&root, registry::CHURN, version)?;
        let v = &card.validation;
        println!(
            "       {:<8} {:<25} {:<15} {:<9} {:<7.4} {:<7.4} {:<7.4} {:.2}",
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
    println!(
        "ltv:   version  trained_at                as_of       target     chosen    mae (boosted / bgnbd_gg / last_30d)"
    );
    for version in registry::versions(&root, registry::LTV)? {
        let card: ltv::Card = registry::card(&root, registry::LTV, version)?;
        for target in &card.targets {
            println!(
                "       {:<8} {:<25} {:<11} {:<10} {:<9} {}",
                card.version,
                card.trained_at,
                card.as_of,
                target.target,
                target.chosen,
                [ltv::BOOSTED, ltv::PROBABILISTIC, ltv::NAIVE].map(|w| mae(target, w)).join(" / ")
            );
        }
    }
    Ok(())
}

fn mae(target: &ltv::TargetCard, way: &str) -> String {
    target
        .validation
        .iter()
        .find(|(w, _)| w == way)
        .map_or_else(|| "-".into(), |(_, c)| format!("{:.1}", c.mae))
}

/// The value card as `train ltv` prints it: per target, each way's measures on validation
/// and the way chosen.
pub fn render_ltv(card: &ltv::Card) -> String {
    let mut out = format!("value forecasts as of {}\n", card.as_of);
    out += "target     validated_on  way        users   mae        spearman  top_decile_captured\n";
    for t in &card.targets {
        if t.validation.is_empty() {
            out += &format!("{:<10} {:<13} (no users on that day: not judged)\n", t.target, t.validation_day);
        }
        for (way, c) in &t.validation {
            out += &format!(
                "{:<10} {:<13} {:<10} {:<7} {:<10.1} {:<9.4} {:.4}\n",
                t.target, t.validation_day, way, c.rows, c.mae, c.spearman, c.top_decile_captured
            );
        }
        let stored = if t.boosted { "boosted model stored" } else { "no boosted model (too little history)" };
        out += &format!("{:<10} chosen={} ({stored})\n", t.target, t.chosen);
    }
    out
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
