//! The churn model end to end: a simulated history imported through the real ingest path,
//! `playpulse train churn` storing versions, `playpulse models list` showing them; and the
//! model against the simulator's truth. One backend: the models read the lake, which both
//! backends export alike (see `lake.rs`).

use std::process::Output;

use playpulse::commands::bench_models::{Population, judge};
use playpulse::config::Config;
use playpulse::models::registry;
use playpulse_core::ids::UserId;
use playpulse_core::time::BusinessZone;
use playpulse_lake::analytics::Analytics;
use playpulse_store::prelude::*;
use playpulse_store::sqlite::SqliteStore;

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
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows[0].starts_with('1') && rows[0].contains("2026-03-08"), "{list}");
    assert!(rows[1].starts_with('2') && rows[1].contains("2026-03-01"), "{list}");

    let lake = target.data_dir().join("lake");
    assert_eq!(registry::versions(&lake).unwrap(), [1, 2]);
    let card = registry::card(&lake, 1).unwrap();
    assert!(card.features.len() >= 40, "{:?}", card.features);
    assert_eq!(card.validation.deciles.len(), 10);
    let model = registry::load(&lake, 1).unwrap();
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
    let card = |way: &str| judged.spend.iter().find(|(w, _)| *w == way).map(|(_, c)| c.clone()).unwrap();
    let (boosted, probabilistic, naive) = (card("boosted"), card("bgnbd+gg"), card("last_30d"));
    assert!(boosted.spearman > naive.spearman && probabilistic.spearman > naive.spearman, "{judged:?}");
    assert!(boosted.mae < naive.mae, "{judged:?}");
}
