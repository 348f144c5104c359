//! Monitoring figures: users, token supply, active users, the outbox backlog, the pool.

use jiff::SignedDuration;
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use serde_json::json;

use crate::{Fixture, earn, event, now, on_both};

on_both!(vitals_count_what_the_store_holds);

async fn vitals_count_what_the_store_holds(f: &Fixture) {
    let s = f.store();
    let empty = s.vitals(now()).await.unwrap();
    assert_eq!((empty.users, empty.token_supply, empty.active, empty.outbox_pending), (0, 0, 0, 0));
    assert_eq!(empty.outbox_oldest, None);

    let spend = json!({"amount": 30, "sink": "game"});
    let batch = vec![
        Ok(earn(1, "u1", 100)),
        Ok(earn(2, "u2", 50)),
        Ok(event(3, "u1", "SPEND_CYBER_TOKENS", "2026-05-01T01:00:00Z", spend)),
        Ok(event(4, "u3", "SESSION_START", "2026-04-30T12:00:00Z", json!({}))),
    ];
    s.ingest(batch, now()).await.unwrap();
    let queued_at = now() + SignedDuration::from_mins(5);
    s.enqueue(vec![notify::token_arrival(&UserId::parse("u1").unwrap(), "e1", 100)], queued_at)
        .await
        .unwrap();

    let vitals = s.vitals("2026-05-01T00:00:00Z".parse().unwrap()).await.unwrap();
    assert_eq!(vitals.users, 3);
    assert_eq!(vitals.token_supply, 100 - 30 + 50);
    assert_eq!(vitals.active, 2, "u3 last acted the day before");
    assert_eq!((vitals.outbox_pending, vitals.outbox_oldest), (1, Some(queued_at)));

    let pool = s.pool_use();
    assert!(pool.max > 0 && pool.in_use <= pool.max, "{pool:?}");
}
