//! A segment's members after a nightly batch, paged over HTTP, and the bad requests for them.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use playpulse_core::access::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, decode, event_at};

on_both_backends!(a_segment_pages_through_every_member_once, bad_requests_for_members_are_problems);

/// The batch's business day; every event is at noon of it in Seoul.
const AS_OF: &str = "2026-04-30";
/// Users left in the fallback segment, `low0` … `low6`.
const LOW_USERS: i64 = 7;

fn noon(minutes: i64) -> Timestamp {
    let day: Date = AS_OF.parse().unwrap();
    day.at(3, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp()
        + SignedDuration::from_mins(minutes)
}

/// Seven users with an earn and a session each (Low), and one Whale.
fn population() -> Vec<Value> {
    let mut all = Vec::new();
    for i in 0..LOW_USERS {
        let user = format!("low{i}");
        all.push(event_at(&user, "EARN_CYBER_TOKENS", json!({"amount": 100 + i, "source": "app"}), noon(0)));
        all.push(event_at(&user, "SESSION_START", json!({}), noon(1)));
    }
    let mut whale =
        vec![("PURCHASE_TOKENS", json!({"tokens": 20_000, "cash_amount": 200_000, "currency": "KRW"}))];
    whale.extend(vec![("SPEND_CYBER_TOKENS", json!({"amount": 1_100, "sink": "game"})); 10]);
    whale.extend(vec![("SESSION_START", json!({})); 19]);
    all.extend(
        whale
            .into_iter()
            .enumerate()
            .map(|(i, (kind, props))| event_at("whale", kind, props, noon(i as i64))),
    );
    all
}

/// Every page of `segment`'s members, `limit` at a time: the members and the pages' sizes.
async fn pages(app: &TestApp, segment: &str, limit: usize) -> (Vec<Value>, Vec<usize>) {
    let (mut members, mut sizes) = (Vec::new(), Vec::new());
    let mut path = format!("/v1/segments/{segment}/members?limit={limit}");
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["segment"], segment.replace("%20", " "));
        let batch = page["members"].as_array().expect("members").clone();
        sizes.push(batch.len());
        members.extend(batch);
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/segments/{segment}/members?limit={limit}&after={next}"),
            None => return (members, sizes),
        }
    }
}

async fn a_segment_pages_through_every_member_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, answer) = app.send(&population()).await;
    assert_eq!(answer["rejected"], 0, "{answer}");
    let (status, before) = app.get("/v1/segments/Low/members").await;
    assert_eq!(
        (status, before["members"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "no batch yet"
    );
    app.batch(AS_OF.parse().unwrap()).await.unwrap();
    let stored = app.state.store.segments().await.unwrap();

    let (low, sizes) = pages(&app, "Low", 2).await;
    assert_eq!(sizes, [2, 2, 2, 1], "the last page says there is no next");
    let ids: Vec<&str> = low.iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, (0..LOW_USERS).map(|i| format!("low{i}")).collect::<Vec<_>>(), "each once, in order");
    for (i, member) in (0..).zip(&low) {
        let s = &stored[member["user_id"].as_str().unwrap()];
        assert_eq!(s.segment, "Low");
        let figures = json!({
            "user_id": format!("low{i}"),
            "recency_days": s.rfm.recency_days, "frequency": s.rfm.frequency, "monetary": s.rfm.monetary,
            "partner_visits": s.rfm.partner_visits, "partner_tokens": s.rfm.partner_tokens,
            "balance": s.balance, "rule_index": s.rule_index,
            "as_of": s.as_of.to_string(), "since": s.since.to_string(),
        });
        assert_eq!(*member, figures, "the stored figures");
        assert_eq!((s.rfm.recency_days, s.rfm.frequency, s.balance), (0, 2, 100 + i), "{member}");
        assert_eq!((member["rule_index"].is_null(), &member["since"]), (true, &json!(AS_OF)), "the fallback");
    }

    // A page that holds exactly the rest has no next; one short of it has.
    assert_eq!(pages(&app, "Low", 7).await.1, [7]);
    assert_eq!(pages(&app, "Low", 6).await.1, [6, 1]);
    let (status, default) = app.get("/v1/segments/Low/members").await;
    assert_eq!((status, default["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(7)));
    assert_eq!(default["next"], Value::Null);

    let (whales, _) = pages(&app, "Whale", 100).await;
    assert_eq!(whales.len(), 1);
    let whale = &whales[0];
    assert_eq!(
        (&whale["user_id"], &whale["rule_index"], &whale["monetary"]),
        (&json!("whale"), &json!(0), &json!(11_000))
    );

    // A configured segment no one is in, named with a space.
    let (status, empty) = app.get("/v1/segments/High%20Engaged/members").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty, json!({"segment": "High Engaged", "members": [], "next": null}));
    app.stop().await;
}

async fn bad_requests_for_members_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A well-formed hex cursor whose text is no user id.
    let not_an_id: String = "not an id!".bytes().map(|b| format!("{b:02x}")).collect();
    let cases = [
        (
            "/v1/segments/Low/members?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            Some("limit"),
        ),
        (
            "/v1/segments/Low/members?limit=1001",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            Some("limit"),
        ),
        (
            "/v1/segments/Low/members?limit=abc",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            Some("limit"),
        ),
        (
            "/v1/segments/Low/members?after=zz",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
            Some("after"),
        ),
        (
            &format!("/v1/segments/Low/members?after={not_an_id}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
            Some("after"),
        ),
        ("/v1/segments/Low/members?limit=1&limit=2", StatusCode::BAD_REQUEST, "invalid_query", None),
        ("/v1/segments/Nobody/members", StatusCode::NOT_FOUND, "unknown_segment", None),
        ("/v1/segments/low/members", StatusCode::NOT_FOUND, "unknown_segment", None),
    ];
    for (path, status, code, item) in cases {
        let (got, problem) = app.get(path).await;
        assert_eq!(
            (got, problem["code"].as_str(), problem["item"].as_str()),
            (status, Some(code), item),
            "{path}: {problem}"
        );
    }

    let response = app.client.get(format!("{}/v1/segments/Low/members", app.base)).send().await.unwrap();
    let (status, problem) = decode(response).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing_api_key")));
    let ingester = app.key_with(&[Scope::Ingest]).await;
    let (status, problem) = app.get_as("/v1/segments/Low/members", &ingester).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("missing_scope")));
    let reader = app.key_with(&[Scope::Read]).await;
    let (status, page) = app.get_as("/v1/segments/Low/members", &reader).await;
    assert_eq!((status, page["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    app.stop().await;
}
