//! Rolling up incrementally, late events, rebuilds and interrupted commits.

use std::path::Path;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::analytics::Analytics;
use crate::testing::{Ev, at, contents, day_number, export, lake_of};

async fn roll(root: &Path) -> (Analytics, RollupReport) {
    Analytics::roll_up(root, &Settings::default(), None).await.unwrap()
}

fn stored_files(root: &Path, table: &str) -> usize {
    crate::manifest::data_files(&root.join("rollups").join(table)).map_or(0, |f| f.len())
}

fn play(user: &'static str, ts: &str) -> Ev {
    (user, at(ts), "GAME_PLAY", json!({"game": "slot", "bet": 10, "payout": 0, "result": "lose"}))
}

#[tokio::test]
async fn a_night_rolls_only_the_days_that_received_events() {
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z"), play("b", "2026-03-02T03:00:00Z")]);
    let (_, first) = roll(dir.path()).await;
    let (d1, d2, d3) = (day_number("2026-03-01"), day_number("2026-03-02"), day_number("2026-03-03"));
    assert_eq!(first.days(), [d1, d2]);
    assert_eq!(first.tables["daily"].days, [d1, d2], "the running table rolls every day with input");

    let (_, nothing) = roll(dir.path()).await;
    assert!(nothing.tables.values().all(|t| t.days.is_empty() && t.rows == 0), "{nothing:?}");

    // A new day, and a late event for the first one: those two days re-roll; the daily
    // table re-rolls from the earliest of them to the end.
    export(dir.path(), &[play("c", "2026-03-03T03:00:00Z"), play("c", "2026-03-01T05:00:00Z")], 10);
    let (analytics, next) = roll(dir.path()).await;
    assert_eq!(next.days(), [d1, d3]);
    assert_eq!(next.tables["daily"].days, [d1, d2, d3]);
    assert_eq!(stored_files(dir.path(), "user_days"), 3, "one file per day, the replaced ones gone");
    let dau = analytics.query("SELECT business_day, dau, new_users FROM daily ORDER BY business_day").await;
    let dau = crate::kpis::table_of(&dau.unwrap()).unwrap().rows;
    assert_eq!(
        dau,
        [
            vec![json!("2026-03-01"), json!(2), json!(2)],
            vec![json!("2026-03-02"), json!(1), json!(1)],
            vec![json!("2026-03-03"), json!(1), json!(0)],
        ],
        "c's first day moved back to 03-01 with the late event"
    );
}

#[tokio::test]
async fn a_reader_sees_exported_events_before_they_are_rolled_up() {
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z")]);
    roll(dir.path()).await;
    export(dir.path(), &[play("b", "2026-03-01T04:00:00Z"), play("b", "2026-03-02T04:00:00Z")], 10);
    let reader = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let rolled = roll(dir.path()).await.0;
    assert_eq!(contents(&reader).await, contents(&rolled).await, "the tail computed on the fly");
}

#[tokio::test]
async fn an_interrupted_roll_up_leaves_the_tables_whole() {
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z"), play("b", "2026-03-02T03:00:00Z")]);
    let before = contents(&roll(dir.path()).await.0).await;
    // Killed after writing a day's new file, before the manifest: a leftover no manifest names.
    let table = dir.path().join("rollups/user_days");
    let stray = table.join("date=2026-03-01/part-00000000000000000099.parquet");
    std::fs::copy(table.join("date=2026-03-02/part-00000000000000000000.parquet"), &stray).unwrap();
    let reader = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    assert_eq!(contents(&reader).await, before, "a reader reads only what manifests name");
    assert!(stray.exists(), "a reader never deletes: a writer may be mid-commit");
    let (writer, report) = roll(dir.path()).await;
    assert!(!stray.exists(), "the next writer removes the leftover");
    assert!(report.days().is_empty());
    assert_eq!(contents(&writer).await, before);
}

#[tokio::test]
async fn changed_settings_re_roll_the_tables_that_use_them() {
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z")]);
    roll(dir.path()).await;
    let other = Settings { churn_days: 3, ..Settings::default() };
    let (_, report) = Analytics::roll_up(dir.path(), &other, None).await.unwrap();
    assert!(report.days().is_empty(), "user_days does not depend on the churn window");
    assert_eq!(report.tables["daily"].days, [day_number("2026-03-01")]);
    assert!(report.tables["user_state"].days.is_empty(), "nor user_state");

    // The RFM window and what F counts are folded into user_state (and daily reads it).
    for changed in [
        Settings { window_days: 7, ..other.clone() },
        Settings { frequency_types: vec!["GAME_PLAY".into()], window_days: 7, ..other.clone() },
    ] {
        let (_, report) = Analytics::roll_up(dir.path(), &changed, None).await.unwrap();
        assert!(report.tables["user_days"].days.is_empty());
        assert_eq!(report.tables["user_state"].days, [day_number("2026-03-01")], "{changed:?}");
    }
}

#[tokio::test]
async fn a_new_version_of_a_table_s_sql_re_rolls_every_day_of_it() {
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z"), play("a", "2026-03-02T03:00:00Z")]);
    roll(dir.path()).await;
    let user_days = TABLES[0];
    let inputs = crate::events::EventLake::files_by_day(dir.path()).unwrap();
    let stale = |table: &Table| {
        let dir = TableDir::open(dir.path(), table.name, false).unwrap();
        dir.stale_days(table, &inputs, &Settings::default(), None, &BTreeSet::new())
    };
    assert!(stale(&user_days).is_empty(), "rolled with this SQL");
    let changed = Table { sql: "-- a new column\nSELECT 1", ..user_days };
    let days = [day_number("2026-03-01"), day_number("2026-03-02")];
    assert_eq!(stale(&changed), BTreeSet::from(days), "rolled with another SQL");
}

#[tokio::test]
async fn a_night_run_again_re_rolls_the_moves_of_the_nights_after_it() {
    use crate::nights::{NightRow, write_night};
    let dir = lake_of(&[play("a", "2026-03-01T03:00:00Z")]);
    let night = |segment: &str| {
        vec![NightRow {
            user_id: "a".into(),
            segment: segment.into(),
            risk_profile: None,
            recency_days: 0,
            frequency: 1,
            monetary: 0,
            tokens_spent: 0,
        }]
    };
    let (d1, d2) = (day_number("2026-03-01"), day_number("2026-03-02"));
    write_night(dir.path(), d1, &night("Low")).unwrap();
    write_night(dir.path(), d2, &night("Whale")).unwrap();
    roll(dir.path()).await;
    // The older night re-run after the newer one: the newer night's moves start from it.
    write_night(dir.path(), d1, &night("Medium")).unwrap();
    let (analytics, report) = roll(dir.path()).await;
    assert_eq!(report.tables["night_moves"].days, [d1, d2]);
    let moves =
        analytics.query(&format!("SELECT from_segment FROM night_moves WHERE business_day = {d2}")).await;
    assert_eq!(crate::kpis::table_of(&moves.unwrap()).unwrap().rows, [vec![json!("Medium")]]);
}

const USERS: [&str; 3] = ["u1", "u2", "u3"];

fn random_event() -> impl Strategy<Value = Ev> {
    (0..3usize, 0..(20 * 24i64), 0..4usize, 1..300i64).prop_map(|(u, hour, k, amount)| {
        let ts = at("2026-03-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
        let (kind, props) = match k {
            0 => ("EARN_CYBER_TOKENS", json!({"amount": amount, "source": "partner"})),
            1 => ("SPEND_CYBER_TOKENS", json!({"amount": amount, "sink": "game", "paid": amount % 2 == 0})),
            2 => ("PURCHASE_TOKENS", json!({"tokens": amount, "cash_amount": amount * 100})),
            _ => ("PROPOSAL_IMPRESSION", json!({"proposal_id": format!("p{}", amount % 3)})),
        };
        (USERS[u], ts, kind, props)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    /// Events exported in several commits (late ones included), rolled up after each:
    /// the same rows as one roll-up of everything, and as a rebuild of every day. The RFM
    /// window is a week, so days leave the folded window inside the 20 days of events.
    #[test]
    fn incremental_roll_ups_equal_a_rebuild(
        events in prop::collection::vec(random_event(), 1..60),
        cuts in prop::collection::vec(0..60usize, 3),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let settings = Settings { window_days: 7, ..Settings::default() };
        runtime.block_on(async {
            let roll = async |root: &Path| Analytics::roll_up(root, &settings, None).await.unwrap();
            let incremental = tempfile::tempdir().unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(events.len())).collect();
            cuts.push(events.len());
            cuts.sort();
            let mut done = 0;
            for cut in cuts {
                export(incremental.path(), &events[done..cut], done);
                roll(incremental.path()).await;
                done = cut;
            }
            let once = lake_of(&events);
            let expected = contents(&roll(once.path()).await.0).await;
            let (rebuilt, _) =
                Analytics::roll_up(incremental.path(), &settings, Some((i32::MIN, i32::MAX))).await.unwrap();
            assert_eq!(contents(&rebuilt).await, expected);
            assert_eq!(contents(&roll(incremental.path()).await.0).await, expected);
        });
    }
}
