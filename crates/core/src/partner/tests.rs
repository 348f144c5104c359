use jiff::Timestamp;
use serde_json::json;

use std::collections::HashMap;

use super::*;
use crate::ids::UserId;
use crate::ingest::{AdmitAll, Outcome, plan};
use crate::time::BusinessZone;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

const NOW_S: i64 = 1_777_604_400;

#[test]
fn a_signature_verifies_under_its_secret_only_within_the_window() {
    let (old, new) = (b"old-secret".as_slice(), b"new-secret".as_slice());
    let body = br#"{"events":[]}"#;
    let signed = sign(new, NOW_S, body);
    let ts = NOW_S.to_string();
    assert_eq!(
        verify(&[old, new], Some(&ts), Some(&signed), body, at(NOW_S)),
        Ok(Verified { secret: 1, signed_at: NOW_S })
    );
    assert_eq!(verify(&[old], Some(&ts), Some(&signed), body, at(NOW_S)), Err(SignatureError::Mismatch));
    // One byte of the body, or the timestamp, changed: the signature no longer holds.
    assert_eq!(
        verify(&[new], Some(&ts), Some(&signed), br#"{"events":[ ]}"#, at(NOW_S)),
        Err(SignatureError::Mismatch)
    );
    let later = (NOW_S + 1).to_string();
    assert_eq!(verify(&[new], Some(&later), Some(&signed), body, at(NOW_S)), Err(SignatureError::Mismatch));
    // Five minutes either way is the edge.
    assert_eq!(verify(&[new], Some(&ts), Some(&signed), body, at(NOW_S + 300)).map(|v| v.secret), Ok(0));
    assert_eq!(verify(&[new], Some(&ts), Some(&signed), body, at(NOW_S + 301)), Err(SignatureError::Stale));
    assert_eq!(verify(&[new], Some(&ts), Some(&signed), body, at(NOW_S - 301)), Err(SignatureError::Future));
    // During a rotation a sender may sign with both secrets.
    let both = format!("{}, {}", sign(old, NOW_S, body), signed);
    assert_eq!(verify(&[new], Some(&ts), Some(&both), body, at(NOW_S)).map(|v| v.secret), Ok(0));
}

#[test]
fn malformed_headers_are_named_as_such() {
    let body = b"{}";
    let good = sign(b"s", NOW_S, body);
    let ts = NOW_S.to_string();
    for (timestamp, signature) in [
        (None, Some(good.as_str())),
        (Some(ts.as_str()), None),
        (Some("yesterday"), Some(good.as_str())),
        (Some(ts.as_str()), Some("sha256=abc")),
        (Some(ts.as_str()), Some("v1=zz")),
        (Some(ts.as_str()), Some("v1=abc")),
    ] {
        assert_eq!(
            verify(&[b"s"], timestamp, signature, body, at(NOW_S)),
            Err(SignatureError::Malformed),
            "{timestamp:?} {signature:?}"
        );
    }
}

fn partner() -> PartnerId {
    PartnerId::parse("partner-a").unwrap()
}

fn reward(txn: &str, user: &str, amount: i64) -> Value {
    json!({"type": "reward", "txn_id": txn, "user_id": user, "ts": "2026-05-01T03:00:00Z", "amount": amount})
}

#[test]
fn partner_events_become_ledger_events_with_stable_ids() {
    let policy = ValidationPolicy::default();
    let raw = json!({"type": "visit", "txn_id": "v-1", "user_id": "u1", "ts": "2026-05-01T03:00:00Z",
        "dwell_s": 120, "actions": 3, "page": "/promo"});
    let visit = PartnerEvent::parse(&raw, &partner(), &policy, at(NOW_S)).unwrap();
    assert_eq!(visit.event.event_type.as_str(), "PARTNER_VISIT");
    assert_eq!(
        visit.site,
        Site::Visit { dwell_s: 120, actions: 3, page: Some("/promo".into()), campaign: None }
    );
    assert!(visit.event.movement.is_none());

    let earned = PartnerEvent::parse(&reward("r-1", "u1", 500), &partner(), &policy, at(NOW_S)).unwrap();
    let movement = earned.event.movement.unwrap();
    assert_eq!((movement.delta.0, movement.reason), (500, "earn:partner"));
    let again = PartnerEvent::parse(&reward("r-1", "u1", 500), &partner(), &policy, at(NOW_S)).unwrap();
    assert_eq!(earned.event.id, again.event.id, "a retry is the same event");
    let other = PartnerId::parse("partner-b").unwrap();
    let elsewhere = PartnerEvent::parse(&reward("r-1", "u1", 500), &other, &policy, at(NOW_S)).unwrap();
    assert_ne!(earned.event.id, elsewhere.event.id, "transaction ids are the partner's own");
}

#[test]
fn bad_partner_events_are_refused_with_the_ledger_codes() {
    let policy = ValidationPolicy::default();
    let cases = [
        (reward("r", "u1", 0), "invalid_amount"),
        (reward("r", "u1", i64::MAX), "invalid_amount"),
        (reward("r", "bad user", 5), "invalid_user_id"),
        (reward("", "u1", 5), "invalid_prop"),
        (reward("r\u{0}", "u1", 5), "invalid_prop"),
        (reward(&"x".repeat(129), "u1", 5), "invalid_prop"),
        (
            json!({"type": "reward", "txn_id": "r", "user_id": "u1", "ts": "2026-05-09T03:00:00Z", "amount": 5}),
            "timestamp_in_future",
        ),
        (
            json!({"type": "refund", "txn_id": "r", "user_id": "u1", "ts": "2026-05-01T03:00:00Z"}),
            "invalid_envelope",
        ),
        (
            json!({"type": "visit", "txn_id": "v", "user_id": "u1", "ts": "2026-05-01T03:00:00Z", "dwell_s": -1, "actions": 1}),
            "invalid_prop",
        ),
        (
            json!({"type": "reward", "txn_id": "r", "user_id": "u1", "ts": "2026-05-01T03:00:00Z", "amount": 5, "extra": 1}),
            "invalid_envelope",
        ),
    ];
    for (raw, code) in cases {
        let err = PartnerEvent::parse(&raw, &partner(), &policy, at(NOW_S)).unwrap_err();
        assert_eq!(err.code.as_str(), code, "{raw}");
    }
}

fn codes(book: &mut RewardBook, prior: &HashMap<UserId, UserState>, rewards: &[(&str, i64)]) -> Vec<String> {
    let policy = ValidationPolicy::default();
    let batch: Vec<_> = rewards
        .iter()
        .enumerate()
        .map(|(i, (user, amount))| {
            PartnerEvent::parse(&reward(&format!("r{i}"), user, *amount), &partner(), &policy, at(NOW_S))
                .map(|p| p.event)
        })
        .collect();
    let plan = plan(&batch, &Default::default(), prior, &Default::default(), &BusinessZone::default(), book);
    plan.outcomes
        .iter()
        .map(|o| match o {
            Outcome::Accepted => "accepted".to_owned(),
            Outcome::Duplicate => "duplicate".to_owned(),
            Outcome::Rejected(r) => r.code.as_str().to_owned(),
        })
        .collect()
}

#[test]
fn caps_count_what_was_rewarded_before_and_earlier_in_the_batch() {
    let caps = RewardCaps {
        partner_daily: Some(1_000),
        partner_monthly: Some(1_500),
        user_daily: Some(300),
        user_monthly: Some(400),
    };
    // u2 received 350 from partners earlier this month (NOW_S is 2026-05-01 in Seoul).
    let mut u2 = UserState::new(at(NOW_S - 86_400));
    u2.tally.rewarded_month = Some(jiff::civil::date(2026, 5, 1));
    u2.tally.rewarded_this_month = 350;
    let prior = HashMap::from([(UserId::parse("u2").unwrap(), u2)]);
    let mut book = RewardBook { caps, partner_day: 0, partner_month: 800 };
    let rewards = [
        ("u1", 200),
        ("u1", 150),
        ("u1", 100),
        ("u2", 60),
        ("u2", 50),
        ("u3", 300),
        ("u4", 400),
        ("u5", 100),
    ];
    assert_eq!(
        codes(&mut book, &prior, &rewards),
        [
            "accepted",
            "user_daily_cap_reached",
            "accepted",
            "user_monthly_cap_reached",
            "accepted",
            "accepted",
            "partner_daily_cap_reached",
            "partner_monthly_cap_reached",
        ]
    );
    // Refused rewards counted for nothing.
    assert_eq!((book.partner_day, book.partner_month), (650, 1_450));
}

#[test]
fn visits_and_uncapped_rewards_pass_the_book() {
    let mut book = RewardBook { caps: RewardCaps::default(), partner_day: 0, partner_month: 0 };
    assert_eq!(
        codes(&mut book, &HashMap::new(), &[("u1", 1_000_000), ("u1", 1_000_000)]),
        ["accepted", "accepted"]
    );
    let policy = ValidationPolicy::default();
    let visit = json!({"type": "visit", "txn_id": "v", "user_id": "u1", "ts": "2026-05-01T03:00:00Z", "dwell_s": 5, "actions": 1});
    let event = PartnerEvent::parse(&visit, &partner(), &policy, at(NOW_S)).unwrap().event;
    let caps = RewardCaps { user_daily: Some(0), ..RewardCaps::default() };
    let mut capped = RewardBook { caps, partner_day: 0, partner_month: 0 };
    let state = UserState::new(at(NOW_S));
    assert!(capped.admit(&event, &state).is_ok() && AdmitAll.admit(&event, &state).is_ok());
}
