//! Future value over the lake: token spend and cash paid over the next 30 and 90 business
//! days, forecast three ways for the users active on a day D:
//!
//! - gradient-boosted trees over the churn model's features, trained on weekly days from
//!   D − H − 7 back (H the horizon), each labelled by the H days after it, and stopped early
//!   on D − H, so no label reaches past D;
//! - BG/NBD with Gamma-Gamma over each user's days with that amount up to D (days as the time
//!   unit), fitted by maximum likelihood;
//! - the naive forecast that repeats the last 30 days.
//!
//! `playpulse train ltv` judges the first two on the day H before its as-of day against what
//! came, keeps the better one per target (by the share of the true top decile it finds, the
//! use its forecasts are put to: whale candidates), and stores the boosted models.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use playpulse_lake::analytics::Analytics;
use playpulse_lake::features::{Amount, Features, Outcome, PurchaseDays, write_features};
use playpulse_models::ltv::History;
use playpulse_models::ltv::bgnbd::BgNbd;
use playpulse_models::ltv::boosted::BoostedLtv;
use playpulse_models::ltv::gamma_gamma::{GammaGamma, Spend};
use playpulse_models::metrics::AmountCard;
use playpulse_models::table::Table;
use serde::{Deserialize, Serialize};

use crate::models::churn::date;
use crate::models::registry::Versioned;

/// Weekly as-of days the boosted model learns from (fewer when the lake is younger).
const TRAINING_DAYS: i32 = 4;

/// The ways, by the names cards, reports and scores use.
pub const BOOSTED: &str = "boosted";
pub const PROBABILISTIC: &str = "bgnbd_gg";
pub const NAIVE: &str = "last_30d";

/// What a forecast predicts: an amount over a horizon of business days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub amount: Amount,
    pub horizon: i32,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target { amount: Amount::Spend, horizon: 30 },
        Target { amount: Amount::Spend, horizon: 90 },
        Target { amount: Amount::Cash, horizon: 30 },
        Target { amount: Amount::Cash, horizon: 90 },
    ];

    /// `spend_30d`, `cash_90d`, …
    pub fn name(self) -> String {
        let amount = match self.amount {
            Amount::Spend => "spend",
            Amount::Cash => "cash",
        };
        format!("{amount}_{}d", self.horizon)
    }

    pub fn parse(name: &str) -> Option<Target> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What came of it after the outcome's day.
    fn actual(self, o: &Outcome) -> f64 {
        let value = match (self.amount, self.horizon) {
            (Amount::Spend, 30) => o.spend_next_30d,
            (Amount::Spend, _) => o.spend_next_90d,
            (Amount::Cash, 30) => o.cash_next_30d,
            (Amount::Cash, _) => o.cash_next_90d,
        };
        value as f64
    }
}

/// One day's features and what followed it, read once for every target.
struct Day {
    features: Features,
    outcomes: HashMap<String, Outcome>,
}

/// The lake's days as the forecasts read them, each read (and its features written to the
/// lake) once, and each day's probabilistic fit made once per amount.
pub struct Days<'a> {
    analytics: &'a Analytics,
    lake_root: &'a Path,
    read: HashMap<i32, Arc<Day>>,
    bought: HashMap<(i32, Amount), Arc<HashMap<String, PurchaseDays>>>,
    fits: HashMap<(i32, Amount), Arc<Result<Probabilistic, String>>>,
}

/// BG/NBD and Gamma-Gamma fitted on the purchase days up to a day.
struct Probabilistic {
    counts: BgNbd,
    amount: GammaGamma,
}

impl<'a> Days<'a> {
    pub fn new(analytics: &'a Analytics, lake_root: &'a Path) -> Self {
        Days { analytics, lake_root, read: HashMap::new(), bought: HashMap::new(), fits: HashMap::new() }
    }

    async fn day(&mut self, day: i32) -> anyhow::Result<Arc<Day>> {
        if let Some(read) = self.read.get(&day) {
            return Ok(read.clone());
        }
        let features = self.analytics.features(day).await?;
        if !features.users.is_empty() {
            write_features(self.lake_root, &features)?;
        }
        let outcomes = self.analytics.outcomes(day, 7).await?;
        let read = Arc::new(Day { features, outcomes });
        self.read.insert(day, read.clone());
        Ok(read)
    }

    /// The users active on `day`, in the order every forecast of the day follows.
    pub async fn users(&mut self, day: i32) -> anyhow::Result<Vec<String>> {
        Ok(self.day(day).await?.features.users.clone())
    }

    /// `day`'s features with each user's `target` after it.
    async fn labelled(&mut self, day: i32, target: Target) -> anyhow::Result<(Table, Vec<f64>)> {
        let read = self.day(day).await?;
        let later = read
            .features
            .users
            .iter()
            .map(|u| read.outcomes.get(u).map_or(0.0, |o| target.actual(o)))
            .collect();
        Ok((crate::models::table(&read.features), later))
    }

    /// What came of `target` after `day` for each of its users.
    async fn actual(&mut self, day: i32, target: Target) -> anyhow::Result<Vec<f64>> {
        Ok(self.labelled(day, target).await?.1)
    }

    /// Each buyer's purchase days of `amount` up to `day`.
    async fn bought(
        &mut self,
        day: i32,
        amount: Amount,
    ) -> anyhow::Result<Arc<HashMap<String, PurchaseDays>>> {
        if let Some(bought) = self.bought.get(&(day, amount)) {
            return Ok(bought.clone());
        }
        let bought = Arc::new(self.analytics.purchase_days(day, amount).await?);
        self.bought.insert((day, amount), bought.clone());
        Ok(bought)
    }

    async fn probabilistic(
        &mut self,
        day: i32,
        amount: Amount,
    ) -> anyhow::Result<Arc<Result<Probabilistic, String>>> {
        if let Some(fit) = self.fits.get(&(day, amount)) {
            return Ok(fit.clone());
        }
        let bought = self.bought(day, amount).await?;
        let histories: Vec<History> = bought.values().map(history).collect();
        let spends: Vec<Spend> = bought.values().map(spend).collect();
        let fit = match (BgNbd::fit(&histories), GammaGamma::fit(&spends)) {
            (Ok(counts), Ok(amount)) => Ok(Probabilistic { counts, amount }),
            (Err(e), _) => Err(format!("BG/NBD: {e}")),
            (_, Err(e)) => Err(format!("Gamma-Gamma: {e}")),
        };
        let fit = Arc::new(fit);
        self.fits.insert((day, amount), fit.clone());
        Ok(fit)
    }
}

fn history(d: &PurchaseDays) -> History {
    History { x: d.x, t_x: d.t_x, t: d.t }
}

fn spend(d: &PurchaseDays) -> Spend {
    Spend { x: d.x, mean: d.repeat_mean.unwrap_or(0.0) }
}

/// The boosted model that forecasts `target` on `day`: trained on the weekly days from
/// `day` − H − 7 back that hold users, stopped early on `day` − H. `None` when the lake is
/// too young to hold both.
pub async fn fit_boosted(
    days: &mut Days<'_>,
    target: Target,
    day: i32,
) -> anyhow::Result<Option<BoostedLtv>> {
    let held_out_day = day - target.horizon;
    let (held_out, held_out_later) = days.labelled(held_out_day, target).await?;
    let (mut train, mut later) = (Table::default(), Vec::new());
    for k in 1..=TRAINING_DAYS {
        let (table, values) = days.labelled(held_out_day - 7 * k, target).await?;
        if table.rows() > 0 {
            train.append(&table)?;
            later.extend(values);
        }
    }
    if train.rows() == 0 || held_out.rows() == 0 {
        return Ok(None);
    }
    Ok(Some(BoostedLtv::train(&train, &later, &held_out, &held_out_later)?))
}

/// Each way's forecast of `target` for the users active on `day`, in their order; a way that
/// cannot forecast is left out, with why.
pub struct Forecast {
    pub users: Vec<String>,
    pub ways: Vec<(&'static str, Vec<f64>)>,
    pub missing: Vec<(&'static str, String)>,
}

impl Forecast {
    pub fn of(&self, way: &str) -> Option<&[f64]> {
        self.ways.iter().find(|(w, _)| *w == way).map(|(_, v)| v.as_slice())
    }
}

/// Forecasts `target` on `day` each way: boosted with `boosted` when given.
pub async fn forecast(
    days: &mut Days<'_>,
    target: Target,
    day: i32,
    boosted: Option<&BoostedLtv>,
) -> anyhow::Result<Forecast> {
    let read = days.day(day).await?;
    let users = read.features.users.clone();
    let (mut ways, mut missing) = (Vec::new(), Vec::new());
    match boosted {
        Some(model) => ways.push((BOOSTED, model.predict(&crate::models::table(&read.features))?)),
        None => missing.push((BOOSTED, "no model: the lake was too young to train one".to_owned())),
    }
    let horizon = f64::from(target.horizon);
    let bought = days.bought(day, target.amount).await?;
    match days.probabilistic(day, target.amount).await?.as_ref() {
        Ok(Probabilistic { counts, amount }) => {
            let per_user = |d: &PurchaseDays| {
                let per_day = amount.expected_amount(&spend(d)).unwrap_or(d.repeat_mean.unwrap_or(0.0));
                counts.expected_purchases(&history(d), horizon) * per_day
            };
            ways.push((PROBABILISTIC, users.iter().map(|u| bought.get(u).map_or(0.0, per_user)).collect()));
        }
        Err(why) => missing.push((PROBABILISTIC, why.clone())),
    }
    let naive = users.iter().map(|u| bought.get(u).map_or(0.0, |d| d.last_30d * horizon / 30.0)).collect();
    ways.push((NAIVE, naive));
    Ok(Forecast { users, ways, missing })
}

/// What a stored version of the value forecasts is, as `playpulse models list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub version: u32,
    pub trained_at: String,
    pub as_of: String,
    pub targets: Vec<TargetCard>,
}

/// One target's validation and choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetCard {
    pub target: String,
    /// H days before the as-of day: forecasts made on it are judged against the H days after.
    pub validation_day: String,
    /// Each way's measures on the validation day (ways that could not forecast left out).
    pub validation: Vec<(String, AmountCard)>,
    /// The way whose forecasts the nights use.
    pub chosen: String,
    /// Whether a boosted model is stored for the target.
    pub boosted: bool,
}

impl Versioned for Card {
    fn set_version(&mut self, version: u32) {
        self.version = version;
    }
}

/// The boosted models by target name, and their card (version 0 until registered).
pub struct Trained {
    pub models: BTreeMap<String, BoostedLtv>,
    pub card: Card,
}

/// Trains and judges every target as of `as_of`; `now` is the time written on the card.
pub async fn train(
    analytics: &Analytics,
    lake_root: &Path,
    as_of: i32,
    now: String,
) -> anyhow::Result<Trained> {
    let mut days = Days::new(analytics, lake_root);
    let (mut models, mut targets) = (BTreeMap::new(), Vec::new());
    for target in Target::ALL {
        let validation_day = as_of - target.horizon;
        let judged = fit_boosted(&mut days, target, validation_day).await?;
        let forecast = forecast(&mut days, target, validation_day, judged.as_ref()).await?;
        let actual = days.actual(validation_day, target).await?;
        let validation: Vec<(String, AmountCard)> = forecast
            .ways
            .iter()
            .filter_map(|(way, predicted)| Some(((*way).to_owned(), AmountCard::of(predicted, &actual)?)))
            .collect();
        let boosted = fit_boosted(&mut days, target, as_of).await?;
        targets.push(TargetCard {
            target: target.name(),
            validation_day: date(validation_day),
            chosen: better(&validation).to_owned(),
            boosted: boosted.is_some(),
            validation,
        });
        models.extend(boosted.map(|m| (target.name(), m)));
    }
    if targets.iter().all(|t| t.validation.is_empty()) {
        anyhow::bail!(
            "the lake holds no users 30 days before {}: nothing to judge a forecast on",
            date(as_of)
        );
    }
    Ok(Trained { models, card: Card { version: 0, trained_at: now, as_of: date(as_of), targets } })
}

/// The better of the boosted and the probabilistic forecast on validation: more of the true
/// top decile found, then the better rank correlation; the probabilistic one when neither was
/// judged (it needs no training days).
fn better(validation: &[(String, AmountCard)]) -> &'static str {
    let card = |way: &str| validation.iter().find(|(w, _)| w == way).map(|(_, c)| c);
    match (card(BOOSTED), card(PROBABILISTIC)) {
        (Some(b), Some(p)) if (b.top_decile_captured, b.spearman) > (p.top_decile_captured, p.spearman) => {
            BOOSTED
        }
        (Some(_), None) => BOOSTED,
        _ => PROBABILISTIC,
    }
}
