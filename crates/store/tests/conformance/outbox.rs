//! Delivery of the outbox: claims that never overlap, leases that lapse, attempts recorded
//! once, dead rows retried by hand, and devices.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use playpulse_store::{DeliveryState, Device, Retried, Settlement, Store};

use crate::{Fixture, known, now, on_both};

on_both!(
    a_claim_leases_due_rows_and_the_last_attempt_alone_settles,
    concurrent_claims_share_the_rows_without_overlap,
    a_dead_notification_is_retried_by_hand,
    a_lapsed_claim_cannot_settle_after_a_deferral_or_a_retry,
    a_device_token_moves_and_is_disabled,
    a_device_registered_during_an_erasure_does_not_outlive_it,
    exposures_are_each_users_first_decided_notification_of_a_kind,
);

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn device(who: &str, platform: &str, token: &str, at: Timestamp) -> Device {
    Device {
        user_id: who.into(),
        platform: platform.into(),
        token: token.into(),
        app_id: "com.example.game".into(),
        registered_at: at,
        disabled_at: None,
        disabled_reason: None,
    }
}

async fn enqueue(s: &dyn Store, count: usize, at: Timestamp) {
    let notes = (0..count)
        .map(|i| notify::token_arrival(&user(&format!("u{}", i % 7)), &format!("e{i}"), 10))
        .collect();
    s.enqueue(notes, at).await.unwrap();
}

async fn a_claim_leases_due_rows_and_the_last_attempt_alone_settles(f: &Fixture) {
    let s = f.store();
    let t0 = now();
    let lease = SignedDuration::from_secs(30);
    enqueue(s, 3, t0).await;
    assert!(
        s.claim_notifications(t0 - SignedDuration::from_secs(1), t0, 10).await.unwrap().is_empty(),
        "not due yet"
    );
    let first = s.claim_notifications(t0, t0 + lease, 2).await.unwrap();
    assert_eq!(first.iter().map(|n| n.attempts).collect::<Vec<_>>(), [1, 1]);
    let rest = s.claim_notifications(t0, t0 + lease, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "a leased row is not claimed again");
    assert!(
        s.claim_notifications(t0 + lease - SignedDuration::from_millis(1), t0, 10).await.unwrap().is_empty()
    );

    // The first dispatcher hangs past its lease; another claims the row and sends it.
    let (hung, later) = (&first[0], t0 + lease);
    let again = s.claim_notifications(later, later + lease, 10).await.unwrap();
    assert_eq!(again.len(), 3, "every lapsed lease is claimed again");
    let retaken = again.iter().find(|n| n.id == hung.id).unwrap();
    assert_eq!(retaken.attempts, 2);
    let sent = Settlement::Sent { channel: "webhook".into() };
    assert!(s.settle_notification(hung.id, retaken.claim, later, sent.clone()).await.unwrap());
    let stale = Settlement::Failed { error: "timeout".into(), retry_at: later };
    assert!(
        !s.settle_notification(hung.id, hung.claim, later, stale).await.unwrap(),
        "the hung attempt is too late"
    );

    // A failure is retried at its time; a suppression and a dead letter end it.
    let (a, b) =
        (&again.iter().find(|n| n.id != hung.id).unwrap(), again.iter().rfind(|n| n.id != hung.id).unwrap());
    let retry_at = later + SignedDuration::from_secs(60);
    let failed = Settlement::Failed { error: "HTTP 503".into(), retry_at };
    assert!(s.settle_notification(a.id, a.claim, later, failed).await.unwrap());
    let why = Settlement::Suppressed { reason: "quiet_hours".into() };
    assert!(s.settle_notification(b.id, b.claim, later, why).await.unwrap());
    assert!(
        s.claim_notifications(retry_at - SignedDuration::from_millis(1), retry_at + lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s.claim_notifications(retry_at, retry_at + lease, 10).await.unwrap();
    assert_eq!((retried.len(), retried[0].id, retried[0].attempts), (1, a.id, 3));
    assert_eq!(retried[0].last_error.as_deref(), Some("HTTP 503"));
    let dead = Settlement::Dead { error: "HTTP 400: bad payload".into() };
    assert!(s.settle_notification(a.id, retried[0].claim, retry_at, dead).await.unwrap());
    assert!(s.outbox(10).await.unwrap().is_empty(), "nothing left to deliver");

    let listed: Vec<_> = s.notifications_of(&user("u0"), None, 10).await.unwrap();
    let listed_b: Vec<_> = s.notifications_of(&user("u1"), None, 10).await.unwrap();
    let listed_c: Vec<_> = s.notifications_of(&user("u2"), None, 10).await.unwrap();
    let by_id: BTreeMap<i64, _> =
        listed.into_iter().chain(listed_b).chain(listed_c).map(|n| (n.id, n)).collect();
    let delivered = &by_id[&hung.id];
    assert_eq!(
        (delivered.state, delivered.sent_at, delivered.channel.as_deref()),
        (DeliveryState::Sent, Some(later), Some("webhook"))
    );
    assert_eq!(
        (by_id[&a.id].state, by_id[&a.id].last_error.as_deref()),
        (DeliveryState::Dead, Some("HTTP 400: bad payload"))
    );
    assert_eq!(
        (by_id[&b.id].state, by_id[&b.id].reason.as_deref()),
        (DeliveryState::Suppressed, Some("quiet_hours"))
    );
    assert_eq!(s.vitals(t0).await.unwrap().outbox_pending, 0);
}

async fn concurrent_claims_share_the_rows_without_overlap(f: &Fixture) {
    let t0 = now();
    enqueue(f.store(), 300, t0).await;
    // Two instances on one database (one on SQLite's single file), six claimers each.
    let other = f.reopened().await;
    let claimers = (0..12).map(|i| {
        let store = if i % 2 == 0 { f.store.clone() } else { other.clone() };
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_notifications(t0, t0 + SignedDuration::from_secs(60), 7).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                // Settled at once, as a dispatcher does: a claim must not take a row back
                // from under its settlement.
                for n in got {
                    let sent = Settlement::Sent { channel: "webhook".into() };
                    assert!(store.settle_notification(n.id, n.claim, t0, sent).await.unwrap());
                    mine.push((n.id, n.attempts));
                }
            }
        })
    });
    let mut claims: Vec<(i64, i64)> = Vec::new();
    for claimer in claimers {
        claims.extend(claimer.await.unwrap());
    }
    claims.sort_unstable();
    assert_eq!(claims.len(), 300, "every row claimed once: {} claims", claims.len());
    claims.dedup_by_key(|c| c.0);
    assert_eq!(claims.len(), 300, "no row claimed twice");
    assert!(claims.iter().all(|&(_, attempt)| attempt == 1));
}

async fn a_dead_notification_is_retried_by_hand(f: &Fixture) {
    let s = f.store();
    let t0 = now();
    enqueue(s, 1, t0).await;
    let n = s.claim_notifications(t0, t0 + SignedDuration::from_secs(5), 1).await.unwrap().remove(0);
    let Retried::NotDead(unchanged) = s.retry_notification(n.id, t0).await.unwrap() else {
        panic!("not dead")
    };
    assert_eq!((unchanged.state, unchanged.attempts), (DeliveryState::Queued, 1), "unchanged");
    s.settle_notification(n.id, n.claim, t0, Settlement::Dead { error: "gone".into() }).await.unwrap();
    let later = t0 + SignedDuration::from_hours(1);
    let Retried::Queued(revived) = s.retry_notification(n.id, later).await.unwrap() else { panic!("dead") };
    assert_eq!((revived.state, revived.attempts, revived.next_attempt_at), (DeliveryState::Queued, 0, later));
    let claimed = s.claim_notifications(later, later + SignedDuration::from_secs(5), 1).await.unwrap();
    assert_eq!((claimed[0].id, claimed[0].attempts), (n.id, 1));
    assert_eq!(s.retry_notification(-1, later).await.unwrap(), Retried::Unknown);
}

async fn a_lapsed_claim_cannot_settle_after_a_deferral_or_a_retry(f: &Fixture) {
    let s = f.store();
    let (t0, lease) = (now(), SignedDuration::from_secs(30));
    enqueue(s, 1, t0).await;
    // A claims the row and hangs past its lease; B claims it and defers it (quiet hours),
    // which takes B's attempt back: A's attempt number is the row's again.
    let hung = s.claim_notifications(t0, t0 + lease, 1).await.unwrap().remove(0);
    let later = t0 + lease;
    let b = s.claim_notifications(later, later + lease, 1).await.unwrap().remove(0);
    let until = later + SignedDuration::from_secs(60);
    let deferred = Settlement::Deferred { until, reason: "quiet_hours".into() };
    assert!(s.settle_notification(b.id, b.claim, later, deferred).await.unwrap());
    let sent = Settlement::Sent { channel: "webhook".into() };
    assert!(
        !s.settle_notification(hung.id, hung.claim, later, sent.clone()).await.unwrap(),
        "A's claim is over"
    );
    // C claims it when due and it dies; an admin retries it and D claims it, attempt 1 again.
    let c = s.claim_notifications(until, until + lease, 1).await.unwrap().remove(0);
    assert!(
        s.settle_notification(c.id, c.claim, until, Settlement::Dead { error: "HTTP 410".into() })
            .await
            .unwrap()
    );
    assert!(matches!(s.retry_notification(c.id, until).await.unwrap(), Retried::Queued(_)));
    let d = s.claim_notifications(until, until + lease, 1).await.unwrap().remove(0);
    assert_eq!((hung.attempts, d.attempts), (1, 1), "the same attempt number, not the same claim");
    for stale in [&hung, &b, &c] {
        assert!(!s.settle_notification(stale.id, stale.claim, until, sent.clone()).await.unwrap());
    }
    let row = s.notifications_of(&user("u0"), None, 1).await.unwrap().remove(0);
    assert_eq!((row.state, row.sent_at), (DeliveryState::Queued, None), "no stale outcome recorded");
    assert!(s.settle_notification(d.id, d.claim, until, sent).await.unwrap());
}

async fn a_device_token_moves_and_is_disabled(f: &Fixture) {
    let s = f.store();
    let t0 = now();
    let device = |who: &str, token: &str, at: Timestamp| device(who, "ios", token, at);
    known(f, "u1", 1).await;
    known(f, "u2", 2).await;
    assert!(!s.put_device(device("u3", "cc33", t0)).await.unwrap(), "an unknown user");
    assert!(s.devices_of(&user("u3")).await.unwrap().is_empty());
    assert!(s.put_device(device("u1", "aa11", t0)).await.unwrap());
    assert!(s.put_device(device("u1", "bb22", t0 + SignedDuration::from_secs(1))).await.unwrap());
    let tokens = |list: Vec<Device>| list.into_iter().map(|d| d.token).collect::<Vec<_>>();
    assert_eq!(tokens(s.devices_of(&user("u1")).await.unwrap()), ["bb22", "aa11"], "newest first");
    s.disable_device("ios", "aa11", "Unregistered", t0).await.unwrap();
    let u1 = s.devices_of(&user("u1")).await.unwrap();
    assert_eq!((u1[1].disabled_at, u1[1].disabled_reason.as_deref()), (Some(t0), Some("Unregistered")));
    // The phone changes hands: the token is u2's now, and enabled again.
    assert!(s.put_device(device("u2", "aa11", t0 + SignedDuration::from_secs(2))).await.unwrap());
    assert_eq!(tokens(s.devices_of(&user("u1")).await.unwrap()), ["bb22"]);
    let u2 = s.devices_of(&user("u2")).await.unwrap();
    assert_eq!((u2.len(), u2[0].disabled_at), (1, None));
    s.disable_device("android", "bb22", "other platform", t0).await.unwrap();
    assert_eq!(s.devices_of(&user("u1")).await.unwrap()[0].disabled_at, None, "a token is per platform");
}

async fn a_device_registered_during_an_erasure_does_not_outlive_it(f: &Fixture) {
    let t0 = now();
    let other = f.reopened().await;
    for round in 0..5 {
        let who = format!("gone{round}");
        known(f, &who, 100 + round).await;
        // Registrations from another instance while the user is erased: each goes wholly
        // before the erasure (and is erased with the rest) or finds the user gone.
        let registrations = (0..8).map(|i| {
            let (store, who) = (other.clone(), who.clone());
            tokio::spawn(async move {
                store.put_device(device(&who, "android", &format!("t{round}-{i}"), t0)).await.unwrap()
            })
        });
        let registrations: Vec<_> = registrations.collect();
        f.store().erase_user(&user(&who), "admin", t0).await.unwrap();
        for registration in registrations {
            registration.await.unwrap();
        }
        assert!(f.store().devices_of(&user(&who)).await.unwrap().is_empty(), "round {round}");
        let late = device(&who, "ios", &format!("late{round}"), t0);
        assert!(!f.store().put_device(late).await.unwrap(), "an erased user registers nothing");
    }
}

async fn exposures_are_each_users_first_decided_notification_of_a_kind(f: &Fixture) {
    let s = f.store();
    let (t0, lease) = (now(), SignedDuration::from_secs(30));
    let t1 = t0 + SignedDuration::from_hours(1);
    let arrival = |who: &str, event: &str| notify::token_arrival(&user(who), event, 10);
    let upgrade = |who: &str| notify::segment_upgrade(&user(who), "2026-05-01", "Low", "Medium", 10);
    s.enqueue(vec![arrival("u0", "a"), arrival("u1", "b"), upgrade("u0"), arrival("ghost", "c")], t0)
        .await
        .unwrap();
    s.enqueue(vec![arrival("u0", "d"), arrival("u2", "e")], t1).await.unwrap();
    let settle = |reason: &str| Settlement::Suppressed { reason: reason.into() };
    for n in s.claim_notifications(t1, t1 + lease, 10).await.unwrap() {
        let outcome = match (n.user_id.as_str(), n.kind.as_str()) {
            ("u1", _) => settle("holdout"),
            ("ghost", _) => settle("unknown_user"),
            // Still queued, not looked at: u2's group is not known yet.
            ("u2", _) => continue,
            ("u0", "SEGMENT_UPGRADE") => {
                Settlement::Deferred { until: t1 + lease, reason: "quiet_hours".into() }
            }
            _ => Settlement::Sent { channel: "webhook".into() },
        };
        assert!(s.settle_notification(n.id, n.claim, t1, outcome).await.unwrap());
    }
    // u2's claim lapses unsettled, as a dispatcher that died would leave it: queued, no reason.
    let got: Vec<(String, String, Timestamp, bool)> = s
        .exposures(t0, t1 + SignedDuration::from_secs(1))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.user_id, e.at, e.held_out))
        .collect();
    let row = |kind: &str, who: &str, at, held| (kind.to_owned(), who.to_owned(), at, held);
    assert_eq!(
        got,
        [
            row("NEW_TOKEN_ARRIVAL", "u0", t0, false),
            row("NEW_TOKEN_ARRIVAL", "u1", t0, true),
            row("SEGMENT_UPGRADE", "u0", t0, false),
        ]
    );
    let later: Vec<String> = s
        .exposures(t1, t1 + SignedDuration::from_secs(1))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.user_id)
        .collect();
    assert_eq!(later, ["u0"], "the range bounds the notifications counted");
}
