//! The content catalog and unlocks.

use std::sync::Arc;

use futures::future::join_all;
use jiff::SignedDuration;
use playpulse_core::content::{ContentId, ContentItem, Ladder, UnlockRefusal, unlock_event_id};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::protection::Limits;
use playpulse_core::tokens::Tokens;
use playpulse_store::{ContentSaved, Expected, ImportCounts, ProfileUpdate, UnlockOutcome, UnlockRequest};
use serde_json::json;
use uuid::Uuid;

use crate::{Fixture, earn, now, on_both};

on_both!(
    the_catalog_keeps_every_version,
    an_import_saves_all_or_nothing,
    unlocks_follow_the_rule_and_the_ledger,
    concurrent_unlocks_spend_once
);

fn segments() -> Vec<String> {
    ["Whale", "High Engaged", "Medium", "Low"].map(String::from).to_vec()
}

/// An item of `series` at `stage` costing `cost`.
pub fn item(id: &str, series: &str, stage: u32, cost: i64) -> ContentItem {
    let raw = json!({
        "content_id": id, "series": series, "stage": stage,
        "name": {"ko": "이름", "en": "Name"}, "description": {"ko": "설명", "en": "About"},
        "thumbnail_url": "https://cdn.example.com/t.png", "media_url": "https://cdn.example.com/m.mp4",
        "cost": cost,
    });
    ContentItem::parse(&raw, &segments()).expect("a valid test item")
}

fn version_of(saved: &ContentSaved) -> i64 {
    match saved {
        ContentSaved::Saved { stored, .. } => stored.version,
        other => panic!("not saved: {other:?}"),
    }
}

async fn the_catalog_keeps_every_version(f: &Fixture) {
    let s = f.store();
    let a = item("a1", "story", 1, 10);
    assert_eq!(version_of(&s.save_content(a.clone(), Expected::Absent, now()).await.unwrap()), 1);
    assert_eq!(s.save_content(a.clone(), Expected::Absent, now()).await.unwrap(), ContentSaved::Exists);
    let dearer = ContentItem { cost: Tokens(20), ..a.clone() };
    assert_eq!(
        s.save_content(dearer.clone(), Expected::Version(7), now()).await.unwrap(),
        ContentSaved::VersionConflict { current: 1 }
    );
    assert_eq!(version_of(&s.save_content(dearer.clone(), Expected::Version(1), now()).await.unwrap()), 2);
    let same = s.save_content(dearer.clone(), Expected::Version(2), now()).await.unwrap();
    assert!(matches!(same, ContentSaved::Saved { changed: false, .. }), "the same item keeps its version");
    let ghost = item("ghost", "story", 9, 1);
    assert_eq!(
        s.save_content(ghost, Expected::Version(1), now()).await.unwrap(),
        ContentSaved::UnknownContent
    );
    let rival = item("a2", "story", 1, 10);
    assert_eq!(
        s.save_content(rival.clone(), Expected::Absent, now()).await.unwrap(),
        ContentSaved::StageTaken { by: a.content_id.clone() }
    );
    let retired = s.retire_content(&a.content_id, now()).await.unwrap();
    assert!(matches!(&retired, ContentSaved::Saved { stored, .. } if stored.retired && stored.version == 3));
    assert_eq!(version_of(&s.save_content(rival, Expected::Absent, now()).await.unwrap()), 1, "stage freed");
    let versions = s.content_versions(&a.content_id).await.unwrap();
    let seen: Vec<(i64, i64, bool)> =
        versions.iter().map(|v| (v.version, v.item.cost.0, v.retired)).collect();
    assert_eq!(seen, [(3, 20, true), (2, 20, false), (1, 10, false)], "newest first, every body kept");
    let listed: Vec<(String, bool)> = (s.content_items().await.unwrap().into_iter())
        .map(|c| (c.item.content_id.to_string(), c.retired))
        .collect();
    assert_eq!(listed, [("a1".to_owned(), true), ("a2".to_owned(), false)]);
    assert!(s.content_item(&ContentId::parse("nope").unwrap()).await.unwrap().is_none());
}

async fn an_import_saves_all_or_nothing(f: &Fixture) {
    let s = f.store();
    let first = vec![item("i1", "s", 1, 5), item("i2", "s", 2, 5)];
    let counts = s.import_content(first.clone(), now()).await.unwrap().unwrap();
    assert_eq!(counts, ImportCounts { created: 2, updated: 0, unchanged: 0 });
    let changed = vec![item("i1", "s", 1, 6), item("i2", "s", 2, 5), item("i3", "s", 3, 5)];
    let counts = s.import_content(changed, now()).await.unwrap().unwrap();
    assert_eq!(counts, ImportCounts { created: 1, updated: 1, unchanged: 1 });
    let clash = vec![item("i4", "t", 1, 5), item("i5", "s", 2, 5)];
    let (at, why) = s.import_content(clash, now()).await.unwrap().unwrap_err();
    assert_eq!((at.as_str(), why), ("i5", ContentSaved::StageTaken { by: ContentId::parse("i2").unwrap() }));
    assert!(s.content_item(&ContentId::parse("i4").unwrap()).await.unwrap().is_none(), "nothing of it stays");
}

fn request(user: &str, content: &str, n: u128) -> UnlockRequest {
    UnlockRequest {
        user: UserId::parse(user).unwrap(),
        content_id: ContentId::parse(content).unwrap(),
        request: EventId(Uuid::from_u128(0xC0_0000 + n)),
        ts: now(),
        now: now(),
        ladder: Ladder::new(segments()),
    }
}

fn code(outcome: &UnlockOutcome) -> &'static str {
    match outcome {
        UnlockOutcome::Unlocked { .. } => "unlocked",
        UnlockOutcome::Replayed(_) => "replayed",
        UnlockOutcome::Refused { refusal, .. } => refusal.code(),
        UnlockOutcome::UnknownContent => "unknown_content",
    }
}

async fn unlocks_follow_the_rule_and_the_ledger(f: &Fixture) {
    let s = f.store();
    let adult = ContentItem { adult: true, ..item("x1", "night", 1, 10) };
    let medium = ContentItem { required_segment: Some("Medium".into()), ..item("m1", "club", 1, 10) };
    let items = vec![
        item("s1", "story", 1, 100),
        item("s2", "story", 2, 100),
        adult,
        medium,
        item("free", "f", 1, 0),
    ];
    s.import_content(items, now()).await.unwrap().unwrap();
    s.ingest(vec![Ok(earn(1, "u1", 150))], now()).await.unwrap();
    let u1 = UserId::parse("u1").unwrap();
    let balance = || async { s.user(&u1).await.unwrap().unwrap().state.balance.0 };

    assert_eq!(code(&s.unlock_content(request("u1", "nope", 1)).await.unwrap()), "unknown_content");
    assert_eq!(code(&s.unlock_content(request("u1", "s2", 2)).await.unwrap()), "previous_stage_required");
    assert_eq!(code(&s.unlock_content(request("u1", "x1", 3)).await.unwrap()), "age_verification_required");
    assert_eq!(code(&s.unlock_content(request("u1", "m1", 4)).await.unwrap()), "segment_level_required");
    let first = s.unlock_content(request("u1", "s1", 5)).await.unwrap();
    let UnlockOutcome::Unlocked { unlock, state } = &first else { panic!("{first:?}") };
    assert_eq!((unlock.tokens, state.balance), (Tokens(100), Tokens(50)));
    assert_eq!(unlock.event_id, unlock_event_id(request("u1", "s1", 5).request));
    let again = s.unlock_content(request("u1", "s1", 5)).await.unwrap();
    assert!(matches!(&again, UnlockOutcome::Replayed(u) if u == unlock), "{again:?}");
    assert_eq!(code(&s.unlock_content(request("u1", "s1", 6)).await.unwrap()), "already_unlocked");
    assert_eq!(code(&s.unlock_content(request("u1", "s2", 7)).await.unwrap()), "insufficient_balance");
    assert_eq!(code(&s.unlock_content(request("u1", "s2", 5)).await.unwrap()), "request_id_conflict");
    assert_eq!(balance().await, 50, "refusals change nothing");

    s.update_profile(&u1, ProfileUpdate { age_verified: Some(true), ..ProfileUpdate::default() })
        .await
        .unwrap();
    let cool = Limits { cool_off_until: Some(now() + SignedDuration::from_hours(2)), ..Limits::default() };
    s.change_limits(&u1, cool, now()).await.unwrap();
    let refused = s.unlock_content(request("u1", "x1", 8)).await.unwrap();
    assert!(matches!(&refused, UnlockOutcome::Refused { refusal: UnlockRefusal::Ledger(_), .. }));
    assert_eq!(code(&refused), "cooling_off", "the ledger's own protection binds unlocks");
    let free = s.unlock_content(request("u1", "free", 9)).await.unwrap();
    assert_eq!(code(&free), "unlocked", "a free item spends nothing, so no cool-off binds it");
    let held: Vec<String> =
        (s.unlocks_of(&u1).await.unwrap().into_iter()).map(|u| u.content_id.to_string()).collect();
    assert_eq!(held, ["s1", "free"]);
    assert_eq!(balance().await, 50);
    assert_eq!(s.ledger_sum(&u1).await.unwrap(), Tokens(50));
    assert_eq!(code(&s.unlock_content(request("new", "free", 10)).await.unwrap()), "unlocked", "a new user");
}

async fn concurrent_unlocks_spend_once(f: &Fixture) {
    let s = f.store();
    let items = vec![item("c1", "a", 1, 60), item("c2", "b", 1, 60)];
    s.import_content(items, now()).await.unwrap().unwrap();
    s.ingest(vec![Ok(earn(1, "u1", 100)), Ok(earn(2, "u2", 100))], now()).await.unwrap();
    let unlock_all = |requests: Vec<UnlockRequest>| {
        join_all(requests.into_iter().map(|r| {
            let store = Arc::clone(&f.store);
            tokio::spawn(async move { code(&store.unlock_content(r).await.unwrap()) })
        }))
    };
    let one_item: Vec<&str> =
        (unlock_all((0..8).map(|n| request("u1", "c1", n)).collect()).await.into_iter())
            .map(Result::unwrap)
            .collect();
    assert_eq!(one_item.iter().filter(|c| **c == "unlocked").count(), 1, "{one_item:?}");
    assert!(one_item.iter().all(|c| ["unlocked", "already_unlocked"].contains(c)), "{one_item:?}");
    let two_items = unlock_all(vec![request("u2", "c1", 100), request("u2", "c2", 101)]).await;
    let mut codes: Vec<&str> = two_items.into_iter().map(Result::unwrap).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["insufficient_balance", "unlocked"], "the last tokens buy one item");
    for user in ["u1", "u2"] {
        let user = UserId::parse(user).unwrap();
        assert_eq!(s.user(&user).await.unwrap().unwrap().state.balance, Tokens(40));
        assert_eq!(s.ledger_sum(&user).await.unwrap(), Tokens(40));
    }
    let counts: u64 = s.unlock_counts().await.unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(counts, 2);
}
