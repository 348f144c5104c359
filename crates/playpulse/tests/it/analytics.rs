//! The analytics API against direct counts of the operational store's events, on a
//! simulated history, and its answers to bad parameters.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use playpulse::commands::import::import_file;
use playpulse_core::time::BusinessZone;
use playpulse_store::{ExportMark, MAX_EXPORT_PAGE};
use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, simulate};

on_both_backends!(kpis_equal_direct_counts_from_the_store, bad_parameters_are_named);

const START: &str = "2026-03-01";
const LAST: &str = "2026-03-20";

/// What the store holds, counted directly: per business day, the users active, and sums.
#[derive(Default)]
struct Direct {
    active: BTreeMap<Date, BTreeSet<String>>,
    first_day: BTreeMap<String, Date>,
    revenue: BTreeMap<Date, i64>,
    payers: BTreeMap<Date, BTreeSet<String>>,
    earned: BTreeMap<(Date, String), i64>,
    spent: BTreeMap<(Date, String), i64>,
    partner_visits: i64,
    /// Events per (weekday, business hour).
    hours: BTreeMap<(i64, i64), i64>,
}

impl Direct {
    async fn of(app: &TestApp) -> Direct {
        let zone = BusinessZone::default();
        let mut direct = Direct::default();
        let mut mark = ExportMark::default();
        loop {
            let page = app.state.store.events_after(mark, MAX_EXPORT_PAGE).await.unwrap();
            if page.events.is_empty() {
                break;
            }
            for e in page.events {
                let at = jiff::Timestamp::from_millisecond(e.ts_ms).unwrap().to_zoned(zone.tz().clone());
                let day = at.date();
                let weekday = i64::from(at.weekday().to_monday_zero_offset());
                *direct.hours.entry((weekday, i64::from(at.hour()))).or_default() += 1;
                let props: Value = serde_json::from_str(&e.props).unwrap();
                let amount = |name: &str| props[name].as_i64().unwrap_or(0);
                direct.active.entry(day).or_default().insert(e.user_id.clone());
                let first = direct.first_day.entry(e.user_id.clone()).or_insert(day);
                *first = (*first).min(day);
                match e.event_type.as_str() {
                    "PURCHASE_TOKENS" => {
                        *direct.revenue.entry(day).or_default() += amount("cash_amount");
                        direct.payers.entry(day).or_default().insert(e.user_id.clone());
                    }
                    "EARN_CYBER_TOKENS" => {
                        let source = props["source"].as_str().unwrap_or("").to_owned();
                        *direct.earned.entry((day, source)).or_default() += amount("amount");
                    }
                    "SPEND_CYBER_TOKENS" => {
                        let sink = props["sink"].as_str().unwrap_or("").to_owned();
                        *direct.spent.entry((day, sink)).or_default() += amount("amount");
                    }
                    "PARTNER_VISIT" => direct.partner_visits += 1,
                    _ => {}
                }
            }
            mark = page.next;
        }
        direct
    }

    /// Users active on any day from `from` to `to`.
    fn active_between(&self, from: Date, to: Date) -> BTreeSet<&String> {
        self.active.range(from..=to).flat_map(|(_, users)| users).collect()
    }

    fn window(&self, day: Date, days: i64) -> usize {
        self.active_between(day.checked_sub(jiff::Span::new().days(days - 1)).unwrap(), day).len()
    }

    /// (base, churned) of day d, N = 7: active in (d - 14, d - 7], and of them not in (d - 7, d].
    fn churn(&self, day: Date) -> (usize, usize) {
        let back = |n: i64| day.checked_sub(jiff::Span::new().days(n)).unwrap();
        let base = self.active_between(back(13), back(7));
        let recent = self.active_between(back(6), day);
        (base.len(), base.difference(&recent).count())
    }
}

async fn metric(app: &TestApp, name: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/analytics/{name}?from={START}&to={LAST}{query}")).await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    body["rows"].as_array().unwrap().clone()
}

async fn kpis_equal_direct_counts_from_the_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sim = tempfile::tempdir().unwrap();
    simulate(sim.path(), &["--users", "200", "--days", "20", "--seed", "5", "--start", START]);
    import_file(&app.state, &sim.path().join("events.parquet")).await.unwrap();
    let report = app.batch(LAST.parse().unwrap()).await.unwrap();
    let direct = Direct::of(&app).await;
    let days: Vec<Date> = direct.active.keys().copied().collect();
    assert_eq!(days.len(), 20, "the history covers every day");
    let int = |row: &Value, column: &str| row[column].as_i64().unwrap_or_else(|| panic!("{column} in {row}"));
    let day_of = |row: &Value| row["period"].as_str().unwrap().parse::<Date>().unwrap();

    let active = metric(&app, "active_users", "").await;
    let new_users = metric(&app, "new_users", "").await;
    let churn = metric(&app, "churn", "").await;
    let revenue = metric(&app, "revenue", "").await;
    let flow = metric(&app, "token_flow", "").await;
    assert_eq!([active.len(), new_users.len(), churn.len(), revenue.len(), flow.len()], [20; 5]);
    for (i, &day) in days.iter().enumerate() {
        let dau = direct.active[&day].len() as i64;
        assert_eq!(day_of(&active[i]), day);
        assert_eq!(active[i]["dau"].as_f64().unwrap(), dau as f64, "{day}");
        assert_eq!(int(&active[i], "wau"), direct.window(day, 7) as i64, "{day}");
        assert_eq!(int(&active[i], "mau"), direct.window(day, 30) as i64, "{day}");
        let new = direct.first_day.values().filter(|d| **d == day).count() as i64;
        assert_eq!(int(&new_users[i], "new_users"), new, "{day}");
        let (base, churned) = direct.churn(day);
        assert_eq!((int(&churn[i], "churn_base"), int(&churn[i], "churned")), (base as i64, churned as i64));
        assert_eq!(int(&revenue[i], "revenue"), direct.revenue.get(&day).copied().unwrap_or(0), "{day}");
        let payers = direct.payers.get(&day).map_or(0, BTreeSet::len) as i64;
        assert_eq!(int(&revenue[i], "payers"), payers, "{day}");
        for (column, key) in
            [("earned_partner", "partner"), ("earned_app", "app"), ("earned_reward", "reward")]
        {
            let expected = direct.earned.get(&(day, key.to_owned())).copied().unwrap_or(0);
            assert_eq!(int(&flow[i], column), expected, "{column} {day}");
        }
        for (column, key) in [("spent_game", "game"), ("spent_unlock", "unlock"), ("spent_item", "item")] {
            let expected = direct.spent.get(&(day, key.to_owned())).copied().unwrap_or(0);
            assert_eq!(int(&flow[i], column), expected, "{column} {day}");
        }
    }
    assert!(direct.revenue.values().sum::<i64>() > 0, "the history has purchases to compare");

    let partner = metric(&app, "partner", "&granularity=month").await;
    assert_eq!(partner.iter().map(|r| int(r, "visits")).sum::<i64>(), direct.partner_visits);
    let earned_partner: i64 = direct.earned.iter().filter(|((_, s), _)| s == "partner").map(|(_, n)| n).sum();
    assert_eq!(partner.iter().map(|r| int(r, "tokens")).sum::<i64>(), earned_partner);
    let peak = metric(&app, "peak_hours", "").await;
    let peak: BTreeMap<(i64, i64), i64> =
        peak.iter().map(|r| ((int(r, "weekday"), int(r, "business_hour")), int(r, "events"))).collect();
    assert_eq!(peak, direct.hours, "events by weekday and hour in Seoul");

    // The night's segment mix is the batch's report.
    let mix = metric(&app, "segment_mix", "").await;
    let mix: BTreeMap<String, u64> = mix
        .iter()
        .map(|r| (r["segment"].as_str().unwrap().to_owned(), r["users"].as_u64().unwrap()))
        .collect();
    assert_eq!(mix, report.users.iter().map(|(s, n)| (s.clone(), *n)).collect());

    // Retention, first-time daily cohorts over any event: returned on day N exactly and on
    // day N or later, as the store's events say.
    let (status, body) = app.get(&format!("/v1/analytics/retention?from={START}&to={LAST}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let last: Date = LAST.parse().unwrap();
    for cohort in body["cohorts"].as_array().unwrap() {
        let start: Date = cohort["cohort"].as_str().unwrap().parse().unwrap();
        let members: BTreeSet<&String> =
            direct.first_day.iter().filter(|(_, d)| **d == start).map(|(u, _)| u).collect();
        assert_eq!(cohort["users"].as_u64(), Some(members.len() as u64), "{start}");
        for cell in cohort["periods"].as_array().unwrap() {
            let n = cell["period"].as_i64().unwrap();
            let day = start.checked_add(jiff::Span::new().days(n)).unwrap();
            let exact = members.iter().filter(|u| direct.active.get(&day).is_some_and(|a| a.contains(**u)));
            let later = members.iter().filter(|u| direct.active_between(day, last).contains(**u));
            assert_eq!(cell["returned"].as_u64(), Some(exact.count() as u64), "{start} +{n}");
            assert_eq!(cell["returned_on_or_after"].as_u64(), Some(later.count() as u64), "{start} +{n}");
            assert_eq!(cell["complete"], day <= last);
        }
    }

    // CSV: a header row, then the same rows.
    let response = app
        .client
        .get(format!("{}/v1/analytics/active_users?from={START}&to={LAST}", app.base))
        .bearer_auth(&app.key)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "period,dau,wau,mau,stickiness");
    assert_eq!(lines.len(), 21);
    assert!(lines[1].starts_with(&format!("{START},{}", direct.active[&days[0]].len())), "{}", lines[1]);

    // A segment filter counts only that segment's users.
    let top = report.users.keys().next().unwrap();
    let filtered = metric(&app, "active_users", &format!("&segment={}", top.replace(' ', "%20"))).await;
    let members: BTreeSet<String> = direct.first_day.keys().cloned().collect();
    assert!(filtered.iter().all(|r| r["dau"].as_f64().unwrap() <= members.len() as f64));
    app.stop().await;
}

async fn bad_parameters_are_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        ("/v1/analytics/dau", StatusCode::NOT_FOUND, "unknown_metric", None),
        (
            "/v1/analytics/active_users?from=2026-03-05&to=2026-03-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
            Some("from"),
        ),
        (
            "/v1/analytics/active_users?to=yesterday",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_date",
            Some("to"),
        ),
        (
            "/v1/analytics/active_users?from=2026-02-30",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_date",
            Some("from"),
        ),
        (
            "/v1/analytics/active_users?from=1900-01-01&to=2026-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
            Some("from"),
        ),
        (
            "/v1/analytics/revenue?granularity=year",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_granularity",
            Some("granularity"),
        ),
        (
            "/v1/analytics/revenue?segment=Dolphin",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_segment",
            Some("segment"),
        ),
        (
            "/v1/analytics/revenue?risk_profile=Risky",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_risk_profile",
            Some("risk_profile"),
        ),
        (
            "/v1/analytics/revenue?segment=Low&risk_profile=High-Risk",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
            Some("risk_profile"),
        ),
        (
            "/v1/analytics/segment_mix?segment=Low",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
            Some("segment"),
        ),
        (
            "/v1/analytics/retention?cohort_type=weekly",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cohort_type",
            Some("cohort_type"),
        ),
        (
            "/v1/analytics/retention?start_event=NOPE%00",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event_type",
            Some("start_event"),
        ),
        (
            "/v1/analytics/retention?return_event=MY_CUSTOM",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event_type",
            Some("return_event"),
        ),
    ];
    for (path, status, code, item) in cases {
        let (got, body) = app.get(path).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{path}: {body}");
        assert_eq!(body["item"].as_str(), item, "{path}: {body}");
    }
    // An empty lake answers with empty days, not an error.
    let (status, body) = app.get("/v1/analytics/active_users?from=2026-03-01&to=2026-03-03").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get_as("/v1/analytics/active_users", "not a key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// `playpulse rollup` on the command line: a first run rolls every day, a second none, a
/// rebuild exactly its range.
#[test]
fn the_rollup_command_rolls_what_changed_and_rebuilds_a_range() {
    let data = tempfile::tempdir().unwrap();
    let sim = tempfile::tempdir().unwrap();
    simulate(sim.path(), &["--users", "50", "--days", "10", "--seed", "6", "--start", START]);
    let playpulse = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_playpulse"))
            .args(args)
            .args(["--data-dir", data.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let user_days = |out: &str| -> String {
        let line =
            out.lines().find(|l| l.starts_with("rollup table=user_days ")).unwrap_or_else(|| panic!("{out}"));
        line.split_whitespace().find_map(|kv| kv.strip_prefix("days=")).unwrap().to_owned()
    };
    playpulse(&["import", sim.path().join("events.parquet").to_str().unwrap()]);
    assert_eq!(user_days(&playpulse(&["rollup"])), "10");
    let again = playpulse(&["rollup"]);
    assert!(again.lines().all(|l| l.contains(" days=0 ")), "{again}");
    let rebuilt = playpulse(&["rollup", "--rebuild", "--from", "2026-03-03", "--to", "2026-03-05"]);
    assert_eq!(user_days(&rebuilt), "3", "{rebuilt}");
    assert!(rebuilt.contains("span=2026-03-03..2026-03-05"), "{rebuilt}");
}
