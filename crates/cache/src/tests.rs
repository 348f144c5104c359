//! The cache against a real Redis (`PLAYPULSE_TEST_REDIS`) and a real SQLite store.

use std::sync::Arc;

use jiff::Timestamp;
use playpulse_core::event::{Event, ValidationPolicy};
use playpulse_core::time::BusinessZone;
use serde_json::json;

use super::*;

fn redis_url() -> String {
    std::env::var("PLAYPULSE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("a valid user id")
}

/// Commits one earning of `amount` for `name` and returns the user's state after it.
async fn earn(store: &dyn Store, name: &str, amount: i64) -> UserState {
    let now: Timestamp = "2026-05-01T03:00:00Z".parse().unwrap();
    let raw = json!({"event_id": uuid::Uuid::new_v4().to_string(), "user_id": name,
        "type": "EARN_CYBER_TOKENS", "ts": now.to_string(), "props": {"amount": amount, "source": "app"}});
    let event = Event::parse(&raw, &ValidationPolicy::default(), now);
    let report = store.ingest(vec![event], now).await.unwrap();
    report.users.into_iter().find(|(u, _)| *u == user(name)).expect("the event was accepted").1
}

/// A write that fails while a reconciliation pass runs, to a key the pass already checked,
/// leaves that key stale: the cache stays degraded (reads go to the DB) until a pass that
/// began after the failure repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_during_a_reconcile_pass_keeps_the_cache_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        playpulse_store::open(None, dir.path(), BusinessZone::default(), jiff::Timestamp::UNIX_EPOCH)
            .await
            .unwrap();
    let prefix = format!("pp_cache_unit_{}", uuid::Uuid::new_v4().simple());
    let cache = HotCache::connect(&redis_url(), &prefix)
        .await
        .expect("Redis must be reachable at PLAYPULSE_TEST_REDIS");
    let a1 = earn(store.as_ref(), "a", 100).await;
    let b1 = earn(store.as_ref(), "b", 100).await;
    cache.put(&[(user("a"), a1), (user("b"), b1)]).await;
    assert_eq!(cache.get(&user("a")).await.map(|s| s.balance), Some(Tokens(100)));

    // A key of the wrong type makes Redis refuse any write that touches it: a real failure.
    let mut conn = cache.conn.clone();
    let trap = format!("{prefix}:user:trap");
    let _: () = conn.set(&trap, "not a hash").await.unwrap();
    let trapped = |state: &UserState| vec![(user("trap"), state.clone()), (user("a"), state.clone())];

    // a's balance moves while Redis refuses writes: the cache is degraded.
    let a2 = earn(store.as_ref(), "a", 10).await;
    cache.put(&trapped(&a2)).await;
    assert!(cache.is_degraded());
    assert_eq!(cache.get(&user("a")).await, None, "a degraded cache is not read");

    // A pass in pages of one: after it repaired a, a moves again and that write fails too.
    let mut failed_during_pass = false;
    cache
        .reconcile_paged(store.as_ref(), 1, async || {
            if !failed_during_pass {
                failed_during_pass = true;
                let a3 = earn(store.as_ref(), "a", 1).await;
                cache.put(&trapped(&a3)).await;
            }
        })
        .await
        .unwrap();
    assert!(failed_during_pass);
    assert!(cache.is_degraded(), "a write failed after the pass had checked its key");
    assert_eq!(cache.get(&user("a")).await, None, "the stale 110 is not served");

    // The next pass began after the failure: it repairs a, and the cache is trusted again.
    let report = cache.reconcile(store.as_ref()).await.unwrap();
    assert_eq!((report.checked, report.drifted), (2, 1));
    assert!(!cache.is_degraded());
    assert_eq!(cache.get(&user("a")).await.map(|s| s.balance), Some(Tokens(111)));
    let _: () = conn.del(&[trap, format!("{prefix}:user:a"), format!("{prefix}:user:b")]).await.unwrap();
}
