//! Profiles, limits and quiz responses.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use playpulse_core::ids::UserId;
use playpulse_core::notify::policy::{Media, Preferences, QuietHours};
use playpulse_core::protection::Limits;
use playpulse_core::quiz::RiskProfile;
use playpulse_store::{LimitsChanged, ProfileUpdate, QuizResponse};
use serde_json::json;

use crate::{Fixture, known, now, on_both};

on_both!(
    a_profile_reads_back_as_written,
    consents_keep_their_first_time_until_withdrawn,
    a_running_lock_survives_concurrent_changes,
    quiz_responses_come_newest_first
);

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

async fn a_profile_reads_back_as_written(f: &Fixture) {
    let s = f.store();
    let update = ProfileUpdate {
        age_verified: Some(true),
        tz: Some("Asia/Kolkata".into()),
        lang: Some("en".into()),
        ..ProfileUpdate::default()
    };
    assert!(!s.update_profile(&user("ghost"), update.clone()).await.unwrap(), "unknown users stay unknown");
    assert!(s.user(&user("ghost")).await.unwrap().is_none());
    known(f, "u1", 1).await;
    assert!(s.update_profile(&user("u1"), update).await.unwrap());
    let only_lang = ProfileUpdate { lang: Some("ko".into()), ..ProfileUpdate::default() };
    assert!(s.update_profile(&user("u1"), only_lang).await.unwrap());
    let record = s.user(&user("u1")).await.unwrap().unwrap();
    assert_eq!((record.tz.as_deref(), record.lang.as_deref()), (Some("Asia/Kolkata"), Some("ko")));
    assert!(record.state.age_verified);
    assert_eq!(record.state.balance.0, 10);
    assert!(record.segment.is_none() && record.hours.is_none() && record.risk.is_none());
}

async fn consents_keep_their_first_time_until_withdrawn(f: &Fixture) {
    let s = f.store();
    known(f, "u1", 1).await;
    let (t1, t2) = (now(), now() + SignedDuration::from_hours(5));
    let preferences = |f: fn(&mut ProfileUpdate), at: Timestamp| {
        let mut update = ProfileUpdate { at: Some(at), ..ProfileUpdate::default() };
        f(&mut update);
        update
    };
    let of = || async { s.user(&user("u1")).await.unwrap().unwrap().preferences };
    assert_eq!(of().await, Preferences::default(), "nothing is agreed to by default");
    let quiet = QuietHours::parse("22:30-07:00").unwrap();
    let grant = preferences(
        |u| {
            (u.marketing, u.quiet_hours) = (Some(true), Some(Some(QuietHours::parse("22:30-07:00").unwrap())))
        },
        t1,
    );
    assert!(s.update_profile(&user("u1"), grant).await.unwrap());
    assert_eq!(
        of().await,
        Preferences { marketing_since: Some(t1), quiet_hours: Some(quiet), ..Preferences::default() }
    );
    // Given again later: the first time stays. The night consent is its own.
    let again = preferences(|u| (u.marketing, u.night_marketing) = (Some(true), Some(true)), t2);
    assert!(s.update_profile(&user("u1"), again).await.unwrap());
    let full = Preferences {
        marketing_since: Some(t1),
        night_marketing_since: Some(t2),
        quiet_hours: Some(quiet),
        marketing_channels: None,
    };
    assert_eq!(of().await, full);
    // The media the consent covers: some, then every one again.
    let push_mail = Media::parse(["push", "email"]).unwrap();
    let narrow =
        preferences(|u| u.marketing_channels = Some(Some(Media::parse(["push", "email"]).unwrap())), t2);
    assert!(s.update_profile(&user("u1"), narrow).await.unwrap());
    assert_eq!(of().await, Preferences { marketing_channels: Some(push_mail), ..full });
    let none = preferences(|u| u.marketing_channels = Some(Some(Media::parse([]).unwrap())), t2);
    assert!(s.update_profile(&user("u1"), none).await.unwrap());
    assert_eq!(of().await.marketing_channels.map(Media::names), Some(vec![]));
    let every = preferences(|u| u.marketing_channels = Some(None), t2);
    assert!(s.update_profile(&user("u1"), every).await.unwrap());
    assert_eq!(of().await, full);
    // An unrelated change keeps them; withdrawn and removed, they go.
    let lang = ProfileUpdate { lang: Some("en".into()), ..ProfileUpdate::default() };
    assert!(s.update_profile(&user("u1"), lang).await.unwrap());
    assert_eq!(of().await.marketing_since, Some(t1));
    let withdraw = preferences(|u| (u.marketing, u.quiet_hours) = (Some(false), Some(None)), t2);
    assert!(s.update_profile(&user("u1"), withdraw).await.unwrap());
    assert_eq!(of().await, Preferences { night_marketing_since: Some(t2), ..Preferences::default() });
}

async fn a_running_lock_survives_concurrent_changes(f: &Fixture) {
    let s = f.store();
    let until = |hours: i64| Some(now() + SignedDuration::from_hours(hours));
    assert_eq!(
        s.change_limits(&user("ghost"), Limits::default(), now()).await.unwrap(),
        LimitsChanged::UnknownUser
    );
    for round in 0..8u128 {
        let name = format!("u{round}");
        known(f, &name, 100 + round).await;
        let exclude = Limits { excluded_until: until(24 * 30), ..Limits::default() };
        let lift = Limits { daily_spend_tokens: Some(5), ..Limits::default() };
        let (a, b) = (f.store.clone(), f.store.clone());
        let (id_a, id_b) = (user(&name), user(&name));
        let set = tokio::spawn(async move { a.change_limits(&id_a, exclude, now()).await.unwrap() });
        let clear = tokio::spawn(async move { b.change_limits(&id_b, lift, now()).await.unwrap() });
        let (set, clear) = (set.await.unwrap(), clear.await.unwrap());
        assert_eq!(set, LimitsChanged::Changed);
        let stored = s.user(&user(&name)).await.unwrap().unwrap().state.limits;
        assert_eq!(
            stored.excluded_until,
            until(24 * 30),
            "round {round}: the exclusion was undone ({clear:?})"
        );
        if let LimitsChanged::Locked(locked) = clear {
            assert_eq!(locked.field, "excluded_until");
        } else {
            assert_eq!(clear, LimitsChanged::Changed, "ran before the exclusion");
        }
    }
    let later: Timestamp = now() + SignedDuration::from_hours(24 * 31);
    assert_eq!(
        s.change_limits(&user("u0"), Limits::default(), later).await.unwrap(),
        LimitsChanged::Changed,
        "an ended exclusion binds no more"
    );
    drop(Arc::clone(&f.store));
}

async fn quiz_responses_come_newest_first(f: &Fixture) {
    let s = f.store();
    let ghost = QuizResponse {
        version: 3,
        answers: json!({}),
        score: 0.0,
        profile: RiskProfile::Low,
        submitted_at: now(),
    };
    assert!(!s.save_quiz(&user("ghost"), ghost).await.unwrap(), "unknown users get nothing stored");
    assert!(s.quiz_responses(&user("ghost"), 10).await.unwrap().is_empty());
    known(f, "u1", 1).await;
    for (i, (score, profile)) in [(80.0, RiskProfile::High), (20.0, RiskProfile::Low)].into_iter().enumerate()
    {
        let response = QuizResponse {
            version: 3,
            answers: json!({"thrill": i + 1}),
            score,
            profile,
            submitted_at: now() + SignedDuration::from_secs(i64::try_from(i).unwrap()),
        };
        assert!(s.save_quiz(&user("u1"), response).await.unwrap());
    }
    let responses = s.quiz_responses(&user("u1"), 10).await.unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!((responses[0].profile, responses[0].answers["thrill"].as_i64()), (RiskProfile::Low, Some(2)));
    assert_eq!(s.quiz_responses(&user("u1"), 1).await.unwrap().len(), 1);
    let record = s.user(&user("u1")).await.unwrap().unwrap();
    assert_eq!(record.risk, Some((RiskProfile::Low, 20.0)), "the latest response is the profile");
}
