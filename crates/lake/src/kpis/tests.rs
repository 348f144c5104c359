//! Every KPI against hand-computed fixtures, and the daily table against a direct Rust
//! computation over random events.

use serde_json::json;

use std::collections::{BTreeMap, BTreeSet};

use playpulse_core::analytics::{Activity, Cohort, RetentionQuery};
use proptest::prelude::*;

use super::*;
use crate::testing::{Ev, at, day_number, lake_of};

fn query(metric: Metric, from: &str, to: &str, granularity: Granularity) -> KpiQuery {
    KpiQuery {
        metric,
        from: day_number(from),
        to: day_number(to),
        granularity,
        population: Population::All,
        top_segment: "Whale".into(),
    }
}

async fn kpi(events: &[Ev], query: &KpiQuery) -> KpiTable {
    let dir = lake_of(events);
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    analytics.kpi(query, &Settings::default()).await.unwrap()
}

fn column(table: &KpiTable, name: &str) -> Vec<Value> {
    let i = table
        .columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("{name} in {:?}", table.columns));
    table.rows.iter().map(|r| r[i].clone()).collect()
}

#[tokio::test]
async fn every_metric_runs_on_an_empty_and_a_small_lake() {
    let events: Vec<Ev> = vec![("a", at("2026-03-01T03:00:00Z"), "SESSION_START", json!({}))];
    for metric in Metric::ALL {
        for lake in [&events[..], &[]] {
            let q = query(metric, "2026-02-01", "2026-03-31", Granularity::Week);
            let dir = lake_of(lake);
            let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
            analytics.kpi(&q, &Settings::default()).await.unwrap_or_else(|e| panic!("{metric:?}: {e}"));
        }
    }
}

/// u1 on Sunday 03-01 at 23:59:59 in Seoul and 1 s later (03-02, a purchase); u2 only on its
/// cohort day; u3 on 03-03 and 03-10; nothing from 03-04 to 03-09.
fn fixture() -> Vec<Ev> {
    vec![
        ("u1", at("2026-03-01T14:59:59Z"), "SESSION_START", json!({})),
        ("u1", at("2026-03-01T15:00:00Z"), "PURCHASE_TOKENS", json!({"tokens": 100, "cash_amount": 1000})),
        ("u2", at("2026-03-01T03:00:00Z"), "GAME_PLAY", json!({"game": "slot", "bet": 5, "result": "lose"})),
        ("u3", at("2026-03-03T03:00:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 70, "source": "partner"})),
        ("u3", at("2026-03-10T03:00:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 30, "sink": "unlock"})),
    ]
}

fn ints(values: Vec<Value>) -> Vec<i64> {
    values.iter().map(|v| v.as_i64().unwrap()).collect()
}

#[tokio::test]
async fn active_users_new_users_and_churn_by_hand() {
    let daily =
        kpi(&fixture(), &query(Metric::ActiveUsers, "2026-03-01", "2026-03-10", Granularity::Day)).await;
    assert_eq!(column(&daily, "period")[0], json!("2026-03-01"));
    let dau: Vec<f64> = column(&daily, "dau").iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(dau, [2.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "empty days count 0");
    assert_eq!(ints(column(&daily, "wau")), [2, 2, 3, 3, 3, 3, 3, 2, 1, 1]);
    assert_eq!(ints(column(&daily, "mau")), [2, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
    let new = kpi(&fixture(), &query(Metric::NewUsers, "2026-03-01", "2026-03-10", Granularity::Day)).await;
    assert_eq!(ints(column(&new, "new_users")), [2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let churn = kpi(&fixture(), &query(Metric::Churn, "2026-03-08", "2026-03-10", Granularity::Day)).await;
    // 03-08: of u1, u2 (active 02-23 … 03-01), u2 has no event 03-02 … 03-08.
    // 03-09: of u1, u2 (active 02-24 … 03-02), neither has one 03-03 … 03-09.
    // 03-10: of u1, u2, u3 (active 02-25 … 03-03), u1 and u2 have none 03-04 … 03-10.
    assert_eq!(ints(column(&churn, "churn_base")), [2, 2, 3]);
    assert_eq!(ints(column(&churn, "churned")), [1, 2, 2]);
    assert_eq!(column(&churn, "churn_rate")[2], json!(2.0 / 3.0));

    // Weeks run Monday to Sunday: 03-01 is a Sunday, alone in its week within the range.
    let weekly =
        kpi(&fixture(), &query(Metric::ActiveUsers, "2026-03-01", "2026-03-10", Granularity::Week)).await;
    assert_eq!(column(&weekly, "period"), [json!("2026-02-23"), json!("2026-03-02"), json!("2026-03-09")]);
    assert_eq!(column(&weekly, "dau"), [json!(2.0), json!(2.0 / 7.0), json!(0.5)]);
    assert_eq!(ints(column(&weekly, "wau")), [2, 2, 1], "on each week's last day in range");
    let monthly =
        kpi(&fixture(), &query(Metric::NewUsers, "2026-02-01", "2026-03-10", Granularity::Month)).await;
    assert_eq!(column(&monthly, "period"), [json!("2026-02-01"), json!("2026-03-01")], "February is empty");
    assert_eq!(ints(column(&monthly, "new_users")), [0, 3]);
}

#[tokio::test]
async fn money_and_tokens_by_hand() {
    let revenue =
        kpi(&fixture(), &query(Metric::Revenue, "2026-03-01", "2026-03-10", Granularity::Month)).await;
    assert_eq!(ints(column(&revenue, "revenue")), [1000]);
    assert_eq!(ints(column(&revenue, "payers")), [1]);
    assert_eq!(ints(column(&revenue, "active_users")), [3]);
    assert_eq!(column(&revenue, "arppu"), [json!(1000.0)]);
    // Five active user-days in the month.
    assert_eq!(column(&revenue, "arpdau"), [json!(200.0)]);
    // A week cut by the range counts only its days in range: from Tuesday 03-03, u1 (last
    // seen on Monday, when it paid) is neither active nor a payer in the first week.
    let cut = kpi(&fixture(), &query(Metric::Revenue, "2026-03-03", "2026-03-10", Granularity::Week)).await;
    assert_eq!(column(&cut, "period"), [json!("2026-03-02"), json!("2026-03-09")]);
    assert_eq!(ints(column(&cut, "active_users")), [1, 1]);
    assert_eq!(ints(column(&cut, "payers")), [0, 0]);
    let cut = kpi(&fixture(), &query(Metric::Revenue, "2026-03-03", "2026-03-10", Granularity::Month)).await;
    assert_eq!((ints(column(&cut, "active_users")), ints(column(&cut, "payers"))), (vec![1], vec![0]));
    let whole = kpi(&fixture(), &query(Metric::Revenue, "2026-03-02", "2026-03-10", Granularity::Week)).await;
    assert_eq!(ints(column(&whole, "active_users")), [2, 1]);
    assert_eq!(ints(column(&whole, "payers")), [1, 0]);
    let reached =
        kpi(&fixture(), &query(Metric::Partner, "2026-03-04", "2026-03-10", Granularity::Week)).await;
    assert_eq!(ints(column(&reached, "users")), [0, 0], "u3 was reached on 03-03, before the range");
    let flow =
        kpi(&fixture(), &query(Metric::TokenFlow, "2026-03-01", "2026-03-10", Granularity::Month)).await;
    assert_eq!(ints(column(&flow, "earned_partner")), [70]);
    assert_eq!(ints(column(&flow, "spent_unlock")), [30]);
    assert_eq!(ints(column(&flow, "net_flow")), [70 + 100 - 30]);
    let partner =
        kpi(&fixture(), &query(Metric::Partner, "2026-03-01", "2026-03-10", Granularity::Month)).await;
    assert_eq!((ints(column(&partner, "tokens")), ints(column(&partner, "users"))), (vec![70], vec![1]));
    let peak = kpi(&fixture(), &query(Metric::PeakHours, "2026-03-01", "2026-03-10", Granularity::Day)).await;
    // u1's session at 23:59:59 on Sunday (weekday 6), its purchase at 00:00 on Monday.
    let cells: Vec<(i64, i64, i64)> = peak
        .rows
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap(), r[2].as_i64().unwrap()))
        .collect();
    assert!(cells.contains(&(6, 23, 1)) && cells.contains(&(0, 0, 1)), "{cells:?}");
    assert_eq!(cells.iter().map(|c| c.2).sum::<i64>(), 5);
}

#[test]
fn a_period_starts_on_a_monday_or_a_first_of_the_month() {
    let starts = |day: &str, granularity| starts_period(day_number(day), granularity).unwrap();
    assert!(starts("2026-03-02", Granularity::Week) && !starts("2026-03-03", Granularity::Week));
    assert!(starts("2026-03-01", Granularity::Month) && !starts("2026-03-02", Granularity::Month));
    assert!(starts("2026-03-03", Granularity::Day));
    // Before 1970 too (1969-12-29 was a Monday).
    assert!(starts("1969-12-29", Granularity::Week) && !starts("1969-12-31", Granularity::Week));
}

#[tokio::test]
async fn quiet_days_after_the_last_event_keep_their_active_users() {
    let dir = lake_of(&fixture());
    let today = day_number("2026-03-12");
    let analytics = Analytics::open_through(dir.path(), &Settings::default(), today).await.unwrap();
    let q = query(Metric::ActiveUsers, "2026-03-10", "2026-03-12", Granularity::Day);
    let table = analytics.kpi(&q, &Settings::default()).await.unwrap();
    assert_eq!(ints(column(&table, "mau")), [3, 3, 3]);
    assert_eq!(ints(column(&table, "wau")), [1, 1, 1]);
    assert_eq!(column(&table, "dau")[2], json!(0.0));
}

fn retention_query(granularity: Granularity, recurring: bool) -> RetentionQuery {
    RetentionQuery {
        granularity,
        from: "2026-02-23".parse().unwrap(),
        to: "2026-03-10".parse().unwrap(),
        last_day: "2026-03-10".parse().unwrap(),
        start: Activity::Any,
        returns: Activity::Any,
        recurring,
        offsets: (1..=7).chain([14, 30]).collect(),
        population: Population::All,
    }
}

/// (cohort, users, [(N, exact, on or after, complete)])
type Grid = Vec<(String, i64, Vec<(u32, i64, i64, bool)>)>;

async fn grid(query: &RetentionQuery) -> Grid {
    let dir = lake_of(&fixture());
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let cohorts = analytics.retention(query).await.unwrap();
    cohorts
        .into_iter()
        .map(|c| {
            let cells = c.periods.iter().map(|p| (p.offset, p.exact, p.on_or_after, p.complete)).collect();
            (c.start.to_string(), c.users, cells)
        })
        .collect()
}

#[tokio::test]
async fn daily_first_time_retention_by_hand() {
    let got = grid(&retention_query(Granularity::Day, false)).await;
    // 03-01: u1 and u2 first seen; u1 returns on day 1 (03-02) only, u2 never.
    let first: Vec<_> = (1..=7).map(|n| (n, i64::from(n == 1), i64::from(n == 1), true)).collect();
    // 03-03: u3 returns on day 7 (03-10), the last day of data: complete. Day 14 and 30 have
    // not begun and are left out.
    let third: Vec<_> = (1..=7).map(|n| (n, i64::from(n == 7), 1, true)).collect();
    assert_eq!(got, vec![("2026-03-01".into(), 2, first), ("2026-03-03".into(), 1, third)]);
}

#[tokio::test]
async fn weekly_and_recurring_retention_by_hand() {
    let mut weekly = retention_query(Granularity::Week, false);
    weekly.offsets = (1..=12).collect();
    // Week of 02-23: u1, u2 (03-01); u1 back in the week of 03-02, which has ended. Week of
    // 03-02: u3; back in the week of 03-09, still running on 03-10.
    assert_eq!(
        grid(&weekly).await,
        vec![
            ("2026-02-23".into(), 2, vec![(1, 1, 1, true), (2, 0, 0, false)]),
            ("2026-03-02".into(), 1, vec![(1, 1, 1, false)]),
        ]
    );
    // Recurring: a cohort per day with an event; u1 is in 03-01's and 03-02's.
    let recurring = grid(&retention_query(Granularity::Day, true)).await;
    let cohorts: Vec<(&str, i64)> = recurring.iter().map(|(c, n, _)| (c.as_str(), *n)).collect();
    assert_eq!(cohorts, [("2026-03-01", 2), ("2026-03-02", 1), ("2026-03-03", 1), ("2026-03-10", 1)]);
    // Returns of one type only: nobody bought anything after their first day.
    let mut purchases = retention_query(Granularity::Day, false);
    purchases.returns = Activity::parse("PURCHASE_TOKENS").unwrap();
    let got = grid(&purchases).await;
    assert_eq!(got[0].2[0], (1, 1, 1, true), "u1's purchase on 03-02 is a return on day 1");
    assert_eq!(got[1].2[6], (7, 0, 0, true));
}

#[tokio::test]
async fn a_segment_filter_counts_its_members_only() {
    let dir = lake_of(&fixture());
    let night = |user: &str, segment: &str| crate::nights::NightRow {
        user_id: user.into(),
        segment: segment.into(),
        risk_profile: Some("Low-Risk".into()).filter(|_| user == "u3"),
        recency_days: 0,
        frequency: 1,
        monetary: 0,
        tokens_spent: if user == "u3" { 30 } else { 0 },
    };
    let rows = [night("u1", "Low"), night("u2", "Low"), night("u3", "Whale")];
    crate::nights::write_night(dir.path(), day_number("2026-03-10"), &rows).unwrap();
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let mut q = query(Metric::ActiveUsers, "2026-03-01", "2026-03-10", Granularity::Month);
    q.population = Population::Segment("Whale".into());
    let whales = analytics.kpi(&q, &Settings::default()).await.unwrap();
    assert_eq!((ints(column(&whales, "mau")), column(&whales, "dau")), (vec![1], vec![json!(0.2)]));
    q.population = Population::RiskProfile("Low-Risk".into());
    assert_eq!(analytics.kpi(&q, &Settings::default()).await.unwrap(), whales, "u3 alone either way");
    q.population = Population::Segment("Nobody' OR TRUE --".into());
    let none = analytics.kpi(&q, &Settings::default()).await.unwrap();
    assert_eq!(ints(column(&none, "mau")), [0], "a name is a literal, never SQL");
    let share = query(Metric::WhaleShare, "2026-03-10", "2026-03-10", Granularity::Day);
    let share = analytics.kpi(&share, &Settings::default()).await.unwrap();
    assert_eq!(
        (column(&share, "user_share"), column(&share, "spend_share")),
        (vec![json!(1.0 / 3.0)], vec![json!(1.0)])
    );
}

const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];

fn random_event() -> impl Strategy<Value = Ev> {
    (0..4usize, 0..(40 * 24i64), 0..3usize, 1..500i64).prop_map(|(u, hour, k, amount)| {
        let ts = at("2026-03-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
        let (kind, props) = match k {
            0 => ("PURCHASE_TOKENS", json!({"tokens": amount, "cash_amount": amount * 10})),
            1 => ("EARN_CYBER_TOKENS", json!({"amount": amount, "source": "app"})),
            _ => ("SESSION_START", json!({})),
        };
        (USERS[u], ts, kind, props)
    })
}

/// The daily figures by their definitions, counted directly from the events.
fn direct_daily(events: &[Ev], from: i32, to: i32, n: i32) -> Vec<[i64; 12]> {
    let zone = playpulse_core::time::BusinessZone::default();
    let mut active: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    let mut revenue: BTreeMap<i32, i64> = BTreeMap::new();
    let mut payers: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    for (user, ts, kind, props) in events {
        let day = playpulse_core::time::epoch_day(zone.day_of(*ts));
        active.entry(day).or_default().insert(user);
        if *kind == "PURCHASE_TOKENS" {
            *revenue.entry(day).or_default() += props["cash_amount"].as_i64().unwrap();
            payers.entry(day).or_default().insert(user);
        }
    }
    fn users(of: &BTreeMap<i32, BTreeSet<&str>>, a: i32, b: i32) -> i64 {
        of.range(a..=b).flat_map(|(_, u)| u.iter().copied()).collect::<BTreeSet<_>>().len() as i64
    }
    let between = |a: i32, b: i32| -> BTreeSet<&str> {
        active.range(a..=b).flat_map(|(_, u)| u.iter().copied()).collect()
    };
    let monday = |d: i32| d - (d + 3) % 7;
    let first_of_month = |d: i32| {
        let date = crate::date_of(d).unwrap();
        d - i32::from(date.day()) + 1
    };
    let first = |user: &str| active.iter().find(|(_, u)| u.contains(user)).map(|(d, _)| *d);
    (from..=to)
        .map(|d| {
            let base = between(d - 2 * n + 1, d - n);
            let recent = between(d - n + 1, d);
            let today = active.get(&d).cloned().unwrap_or_default();
            [
                today.len() as i64,
                between(d - 6, d).len() as i64,
                between(d - 29, d).len() as i64,
                today.iter().filter(|u| first(u) == Some(d)).count() as i64,
                base.len() as i64,
                base.difference(&recent).count() as i64,
                payers.get(&d).map_or(0, BTreeSet::len) as i64,
                revenue.get(&d).copied().unwrap_or(0),
                users(&active, monday(d), d),
                users(&active, first_of_month(d), d),
                users(&payers, monday(d), d),
                users(&payers, first_of_month(d), d),
            ]
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn the_daily_table_agrees_with_direct_counts(
        events in prop::collection::vec(random_event(), 0..80),
        churn_days in 1..10u32,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let settings = Settings { churn_days, ..Settings::default() };
        let (from, to) = (day_number("2026-03-01"), day_number("2026-04-15"));
        let got: Vec<[i64; 12]> = runtime.block_on(async {
            let dir = lake_of(&events);
            let analytics = Analytics::open_through(dir.path(), &settings, to).await.unwrap();
            let columns = "dau, wau, mau, new_users, churn_base, churned, payers, revenue, \
                           active_week, active_month, payers_week, payers_month";
            let sql = format!(
                "SELECT c.business_day, {columns} FROM calendar c LEFT JOIN daily d USING (business_day) \
                 WHERE c.business_day BETWEEN {from} AND {to} ORDER BY c.business_day"
            );
            let table = table_of(&analytics.query(&sql).await.unwrap()).unwrap();
            table.rows.iter().map(|r| std::array::from_fn(|i| r[i + 1].as_i64().unwrap_or(0))).collect()
        });
        prop_assert_eq!(got, direct_daily(&events, from, to, churn_days as i32));
    }
}

/// The grid of `query` both ways: from the rollups (what `retention` answers) and from
/// every user-day (`retention.sql`).
async fn both_grids(analytics: &Analytics, query: &RetentionQuery) -> (Vec<Cohort>, Vec<Cohort>) {
    let rolled = analytics.retention(query).await.unwrap();
    let direct = analytics.grid(query, crate::retention::RETENTION_SQL).await.unwrap();
    (rolled, direct)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn the_rolled_retention_grid_equals_the_one_from_every_user_day(
        events in prop::collection::vec(random_event(), 0..80),
        first in 0..10i64,
        span in 0..40i64,
        last in 0..50i64,
        granularity in prop::sample::select(vec![Granularity::Day, Granularity::Week, Granularity::Month]),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let date = |n: i64| crate::date_of(day_number("2026-03-01") + i32::try_from(n).unwrap()).unwrap();
        let query = RetentionQuery {
            from: date(first),
            to: date(first + span),
            last_day: date(last),
            offsets: match granularity {
                Granularity::Day => (1..=7).chain([14, 30]).collect(),
                _ => (1..=12).collect(),
            },
            ..retention_query(granularity, false)
        };
        let (computed, committed) = runtime.block_on(async {
            let dir = lake_of(&events);
            let on_the_fly = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
            let computed = both_grids(&on_the_fly, &query).await;
            let (rolled, _) = Analytics::roll_up(dir.path(), &Settings::default(), None).await.unwrap();
            (computed, both_grids(&rolled, &query).await)
        });
        prop_assert_eq!(&computed.0, &computed.1, "rows computed on the fly");
        prop_assert_eq!(&committed.0, &committed.1, "rows committed");
    }
}
