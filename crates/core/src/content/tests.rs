//! The catalog's validation table and the unlock rule's table.

use serde_json::json;

use super::*;
use crate::event::{EventType, RejectCode};

fn segments() -> Vec<String> {
    ["Whale", "High Engaged", "Medium", "Low"].map(String::from).to_vec()
}

fn item_json() -> Value {
    json!({
        "content_id": "story-2",
        "series": "story",
        "stage": 2,
        "name": {"ko": "두 번째 장", "en": "Chapter two"},
        "description": {"ko": "", "en": "The plot thickens."},
        "thumbnail_url": "https://cdn.example.com/story/2.png",
        "media_url": "http://cdn.example.com/story/2.mp4",
        "required_segment": "Medium",
        "adult": false,
        "cost": 300
    })
}

fn item() -> ContentItem {
    ContentItem::parse(&item_json(), &segments()).unwrap()
}

#[test]
fn a_valid_item_parses_with_every_field() {
    let item = item();
    assert_eq!((item.content_id.as_str(), item.series.as_str(), item.stage), ("story-2", "story", 2));
    assert_eq!(item.name.en, "Chapter two");
    assert_eq!(
        (item.required_segment.as_deref(), item.adult, item.cost),
        (Some("Medium"), false, Tokens(300))
    );
    let mut minimal = item_json();
    let obj = minimal.as_object_mut().unwrap();
    obj.remove("required_segment");
    obj.remove("adult");
    let parsed = ContentItem::parse(&minimal, &segments()).unwrap();
    assert_eq!((parsed.required_segment, parsed.adult), (None, false));
    let stored = serde_json::to_value(&item).unwrap();
    assert_eq!(serde_json::from_value::<ContentItem>(stored).unwrap(), item, "the stored form reads back");
}

#[test]
fn every_bad_field_is_named() {
    let long_url = format!("https://x.example/{}", "a".repeat(MAX_URL_LEN));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("content_id", json!("a b"), "content_id"),
        ("content_id", json!("x".repeat(65)), "content_id"),
        ("content_id", Value::Null, "content_id"),
        ("series", json!(""), "series"),
        ("series", json!(7), "series"),
        ("stage", json!(0), "stage"),
        ("stage", json!(1001), "stage"),
        ("stage", json!(1.5), "stage"),
        ("cost", json!(-1), "cost"),
        ("cost", json!(MAX_EVENT_AMOUNT + 1), "cost"),
        ("name", json!({"ko": "이름"}), "name.en"),
        ("name", json!({"ko": "", "en": "x"}), "name.ko"),
        ("name", json!({"ko": "x", "en": "x", "fr": "x"}), "name.fr"),
        ("name", json!("Chapter"), "name"),
        ("description", json!({"ko": "x", "en": "y".repeat(MAX_DESCRIPTION_CHARS + 1)}), "description.en"),
        ("thumbnail_url", json!("ftp://cdn.example.com/a.png"), "thumbnail_url"),
        ("thumbnail_url", json!("https://"), "thumbnail_url"),
        ("media_url", json!("https://cdn.example.com/a b.mp4"), "media_url"),
        ("media_url", json!(long_url), "media_url"),
        ("required_segment", json!("Platinum"), "required_segment"),
        ("adult", json!("yes"), "adult"),
        ("colour", json!("red"), "colour"),
    ];
    for (field, value, named) in cases {
        let mut raw = item_json();
        raw[field] = value.clone();
        let err = ContentItem::parse(&raw, &segments()).expect_err(&format!("{field} = {value}"));
        assert_eq!(err.field, named, "{field} = {value}: {err}");
    }
    assert_eq!(ContentItem::parse(&json!([1]), &segments()).unwrap_err().field, "item");
}

fn facts() -> UnlockFacts {
    UnlockFacts {
        age_verified: false,
        segment_rank: 2,
        required_rank: Some(2),
        previous_unlocked: true,
        already_unlocked: false,
        balance: Tokens(300),
    }
}

#[test]
fn the_unlock_rule_refuses_in_order() {
    let adult = ContentItem { adult: true, ..item() };
    let first = ContentItem { stage: 1, ..item() };
    let cases: Vec<(&str, ContentItem, UnlockFacts, Result<(), &str>)> = vec![
        ("all met", item(), facts(), Ok(())),
        ("exact balance", item(), UnlockFacts { balance: Tokens(300), ..facts() }, Ok(())),
        ("higher segment", item(), UnlockFacts { segment_rank: 0, ..facts() }, Ok(())),
        ("no requirement", item(), UnlockFacts { required_rank: None, segment_rank: 3, ..facts() }, Ok(())),
        ("stage 1 needs nothing", first, UnlockFacts { previous_unlocked: false, ..facts() }, Ok(())),
        ("adult, verified", adult.clone(), UnlockFacts { age_verified: true, ..facts() }, Ok(())),
        (
            "owned",
            item(),
            UnlockFacts { already_unlocked: true, balance: Tokens(0), ..facts() },
            Err("already_unlocked"),
        ),
        (
            "adult",
            adult,
            UnlockFacts { previous_unlocked: false, ..facts() },
            Err("age_verification_required"),
        ),
        (
            "order",
            item(),
            UnlockFacts { previous_unlocked: false, segment_rank: 3, ..facts() },
            Err("previous_stage_required"),
        ),
        (
            "segment",
            item(),
            UnlockFacts { segment_rank: 3, balance: Tokens(0), ..facts() },
            Err("segment_level_required"),
        ),
        ("balance", item(), UnlockFacts { balance: Tokens(299), ..facts() }, Err("insufficient_balance")),
    ];
    for (name, item, facts, expected) in cases {
        assert_eq!(check_unlock(&item, &facts).map_err(|r| r.code()), expected, "{name}");
    }
}

#[test]
fn the_ladder_ranks_unknown_segments_at_the_bottom() {
    let ladder = Ladder::new(segments());
    assert_eq!(ladder.rank(Some("Whale")), 0);
    assert_eq!(ladder.rank(Some("Medium")), 2);
    assert_eq!(ladder.rank(Some("Gone")), 3);
    assert_eq!(ladder.rank(None), 3, "a user no batch has seen is in the fallback");
}

#[test]
fn an_unlock_is_a_spend_and_an_unlock_event() {
    let now: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
    let user = UserId::parse("u1").unwrap();
    let request = EventId(Uuid::from_u128(42));
    let adult = ContentItem { adult: true, ..item() };
    let events: Vec<Event> =
        unlock_events(&adult, &user, request, now, now).into_iter().map(Result::unwrap).collect();
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].id, &events[0].event_type), (request, &EventType::SpendCyberTokens));
    assert_eq!(events[0].movement.map(|m| (m.delta, m.reason)), Some((Tokens(-300), "spend:unlock")));
    assert_eq!(events[1].event_type, EventType::ContentUnlock);
    assert_eq!(events[1].id, unlock_event_id(request), "derived, so a retry derives the same id");
    assert_ne!(events[1].id, request);
    assert!(events.iter().all(|e| e.adult), "the age gate sees the catalog's flag");
    let props: Value = serde_json::from_str(&events[1].props).unwrap();
    assert_eq!(props, json!({"content_id": "story-2", "stage": 2, "series": "story"}));

    let free = ContentItem { cost: Tokens(0), ..item() };
    let events = unlock_events(&free, &user, request, now, now);
    assert_eq!(events.len(), 1, "a free item spends nothing");
    let future = now + jiff::SignedDuration::from_hours(48);
    let refused = unlock_events(&item(), &user, request, future, now);
    assert!(refused.iter().all(|e| e.as_ref().is_err_and(|r| r.code == RejectCode::TimestampInFuture)));
}
