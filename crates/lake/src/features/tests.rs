//! Point in time: the features of a day never change with what happened after it, the
//! outcomes never with what happened up to it, and an event one second either side of
//! midnight moves from one to the other. Plus the values by hand.

use serde_json::json;

use super::*;
use crate::analytics::Analytics;
use crate::rollups::Settings;
use crate::testing::{Ev, at, day_number, lake_of};

/// The as-of day, 2026-03-10 in Seoul: it ends at 14:59:59 UTC.
const AS_OF: &str = "2026-03-10";

fn past() -> Vec<Ev> {
    vec![
        ("a", at("2026-02-20T03:00:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 100, "source": "partner"})),
        ("a", at("2026-02-20T03:01:00Z"), "PARTNER_VISIT", json!({"dwell_s": 40})),
        ("a", at("2026-03-08T03:00:00Z"), "SESSION_START", json!({})),
        (
            "a",
            at("2026-03-08T03:01:00Z"),
            "GAME_PLAY",
            json!({"game": "slot", "bet": 10, "payout": 0, "result": "lose"}),
        ),
        (
            "a",
            at("2026-03-10T14:59:59Z"),
            "SPEND_CYBER_TOKENS",
            json!({"amount": 30, "sink": "item", "paid": false}),
        ),
        ("b", at("2026-03-02T03:00:00Z"), "SESSION_START", json!({})),
        ("old", at("2026-01-05T03:00:00Z"), "SESSION_START", json!({})),
    ]
}

fn future() -> Vec<Ev> {
    vec![
        ("a", at("2026-03-10T15:00:00Z"), "SESSION_START", json!({})),
        (
            "a",
            at("2026-04-20T03:00:00Z"),
            "SPEND_CYBER_TOKENS",
            json!({"amount": 20, "sink": "game", "paid": false}),
        ),
        ("b", at("2026-03-20T03:00:00Z"), "PURCHASE_TOKENS", json!({"tokens": 500, "cash_amount": 5000})),
        ("new", at("2026-03-11T03:00:00Z"), "SESSION_START", json!({})),
    ]
}

async fn read(events: &[Ev]) -> (Features, HashMap<String, Outcome>) {
    let dir = lake_of(events);
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let day = day_number(AS_OF);
    (analytics.features(day).await.unwrap(), analytics.outcomes(day, 7).await.unwrap())
}

fn value(features: &Features, user: &str, name: &str) -> f64 {
    let row = features.users.iter().position(|u| u == user).unwrap_or_else(|| panic!("{user} scored"));
    let column = features.names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name}"));
    features.columns[column][row]
}

#[tokio::test]
async fn features_never_see_the_future_nor_outcomes_the_past() {
    let (alone, _) = read(&past()).await;
    let with_future: Vec<Ev> = past().into_iter().chain(future()).collect();
    let (features, outcomes) = read(&with_future).await;
    // Compared as text: a missing value (NaN) equals itself there.
    assert_eq!(
        format!("{features:?}"),
        format!("{alone:?}"),
        "events after the day change none of its features"
    );
    let (_, future_alone) = read(&future()).await;
    assert_eq!(outcomes, future_alone, "events up to the day change none of its outcomes");

    // Who is scored: active in the 28 days up to the day; not "old" (January), not "new".
    assert_eq!(features.users, ["a", "b"]);
    assert_eq!(
        outcomes["a"],
        Outcome { active_days_next: 1, spend_next_30d: 0, spend_next_90d: 20, ..Outcome::default() }
    );
    assert_eq!(outcomes["b"].active_days_next, 0, "03-20 is after the 7 label days");
    assert_eq!((outcomes["b"].cash_next_30d, outcomes["b"].cash_next_90d), (5000, 5000));
}

#[tokio::test]
async fn a_second_across_midnight_moves_an_event_from_features_to_outcomes() {
    let late = ("b", at("2026-03-10T14:59:59Z"), "SESSION_START", json!({}));
    let early = ("b", at("2026-03-10T15:00:00Z"), "SESSION_START", json!({}));
    let (inside, inside_outcomes) = read(&[past(), vec![late]].concat()).await;
    let (outside, outside_outcomes) = read(&[past(), vec![early]].concat()).await;
    assert_eq!(value(&inside, "b", "days_since_active"), 0.0);
    assert_eq!(value(&outside, "b", "days_since_active"), 8.0);
    assert_eq!(value(&inside, "b", "events_7d"), 1.0);
    assert_eq!(value(&outside, "b", "events_7d"), 0.0);
    assert!(!inside_outcomes.contains_key("b"));
    assert_eq!(outside_outcomes["b"].active_days_next, 1);
}

#[tokio::test]
async fn values_by_hand() {
    let (features, _) = read(&past()).await;
    let a = |name| value(&features, "a", name);
    assert_eq!(a("tenure_days"), 18.0, "first seen 02-20");
    assert_eq!(a("days_since_active"), 0.0);
    assert_eq!(a("last_gap_days"), 2.0, "03-08 to 03-10");
    assert_eq!(a("days_since_partner"), 18.0);
    assert!(value(&features, "b", "days_since_partner").is_nan(), "never at the partner: missing");
    assert_eq!((a("active_days_7d"), a("active_days_28d")), (2.0, 3.0));
    assert_eq!((a("events_7d"), a("events_prev21d")), (3.0, 2.0));
    assert_eq!((a("plays_7d"), a("losses_7d"), a("game_net_7d")), (1.0, 1.0, -10.0));
    assert_eq!((a("partner_visits_28d"), a("partner_visits_7d")), (1.0, 0.0));
    assert_eq!(a("balance"), 70.0);
    assert_eq!(a("balance_change_7d"), -30.0, "100 a week before, 70 now");
    assert_eq!(a("last_day_events"), 1.0);
    assert_eq!(a("losses_since_win"), 1.0, "no win in the window: every loss in it");
    assert!(a("days_since_win").is_nan());
    assert!((a("quiet_spell_chance") - 1.0).abs() < 1e-12, "active today: no quiet spell");
    let b = |name| value(&features, "b", name);
    // b: 1 active day of 9 since 03-02, quiet for 8 days: (1 − 2/11)^8.
    assert!((b("quiet_spell_chance") - (1.0f64 - 2.0 / 11.0).powi(8)).abs() < 1e-12);
    assert!((a("active_share_28d") - 3.0 / 19.0).abs() < 1e-12, "3 active days of the 19 since signing up");
}

#[tokio::test]
async fn written_features_read_back() {
    let dir = lake_of(&past());
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let features = analytics.features(day_number(AS_OF)).await.unwrap();
    let path = write_features(dir.path(), &features).unwrap();
    assert!(path.ends_with("features/as_of=2026-03-10/features.parquet"), "{}", path.display());
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, features.users.len());
    assert_eq!(analytics.last_event_day(), Some(day_number(AS_OF)));
}

#[tokio::test]
async fn purchase_days_by_hand() {
    let spend = |amount: i64| json!({"amount": amount, "sink": "item", "paid": false});
    let events: Vec<Ev> = vec![
        ("s", at("2026-03-01T03:00:00Z"), "SPEND_CYBER_TOKENS", spend(10)),
        ("s", at("2026-03-03T03:00:00Z"), "SPEND_CYBER_TOKENS", spend(5)),
        ("s", at("2026-03-03T04:00:00Z"), "SPEND_CYBER_TOKENS", spend(15)),
        ("s", at("2026-03-08T03:00:00Z"), "SPEND_CYBER_TOKENS", spend(40)),
        ("s", at("2026-03-10T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(99)),
        ("c", at("2026-03-05T03:00:00Z"), "PURCHASE_TOKENS", json!({"tokens": 500, "cash_amount": 5000})),
        ("old", at("2026-01-05T03:00:00Z"), "SPEND_CYBER_TOKENS", spend(7)),
    ];
    let dir = lake_of(&events);
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let day = day_number(AS_OF);
    let spent = analytics.purchase_days(day, Amount::Spend).await.unwrap();
    // Days with spend 03-01, 03-03 (two spends), 03-08; the spend after the day is not read.
    let s = spent["s"];
    assert_eq!((s.x, s.t_x, s.t), (2.0, 7.0, 9.0));
    assert_eq!(s.repeat_mean, Some(30.0), "(20 + 40) / 2 repeat days");
    assert_eq!(s.last_30d, 70.0);
    assert_eq!(spent["old"].last_30d, 0.0, "January is outside the 30 days");
    assert_eq!(spent["old"].repeat_mean, None);
    assert!(!spent.contains_key("c"), "a purchase of tokens is no spend");
    let cash = analytics.purchase_days(day, Amount::Cash).await.unwrap();
    assert_eq!((cash["c"].x, cash["c"].t, cash["c"].last_30d), (0.0, 5.0, 5000.0));
    assert_eq!(cash.len(), 1);
}

/// The quiz risk profile comes from the latest night up to the day: a later night's does not
/// reach back, and a user the night recorded without one has none.
#[tokio::test]
async fn the_risk_profile_is_the_latest_nights_up_to_the_day() {
    let dir = lake_of(&past());
    let night = |user: &str, risk: Option<&str>| crate::nights::NightRow {
        user_id: user.into(),
        segment: "Low".into(),
        risk_profile: risk.map(str::to_owned),
        recency_days: 0,
        frequency: 1,
        monetary: 0,
        tokens_spent: 0,
    };
    let day = day_number(AS_OF);
    let risk = |features: &Features, user: &str| value(features, user, "quiz_risk_level");
    let read = || async {
        Analytics::open(dir.path(), &Settings::default()).await.unwrap().features(day).await.unwrap()
    };
    assert!(risk(&read().await, "a").is_nan(), "before any night");
    crate::nights::write_night(dir.path(), day - 3, &[night("a", Some("Low-Risk")), night("b", None)])
        .unwrap();
    crate::nights::write_night(dir.path(), day - 1, &[night("a", Some("High-Risk")), night("b", None)])
        .unwrap();
    crate::nights::write_night(
        dir.path(),
        day + 1,
        &[night("a", Some("Moderate-Risk")), night("b", Some("Low-Risk"))],
    )
    .unwrap();
    let features = read().await;
    assert_eq!(risk(&features, "a"), 2.0, "the night before the day: High-Risk");
    assert!(risk(&features, "b").is_nan(), "no answer by then");
    crate::nights::write_night(dir.path(), day, &[night("a", Some("Moderate-Risk"))]).unwrap();
    assert_eq!(risk(&read().await, "a"), 1.0, "the day's own night");
}
