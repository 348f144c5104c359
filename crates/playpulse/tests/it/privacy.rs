//! A user's data on request: the export equals what the API, the store and the lake hold;
//! after erasure nothing anywhere (tables, data files, the lake, Redis) holds the user's id
//! or free text, the token totals are unchanged, and the batch and analytics still run.

use std::collections::BTreeSet;
use std::path::Path;

use playpulse::commands::export::{MAX_WAIT_FOR_PENDING, export, lake_root};
use playpulse::commands::import::import_file;
use playpulse_core::ids::UserId;
use playpulse_core::time::BusinessZone;
use playpulse_store::{ExportMark, MAX_EXPORT_PAGE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, Storage, TestApp, earn, event, simulate, statuses};

on_both_backends!(
    export_holds_what_the_api_the_store_and_the_lake_hold,
    erasure_leaves_nothing_behind,
    two_erasures_and_a_batch_at_once_erase_once
);

const USER: &str = "erase-me-1f3a";
const FREE_TEXT: &str = "lives at 12 Secret Lane";
const FROM: &str = "2026-04-22";
const TO: &str = "2026-05-01";

/// A simulated history, and one user with a bit of everything: free text in props, a
/// profile, a quiz, limits, a segment.
async fn populated(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let sim = tempfile::tempdir().unwrap();
    simulate(sim.path(), &["--users", "40", "--days", "9", "--seed", "9", "--start", FROM]);
    import_file(&app.state, &sim.path().join("events.parquet")).await.unwrap();
    let mut events = vec![
        event(USER, "EARN_CYBER_TOKENS", json!({"amount": 500, "source": "app", "note": FREE_TEXT})),
        event(USER, "GAME_PLAY", json!({"game": "slot", "bet": 20, "payout": 0, "result": "lose"})),
    ];
    events.push(earn(USER, 70));
    let (status, answer) = app.send(&events).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(statuses(&answer).iter().all(|s| s == "accepted"), "{answer}");
    let (status, _) = app
        .call(Method::PATCH, &format!("/v1/users/{USER}"), json!({"tz": "Asia/Seoul", "lang": "en"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answers =
        json!({"thrill": 5, "big_win": 5, "steady": 1, "all_in": true, "stop_rule": false, "chase": 5});
    let quiz = json!({"user_id": USER, "quiz_version": 1, "answers": answers});
    assert_eq!(app.call(Method::POST, "/v1/quiz/submit", quiz).await.0, StatusCode::OK);
    let limits = json!({"daily_spend_tokens": 300});
    assert_eq!(app.call(Method::PUT, &format!("/v1/users/{USER}/limits"), limits).await.0, StatusCode::OK);
    app.batch(TO.parse().unwrap()).await.unwrap();
    app
}

async fn export_of(app: &TestApp, user: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/users/{user}/export")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The store's events of `user`, by id, read through the export feed (every event).
async fn stored_event_ids(app: &TestApp, user: &str) -> BTreeSet<String> {
    let (mut mark, mut ids) = (ExportMark::default(), BTreeSet::new());
    loop {
        let page = app.state.store.events_after(mark, MAX_EXPORT_PAGE).await.unwrap();
        if page.events.is_empty() {
            return ids;
        }
        ids.extend(page.events.into_iter().filter(|e| e.user_id == user).map(|e| e.event_id.to_string()));
        mark = page.next;
    }
}

async fn export_holds_what_the_api_the_store_and_the_lake_hold(backend: Backend) {
    let app = populated(backend).await;
    let root = lake_root(&app.config);
    export(app.state.store.as_ref(), &root, BusinessZone::default(), 1000, MAX_WAIT_FOR_PENDING)
        .await
        .unwrap();
    // The simulated user with the most events, and the hand-made one.
    let busiest = busiest_user(&app).await;
    for user in [busiest.as_str(), USER] {
        let doc = export_of(&app, user).await;
        let (_, profile) = app.get(&format!("/v1/users/{user}")).await;
        for field in ["balance", "first_seen_at", "last_action_at", "tz", "lang", "risk_profile", "segment"] {
            assert_eq!(doc["profile"][field], profile[field], "{user}: {field}");
        }
        assert_eq!(doc["limits"], app.get(&format!("/v1/users/{user}/limits")).await.1, "{user}");
        let events: BTreeSet<String> = doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events, stored_event_ids(&app, user).await, "{user}: events as stored");
        assert_eq!(
            events,
            playpulse_lake::erasure::event_ids_of(&root, user).unwrap(),
            "{user}: and in the lake"
        );
        let seqs: Vec<i64> =
            doc["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first");
        let mut ledger = Vec::new();
        let mut cursor = String::new();
        loop {
            let (_, page) = app.get(&format!("/v1/users/{user}/ledger?limit=7{cursor}")).await;
            ledger.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(doc["ledger"].as_array().unwrap(), &ledger, "{user}: the ledger, newest first");
        assert!(!ledger.is_empty());
    }
    let doc = export_of(&app, USER).await;
    assert_eq!(doc["events"].as_array().unwrap().len(), 3);
    assert_eq!(doc["events"][0]["props"]["note"], FREE_TEXT);
    assert_eq!(doc["quiz_responses"].as_array().unwrap().len(), 1);
    assert_eq!(doc["profile"]["tz"], "Asia/Seoul");
    assert_eq!(doc["limits"]["limits"]["daily_spend_tokens"], 300);
    assert_eq!(doc["segment_history"].as_array().unwrap().len(), 1, "{doc}");
    // Admin only, and only about someone known.
    assert_eq!(app.get("/v1/users/nobody-here/export").await.0, StatusCode::NOT_FOUND);
    let reader = app.key_with(&[playpulse_core::access::Scope::Read]).await;
    assert_eq!(app.get_as(&format!("/v1/users/{USER}/export"), &reader).await.0, StatusCode::FORBIDDEN);
}

async fn busiest_user(app: &TestApp) -> String {
    let (mut mark, mut counts) = (ExportMark::default(), std::collections::BTreeMap::<String, u64>::new());
    loop {
        let page = app.state.store.events_after(mark, MAX_EXPORT_PAGE).await.unwrap();
        if page.events.is_empty() {
            break;
        }
        for e in page.events {
            *counts.entry(e.user_id).or_default() += 1;
        }
        mark = page.next;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

async fn token_flow(app: &TestApp) -> Value {
    let (status, body) = app.get(&format!("/v1/analytics/token_flow?from={FROM}&to={TO}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["rows"].clone()
}

async fn erasure_leaves_nothing_behind(backend: Backend) {
    let app = populated(backend).await;
    let flow = token_flow(&app).await;
    let balance = app.balance(USER).await;
    let total_before = app.state.store.ledger_sum(&UserId::parse(USER).unwrap()).await.unwrap();
    let old_events: Vec<Value> = export_of(&app, USER).await["events"].as_array().unwrap().clone();

    let (status, receipt) = app.call(Method::DELETE, &format!("/v1/users/{USER}"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["already_erased"], false);
    assert!(receipt["lake_erased_at"].is_string(), "{receipt}");
    let pseudonym = receipt["pseudonym"].as_str().unwrap().to_owned();
    assert!(pseudonym.starts_with("erased:") && !pseudonym.contains(USER));
    // Idempotent: the first receipt again, nothing changed.
    let (status, again) = app.call(Method::DELETE, &format!("/v1/users/{USER}"), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["receipt_id"].clone(), again["already_erased"].clone()),
        (receipt["receipt_id"].clone(), json!(true))
    );

    // Nobody to read about; nothing more is recorded.
    for path in
        [format!("/v1/users/{USER}"), format!("/v1/users/{USER}/export"), format!("/v1/users/{pseudonym}")]
    {
        assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let resent = old_events[0].clone();
    let resent = json!({"event_id": resent["event_id"], "user_id": USER, "type": resent["type"],
        "ts": resent["ts"], "props": resent["props"]});
    let (_, answer) = app.send(&[resent.clone(), earn(USER, 5), earn(&pseudonym, 5)]).await;
    assert_eq!(statuses(&answer), ["user_erased", "user_erased", "user_erased"], "{answer}");

    // Token totals: per day unchanged, and the pseudonym's ledger adds up to the old balance.
    assert_eq!(token_flow(&app).await, flow);
    let kept = app.state.store.ledger_sum(&UserId::parse(&pseudonym).unwrap()).await.unwrap();
    assert_eq!((kept, kept.0), (total_before, balance));
    // The batch and analytics still run, and give the erased user no segment.
    let report = app.batch(TO.parse().unwrap()).await.unwrap();
    assert!(report.users.values().sum::<u64>() > 0);
    assert_eq!(token_flow(&app).await, flow);

    assert_nothing_holds(&app, &[USER, FREE_TEXT]).await;
}

/// Two erasures of one user and a batch of theirs, all at once: one erasure does the work, the
/// other answers its receipt, and the batch is either erased with the rest or refused.
async fn two_erasures_and_a_batch_at_once_erase_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(statuses(&app.send(&[earn(USER, 100)]).await.1), ["accepted"]);
    let path = format!("/v1/users/{USER}");
    let late = earn(USER, 7);
    let ((s1, a), (s2, b), (_, batch)) = tokio::join!(
        app.call(Method::DELETE, &path, Value::Null),
        app.call(Method::DELETE, &path, Value::Null),
        app.send(std::slice::from_ref(&late)),
    );
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{a} {b}");
    assert_eq!(a["receipt_id"], b["receipt_id"]);
    let mut first = [a["already_erased"].as_bool().unwrap(), b["already_erased"].as_bool().unwrap()];
    first.sort_unstable();
    assert_eq!(first, [false, true], "exactly one erasure did the work");
    let pseudonym = UserId::parse(a["pseudonym"].as_str().unwrap()).unwrap();
    let kept = app.state.store.ledger_sum(&pseudonym).await.unwrap().0;
    match statuses(&batch)[0].as_str() {
        "accepted" => assert_eq!(kept, 107, "committed before the erasure: erased with the rest"),
        "user_erased" => assert_eq!(kept, 100),
        other => panic!("{other}"),
    }
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(statuses(&app.send(&[earn(USER, 1)]).await.1), ["user_erased"]);
}

/// No file of the data directory, no row of PostgreSQL and no Redis key holds any of `needles`.
async fn assert_nothing_holds(app: &TestApp, needles: &[&str]) {
    for file in files_under(app.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{} holds {needle:?}", file.display());
        }
    }
    if let Storage::Pg(db) = &app.storage {
        let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let tables =
            client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", &[]).await.unwrap();
        for table in tables.iter().map(|r| r.get::<_, String>(0)) {
            for needle in needles {
                let sql = format!("SELECT COUNT(*) FROM {table} t WHERE t::text LIKE '%' || $1 || '%'");
                let n: i64 = client.query_one(&sql, &[needle]).await.unwrap().get(0);
                assert_eq!(n, 0, "{table} holds {needle:?}");
            }
        }
    }
    if !app.config.cache.redis.is_empty() {
        let client = redis::Client::open(app.config.cache.redis.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", app.config.cache.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!keys.is_empty(), "the other users are cached");
        for key in keys {
            assert!(!key.contains(USER), "{key}");
            let fields: Vec<(String, String)> =
                redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.unwrap();
            assert!(fields.iter().all(|(k, v)| !k.contains(USER) && !v.contains(USER)), "{key}");
        }
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
