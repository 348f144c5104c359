//! The rules before a send: held-out users, users under the protective policy and users who
//! did not agree get no marketing, each such notification recorded as suppressed with its
//! reason; quiet hours and the night rule make one wait, and it goes when they end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use playpulse_core::notify::policy::{Media, Purpose, QuietHours, Trigger, held_out};
use playpulse_core::notify::streaks;
use playpulse_core::protection::Limits;
use playpulse_core::time::ManualClock;
use playpulse_notify::{Attempt, Channel};
use playpulse_store::{DeliveryState, ProfileUpdate, StoredNotification, UserRecord};

use crate::support::{Backend, config, dispatcher, dispatcher_with, known, on_both, receiver, t0, user};

on_both!(
    held_out_users_are_recorded_as_such_and_get_nothing,
    marketing_is_kept_from_users_under_the_protective_policy,
    a_notification_for_a_user_never_seen_is_suppressed,
    consent_caps_and_quiet_hours_decide_what_goes_and_when,
    a_segment_move_goes_to_the_operators_webhook_alone_past_the_users_rules,
    a_streak_reminder_waits_for_its_hour_and_lapses_once_the_user_played,
    marketing_goes_only_by_the_media_the_user_agreed_to,
);

/// Records `user`'s marketing consent (and the night one when `night`).
async fn consents(b: &Backend, user: &UserId, night: bool) {
    let update = ProfileUpdate {
        marketing: Some(true),
        night_marketing: Some(night),
        at: Some(t0()),
        ..ProfileUpdate::default()
    };
    assert!(b.store.update_profile(user, update).await.unwrap());
}

async fn of(b: &Backend, user: &UserId) -> Vec<StoredNotification> {
    b.store.notifications_of(user, None, 10).await.unwrap()
}

async fn held_out_users_are_recorded_as_such_and_get_nothing(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 60).await;
    let notes = (0..60).map(|i| notify::token_arrival(&user(i), &format!("h{i}"), 500)).collect();
    b.store.enqueue(notes, t0()).await.unwrap();
    let mut half = config(&url);
    half.triggers
        .insert("NEW_TOKEN_ARRIVAL".into(), Trigger { purpose: Purpose::Transactional, holdout_share: 0.5 });
    dispatcher(b.store.clone(), &clock, half).dispatch_once().await.unwrap();
    let mut held = 0;
    for i in 0..60 {
        let n = of(b, &user(i)).await.remove(0);
        if held_out(&user(i), "NEW_TOKEN_ARRIVAL", 0.5) {
            held += 1;
            assert_eq!((n.state, n.reason.as_deref()), (DeliveryState::Suppressed, Some("holdout")), "u{i}");
        } else {
            assert_eq!(n.state, DeliveryState::Sent, "u{i}");
        }
    }
    assert!((15..=45).contains(&held), "{held} of 60 held out at one half");
    assert_eq!(rx.seen().len(), 60 - held, "the receiver saw only the treated users");
}

async fn marketing_is_kept_from_users_under_the_protective_policy(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 2).await;
    let (resting, playing) = (user(0), user(1));
    // The user chose a break: a harm marker, so the protective policy applies.
    consents(b, &resting, true).await;
    consents(b, &playing, true).await;
    let limits = Limits { cool_off_until: Some(t0() + SignedDuration::from_hours(2)), ..Limits::default() };
    b.store.change_limits(&resting, limits, t0()).await.unwrap();
    let notes = vec![
        notify::segment_upgrade(&resting, "2026-04-30", "Medium", "High Engaged", 100),
        notify::segment_upgrade(&playing, "2026-04-30", "Medium", "High Engaged", 100),
        notify::token_arrival(&resting, "p1", 500),
    ];
    b.store.enqueue(notes, t0()).await.unwrap();
    dispatcher(b.store.clone(), &clock, config(&url)).dispatch_once().await.unwrap();
    let by_kind = |list: Vec<StoredNotification>| {
        list.into_iter().map(|n| (n.kind.clone(), (n.state, n.reason))).collect::<BTreeMap<_, _>>()
    };
    let resting = by_kind(of(b, &resting).await);
    assert_eq!(resting["SEGMENT_UPGRADE"], (DeliveryState::Suppressed, Some("protective_policy".to_owned())));
    assert_eq!(resting["NEW_TOKEN_ARRIVAL"], (DeliveryState::Sent, None), "a notice still goes");
    assert_eq!(by_kind(of(b, &playing).await)["SEGMENT_UPGRADE"], (DeliveryState::Sent, None));
    assert_eq!(rx.seen().len(), 2);
    // Marketing says it is advertising at the start of its title; a notice does not.
    let titles: BTreeMap<String, (String, String)> = rx
        .seen()
        .into_iter()
        .map(|s| {
            let title = |lang: &str| s.payload["title"][lang].as_str().unwrap().to_owned();
            (s.key, (title("ko"), title("en")))
        })
        .collect();
    let (upgrade, arrival): (Vec<_>, Vec<_>) =
        titles.into_iter().partition(|(k, _)| k.starts_with("segment-upgrade"));
    let (ko, en) = &upgrade[0].1;
    assert!(ko.starts_with("(광고) ") && en.starts_with("(Ad) "), "{ko} / {en}");
    assert!(!arrival[0].1.0.contains("광고"), "{:?}", arrival[0]);
}

async fn a_notification_for_a_user_never_seen_is_suppressed(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    let ghost = UserId::parse("ghost").unwrap();
    b.store.enqueue(vec![notify::token_arrival(&ghost, "g1", 5)], t0()).await.unwrap();
    dispatcher(b.store.clone(), &clock, config(&url)).dispatch_once().await.unwrap();
    let n = of(b, &ghost).await.remove(0);
    assert_eq!((n.state, n.reason.as_deref()), (DeliveryState::Suppressed, Some("unknown_user")));
    assert!(rx.seen().is_empty());
}

async fn consent_caps_and_quiet_hours_decide_what_goes_and_when(b: &Backend) {
    let clock = ManualClock::new(t0()); // 12:00 in Seoul, the users' zone
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 3).await;
    let (silent, agreed, sleeper) = (user(0), user(1), user(2));
    consents(b, &agreed, false).await;
    consents(b, &sleeper, true).await;
    let quiet = ProfileUpdate {
        quiet_hours: Some(Some(QuietHours::parse("11:00-13:00").unwrap())),
        ..ProfileUpdate::default()
    };
    b.store.update_profile(&sleeper, quiet).await.unwrap();
    let upgrade = |u: &UserId, day: &str| notify::segment_upgrade(u, day, "Medium", "High Engaged", 100);
    let mut notes = vec![upgrade(&silent, "2026-04-30"), upgrade(&sleeper, "2026-04-30")];
    // Eight for the agreeing user, claimed at once and sent with the default concurrency:
    // the cap (four a day by default) stops the last four.
    notes.extend((20..28).map(|d| upgrade(&agreed, &format!("2026-04-{d}"))));
    b.store.enqueue(notes, t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();

    let silent_note = of(b, &silent).await.remove(0);
    assert_eq!(
        (silent_note.state, silent_note.reason.as_deref()),
        (DeliveryState::Suppressed, Some("no_marketing_consent"))
    );
    let states: Vec<(DeliveryState, Option<String>)> =
        of(b, &agreed).await.into_iter().rev().map(|n| (n.state, n.reason)).collect();
    let sent = (DeliveryState::Sent, None);
    let capped = (DeliveryState::Suppressed, Some("frequency_cap".to_owned()));
    assert_eq!(states, [vec![sent; 4], vec![capped; 4]].concat());
    // The sleeper's quiet hours end at 13:00 in Seoul: it waits, uncounted, then goes.
    let waiting = of(b, &sleeper).await.remove(0);
    let one_pm = "2026-05-01T04:00:00Z".parse().unwrap();
    assert_eq!(
        (waiting.state, waiting.reason.as_deref(), waiting.attempts),
        (DeliveryState::Queued, Some("quiet_hours"), 0)
    );
    assert_eq!(waiting.next_attempt_at, one_pm);
    assert_eq!(d.dispatch_once().await.unwrap(), 0, "not before its time");
    clock.set(one_pm);
    assert_eq!(d.dispatch_once().await.unwrap(), 1);
    let gone = of(b, &sleeper).await.remove(0);
    assert_eq!((gone.state, gone.attempts), (DeliveryState::Sent, 1));
    assert_eq!(rx.seen().len(), 5);
}

/// A push channel that reaches every user and records what it was given.
#[derive(Default)]
struct Pushes(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Channel for Pushes {
    fn name(&self) -> &'static str {
        "push"
    }

    fn medium(&self) -> playpulse_core::notify::policy::Medium {
        playpulse_core::notify::policy::Medium::Push
    }

    async fn send(&self, n: &StoredNotification, _to: &UserRecord, _now: jiff::Timestamp) -> Attempt {
        self.0.lock().unwrap().push(n.kind.clone());
        Attempt::Delivered
    }
}

async fn a_segment_move_goes_to_the_operators_webhook_alone_past_the_users_rules(b: &Backend) {
    let clock = ManualClock::new(t0()); // 12:00 in Seoul
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 10).await;
    // Everything that keeps a notification from its user: no consent, quiet hours now, a
    // break (the protective policy), held out, past the caps.
    let u = (0..10).map(user).find(|u| held_out(u, notify::SEGMENT_MOVE, 0.5)).expect("one of ten");
    let quiet = ProfileUpdate {
        quiet_hours: Some(Some(QuietHours::parse("11:00-13:00").unwrap())),
        ..ProfileUpdate::default()
    };
    b.store.update_profile(&u, quiet).await.unwrap();
    let limits = Limits { cool_off_until: Some(t0() + SignedDuration::from_hours(2)), ..Limits::default() };
    b.store.change_limits(&u, limits, t0()).await.unwrap();
    let mut config = config(&url);
    let everyone = Trigger { purpose: Purpose::Marketing, holdout_share: 0.5 };
    config.triggers.insert(notify::SEGMENT_MOVE.into(), everyone);
    config.caps.per_day = 0;
    let pushes = Arc::new(Pushes::default());
    let d = dispatcher_with(b.store.clone(), &clock, config, pushes.clone());
    let moves = vec![
        notify::segment_move(&u, "2026-04-30", None, "Whale"),
        notify::segment_move(&u, "2026-05-01", Some("Whale"), "Low"),
    ];
    b.store.enqueue(moves, t0()).await.unwrap();
    d.dispatch_once().await.unwrap();

    for n in of(b, &u).await {
        assert_eq!((n.state, n.channel.as_deref()), (DeliveryState::Sent, Some("webhook")), "{n:?}");
    }
    let seen = rx.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.payload.get("title").is_none()), "no texts: it is not for the user");
    let mut to: Vec<&str> = seen.iter().map(|s| s.payload["to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["Low", "Whale"]);
    assert!(pushes.0.lock().unwrap().is_empty(), "never to the user's devices");
    let week_ago = t0() - SignedDuration::from_hours(24 * 7);
    assert_eq!(
        b.store.sent_since(&u, week_ago, week_ago).await.unwrap(),
        (0, 0),
        "not counted against the caps"
    );
}

/// Game plays of user `u{who}` at noon in Seoul on each of `days` (of April; 31 is May 1).
async fn plays(b: &Backend, who: usize, days: &[u8]) {
    let at = |day: &u8| {
        if *day == 31 { "2026-05-01T03:00:00Z".to_owned() } else { format!("2026-04-{day}T03:00:00Z") }
    };
    let events = days
        .iter()
        .map(|day| {
            let raw = serde_json::json!({"event_id": uuid::Uuid::new_v4().to_string(), "user_id": user(who).as_str(),
                "type": "GAME_PLAY", "ts": at(day), "props": {"game": "slot", "bet": 1, "payout": 0, "result": "lose"}});
            Ok(playpulse_core::event::Event::parse(&raw, &Default::default(), t0()).unwrap())
        })
        .collect();
    b.store.ingest(events, t0()).await.unwrap();
}

async fn a_streak_reminder_waits_for_its_hour_and_lapses_once_the_user_played(b: &Backend) {
    let clock = ManualClock::new(t0()); // 12:00 in Seoul on 2026-05-01
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 3).await;
    for who in 0..3 {
        consents(b, &user(who), false).await;
    }
    // u0 and u1 played on 04-29 and 04-30; u2 on 04-28 and 04-29 only.
    plays(b, 0, &[29, 30]).await;
    plays(b, 1, &[29, 30]).await;
    plays(b, 2, &[28, 29]).await;
    let day = |d: &str| d.parse::<jiff::civil::Date>().unwrap();
    let reminders = vec![
        streaks::streak_reminder(&user(0), day("2026-04-30"), 2),
        streaks::streak_reminder(&user(1), day("2026-04-30"), 2),
        // For 04-30, the day after u2's run: over by now.
        streaks::streak_reminder(&user(2), day("2026-04-29"), 2),
    ];
    b.store.enqueue(reminders, t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();
    let state = |who: usize| async move {
        let n = of(b, &user(who)).await.remove(0);
        (n.state, n.reason)
    };
    let waiting = (DeliveryState::Queued, Some("reminder_time".to_owned()));
    assert_eq!((state(0).await, state(1).await), (waiting.clone(), waiting));
    assert_eq!(state(2).await, (DeliveryState::Suppressed, Some("expired".to_owned())));
    assert!(rx.seen().is_empty(), "nothing before 19:00");

    // u1 plays in the afternoon; at 19:00 u0 is reminded, u1 is not.
    plays(b, 1, &[31]).await;
    clock.set(t0() + SignedDuration::from_hours(7));
    d.dispatch_once().await.unwrap();
    assert_eq!(state(0).await, (DeliveryState::Sent, None));
    assert_eq!(state(1).await, (DeliveryState::Suppressed, Some("streak_kept".to_owned())));
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].payload["title"]["ko"], "(광고) 2일 연속 플레이 중!");
    assert_eq!(
        seen[0].payload["body"]["en"],
        "You have played 2 days in a row. Play today to keep your streak going."
    );
}

async fn marketing_goes_only_by_the_media_the_user_agreed_to(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    known(b.store.as_ref(), 4).await;
    let agreed = [&["webhook"][..], &[], &["push"], &[]];
    for (who, media) in agreed.iter().enumerate() {
        consents(b, &user(who), false).await;
        let media = Media::parse(media.iter().copied()).unwrap();
        let update = ProfileUpdate { marketing_channels: Some(Some(media)), ..ProfileUpdate::default() };
        assert!(b.store.update_profile(&user(who), update).await.unwrap());
    }
    let upgrade =
        |who: usize| notify::segment_upgrade(&user(who), "2026-04-30", "Medium", "High Engaged", 100);
    // u3 agreed to no medium for marketing: a notice still reaches them.
    let notes = vec![upgrade(0), upgrade(1), upgrade(2), notify::token_arrival(&user(3), "e3", 10)];
    b.store.enqueue(notes, t0()).await.unwrap();
    let pushes = Arc::new(Pushes::default());
    dispatcher_with(b.store.clone(), &clock, config(&url), pushes.clone()).dispatch_once().await.unwrap();
    let outcome = |who: usize| async move {
        let n = of(b, &user(who)).await.remove(0);
        (n.state, n.channel, n.reason)
    };
    let sent = |channel: &str| (DeliveryState::Sent, Some(channel.to_owned()), None);
    assert_eq!(outcome(0).await, sent("webhook"), "the push it did not agree to is passed over");
    assert_eq!(outcome(1).await, (DeliveryState::Suppressed, None, Some("no_channel_consent".to_owned())));
    assert_eq!(outcome(2).await, sent("push"));
    assert_eq!(outcome(3).await, sent("push"));
    assert_eq!(rx.seen().len(), 1);
    assert_eq!(pushes.0.lock().unwrap().len(), 2);
}
