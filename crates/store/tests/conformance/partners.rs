//! Partners: records, secret rotation, signed batches with their caps, summaries.

use jiff::{SignedDuration, Timestamp};
use playpulse_core::event::ValidationPolicy;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::Outcome;
use playpulse_core::partner::{PartnerEvent, PartnerId, RewardCaps};
use playpulse_store::{PartnerBatch, PartnerRecord, PartnerRefusal, PartnerSummary};
use serde_json::json;

use crate::{Fixture, now, on_both};

on_both!(
    a_partner_is_registered_once_and_rotates_with_an_overlap,
    a_batch_records_sites_and_credits_once,
    refused_requests_change_nothing,
    caps_hold_across_requests_and_restart_counting_when_changed,
    concurrent_rewards_never_pass_a_cap,
    a_reward_retried_concurrently_credits_once,
    a_request_replayed_concurrently_is_applied_once,
    the_summary_counts_what_was_spent_after_the_rewards
);

fn partner() -> PartnerId {
    PartnerId::parse("partner-a").unwrap()
}

fn record(caps: RewardCaps) -> PartnerRecord {
    PartnerRecord { id: partner(), name: "A".into(), active: true, caps, created_at: now() }
}

fn later(minutes: i64) -> Timestamp {
    now() + SignedDuration::from_mins(minutes)
}

fn reward(txn: &str, user: &str, amount: i64) -> serde_json::Value {
    json!({"type": "reward", "txn_id": txn, "user_id": user, "ts": "2026-05-01T02:00:00Z", "amount": amount})
}

fn visit(txn: &str, user: &str) -> serde_json::Value {
    json!({"type": "visit", "txn_id": txn, "user_id": user, "ts": "2026-05-01T01:00:00Z", "dwell_s": 90, "actions": 2, "page": "/event"})
}

/// A verified request signed at the tests' `now` (the store never judges its window).
fn batch(signature: &str, raw: &[serde_json::Value], at: Timestamp) -> PartnerBatch {
    let policy = ValidationPolicy::default();
    PartnerBatch {
        partner: partner(),
        secret_id: 1,
        signature: signature.into(),
        signed_at: now().as_second(),
        events: raw.iter().map(|r| PartnerEvent::parse(r, &partner(), &policy, at)).collect(),
    }
}

fn codes(outcomes: &[Outcome]) -> Vec<&str> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected(r) => r.code.as_str(),
        })
        .collect()
}

async fn balance(f: &Fixture, user: &str) -> i64 {
    f.store().ledger_sum(&UserId::parse(user).unwrap()).await.unwrap().0
}

async fn a_partner_is_registered_once_and_rotates_with_an_overlap(f: &Fixture) {
    let s = f.store();
    assert!(s.create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap());
    assert!(!s.create_partner(record(RewardCaps::default()), "other".into()).await.unwrap());
    let (stored, secrets) = s.partner(&partner()).await.unwrap().unwrap();
    assert_eq!(stored, record(RewardCaps::default()));
    assert_eq!(secrets.iter().map(|x| x.secret.as_str()).collect::<Vec<_>>(), ["s1"]);

    assert!(s.rotate_partner_secret(&partner(), "s2".into(), later(60), later(1)).await.unwrap());
    let (_, secrets) = s.partner(&partner()).await.unwrap().unwrap();
    let active =
        |at| secrets.iter().filter(|x| x.active_at(at)).map(|x| x.secret.clone()).collect::<Vec<_>>();
    assert_eq!(active(later(30)), ["s1", "s2"], "both sign during the overlap");
    assert_eq!(active(later(61)), ["s2"]);
    // A second rotation within the overlap ends the oldest at once: never three secrets.
    assert!(s.rotate_partner_secret(&partner(), "s3".into(), later(70), later(10)).await.unwrap());
    let (_, secrets) = s.partner(&partner()).await.unwrap().unwrap();
    let live: Vec<_> = secrets.iter().filter(|x| x.active_at(later(10))).map(|x| x.secret.as_str()).collect();
    assert_eq!(live, ["s2", "s3"]);

    let ghost = PartnerId::parse("ghost").unwrap();
    assert!(!s.rotate_partner_secret(&ghost, "x".into(), later(1), now()).await.unwrap());
    assert!(!s.set_partner_active(&ghost, false).await.unwrap());
    assert!(s.set_partner_active(&partner(), false).await.unwrap());
    assert_eq!(s.partners().await.unwrap().iter().map(|p| p.active).collect::<Vec<_>>(), [false]);
}

async fn a_batch_records_sites_and_credits_once(f: &Fixture) {
    let s = f.store();
    s.create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap();
    let raw = [visit("v1", "u1"), reward("r1", "u1", 500), reward("r1", "u1", 500), reward("r2", "u2", 0)];
    let report = s.partner_ingest(batch("sig-1", &raw, now()), now()).await.unwrap().unwrap();
    assert_eq!(codes(&report.outcomes), ["accepted", "accepted", "duplicate_in_batch", "invalid_amount"]);
    // The retry of the same transaction, signed anew: a duplicate, credited once.
    let again = s.partner_ingest(batch("sig-2", &raw[1..2], later(1)), later(1)).await.unwrap().unwrap();
    assert_eq!(codes(&again.outcomes), ["duplicate"]);
    assert_eq!(balance(f, "u1").await, 500);
    let day = (now() - SignedDuration::from_hours(5), now());
    let summary = s.partner_summary(&partner(), day.0, day.1).await.unwrap();
    assert_eq!(
        summary,
        PartnerSummary {
            visits: 1,
            visitors: 1,
            rewards: 1,
            rewarded_users: 1,
            tokens_rewarded: 500,
            tokens_spent_after: 0
        }
    );
    let outbox = s.outbox(10).await.unwrap();
    assert_eq!(outbox.iter().filter(|n| n.kind == "NEW_TOKEN_ARRIVAL").count(), 1, "{outbox:?}");
}

async fn refused_requests_change_nothing(f: &Fixture) {
    let s = f.store();
    let raw = [reward("r1", "u1", 100)];
    let refusal = |r: Result<_, PartnerRefusal>| r.err();
    assert_eq!(
        refusal(s.partner_ingest(batch("a", &raw, now()), now()).await.unwrap()),
        Some(PartnerRefusal::UnknownPartner)
    );
    s.create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap();
    assert!(s.partner_ingest(batch("a", &raw, now()), now()).await.unwrap().is_ok());
    // The same signed request again (timestamp and signature): a replay, whatever it carries.
    let replay = batch("a", &[reward("r9", "u9", 100)], later(2));
    assert_eq!(refusal(s.partner_ingest(replay, later(2)).await.unwrap()), Some(PartnerRefusal::Replayed));
    // The same signature under another timestamp is another request.
    let mut resigned = batch("a", &[reward("r8", "u8", 1)], later(3));
    resigned.signed_at += 60;
    assert!(s.partner_ingest(resigned, later(3)).await.unwrap().is_ok());
    s.rotate_partner_secret(&partner(), "s2".into(), later(20), later(12)).await.unwrap();
    let mut old = batch("b", &[reward("r2", "u2", 100)], later(21));
    old.secret_id = 1;
    assert_eq!(refusal(s.partner_ingest(old, later(21)).await.unwrap()), Some(PartnerRefusal::SecretExpired));
    s.set_partner_active(&partner(), false).await.unwrap();
    let mut current = batch("c", &[reward("r3", "u3", 100)], later(22));
    current.secret_id = 2;
    assert_eq!(refusal(s.partner_ingest(current, later(22)).await.unwrap()), Some(PartnerRefusal::Disabled));
    assert_eq!((balance(f, "u2").await, balance(f, "u3").await, balance(f, "u9").await), (0, 0, 0));
    assert_eq!(balance(f, "u1").await, 100);
}

async fn caps_hold_across_requests_and_restart_counting_when_changed(f: &Fixture) {
    let s = f.store();
    let caps = RewardCaps {
        partner_daily: Some(1_000),
        partner_monthly: None,
        user_daily: Some(300),
        user_monthly: None,
    };
    s.create_partner(record(caps), "s1".into()).await.unwrap();
    let first = [reward("a", "u1", 200), reward("b", "u2", 300)];
    let report = s.partner_ingest(batch("1", &first, now()), now()).await.unwrap().unwrap();
    assert_eq!(codes(&report.outcomes), ["accepted", "accepted"]);
    let second =
        [reward("c", "u1", 150), reward("d", "u1", 100), reward("e", "u3", 300), reward("f", "u4", 300)];
    let report = s.partner_ingest(batch("2", &second, later(1)), later(1)).await.unwrap().unwrap();
    assert_eq!(
        codes(&report.outcomes),
        ["user_daily_cap_reached", "accepted", "accepted", "partner_daily_cap_reached"]
    );
    // The next business day starts afresh (Seoul's midnight is 15:00 UTC).
    let tomorrow: Timestamp = "2026-05-01T15:30:00Z".parse().unwrap();
    let third = [
        json!({"type": "reward", "txn_id": "g", "user_id": "u4", "ts": "2026-05-01T15:00:00Z", "amount": 300}),
    ];
    let report = s.partner_ingest(batch("3", &third, tomorrow), tomorrow).await.unwrap().unwrap();
    assert_eq!(codes(&report.outcomes), ["accepted"]);
    // A cap set later counts what was already rewarded that day.
    let tight = RewardCaps { partner_daily: Some(400), ..RewardCaps::default() };
    assert!(s.set_partner_caps(&partner(), tight).await.unwrap());
    let fourth = [
        json!({"type": "reward", "txn_id": "h", "user_id": "u5", "ts": "2026-05-01T15:00:00Z", "amount": 101}),
    ];
    let report = s.partner_ingest(batch("4", &fourth, tomorrow), tomorrow).await.unwrap().unwrap();
    assert_eq!(codes(&report.outcomes), ["partner_daily_cap_reached"]);
}

async fn concurrent_rewards_never_pass_a_cap(f: &Fixture) {
    let caps = RewardCaps { partner_daily: Some(2_000), user_daily: Some(500), ..RewardCaps::default() };
    f.store().create_partner(record(caps), "s1".into()).await.unwrap();
    // 40 requests at once, 100 tokens each, over 5 users: at most 500 each and 2,000 in all.
    let requests = (0..40).map(|i| {
        let store = f.store.clone();
        tokio::spawn(async move {
            let raw = [reward(&format!("t{i}"), &format!("c{}", i % 5), 100)];
            store.partner_ingest(batch(&format!("sig{i}"), &raw, now()), now()).await.unwrap().unwrap()
        })
    });
    let mut accepted = 0;
    for request in futures::future::join_all(requests).await {
        accepted += usize::from(request.unwrap().outcomes == [Outcome::Accepted]);
    }
    let mut total = 0;
    for user in 0..5 {
        let each = balance(f, &format!("c{user}")).await;
        assert!(each <= 500, "c{user} got {each}");
        total += each;
    }
    assert_eq!(total, 2_000);
    assert_eq!(accepted, 20);
}

async fn the_summary_counts_what_was_spent_after_the_rewards(f: &Fixture) {
    let s = f.store();
    s.create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap();
    let policy = ValidationPolicy::default();
    let spend = |id: u128, user: &str, amount: i64, ts: &str| {
        let raw = json!({"event_id": uuid::Uuid::from_u128(id).to_string(), "user_id": user,
            "type": "SPEND_CYBER_TOKENS", "ts": ts, "props": {"amount": amount, "sink": "game"}});
        playpulse_core::event::Event::parse(&raw, &policy, now())
    };
    let earn = json!({"event_id": uuid::Uuid::from_u128(1).to_string(), "user_id": "u1",
        "type": "EARN_CYBER_TOKENS", "ts": "2026-05-01T00:00:00Z", "props": {"amount": 1000, "source": "app"}});
    s.ingest(
        vec![
            playpulse_core::event::Event::parse(&earn, &policy, now()),
            spend(2, "u1", 50, "2026-05-01T00:30:00Z"),
        ],
        now(),
    )
    .await
    .unwrap();
    let raw = [reward("r1", "u1", 300), reward("r2", "u2", 200)];
    s.partner_ingest(batch("x", &raw, now()), now()).await.unwrap().unwrap();
    // u1 spends 400 after the reward (only 300 of it counts), u2 spends 50 of 200; the
    // spend before the reward counts for nothing.
    s.ingest(
        vec![spend(3, "u1", 400, "2026-05-01T02:30:00Z"), spend(4, "u2", 50, "2026-05-01T02:40:00Z")],
        now(),
    )
    .await
    .unwrap();
    let summary = s.partner_summary(&partner(), now() - SignedDuration::from_hours(3), now()).await.unwrap();
    assert_eq!((summary.tokens_rewarded, summary.tokens_spent_after), (500, 350));
    assert_eq!((summary.rewards, summary.rewarded_users, summary.visits), (2, 2, 0));
    let empty = s.partner_summary(&partner(), now(), later(60)).await.unwrap();
    assert_eq!(empty, PartnerSummary::default());
}

async fn a_reward_retried_concurrently_credits_once(f: &Fixture) {
    f.store().create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap();
    // The partner's retries race its first attempt, each signed anew.
    let attempts = (0..8).map(|i| {
        let store = f.store.clone();
        tokio::spawn(async move {
            let raw = [reward("once", "solo", 250)];
            store.partner_ingest(batch(&format!("try{i}"), &raw, now()), now()).await.unwrap().unwrap()
        })
    });
    let mut outcomes = Vec::new();
    for attempt in futures::future::join_all(attempts).await {
        outcomes.extend(attempt.unwrap().outcomes);
    }
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Accepted).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Duplicate).count(), 7);
    assert_eq!(balance(f, "solo").await, 250);
    let summary =
        f.store().partner_summary(&partner(), now() - SignedDuration::from_hours(3), now()).await.unwrap();
    assert_eq!((summary.rewards, summary.tokens_rewarded), (1, 250));
}

async fn a_request_replayed_concurrently_is_applied_once(f: &Fixture) {
    f.store().create_partner(record(RewardCaps::default()), "s1".into()).await.unwrap();
    // The same signed bytes sent eight times at once: one applies, the rest are replays.
    let attempts = (0..8).map(|_| {
        let store = f.store.clone();
        tokio::spawn(async move {
            let raw = [reward("twin", "pair", 40)];
            store.partner_ingest(batch("same-signature", &raw, now()), now()).await.unwrap()
        })
    });
    let mut applied = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap() {
            Ok(report) => {
                assert_eq!(report.outcomes, [Outcome::Accepted]);
                applied += 1;
            }
            Err(refusal) => assert_eq!(refusal, PartnerRefusal::Replayed),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(balance(f, "pair").await, 40);
}
