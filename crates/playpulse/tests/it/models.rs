//! The churn model end to end: a simulated history imported through the real ingest path,
//! `playpulse train churn` storing versions, `playpulse models list` showing them; and the
//! model against the simulator's truth. One backend: the models read the lake, which both
//! backends export alike (see `lake.rs`).

use std::process::Output;

use playpulse::commands::bench_churn::{Population, judge};
use playpulse::config::Config;
use playpulse::models::registry;

use crate::binary::Target;
use crate::support::{Backend, simulate};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value after `key=` on the line that has it.
fn figure(text: &str, key: &str) -> f64 {
    let at = text.find(&format!("{key}=")).unwrap_or_else(|| panic!("{key} in {text}"));
    text[at + key.len() + 1..].split_whitespace().next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_churn_stores_versions_that_list_and_load() {
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
    assert!(figure(&first, "auc") > 0.8, "far better than chance: {first}");
    assert!(figure(&first, "lift_top_decile") > 1.2, "{first}");
    assert_eq!(figure(&first, "stored version"), 1.0);

    let second = ok(target
        .command(&["train", "churn", "--as-of", "2026-03-01", "--training-days", "2"])
        .output()
        .unwrap());
    assert!(second.contains("validated on 2026-03-01"), "{second}");
    assert!(second.contains("trained on 2026-02-15, 2026-02-08 "), "{second}");
    assert_eq!(figure(&second, "stored version"), 2.0);

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
}

/// The model against the best any model can know, at a size a test can afford: the
/// benchmark (`playpulse bench churn`, README) measures 20,000 users on three seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_nearly_matches_the_simulators_truth() {
    let dir = tempfile::tempdir().unwrap();
    let population = Population { users: 3000, days: 70, seed: 5, training_days: 4 };
    let judged = judge(&Config::default(), &population, dir.path()).await.unwrap();
    println!("{judged:?}");
    assert!(judged.users > 1000, "{judged:?}");
    assert!(judged.auc_ratio() >= 0.93, "AUC {:.4} of the truth's", judged.auc_ratio());
    assert!(judged.brier_ratio() <= 1.35, "Brier {:.4} of the truth's", judged.brier_ratio());
}
