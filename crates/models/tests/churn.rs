//! The churn model on data whose true churn probabilities are known: it ranks and calibrates
//! nearly as well as the truth, explains a score by the features that drove it, survives a
//! round trip through JSON, and refuses inputs it was not trained on.

use playpulse_models::churn::ChurnModel;
use playpulse_models::metrics::Scorecard;
use playpulse_models::table::{Table, TableError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows of five features, their true churn probabilities and drawn outcomes. The truth
/// is non-linear (a threshold and an interaction) and one feature is noise; a fifth of
/// `recency` is missing, as a never-seen event would be.
fn population(n: usize, seed: u64) -> (Table, Vec<f64>, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names = ["recency", "activity", "balance", "losses", "noise"].map(String::from).to_vec();
    let mut columns = vec![Vec::with_capacity(n); names.len()];
    let (mut truth, mut outcomes) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let recency: f64 = rng.random_range(0.0..28.0);
        let activity: f64 = rng.random_range(0.0..1.0);
        let balance: f64 = rng.random_range(0.0..200.0);
        let losses: f64 = f64::from(rng.random_range(0..10u8));
        let missing = rng.random_bool(0.2);
        let logit = -1.0 + 0.12 * recency - 3.0 * activity
            + if balance < 20.0 { 1.2 } else { 0.0 }
            + if losses >= 5.0 { 0.8 * activity + 0.4 } else { 0.0 }
            + if missing { 0.5 } else { 0.0 };
        let p = 1.0 / (1.0 + (-logit).exp());
        for (column, value) in columns.iter_mut().zip([
            if missing { f64::NAN } else { recency },
            activity,
            balance,
            losses,
            rng.random_range(0.0..1.0),
        ]) {
            column.push(value);
        }
        truth.push(p);
        outcomes.push(rng.random_bool(p));
    }
    (Table { names, columns }, truth, outcomes)
}

#[test]
fn ranks_and_calibrates_nearly_as_well_as_the_truth() {
    let (train, _, train_y) = population(30_000, 1);
    let (calibrate, _, calibrate_y) = population(10_000, 2);
    let (test, truth, test_y) = population(20_000, 3);
    let model = ChurnModel::train(&train, &train_y, &calibrate, &calibrate_y).unwrap();
    let predicted = model.probabilities(&test).unwrap();
    let ours = Scorecard::of(&predicted, &test_y).unwrap();
    let best = Scorecard::of(&truth, &test_y).unwrap();
    println!(
        "model AUC {:.4} Brier {:.4}; truth AUC {:.4} Brier {:.4}",
        ours.auc, ours.brier, best.auc, best.brier
    );
    assert!(ours.auc >= 0.97 * best.auc, "AUC {} against the truth's {}", ours.auc, best.auc);
    assert!(ours.brier <= 1.05 * best.brier, "Brier {} against the truth's {}", ours.brier, best.brier);
    for decile in &ours.deciles {
        assert!((decile.mean_predicted - decile.observed).abs() < 0.05, "calibrated by decile: {decile:?}");
    }
    assert!(ours.lift_top_decile > 1.5, "{}", ours.lift_top_decile);
    // The noise feature is the least important of the five.
    let importance = model.importance();
    assert_eq!(importance.last().map(|(name, _)| name.as_str()), Some("noise"), "{importance:?}");
}

#[test]
fn reasons_name_what_drove_a_score() {
    let (train, _, train_y) = population(20_000, 4);
    let (calibrate, _, calibrate_y) = population(5_000, 5);
    let model = ChurnModel::train(&train, &train_y, &calibrate, &calibrate_y).unwrap();
    // Active, rich, recent, no losses, except for one thing each.
    let base = [2.0, 0.9, 150.0, 0.0, 0.5];
    let mut columns = vec![Vec::new(); 5];
    for (changed, value) in [(0, 27.0), (1, 0.02), (2, 3.0)] {
        for (c, column) in columns.iter_mut().enumerate() {
            column.push(if c == changed { value } else { base[c] });
        }
    }
    let users = Table { names: train.names.clone(), columns };
    let reasons = model.reasons(&users, 2).unwrap();
    for (row, want) in ["recency", "activity", "balance"].iter().enumerate() {
        assert_eq!(
            reasons[row].first().map(|r| r.feature.as_str()),
            Some(*want),
            "row {row}: {:?}",
            reasons[row]
        );
        assert!(reasons[row].len() <= 2);
        assert!(reasons[row].iter().all(|r| r.contribution > 0.0));
    }
    assert_eq!(reasons[2][0].value, 3.0, "the reason carries the user's value");
}

#[test]
fn a_stored_model_predicts_the_same_and_refuses_other_inputs() {
    let (train, _, train_y) = population(5_000, 6);
    let (calibrate, _, calibrate_y) = population(2_000, 7);
    let model = ChurnModel::train(&train, &train_y, &calibrate, &calibrate_y).unwrap();
    let stored: ChurnModel = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(model.probabilities(&calibrate).unwrap(), stored.probabilities(&calibrate).unwrap());

    // The same columns in another order give the same answers; a missing one is refused.
    let mut shuffled = calibrate.clone();
    shuffled.names.reverse();
    shuffled.columns.reverse();
    assert_eq!(model.probabilities(&shuffled).unwrap(), model.probabilities(&calibrate).unwrap());
    let mut short = calibrate.clone();
    short.names.remove(1);
    short.columns.remove(1);
    let error = model.probabilities(&short).err().map(|e| e.to_string());
    assert_eq!(error, Some(TableError::Missing("activity".into()).to_string()));

    // One outcome only cannot be learned from.
    let all = vec![true; train.rows()];
    assert!(ChurnModel::train(&train, &all, &calibrate, &calibrate_y).is_err());
}
