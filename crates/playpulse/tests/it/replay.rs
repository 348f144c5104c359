//! A simulated history replayed the way the demo sends it: the app's events, partner A's
//! own signed calls and the users' content unlocks. Balances end as the simulator says, and
//! the partner summary and the unlock counts equal direct counts.

use std::collections::BTreeMap;

use playpulse::commands::replay::{PartnerKey, age_verified, import_catalog, replay};
use playpulse_core::partner::{PartnerId, RewardCaps};
use playpulse_sim::event::Kind;
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(a_simulated_history_replays_through_every_route);

const PARTNER: &str = "partner-a";

async fn a_simulated_history_replays_through_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = PartnerId::parse(PARTNER).unwrap();
    let secret =
        playpulse::commands::partners::create(app.state.store.as_ref(), &app.config, id.clone(), "A")
            .await
            .unwrap();
    // The history arrives at once: on the arrival clock two months of rewards fall on one day.
    app.state.store.set_partner_caps(&id, RewardCaps::default()).await.unwrap();
    let items = import_catalog(&app.state).await.unwrap();
    assert_eq!(items, 2 * playpulse_sim::content::STAGES as usize);
    let sim = playpulse_sim::SimConfig {
        users: 300,
        days: 20,
        seed: 11,
        start: jiff::civil::date(2026, 4, 10),
        as_of: None,
        business_tz: "Asia/Seoul".into(),
        inject_overdrafts: false,
    };
    let simulation = playpulse_sim::simulate(&sim, 2, &|| {}).unwrap();
    let visits: Vec<u32> = simulation
        .events
        .iter()
        .filter(|e| matches!(e.kind, Kind::PartnerVisit { .. }))
        .map(|e| e.user)
        .collect();
    let rewards: Vec<(u32, i64)> = simulation
        .events
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Earn { amount, source: "partner" } => Some((e.user, amount)),
            _ => None,
        })
        .collect();
    assert!(visits.len() > 100 && rewards.len() > 100, "the population visits partner A");

    let mut unlocks: BTreeMap<String, u64> = BTreeMap::new();
    for event in &simulation.events {
        if let Kind::ContentUnlock { content_id, .. } = &event.kind {
            *unlocks.entry(content_id.clone()).or_default() += 1;
        }
    }
    assert!(unlocks.keys().any(|id| id.starts_with("adult")), "adults unlock the adult series");

    let partner = PartnerKey { id, secret };
    let verified = age_verified(&simulation.truth);
    let replayed = replay(&app.state, &partner, &verified, simulation.events).await.unwrap();
    assert_eq!(replayed.rejected, 0);
    assert_eq!(replayed.unlocks, unlocks.values().sum::<u64>());
    // Every unlock the simulator made is in the operational DB, once.
    let counts: BTreeMap<String, u64> = app
        .state
        .store
        .unlock_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect();
    assert_eq!(counts, unlocks);
    assert_eq!(replayed.partner_events, (visits.len() + rewards.len()) as u64);
    for truth in simulation.truth.iter().filter(|t| t.signed_up) {
        assert_eq!(app.balance(&truth.user_id).await, truth.balance_at_window_end, "{}", truth.user_id);
    }

    let (status, summary) =
        app.get(&format!("/v1/partners/{PARTNER}/summary?from=2026-04-10&to=2026-04-29")).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let distinct = |users: &mut Vec<u32>| {
        users.sort_unstable();
        users.dedup();
        users.len()
    };
    let mut visitors = visits.clone();
    let mut rewarded: Vec<u32> = rewards.iter().map(|r| r.0).collect();
    let tokens: i64 = rewards.iter().map(|r| r.1).sum();
    assert_eq!(summary["visits"], visits.len());
    assert_eq!(summary["visitors"], distinct(&mut visitors));
    assert_eq!(summary["rewards"], rewards.len());
    assert_eq!(summary["rewarded_users"], distinct(&mut rewarded));
    assert_eq!(summary["tokens_rewarded"], tokens);
    // The same tokens, counted from the operational ledger itself.
    let mut from_ledger = 0;
    for user in rewarded {
        let user = playpulse_sim::event::user_id(user);
        let mut cursor = String::new();
        loop {
            let (_, page) = app.get(&format!("/v1/users/{user}/ledger?limit=500{cursor}")).await;
            let entries = page["entries"].as_array().unwrap();
            let partner_tokens = entries
                .iter()
                .filter(|e| e["reason"] == "earn:partner")
                .map(|e| e["delta"].as_i64().unwrap());
            from_ledger += partner_tokens.sum::<i64>();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
    }
    assert_eq!(from_ledger, tokens);
    let spent_after = summary["tokens_spent_after"].as_i64().unwrap();
    assert!(spent_after > 0 && spent_after <= tokens, "{summary}");
}
