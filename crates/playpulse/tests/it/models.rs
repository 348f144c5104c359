//! The churn model end to end: a simulated history imported through the real ingest path,
//! `playpulse train churn` storing versions, `playpulse models list` showing them; and the
//! model against the simulator's truth. One backend: the models read the lake, which both
//! backends export alike (see `lake.rs`).

use std::process::Output;

use playpulse::commands::bench_models::{Population, judge};
use playpulse::config::Config;
use playpulse::models::churn::Card;
use playpulse::models::registry;
use playpulse_core::ids::UserId;
use playpulse_core::time::BusinessZone;
use playpulse_lake::analytics::Analytics;
use playpulse_models::churn::ChurnModel;
use playpulse_store::prelude::*;
use playpulse_store::sqlite::SqliteStore;
use playpulse_store::{ScoreNight, WHALE_CANDIDATE};

use crate::binary::Target;
use crate::support::{Backend, simulate};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value after `key=` on the line that has it.
fn figure<T: std::str::FromStr>(text: &str, key: &str) -> T {
    let at = text.find(&format!("{key}=")).unwrap_or_else(|| panic!("{key} in {text}"));
    let value = text[at + key.len() + 1..].split_whitespace().next().unwrap();
    value.parse().unwrap_or_else(|_| panic!("{key}={value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trained_models_list_load_and_score_each_night() {
    let target = Target::new(Backend::Sqlite).await;
    let refused = target.command(&["train", "churn"]).output().unwrap();
    assert!(!refused.status.success(), "an empty lake has nothing to learn from");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the lake holds no events"));

    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &["--users", "1500", "--days", "70", "--seed", "11", "--start", "2026-01-05"]);
    ok(target.command(&["import", dir.path().join("events.parquet").to_str().unwrap()]).output().unwrap());
    let first = ok(target.command(&["train", "churn"]).output().unwrap());
    // The default judges the latest day whose 7 label days the lake holds: 03-15 − 7.
    assert!(first.contains("validated on 2026-03-08"), "{first}");
    assert!(first.contains("calibrated on 2026-03-01"), "{first}");
    assert!(first.contains("trained on 2026-02-22, 2026-02-15, 2026-02-08, 2026-02-01"), "{first}");
    assert!(figure::<f64>(&first, "auc") > 0.8, "far better than chance: {first}");
    assert!(figure::<f64>(&first, "lift_top_decile") > 1.2, "{first}");
    assert_eq!(figure::<u32>(&first, "stored version"), 1);

    let second = ok(target
        .command(&["train", "churn", "--as-of", "2026-03-01", "--training-days", "2"])
        .output()
        .unwrap());
    assert!(second.contains("validated on 2026-03-01"), "{second}");
    assert!(second.contains("trained on 2026-02-15, 2026-02-08 "), "{second}");
    assert_eq!(figure::<u32>(&second, "stored version"), 2);

    let list = ok(target.command(&["models", "list"]).output().unwrap());
    let rows: Vec<&str> =
        list.lines().skip(1).take_while(|l| !l.starts_with("ltv:")).map(str::trim_start).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows[0].starts_with('1') && rows[0].contains("2026-03-08"), "{list}");
    assert!(rows[1].starts_with('2') && rows[1].contains("2026-03-01"), "{list}");

    let lake = target.data_dir().join("lake");
    assert_eq!(registry::versions(&lake, registry::CHURN).unwrap(), [1, 2]);
    let card: Card = registry::card(&lake, registry::CHURN, 1).unwrap();
    assert!(card.features.len() >= 40, "{:?}", card.features);
    assert_eq!(card.validation.deciles.len(), 10);
    let model: ChurnModel = registry::load(&lake, registry::CHURN, 1).unwrap();
    assert_eq!(model.features, card.features);

    // The night scores its active users with the newest version, stores the scores with
    // their reasons and reports it in the job run.
    let night = ok(target.command(&["batch", "--as-of", "2026-03-15"]).output().unwrap());
    assert!(night.contains("churn_scoring version=2 users="), "{night}");
    let scoring = &night[night.find("churn_scoring").unwrap()..];
    let scored = figure::<usize>(scoring, "users");
    assert!(scored > 300, "{night}");
    let store =
        SqliteStore::open(&target.data_dir().join("playpulse.db"), BusinessZone::default(), now()).unwrap();
    let features = features_of(&lake, "2026-03-15").await;
    assert_eq!(features.users.len(), scored, "every user active in the 28 days, and only they");
    let mut reasons_seen = 0;
    for user in features.users.iter().take(50) {
        let scores = store.scores(&UserId::parse(user).unwrap()).await.unwrap();
        let scores: Vec<_> = scores.into_iter().filter(|s| s.model == "churn").collect();
        assert_eq!(scores.len(), 1, "{user}");
        let s = &scores[0];
        assert_eq!((s.model.as_str(), s.version, s.as_of.to_string().as_str()), ("churn", 2, "2026-03-15"));
        assert!((0.0..=1.0).contains(&s.score));
        let reasons = s.reasons.as_array().unwrap();
        assert!(reasons.len() <= 3);
        for r in reasons {
            assert!(card.features.contains(&r["feature"].as_str().unwrap().to_owned()), "{r}");
            assert!(r["contribution"].as_f64().unwrap() > 0.0);
        }
        reasons_seen += reasons.len();
    }
    assert!(reasons_seen > 0);

    // The user API shows them to a server key.
    let key = target.key();
    let mut server = target.serve().await;
    let client = reqwest::Client::new();
    let get = |path: String| client.get(format!("{}{path}", server.base)).bearer_auth(&key).send();
    let first_user = &features.users[0];
    let answer: serde_json::Value =
        get(format!("/v1/users/{first_user}/scores")).await.unwrap().json().await.unwrap();
    assert_eq!(answer["user_id"], first_user.as_str());
    assert_eq!(answer["scores"][0]["model"], "churn");
    assert_eq!(answer["scores"][0]["as_of"], "2026-03-15");
    assert!(answer["scores"][0]["reasons"].is_array(), "{answer}");
    let unknown = get("/v1/users/nobody-at-all/scores".into()).await.unwrap();
    assert_eq!(unknown.status(), reqwest::StatusCode::NOT_FOUND);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let jobs = store.job_runs(10).await.unwrap();
    let detail =
        jobs.iter().find(|j| j.as_of.to_string() == "2026-03-15").and_then(|j| j.detail.clone()).unwrap();
    assert_eq!(detail["churn_scoring"]["version"], 2);
    assert_eq!(detail["churn_scoring"]["deciles"].as_array().unwrap().len(), 9);
    assert_eq!(detail["churn_scoring"]["drift"].as_array().unwrap().len(), card.features.len());

    // A version that cannot be read is passed over for the one before it.
    std::fs::write(lake.join("models/churn/v000002/model.json"), b"{ not a model").unwrap();
    let night = ok(target.command(&["batch", "--as-of", "2026-03-14"]).output().unwrap());
    assert!(night.contains("churn_scoring version=1 "), "{night}");
    assert!(night.contains("passed over version 2: "), "{night}");

    // Inputs drifted past the threshold: no version scores, and the night says why.
    let drifted = target
        .command(&["batch", "--as-of", "2026-03-13"])
        .env("PLAYPULSE_MODELS__MAX_DRIFT", "0.000001")
        .output()
        .unwrap();
    let night = ok(drifted);
    assert!(night.contains("churn_scoring version=null users=0"), "{night}");
    assert!(
        night.contains("passed over version 1: ") && night.contains("inputs drifted: weighted PSI"),
        "{night}"
    );
}

async fn features_of(lake: &std::path::Path, day: &str) -> playpulse_lake::features::Features {
    let analytics = Analytics::open(lake, &Config::default().rollup_settings()).await.unwrap();
    analytics.features(playpulse_core::time::epoch_day(day.parse().unwrap())).await.unwrap()
}

fn now() -> jiff::Timestamp {
    crate::support::NOW.parse().unwrap()
}

/// The model against the best any model can know, at a size a test can afford: the
/// benchmark (`playpulse bench models`, README) measures 20,000 users on three seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_nearly_matches_the_simulators_truth() {
    let dir = tempfile::tempdir().unwrap();
    let population = Population { users: 3000, days: 70, seed: 5, training_days: 4 };
    let judged = judge(&Config::default(), &population, dir.path()).await.unwrap();
    println!("{judged:?}");
    assert!(judged.users > 1000, "{judged:?}");
    assert!(judged.auc_ratio() >= 0.93, "AUC {:.4} of the truth's", judged.auc_ratio());
    assert!(judged.brier_ratio() <= 1.35, "Brier {:.4} of the truth's", judged.brier_ratio());
    // Spend over the next 30 days: each model ranks users better than repeating the last 30
    // days, and the boosted one errs less.
    let card = |way: &str| {
        let found = judged.value.iter().find(|(t, w, _)| t == "spend_30d" && *w == way);
        found.map(|(_, _, c)| c.clone()).unwrap()
    };
    let (boosted, probabilistic, naive) = (card("boosted"), card("bgnbd_gg"), card("last_30d"));
    assert!(boosted.spearman > naive.spearman && probabilistic.spearman > naive.spearman, "{judged:?}");
    assert!(boosted.mae < naive.mae, "{judged:?}");
}

/// The value forecasts end to end: `train ltv` judges each target's ways and stores the
/// boosted models, the night stores every target's forecast and picks the whale candidates,
/// and the recommendations act on the scores through the protection gate: a VIP table for a
/// whale candidate unless protected, a partner proposal for a user at churn risk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_forecasts_pick_whale_candidates_and_scores_act_through_the_gate() {
    let target = Target::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &["--users", "1500", "--days", "70", "--seed", "12", "--start", "2026-01-05"]);
    ok(target.command(&["import", dir.path().join("events.parquet").to_str().unwrap()]).output().unwrap());
    let trained = ok(target.command(&["train", "ltv"]).output().unwrap());
    assert!(trained.contains("value forecasts as of 2026-03-15"), "{trained}");
    // 30-day targets are judged on 02-13; 90 days before the as-of day the lake was empty.
    for way in ["boosted", "bgnbd_gg", "last_30d"] {
        assert!(
            trained.lines().any(|l| l.starts_with("spend_30d  2026-02-13    ") && l.contains(way)),
            "{trained}"
        );
    }
    assert!(trained.contains("spend_90d  2025-12-15    (no users on that day: not judged)"), "{trained}");
    assert!(
        trained.contains("spend_90d  chosen=bgnbd_gg (no boosted model (too little history))"),
        "{trained}"
    );
    assert!(trained.contains("spend_30d  chosen=") && trained.contains("stored version=1"), "{trained}");
    ok(target.command(&["train", "churn"]).output().unwrap());
    let list = ok(target.command(&["models", "list"]).output().unwrap());
    assert_eq!(
        list.lines().filter(|l| l.trim_start().starts_with("1 ")).count(),
        5,
        "one churn, four ltv: {list}"
    );

    let night = ok(target.command(&["batch", "--as-of", "2026-03-15"]).output().unwrap());
    assert!(night.contains("value_scoring version=1 ways=spend_30d:"), "{night}");
    assert!(night.contains("spend_90d:bgnbd_gg"), "{night}");
    let lake = target.data_dir().join("lake");
    let active = features_of(&lake, "2026-03-15").await.users;
    let candidates = figure::<usize>(&night, "whale_candidates");
    assert!(
        candidates > 0 && candidates <= active.len().div_ceil(20),
        "{candidates} of {}: {night}",
        active.len()
    );

    let store =
        SqliteStore::open(&target.data_dir().join("playpulse.db"), BusinessZone::default(), now()).unwrap();
    let mut whales = Vec::new();
    let mut at_risk = Vec::new();
    for user in &active {
        let id = UserId::parse(user).unwrap();
        let scores = store.scores(&id).await.unwrap();
        let names: Vec<&str> = scores.iter().map(|s| s.model.as_str()).collect();
        for model in ["churn", "ltv_cash_30d", "ltv_cash_90d", "ltv_spend_30d", "ltv_spend_90d"] {
            assert!(names.contains(&model), "{user}: {names:?}");
        }
        let spend = scores.iter().find(|s| s.model == "ltv_spend_30d").unwrap();
        let ways = spend.reasons.as_array().unwrap();
        assert_eq!(ways.len(), 3, "boosted, bgnbd_gg, last_30d: {spend:?}");
        let chosen: Vec<_> = ways.iter().filter(|w| w["chosen"] == true).collect();
        assert_eq!(chosen.len(), 1, "{spend:?}");
        assert_eq!(chosen[0]["forecast"].as_f64(), Some(spend.score), "{spend:?}");
        let record = store.user(&id).await.unwrap().unwrap();
        assert_eq!(record.whale_candidate, names.contains(&"whale_candidate"));
        if record.whale_candidate {
            whales.push(user.clone());
        }
        if record.churn_risk.is_some_and(|p| p >= 0.8) {
            at_risk.push(user.clone());
        }
    }
    assert_eq!(whales.len(), candidates);
    assert!(!at_risk.is_empty());
    // Each candidate is invited to the VIP table (the dispatcher holds back the protected).
    let mut invited: Vec<String> = store
        .outbox(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "VIP_INVITATION")
        .map(|n| n.user_id)
        .collect();
    invited.sort();
    assert_eq!(invited, whales);

    let key = target.key();
    let mut server = target.serve().await;
    let client = reqwest::Client::new();
    let recommend = |user: &str| {
        let url = format!("{}/v1/users/{user}/recommendations", server.base);
        let request = client.get(url).bearer_auth(&key).send();
        async move { request.await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let kinds = |answer: &serde_json::Value| -> Vec<String> {
        answer["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["type"].as_str().unwrap().to_owned())
            .collect()
    };
    // The import counted 70 days of play and spend on the day it ran, so most heavy spenders
    // show harm markers now: each candidate gets the VIP table exactly when not protected.
    for user in &whales {
        let answer = recommend(user).await;
        let vip = kinds(&answer).contains(&"VIP_REWARD".to_owned());
        assert_eq!(vip, answer["protective"] == false, "a VIP table only outside protection: {answer}");
    }
    // A user with no marker (tokens earned, nothing played or spent) whom a later night
    // makes a candidate is offered it, on the stake game, with the reason.
    let fresh = serde_json::json!({"events": [crate::support::earn("vip-fresh", 1_000)]});
    let sent = client.post(format!("{}/v1/events", server.base)).bearer_auth(&key).json(&fresh).send();
    assert!(sent.await.unwrap().status().is_success());
    assert!(!kinds(&recommend("vip-fresh").await).contains(&"VIP_REWARD".to_owned()));
    let later = "2026-03-16".parse().unwrap();
    let candidate = (UserId::parse("vip-fresh").unwrap(), 9_000.0, serde_json::json!([]));
    let night =
        ScoreNight { model: WHALE_CANDIDATE.into(), version: 1, as_of: later, scores: vec![candidate] };
    store.save_scores(night).await.unwrap();
    let answer = recommend("vip-fresh").await;
    let vip = answer["proposals"].as_array().unwrap().iter().find(|p| p["type"] == "VIP_REWARD");
    let vip = vip.unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(
        (vip["game"].as_str(), vip["reason"].as_str()),
        (Some("slot"), Some("whale candidate: among the top forecast spenders")),
        "{answer}"
    );
    for user in at_risk.iter().take(20) {
        let answer = recommend(user).await;
        if kinds(&answer) == ["LIMIT_REMINDER"] {
            continue; // a cool-off or an exclusion runs: nothing but the reminder
        }
        let proposals = answer["proposals"].as_array().unwrap();
        let partner =
            proposals.iter().find(|p| p["action"] == "visit_partner").unwrap_or_else(|| panic!("{answer}"));
        assert!(partner["reason"].as_str().unwrap().starts_with("churn risk "), "{answer}");
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
