//! The night's churn scores: every user active in the 28 days up to the night, scored by the
//! newest stored model that is fit to score them, stored with the features that raised each
//! score most, and the likely churners invited to the partner event.
//!
//! A version is passed over for the one before it when it cannot be read, lacks an input the
//! lake provides no more, or its inputs drifted past `models.max_drift` against its training
//! data. Drift is each input's population stability index weighted by the input's share of
//! the model's gain: an input the model barely uses may drift as the app ages (tenure grows
//! with it) without making the model unfit. The report says which versions were passed over
//! and why, with the scores' deciles and every input's PSI, and goes into the night's job run.

use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::time::epoch_day;
use playpulse_lake::analytics::Analytics;
use playpulse_store::{CHURN, ScoreNight, Store};
use serde_json::{Value, json};

use crate::commands::batch::notices::churn_invitations;
use crate::config::Config;
use crate::models::churn::Card;
use crate::models::registry;
use playpulse_models::churn::ChurnModel;

/// Scores the night `as_of`; the report for the job run, or `None` when no model is trained
/// (or scoring is off).
pub async fn churn_night(
    store: &dyn Store,
    config: &Config,
    analytics: &Analytics,
    lake_root: &Path,
    as_of: Date,
    now: Timestamp,
) -> anyhow::Result<Option<Value>> {
    let versions = registry::versions(lake_root, registry::CHURN)?;
    if !config.models.churn_scoring || versions.is_empty() {
        return Ok(None);
    }
    let features = analytics.features(epoch_day(as_of)).await?;
    let table = crate::models::table(&features);
    let mut passed_over = Vec::new();
    for version in versions.into_iter().rev() {
        let loaded = registry::card::<Card>(lake_root, registry::CHURN, version)
            .and_then(|card| Ok((card, registry::load::<ChurnModel>(lake_root, registry::CHURN, version)?)));
        let (card, model) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                passed_over.push(json!({"version": version, "why": format!("{e:#}")}));
                continue;
            }
        };
        let drift = card.reference.psi(&table);
        let weighted = weighted_drift(&drift, &card.importance);
        if weighted > config.models.max_drift {
            let worst: Vec<String> = drift.iter().take(3).map(|(f, psi)| format!("{f} {psi:.3}")).collect();
            let why = format!(
                "inputs drifted: weighted PSI {weighted:.3} > {} (largest: {})",
                config.models.max_drift,
                worst.join(", ")
            );
            passed_over.push(json!({"version": version, "why": why}));
            continue;
        }
        let scored =
            model.probabilities(&table).and_then(|p| Ok((p, model.reasons(&table, config.models.reasons)?)));
        let (probabilities, reasons) = match scored {
            Ok(scored) => scored,
            Err(e) => {
                passed_over.push(json!({"version": version, "why": e.to_string()}));
                continue;
            }
        };
        let mut scores = Vec::with_capacity(probabilities.len());
        for ((user, p), why) in features.users.iter().zip(&probabilities).zip(reasons) {
            let Ok(user) = UserId::parse(user) else { continue };
            if !user.is_pseudonym() {
                scores.push((user, *p, serde_json::to_value(why)?));
            }
        }
        let invitees: Vec<(UserId, f64)> = scores.iter().map(|(u, p, _)| (u.clone(), *p)).collect();
        let users = scores.len();
        let night = ScoreNight { model: CHURN.into(), version: i64::from(version), as_of, scores };
        // A night older than the stored one (re-run out of order) invites no one.
        let invited = if store.save_scores(night).await? {
            churn_invitations(store, config, as_of, &invitees, now).await?
        } else {
            0
        };
        return Ok(Some(json!({
            "version": version,
            "users": users,
            "invited": invited,
            "deciles": deciles(&probabilities),
            "weighted_drift": weighted,
            "drift": drift.iter().map(|(f, psi)| json!({"feature": f, "psi": psi})).collect::<Vec<_>>(),
            "passed_over": passed_over,
        })));
    }
    Ok(Some(json!({"version": null, "users": 0, "passed_over": passed_over})))
}

/// Each input's PSI weighted by its share of the model's gain.
fn weighted_drift(drift: &[(String, f64)], importance: &[(String, f32)]) -> f64 {
    let total: f64 = importance.iter().map(|(_, gain)| f64::from(*gain)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    drift
        .iter()
        .map(|(feature, psi)| {
            let gain = importance.iter().find(|(f, _)| f == feature).map_or(0.0, |(_, g)| f64::from(*g));
            psi * gain / total
        })
        .sum()
}

/// The 10th, 20th … 90th percentiles of the scores.
fn deciles(scores: &[f64]) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    (1..10).filter_map(|d| sorted.get(d * sorted.len() / 10).copied()).collect()
}
