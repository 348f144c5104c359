//! The content catalog and unlocks over HTTP: every refusal code, stage order, concurrency,
//! the age gate, idempotent retries, the lake and the counts.

use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use playpulse_core::content::unlock_event_id;
use playpulse_core::ids::EventId;
use playpulse_core::time::BusinessZone;
use playpulse_lake::events::EventLake;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, earn, event, statuses};

on_both_backends!(
    the_catalog_is_edited_with_versions,
    every_refusal_has_its_code,
    concurrent_unlocks_spend_once,
    adult_items_stay_hidden_until_age_verified,
    unlocks_reach_the_lake_and_the_counts_agree
);

fn item(id: &str, series: &str, stage: u32, cost: i64) -> Value {
    json!({
        "content_id": id, "series": series, "stage": stage,
        "name": {"ko": "이름", "en": "Name"}, "description": {"ko": "", "en": ""},
        "thumbnail_url": "https://cdn.example.com/t.png", "media_url": "https://cdn.example.com/m.mp4",
        "cost": cost,
    })
}

async fn create(app: &TestApp, body: Value) {
    let (status, answer) = app.call(Method::POST, "/v1/content", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Unlocks with a request id; the status and the code (or `unlocked` / `replayed`).
async fn unlock(app: &TestApp, user: &str, content: &str, request: Uuid) -> (StatusCode, String) {
    let path = format!("/v1/users/{user}/content/{content}/unlock");
    let (status, body) = app.call(Method::POST, &path, json!({"request_id": request.to_string()})).await;
    let code = match body["code"].as_str() {
        Some(code) => code.to_owned(),
        None if body["replayed"] == true => "replayed".to_owned(),
        None => "unlocked".to_owned(),
    };
    (status, code)
}

async fn the_catalog_is_edited_with_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    create(&app, item("s1", "story", 1, 10)).await;
    let (status, problem) = app.call(Method::POST, "/v1/content", item("s1", "story", 2, 10)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("content_exists")));
    let mut bad = item("s2", "story", 2, 10);
    bad["media_url"] = json!("javascript:alert(1)");
    let (status, problem) = app.call(Method::POST, "/v1/content", bad).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_content"))
    );
    assert_eq!(problem["item"], "media_url");
    let (status, problem) = app.call(Method::POST, "/v1/content", item("s9", "story", 1, 10)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("stage_taken")));

    let mut change = item("s1", "story", 1, 20);
    change["version"] = json!(5);
    let (status, problem) = app.call(Method::PUT, "/v1/content/s1", change.clone()).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("version_conflict")));
    change["version"] = json!(1);
    let (status, body) = app.call(Method::PUT, "/v1/content/s1", change).await;
    assert_eq!(
        (status, body["version"].as_i64(), body["cost"].as_i64()),
        (StatusCode::OK, Some(2), Some(20))
    );
    let (status, body) = app.call(Method::DELETE, "/v1/content/s1", Value::Null).await;
    assert_eq!((status, body["retired"].as_bool()), (StatusCode::OK, Some(true)));
    let (_, versions) = app.get("/v1/content/s1/versions").await;
    let seen: Vec<i64> =
        versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(seen, [3, 2, 1]);
    let (status, body) = app.get("/v1/content/s1").await;
    assert_eq!((status, body["retired"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(app.get("/v1/content/zzz").await.1["code"], "unknown_content");
    assert_eq!(app.get("/v1/content").await.1.as_array().unwrap().len(), 1, "retired items stay listed");

    let reader = app.key_with(&[playpulse_core::access::Scope::Read]).await;
    let body = serde_json::to_vec(&item("s3", "story", 3, 1)).unwrap();
    let (status, problem) = app.post_raw("/v1/content", &reader, body).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("missing_scope")));
    app.stop().await;
}

async fn every_refusal_has_its_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    create(&app, item("s1", "story", 1, 100)).await;
    create(&app, item("s2", "story", 2, 100)).await;
    let mut medium = item("m1", "club", 1, 10);
    medium["required_segment"] = json!("Medium");
    create(&app, medium).await;
    let mut adult = item("x1", "night", 1, 10);
    adult["adult"] = json!(true);
    create(&app, adult).await;
    for user in ["ann", "bob", "cat", "dan"] {
        app.send(&[earn(user, 150)]).await;
    }
    let r = Uuid::new_v4;
    assert_eq!(unlock(&app, "ann", "nope", r()).await, (StatusCode::NOT_FOUND, "unknown_content".into()));
    let expect_422 = |code: &str| (StatusCode::UNPROCESSABLE_ENTITY, code.to_owned());
    assert_eq!(unlock(&app, "ann", "s2", r()).await, expect_422("previous_stage_required"));
    assert_eq!(unlock(&app, "ann", "m1", r()).await, expect_422("segment_level_required"));
    assert_eq!(unlock(&app, "ann", "x1", r()).await, expect_422("age_verification_required"));
    let first = r();
    assert_eq!(unlock(&app, "ann", "s1", first).await, (StatusCode::OK, "unlocked".into()));
    assert_eq!(unlock(&app, "ann", "s1", first).await, (StatusCode::OK, "replayed".into()), "a retry");
    assert_eq!(unlock(&app, "ann", "s1", r()).await, (StatusCode::CONFLICT, "already_unlocked".into()));
    assert_eq!(unlock(&app, "ann", "s2", r()).await, expect_422("insufficient_balance"));
    assert_eq!(app.balance("ann").await, 50, "one spend, refusals change nothing");

    let in_2h = (NOW.parse::<Timestamp>().unwrap() + SignedDuration::from_hours(2)).to_string();
    let limits = [
        ("bob", json!({"daily_spend_tokens": 50}), "daily_limit_reached"),
        ("cat", json!({"cool_off_until": in_2h}), "cooling_off"),
        ("dan", json!({"excluded_until": in_2h}), "self_excluded"),
    ];
    for (user, change, code) in limits {
        let (status, body) = app.call(Method::PUT, &format!("/v1/users/{user}/limits"), change).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(unlock(&app, user, "s1", r()).await, expect_422(code), "{user}");
        assert_eq!(app.balance(user).await, 150);
    }

    let (_, listing) = app.get("/v1/users/ann/content").await;
    let next: Vec<(&str, &str, bool)> = (listing["next"].as_array().unwrap().iter())
        .map(|n| (n["series"].as_str().unwrap(), n["content_id"].as_str().unwrap(), n["unlockable"] == true))
        .collect();
    assert_eq!(next, [("club", "m1", false), ("story", "s2", false)]);
    let s2 = listing["items"].as_array().unwrap().iter().find(|i| i["content_id"] == "s2").unwrap();
    assert_eq!((s2["blocked_by"].as_str(), s2["cost"].as_i64()), (Some("insufficient_balance"), Some(100)));
    let s1 = listing["items"].as_array().unwrap().iter().find(|i| i["content_id"] == "s1").unwrap();
    assert_eq!((s1["unlocked"].as_bool(), s1["unlockable"].as_bool()), (Some(true), Some(false)));
    app.stop().await;
}

async fn concurrent_unlocks_spend_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    create(&app, item("c1", "a", 1, 60)).await;
    create(&app, item("c2", "b", 1, 60)).await;
    app.send(&[earn("u1", 100), earn("u2", 100)]).await;
    let same_item = join_all((0..8).map(|_| unlock(&app, "u1", "c1", Uuid::new_v4()))).await;
    let won = same_item.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(won, 1, "{same_item:?}");
    assert!(same_item.iter().all(|(s, c)| *s == StatusCode::OK || c == "already_unlocked"), "{same_item:?}");
    assert_eq!(app.balance("u1").await, 40, "debited once");
    let (a, b) =
        tokio::join!(unlock(&app, "u2", "c1", Uuid::new_v4()), unlock(&app, "u2", "c2", Uuid::new_v4()));
    let mut codes = [a.1, b.1];
    codes.sort();
    assert_eq!(codes, ["insufficient_balance", "unlocked"], "the last tokens buy one item");
    assert_eq!(app.balance("u2").await, 40);
    app.stop().await;
}

async fn adult_items_stay_hidden_until_age_verified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut adult = item("x1", "night", 1, 10);
    adult["adult"] = json!(true);
    create(&app, adult).await;
    create(&app, item("s1", "story", 1, 10)).await;
    app.send(&[earn("kid", 100)]).await;
    let listed = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["content_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, listing) = app.get("/v1/users/kid/content").await;
    assert_eq!(listed(&listing), ["s1"], "never listed: {listing}");
    assert!(listing["next"].as_array().unwrap().iter().all(|n| n["content_id"] != "x1"));
    assert_eq!(unlock(&app, "kid", "x1", Uuid::new_v4()).await.1, "age_verification_required");
    // The catalog's flag binds events sent directly too.
    let direct = [
        event("kid", "CONTENT_UNLOCK", json!({"content_id": "x1", "stage": 1})),
        event("kid", "SPEND_CYBER_TOKENS", json!({"amount": 10, "sink": "unlock", "content_id": "x1"})),
    ];
    let (_, answer) = app.send(&direct).await;
    assert_eq!(statuses(&answer), ["age_verification_required", "age_verification_required"]);
    assert_eq!(app.balance("kid").await, 100);

    let (status, _) = app.call(Method::PATCH, "/v1/users/kid", json!({"age_verified": true})).await;
    assert!(status.is_success(), "{status}");
    let (_, listing) = app.get("/v1/users/kid/content").await;
    assert_eq!(listed(&listing), ["x1", "s1"], "by series: night, story");
    assert_eq!(unlock(&app, "kid", "x1", Uuid::new_v4()).await.1, "unlocked");
    app.stop().await;
}

async fn unlocks_reach_the_lake_and_the_counts_agree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let file = app.dir.path().join("catalog.json");
    let catalog = json!([item("s1", "story", 1, 0), item("s2", "story", 2, 5), item("t1", "tour", 1, 5)]);
    std::fs::write(&file, catalog.to_string()).unwrap();
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_playpulse"));
    cli.args(["content", "import", file.to_str().unwrap(), "--data-dir", app.dir.path().to_str().unwrap()]);
    if backend == Backend::Postgres {
        cli.args(["--db", &app.config.store.db]);
    }
    let out = cli.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "created=3 updated=0 unchanged=0");
    app.state.refresh_catalog().await;

    let mut unlock_ids = Vec::new();
    for (n, user) in ["u1", "u2", "u3"].iter().enumerate() {
        app.send(&[earn(user, 20)]).await;
        let wanted: &[&str] = if n == 0 { &["s1", "s2", "t1"] } else { &["s1", "t1"] };
        for content in wanted {
            let request = Uuid::new_v4();
            assert_eq!(unlock(&app, user, content, request).await.1, "unlocked", "{user} {content}");
            unlock_ids.push(unlock_event_id(EventId(request)).to_string());
        }
    }
    let counts = app.state.store.unlock_counts().await.unwrap();
    let counted: Vec<(String, u64)> = counts.iter().map(|(id, n)| (id.to_string(), *n)).collect();
    assert_eq!(counted, [("s1".to_owned(), 3), ("s2".to_owned(), 1), ("t1".to_owned(), 3)]);

    let root = app.dir.path().join("lake");
    use playpulse::commands::export::{MAX_WAIT_FOR_PENDING, export};
    export(app.state.store.as_ref(), &root, BusinessZone::default(), 1_000, MAX_WAIT_FOR_PENDING)
        .await
        .unwrap();
    let audit = EventLake::open(&root, BusinessZone::default()).unwrap().audit().unwrap();
    for id in &unlock_ids {
        assert_eq!(audit.event_ids.iter().filter(|e| *e == id).count(), 1, "CONTENT_UNLOCK {id} in the lake");
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, unlock_ids.len() as u64, "the DB counts every unlock answered, once");
    app.stop().await;
}
