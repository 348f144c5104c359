//! The models' scores: one row per user and model, never over a newer night's, the users a
//! night no longer scores dropped, and nothing left after an erasure; the same on both
//! backends.

use jiff::civil::{Date, date};
use playpulse_core::ids::UserId;
use playpulse_store::{CHURN, ScoreNight, StoredScore, WHALE_CANDIDATE};
use serde_json::json;

use crate::{Fixture, known, now, on_both};

on_both!(
    a_newer_night_wins_and_users_no_longer_scored_go,
    an_erased_user_keeps_no_score,
    the_user_carries_the_scores_the_policy_reads,
    two_nights_at_once_leave_only_the_newer
);

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn night(model: &str, version: i64, as_of: Date, scores: &[(&str, f64)]) -> ScoreNight {
    ScoreNight {
        model: model.into(),
        version,
        as_of,
        scores: scores
            .iter()
            .map(|(u, s)| {
                (user(u), *s, json!([{"feature": "days_since_active", "value": 9.0, "contribution": s}]))
            })
            .collect(),
    }
}

async fn a_newer_night_wins_and_users_no_longer_scored_go(f: &Fixture) {
    let (d1, d2, d3) = (date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3));
    let store = f.store();
    store.save_scores(night("churn", 1, d2, &[("u1", 0.25), ("u2", 0.75)])).await.unwrap();
    store.save_scores(night("ltv", 1, d2, &[("u1", 1200.0)])).await.unwrap();
    let scores = store.scores(&user("u1")).await.unwrap();
    assert_eq!(scores.iter().map(|s| s.model.as_str()).collect::<Vec<_>>(), ["churn", "ltv"]);
    assert_eq!(
        scores[0],
        StoredScore {
            model: "churn".into(),
            version: 1,
            as_of: d2,
            score: 0.25,
            reasons: json!([{"feature": "days_since_active", "value": 9.0, "contribution": 0.25}]),
        }
    );

    // The next night scores u1 only: u2's churn score goes, the LTV scores stay.
    store.save_scores(night("churn", 2, d3, &[("u1", 0.5)])).await.unwrap();
    assert!(store.scores(&user("u2")).await.unwrap().is_empty());
    let churn = |scores: Vec<StoredScore>| scores.into_iter().find(|s| s.model == "churn");
    let latest = churn(store.scores(&user("u1")).await.unwrap()).unwrap();
    assert_eq!((latest.version, latest.as_of, latest.score), (2, d3, 0.5));
    assert_eq!(store.scores(&user("u1")).await.unwrap().len(), 2);

    // An older night re-run afterwards changes nothing, and says so.
    assert!(!store.save_scores(night("churn", 1, d1, &[("u1", 0.9), ("u2", 0.9)])).await.unwrap());
    assert!(store.save_scores(night("churn", 2, d3, &[("u1", 0.5)])).await.unwrap(), "the same night again");
    let kept = churn(store.scores(&user("u1")).await.unwrap()).unwrap();
    assert_eq!((kept.version, kept.as_of, kept.score), (2, d3, 0.5));
    assert!(churn(store.scores(&user("u2")).await.unwrap()).is_none());
}

async fn an_erased_user_keeps_no_score(f: &Fixture) {
    known(f, "gone", 1).await;
    f.store()
        .save_scores(night("churn", 1, date(2026, 4, 2), &[("gone", 0.4), ("kept", 0.1)]))
        .await
        .unwrap();
    f.store().erase_user(&user("gone"), "admin", now()).await.unwrap();
    assert!(f.store().scores(&user("gone")).await.unwrap().is_empty());
    assert_eq!(f.store().scores(&user("kept")).await.unwrap().len(), 1);
}

/// Two nights stored at once, the older second or first: no row of the older night may stay
/// beside the newer night's (a user only the older night scored would otherwise keep it).
async fn two_nights_at_once_leave_only_the_newer(f: &Fixture) {
    let (older, newer) = (date(2026, 4, 1), date(2026, 4, 3));
    for round in 0..20 {
        let model = format!("churn-{round}");
        let store = f.store.clone();
        let (a, b) =
            (night(&model, 1, older, &[("u1", 0.9), ("u2", 0.9)]), night(&model, 2, newer, &[("u1", 0.5)]));
        let other = store.clone();
        let (first, second) = tokio::join!(
            tokio::spawn(async move { store.save_scores(a).await }),
            tokio::spawn(async move { other.save_scores(b).await })
        );
        first.unwrap().unwrap();
        second.unwrap().unwrap();
        let kept = f.store().scores(&user("u2")).await.unwrap();
        assert!(kept.iter().all(|s| s.model != model), "round {round}: {kept:?}");
    }
}

/// The profile the recommendations read carries the churn probability and whether the user
/// is a whale candidate, and loses both when a later night no longer scores them.
async fn the_user_carries_the_scores_the_policy_reads(f: &Fixture) {
    let store = f.store();
    known(f, "u1", 1).await;
    known(f, "u2", 2).await;
    let profile = |u: &'static str| async move {
        let record = f.store().user(&user(u)).await.unwrap().unwrap();
        (record.churn_risk, record.whale_candidate)
    };
    assert_eq!(profile("u1").await, (None, false));
    let d1 = date(2026, 4, 1);
    store.save_scores(night(CHURN, 1, d1, &[("u1", 0.85), ("u2", 0.1)])).await.unwrap();
    store.save_scores(night(WHALE_CANDIDATE, 1, d1, &[("u2", 40_000.0)])).await.unwrap();
    store.save_scores(night("ltv_spend_30d", 1, d1, &[("u1", 9.0), ("u2", 40_000.0)])).await.unwrap();
    assert_eq!(profile("u1").await, (Some(0.85), false));
    assert_eq!(profile("u2").await, (Some(0.1), true));

    let d2 = date(2026, 4, 2);
    store.save_scores(night(WHALE_CANDIDATE, 2, d2, &[("u1", 50_000.0)])).await.unwrap();
    assert_eq!(profile("u1").await, (Some(0.85), true));
    assert_eq!(profile("u2").await, (Some(0.1), false));
}
