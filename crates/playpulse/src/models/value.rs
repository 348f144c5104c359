//! The night's value forecasts: every user active in the 28 days up to the night gets each
//! target's forecast (token spend and cash over the next 30 and 90 days) stored as the score
//! `ltv_<target>`, the chosen way's value with every way's forecast as its reasons; and the
//! top share by `models.whale_value` become the night's whale candidates (`whale_candidate`),
//! whom the policy offers a VIP table and the notifications invite to it, both through the
//! protection gate.
//!
//! BG/NBD with Gamma-Gamma is fitted every night (it needs no training days); the boosted
//! models come from the newest version `playpulse train ltv` stored that can be read, and
//! each target uses the way that did better on that version's validation day.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::time::epoch_day;
use playpulse_lake::analytics::Analytics;
use playpulse_models::ltv::boosted::BoostedLtv;
use playpulse_store::{ScoreNight, Store, WHALE_CANDIDATE};
use serde_json::{Value, json};

use crate::commands::batch::notices::vip_invitations;
use crate::config::Config;
use crate::models::ltv::{BOOSTED, Card, Days, NAIVE, PROBABILISTIC, Target, forecast};
use crate::models::registry;

/// The name each target's scores are stored under: `ltv_spend_30d`, …
pub fn score_name(target: Target) -> String {
    format!("ltv_{}", target.name())
}

/// A stored version of the value forecasts.
struct Stored {
    version: u32,
    card: Card,
    /// The boosted models by target name.
    models: BTreeMap<String, BoostedLtv>,
}

/// The newest readable version, and the newer ones passed over.
fn newest(lake_root: &Path) -> anyhow::Result<(Option<Stored>, Vec<Value>)> {
    let mut passed_over = Vec::new();
    for version in registry::versions(lake_root, registry::LTV)?.into_iter().rev() {
        let loaded = registry::card::<Card>(lake_root, registry::LTV, version)
            .and_then(|card| Ok((card, registry::load(lake_root, registry::LTV, version)?)));
        match loaded {
            Ok((card, models)) => return Ok((Some(Stored { version, card, models }), passed_over)),
            Err(e) => passed_over.push(json!({"version": version, "why": format!("{e:#}")})),
        }
    }
    Ok((None, passed_over))
}

/// Forecasts the night `as_of` and stores the scores and the whale candidates; the report
/// for the job run, or `None` when value scoring is off.
pub async fn value_night(
    store: &dyn Store,
    config: &Config,
    analytics: &Analytics,
    lake_root: &Path,
    as_of: Date,
    now: Timestamp,
) -> anyhow::Result<Option<Value>> {
    if !config.models.ltv_scoring {
        return Ok(None);
    }
    if analytics.last_event_day().is_none() {
        return Ok(Some(json!({"version": null, "targets": [], "whale_candidates": 0, "passed_over": []})));
    }
    let (stored, passed_over) = newest(lake_root)?;
    let version = stored.as_ref().map_or(0, |s| i64::from(s.version));
    let day = epoch_day(as_of);
    let mut days = Days::new(analytics, lake_root);
    let users: Vec<Option<UserId>> =
        days.users(day).await?.iter().map(|u| UserId::parse(u).ok().filter(|u| !u.is_pseudonym())).collect();
    let mut targets = Vec::new();
    let mut ranked = Vec::new();
    for target in Target::ALL {
        let name = target.name();
        let boosted = stored.as_ref().and_then(|s| s.models.get(&name));
        let forecast = forecast(&mut days, target, day, boosted).await?;
        let preferred = stored
            .as_ref()
            .and_then(|s| s.card.targets.iter().find(|t| t.target == name))
            .map_or(PROBABILISTIC, |t| if t.chosen == BOOSTED { BOOSTED } else { PROBABILISTIC });
        let chosen = [preferred, PROBABILISTIC, BOOSTED, NAIVE]
            .into_iter()
            .find(|way| forecast.of(way).is_some())
            .unwrap_or(NAIVE);
        let values = forecast.of(chosen).unwrap_or_default();
        let mut scores = Vec::with_capacity(values.len());
        for (i, (user, value)) in users.iter().zip(values).enumerate() {
            let Some(user) = user else { continue };
            let ways = forecast.ways.iter().map(
                |(way, predicted)| json!({"way": way, "forecast": predicted[i], "chosen": *way == chosen}),
            );
            scores.push((user.clone(), *value, Value::Array(ways.collect())));
        }
        if name == config.models.whale_value {
            ranked = scores.iter().map(|(u, v, _)| (u.clone(), *v)).collect();
        }
        targets.push(json!({
            "target": name,
            "chosen": chosen,
            "users": scores.len(),
            "missing": forecast.missing.iter().map(|(w, why)| json!({"way": w, "why": why})).collect::<Vec<_>>(),
        }));
        store.save_scores(ScoreNight { model: score_name(target), version, as_of, scores }).await?;
    }
    let candidates =
        whale_candidates(ranked, config.models.whale_candidates_percent, &config.models.whale_value);
    let threshold = candidates.last().map(|(_, v, _)| *v);
    let invitees: Vec<(UserId, f64)> = candidates.iter().map(|(u, v, _)| (u.clone(), *v)).collect();
    let night = ScoreNight { model: WHALE_CANDIDATE.into(), version, as_of, scores: candidates };
    // A night older than the stored one (re-run out of order) invites no one.
    let invited = if store.save_scores(night).await? {
        vip_invitations(store, config, as_of, &invitees, now).await?
    } else {
        0
    };
    Ok(Some(json!({
        "version": stored.as_ref().map(|s| s.version),
        "targets": targets,
        "whale_candidates": invitees.len(),
        "invited": invited,
        "whale_value": config.models.whale_value,
        "whale_threshold": threshold,
        "passed_over": passed_over,
    })))
}

/// The top `percent` of `forecasts` (of the target named `by`) by value, only values above
/// zero, highest first, each with its rank among all.
fn whale_candidates(mut forecasts: Vec<(UserId, f64)>, percent: f64, by: &str) -> Vec<(UserId, f64, Value)> {
    let of = forecasts.len();
    let wanted = of as f64 * percent / 100.0;
    forecasts.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    forecasts
        .into_iter()
        .enumerate()
        .take_while(|(rank, (_, value))| (*rank as f64) < wanted && *value > 0.0)
        .map(|(rank, (user, value))| (user, value, json!([{"forecast": by, "rank": rank + 1, "of": of}])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    #[test]
    fn whale_candidates_are_the_top_share_that_spends() {
        let forecasts: Vec<(UserId, f64)> =
            (0..40).map(|i| (user(&format!("u{i:02}")), f64::from(i % 20) * 10.0)).collect();
        // 5% of 40 is 2: u19 and u39 forecast 190 each, ties broken by id.
        let top = whale_candidates(forecasts.clone(), 5.0, "spend_30d");
        let got: Vec<(&str, f64)> = top.iter().map(|(u, v, _)| (u.as_str(), *v)).collect();
        assert_eq!(got, [("u19", 190.0), ("u39", 190.0)]);
        assert_eq!(top[1].2, json!([{"forecast": "spend_30d", "rank": 2, "of": 40}]));
        // 2.6% rounds up to a whole user; nobody forecast at zero is a candidate.
        assert_eq!(whale_candidates(forecasts.clone(), 2.6, "spend_30d").len(), 2);
        assert_eq!(whale_candidates(forecasts.clone(), 100.0, "spend_30d").len(), 38);
        let none_spend = forecasts.into_iter().map(|(u, _)| (u, 0.0)).collect();
        assert!(whale_candidates(none_spend, 50.0, "spend_30d").is_empty());
    }
}
