//! Future token spend over the lake, predicted three ways for the users active on an as-of
//! day V: gradient-boosted trees over the churn model's features (trained on weekly days
//! from V − 37 back, each labelled by the 30 days after it, and stopped early on V − 30, so
//! no label reaches past V), BG/NBD with Gamma-Gamma over each user's days with spend up to
//! V (days as the time unit), and the naive forecast that repeats the last 30 days.

use std::path::Path;

use anyhow::Context;
use playpulse_lake::analytics::Analytics;
use playpulse_lake::features::{Amount, write_features};
use playpulse_models::ltv::History;
use playpulse_models::ltv::bgnbd::BgNbd;
use playpulse_models::ltv::boosted::BoostedLtv;
use playpulse_models::ltv::gamma_gamma::{GammaGamma, Spend};
use playpulse_models::table::Table;

/// The horizon predicted, in business days.
pub const HORIZON_DAYS: i32 = 30;
/// Weekly as-of days the boosted model learns from.
const TRAINING_DAYS: i32 = 4;

/// Each way's prediction for the users active on V, in the order of `users`.
pub struct SpendForecast {
    pub users: Vec<String>,
    pub boosted: Vec<f64>,
    pub probabilistic: Vec<f64>,
    pub naive: Vec<f64>,
}

/// The features of `day` with each user's spend over the horizon after it.
async fn labelled(analytics: &Analytics, lake_root: &Path, day: i32) -> anyhow::Result<(Table, Vec<f64>)> {
    let features = analytics.features(day).await?;
    write_features(lake_root, &features)?;
    let outcomes = analytics.outcomes(day, 7).await?;
    let spend =
        features.users.iter().map(|u| outcomes.get(u).map_or(0.0, |o| o.spend_next_30d as f64)).collect();
    Ok((Table { names: features.names, columns: features.columns }, spend))
}

/// Forecasts the spend of the users active on `as_of` over the next 30 days.
pub async fn forecast_spend(
    analytics: &Analytics,
    lake_root: &Path,
    as_of: i32,
) -> anyhow::Result<SpendForecast> {
    let mut train = Table::default();
    let mut spend = Vec::new();
    for k in 0..TRAINING_DAYS {
        let (table, later) = labelled(analytics, lake_root, as_of - HORIZON_DAYS - 7 * (k + 1)).await?;
        train.append(&table)?;
        spend.extend(later);
    }
    let (held_out, held_out_spend) = labelled(analytics, lake_root, as_of - HORIZON_DAYS).await?;
    let boosted = BoostedLtv::train(&train, &spend, &held_out, &held_out_spend)?;
    let features = analytics.features(as_of).await?;
    let table = crate::models::table(&features);

    let days = analytics.purchase_days(as_of, Amount::Spend).await?;
    let histories: Vec<History> = days.values().map(|d| History { x: d.x, t_x: d.t_x, t: d.t }).collect();
    let amounts: Vec<Spend> =
        days.values().map(|d| Spend { x: d.x, mean: d.repeat_mean.unwrap_or(0.0) }).collect();
    let counts = BgNbd::fit(&histories).context("BG/NBD on the days with spend")?;
    let amount = GammaGamma::fit(&amounts).context("Gamma-Gamma on the repeat days' spend")?;
    let horizon = f64::from(HORIZON_DAYS);
    let probabilistic = features
        .users
        .iter()
        .map(|u| {
            days.get(u).map_or(0.0, |d| {
                let spend = Spend { x: d.x, mean: d.repeat_mean.unwrap_or(0.0) };
                let per_day = amount.expected_amount(&spend).unwrap_or(d.repeat_mean.unwrap_or(0.0));
                counts.expected_purchases(&History { x: d.x, t_x: d.t_x, t: d.t }, horizon) * per_day
            })
        })
        .collect();
    let naive = features.users.iter().map(|u| days.get(u).map_or(0.0, |d| d.last_30d)).collect();
    Ok(SpendForecast { boosted: boosted.predict(&table)?, probabilistic, naive, users: features.users })
}
