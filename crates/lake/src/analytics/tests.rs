//! The analytics SQL against models computed from the same events.

use std::collections::BTreeMap;

use playpulse_core::time::BusinessZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::testing::{Ev, at, day_number, lake_of};

/// (figures, balance) per user.
type Figures = BTreeMap<String, (Rfm, i64)>;

fn figures(figures: Vec<UserFigures>) -> Figures {
    figures.into_iter().map(|f| (f.user_id, (f.rfm, f.balance))).collect()
}

/// RFM over a lake holding `events`, its rollups computed on the fly.
async fn read_rfm_of(events: &[Ev], settings: &Settings, query: &RfmQuery) -> Figures {
    let dir = lake_of(events);
    let reader = Analytics::open(dir.path(), settings).await.unwrap();
    figures(reader.rfm(query).await.unwrap())
}

/// The same, and equal to the figures over the rollups committed.
async fn rfm_of(events: &[Ev], settings: &Settings, query: &RfmQuery) -> Figures {
    let read = read_rfm_of(events, settings, query).await;
    let dir = lake_of(events);
    let (rolled, _) = Analytics::roll_up(dir.path(), settings, None).await.unwrap();
    assert_eq!(figures(rolled.rfm(query).await.unwrap()), read, "rolled up and read on the fly");
    read
}

fn window(window_days: u32) -> Settings {
    Settings { window_days, ..Settings::default() }
}

async fn seed_rfm_of(events: &[Ev], as_of: i32, window_days: u32) -> Figures {
    rfm_of(events, &window(window_days), &RfmQuery::seed(as_of)).await
}

/// The definition, directly: what the SQL must agree with.
fn model(events: &[Ev], settings: &Settings, query: &RfmQuery) -> Figures {
    let zone = BusinessZone::default();
    let (as_of, window) = (query.as_of_day, settings.window_days as i32);
    let mut out: BTreeMap<String, (i32, Rfm, i64)> = BTreeMap::new();
    for (user, ts, kind, props) in events {
        let day = playpulse_core::time::epoch_day(zone.day_of(*ts));
        if day > as_of {
            continue;
        }
        let (last, rfm, balance) = out.entry((*user).to_owned()).or_insert((i32::MIN, Rfm::default(), 0));
        *last = (*last).max(day);
        let amount = props["amount"].as_i64().unwrap_or(0);
        let partner = props["source"] == "partner";
        *balance += match *kind {
            "EARN_CYBER_TOKENS" => amount,
            "PURCHASE_TOKENS" => props["tokens"].as_i64().unwrap(),
            "SPEND_CYBER_TOKENS" => -amount,
            _ => 0,
        };
        if day <= as_of - window {
            continue;
        }
        if settings.frequency_types.is_empty() || settings.frequency_types.iter().any(|t| t == kind) {
            rfm.frequency += 1;
        }
        let paid = props["paid"] == true;
        rfm.monetary += match (*kind, query.monetary) {
            ("SPEND_CYBER_TOKENS", Monetary::TokensSpent) => amount,
            ("SPEND_CYBER_TOKENS", Monetary::PaidSpend) if paid => amount,
            ("EARN_CYBER_TOKENS", Monetary::PartnerEarnings) if partner => amount,
            _ => 0,
        };
        match *kind {
            "PARTNER_VISIT" => rfm.partner_visits += 1,
            "EARN_CYBER_TOKENS" if partner => rfm.partner_tokens += amount,
            _ => {}
        }
    }
    out.into_iter()
        .map(|(user, (last, mut rfm, balance))| {
            rfm.recency_days = i64::from(as_of - last);
            (user, (rfm, balance))
        })
        .collect()
}

#[tokio::test]
async fn window_edges_follow_seoul_midnight() {
    let spend = |n: i64| json!({"amount": n, "sink": "game"});
    let earn = |n: i64, source: &str| json!({"amount": n, "source": source});
    let events: Vec<Ev> = vec![
        ("a", at("2026-02-01T03:00:00Z"), "EARN_CYBER_TOKENS", earn(500, "app")),
        // 23:59:59 in Seoul on 03-01: the day before the window of 03-31.
        ("a", at("2026-03-01T14:59:59Z"), "SPEND_CYBER_TOKENS", spend(1)),
        // 00:00:00 in Seoul on 03-02: the window's first day.
        ("a", at("2026-03-01T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(10)),
        // 23:59:59 in Seoul on 03-31: the as-of day itself.
        ("a", at("2026-03-31T14:59:59Z"), "PARTNER_VISIT", json!({"dwell_s": 5, "actions": 1})),
        // 04-01 in Seoul: after the as-of day, unseen.
        ("a", at("2026-03-31T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(100)),
        // Last seen 40 days before: recency 40, nothing in the window.
        ("b", at("2026-02-19T03:00:00Z"), "EARN_CYBER_TOKENS", earn(5, "partner")),
        ("c", at("2026-03-20T03:00:00Z"), "EARN_CYBER_TOKENS", earn(7, "partner")),
        ("c", at("2026-03-20T04:00:00Z"), "EARN_CYBER_TOKENS", earn(9, "app")),
        ("c", at("2026-03-21T04:00:00Z"), "PURCHASE_TOKENS", json!({"tokens": 1000, "cash_amount": 9900})),
        ("c", at("2026-03-21T05:00:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 300, "paid": true})),
    ];
    let as_of = day_number("2026-03-31");
    let got = seed_rfm_of(&events, as_of, 30).await;
    let a = Rfm { recency_days: 0, frequency: 2, monetary: 10, partner_visits: 1, partner_tokens: 0 };
    let b = Rfm { recency_days: 40, ..Rfm::default() };
    let c = Rfm { recency_days: 10, frequency: 4, monetary: 300, partner_visits: 0, partner_tokens: 7 };
    let expected = BTreeMap::from([("a".into(), (a, 489)), ("b".into(), (b, 5)), ("c".into(), (c, 716))]);
    assert_eq!(got, expected);
    assert_eq!(got, model(&events, &window(30), &RfmQuery::seed(as_of)));

    // A backfill as of 03-15 sees only what had happened by then, balance included.
    let earlier = seed_rfm_of(&events, day_number("2026-03-15"), 30).await;
    assert_eq!(earlier["a"], (Rfm { recency_days: 13, frequency: 2, monetary: 11, ..Rfm::default() }, 489));
    assert!(!earlier.contains_key("c"), "c had not appeared yet");
    assert_eq!(earlier, model(&events, &window(30), &RfmQuery::seed(day_number("2026-03-15"))));
}

#[tokio::test]
async fn frequency_types_and_the_monetary_measure_follow_the_query() {
    let events: Vec<Ev> = vec![
        ("a", at("2026-03-30T03:00:00Z"), "SESSION_START", json!({})),
        ("a", at("2026-03-30T03:01:00Z"), "GAME_PLAY", json!({"game": "slot", "bet": 5})),
        ("a", at("2026-03-30T03:02:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 70, "source": "partner"})),
        ("a", at("2026-03-30T03:03:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 20, "paid": false})),
        ("a", at("2026-03-30T03:04:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 30, "paid": true})),
    ];
    let as_of = day_number("2026-03-31");
    let types = vec!["GAME_PLAY".to_owned(), "SPEND_CYBER_TOKENS".to_owned()];
    let settings = Settings { frequency_types: types, ..Settings::default() };
    for (monetary, m) in
        [(Monetary::TokensSpent, 50), (Monetary::PaidSpend, 30), (Monetary::PartnerEarnings, 70)]
    {
        let query = RfmQuery { as_of_day: as_of, monetary };
        let got = rfm_of(&events, &settings, &query).await;
        let (rfm, balance) = got["a"];
        assert_eq!((rfm.frequency, rfm.monetary, balance), (3, m, 20), "{monetary:?}");
        assert_eq!(got, model(&events, &settings, &query));
    }
    let bad = Settings {
        frequency_types: vec!["GAME_PLAY'); DROP TABLE events; --".to_owned()],
        ..Settings::default()
    };
    let dir = lake_of(&events);
    assert!(Analytics::open(dir.path(), &bad).await.is_err(), "a malformed type name never reaches the SQL");
    let empty = tempfile::tempdir().unwrap();
    let analytics = Analytics::open(empty.path(), &bad).await.unwrap();
    assert!(analytics.rfm(&RfmQuery::seed(as_of)).await.is_err(), "nor RFM's");
}

#[tokio::test]
async fn a_type_named_twice_for_f_counts_once() {
    let events: Vec<Ev> = vec![
        ("a", at("2026-03-30T03:00:00Z"), "GAME_PLAY", json!({"game": "slot"})),
        ("a", at("2026-03-30T03:01:00Z"), "SESSION_START", json!({})),
    ];
    let twice = vec!["GAME_PLAY".to_owned(), "GAME_PLAY".to_owned()];
    let settings = Settings { frequency_types: twice, ..Settings::default() };
    let query = RfmQuery::seed(day_number("2026-03-31"));
    let got = rfm_of(&events, &settings, &query).await;
    assert_eq!(got["a"].0.frequency, 1);
    assert_eq!(got, model(&events, &settings, &query));
}

#[tokio::test]
async fn hours_and_proposal_outcomes_count_inside_the_window() {
    let shown = |id: &str| json!({"proposal_id": id});
    let events: Vec<Ev> = vec![
        ("a", at("2026-03-31T12:30:00Z"), "SESSION_START", json!({})), // 21:30 in Seoul
        ("a", at("2026-03-30T12:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // 21:10
        ("a", at("2026-03-30T00:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // 09:10
        ("a", at("2026-02-01T12:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // outside
        ("a", at("2026-03-30T00:11:00Z"), "PROPOSAL_IMPRESSION", shown("p1")),
        ("a", at("2026-03-30T00:12:00Z"), "PROPOSAL_CONVERSION", shown("p1")),
        ("b", at("2026-03-30T00:13:00Z"), "PROPOSAL_IMPRESSION", shown("p2")),
    ];
    let dir = lake_of(&events);
    let analytics = Analytics::open(dir.path(), &Settings::default()).await.unwrap();
    let as_of = day_number("2026-03-31");
    let hours: BTreeMap<String, [i64; 24]> = analytics.hours(as_of, 30).await.unwrap().into_iter().collect();
    let a = hours["a"];
    assert_eq!((a[21], a[9], a.iter().sum::<i64>()), (2, 3, 5), "{a:?}");
    assert_eq!(hours["b"][9], 1);
    let mut outcomes = analytics.proposal_outcomes(as_of, 30).await.unwrap();
    outcomes.sort();
    assert_eq!(outcomes, [("p1".to_owned(), 1, 1), ("p2".to_owned(), 1, 0)]);
}

#[tokio::test]
async fn an_empty_lake_has_no_users() {
    assert!(seed_rfm_of(&[], day_number("2026-03-31"), 30).await.is_empty());
}

const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
const KINDS: [&str; 6] = [
    "SPEND_CYBER_TOKENS",
    "EARN_CYBER_TOKENS",
    "PURCHASE_TOKENS",
    "PARTNER_VISIT",
    "GAME_PLAY",
    "SESSION_START",
];

fn random_event() -> impl Strategy<Value = Ev> {
    (0..4usize, 0..(60 * 24i64), 0..6usize, 1..500i64, any::<bool>(), any::<bool>()).prop_map(
        |(u, hour, k, amount, partner, paid)| {
            let ts = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
            let source = if partner { "partner" } else { "app" };
            let props = json!({"amount": amount, "tokens": amount * 10, "source": source, "paid": paid});
            (USERS[u], ts, KINDS[k], props)
        },
    )
}

fn random_query() -> impl Strategy<Value = (Vec<String>, Monetary)> {
    (
        prop::sample::subsequence(KINDS.to_vec(), 0..3),
        prop::sample::select(vec![Monetary::TokensSpent, Monetary::PaidSpend, Monetary::PartnerEarnings]),
    )
        .prop_map(|(types, m)| (types.into_iter().map(str::to_owned).collect(), m))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn sql_agrees_with_the_definition(
        events in prop::collection::vec(random_event(), 0..120),
        as_of_offset in 0..70i32,
        window in prop::sample::select(vec![1u32, 7, 30]),
        (types, monetary) in random_query(),
    ) {
        let settings = Settings { window_days: window, frequency_types: types, ..Settings::default() };
        let query = RfmQuery { as_of_day: day_number("2026-01-01") + as_of_offset, monetary };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let got = runtime.block_on(read_rfm_of(&events, &settings, &query));
        prop_assert_eq!(got, model(&events, &settings, &query));
    }
}
