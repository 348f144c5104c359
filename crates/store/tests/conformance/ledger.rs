//! Ledger, export feed, keys and outbox.

use playpulse_core::access::Scope;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::Outcome;
use playpulse_core::notify;
use playpulse_core::tokens::Tokens;
use playpulse_store::{ApiKeyRecord, ExportMark};
use serde_json::json;

use crate::{Fixture, NOW, earn, event, known, now, on_both};

on_both!(
    a_batch_moves_balances_once,
    a_resent_id_must_carry_the_same_content,
    the_export_feed_hands_out_each_event_once,
    keys_live_and_die,
    the_outbox_keeps_one_per_key,
    runs_of_play_days_are_found_by_their_last_day
);

/// Earn 100 with id X, then X again with 900: refused as a conflict naming the field, and
/// nothing changes; within one batch, across batches, and after a restart.
async fn a_resent_id_must_carry_the_same_content(f: &Fixture) {
    let s = f.store();
    assert_eq!(s.ingest(vec![Ok(earn(1, "u1", 100))], now()).await.unwrap().outcomes, [Outcome::Accepted]);
    let code = |outcome: &Outcome| match outcome {
        Outcome::Rejected(r) => format!("{}: {}", r.code.as_str(), r.message),
        other => format!("{other:?}"),
    };
    let report = s.ingest(vec![Ok(earn(1, "u1", 900))], now()).await.unwrap();
    let codes: Vec<String> = report.outcomes.iter().map(code).collect();
    assert!(
        codes[0].starts_with("event_id_conflict") && codes[0].ends_with("props.amount differ"),
        "{codes:?}"
    );
    let report = s.ingest(vec![Ok(earn(1, "u2", 100)), Ok(earn(2, "u1", 5))], now()).await.unwrap();
    let codes: Vec<String> = report.outcomes.iter().map(code).collect();
    assert!(codes[0].starts_with("event_id_conflict") && codes[0].ends_with("user_id differ"), "{codes:?}");
    assert_eq!(codes[1], "Accepted");
    let in_batch = s
        .ingest(vec![Ok(earn(3, "u3", 10)), Ok(earn(3, "u3", 10)), Ok(earn(3, "u3", 11))], now())
        .await
        .unwrap();
    let codes: Vec<String> = in_batch.outcomes.iter().map(code).collect();
    assert_eq!(codes[0], "Accepted");
    assert!(codes[1].starts_with("duplicate_in_batch"), "{codes:?}");
    assert!(codes[2].starts_with("event_id_conflict"), "{codes:?}");

    let restarted = f.reopened().await;
    let again = restarted.ingest(vec![Ok(earn(1, "u1", 100)), Ok(earn(1, "u1", 101))], now()).await.unwrap();
    assert_eq!(again.outcomes[0], Outcome::Duplicate, "the same content is a plain duplicate");
    assert!(
        code(&again.outcomes[1]).starts_with("duplicate_in_batch")
            || code(&again.outcomes[1]).starts_with("event_id_conflict")
    );
    let u1 = UserId::parse("u1").unwrap();
    assert_eq!(restarted.ledger_sum(&u1).await.unwrap(), Tokens(105), "nothing refused moved a token");
    assert_eq!(restarted.event_count().await.unwrap(), 3);
}

async fn a_batch_moves_balances_once(f: &Fixture) {
    let s = f.store();
    let spend = event(2, "u1", "SPEND_CYBER_TOKENS", NOW, json!({"amount": 30, "sink": "game"}));
    let overdraw = event(3, "u2", "SPEND_CYBER_TOKENS", NOW, json!({"amount": 1, "sink": "game"}));
    let report = s.ingest(vec![Ok(earn(1, "u1", 100)), Ok(spend), Ok(overdraw)], now()).await.unwrap();
    assert_eq!(report.outcomes[..2], [Outcome::Accepted, Outcome::Accepted]);
    assert!(matches!(report.outcomes[2], Outcome::Rejected(_)), "no balance below zero");
    let again = s.ingest(vec![Ok(earn(1, "u1", 100))], now()).await.unwrap();
    assert_eq!(again.outcomes, [Outcome::Duplicate]);
    let u1 = UserId::parse("u1").unwrap();
    assert_eq!(s.ledger_sum(&u1).await.unwrap(), Tokens(70));
    let page = s.ledger(&u1, None, 10).await.unwrap();
    assert_eq!(page.iter().map(|e| e.delta.0).collect::<Vec<_>>(), [-30, 100], "newest first");
    assert_eq!(page[0].balance_after, Tokens(70));
    let older = s.ledger(&u1, Some(page[0].entry_id), 10).await.unwrap();
    assert_eq!(older, page[1..], "a page continues strictly before its cursor");
    let states = s.user_states(None, 10).await.unwrap();
    let names: Vec<&str> = states.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["u1"], "a user whose only event was rejected has no state");
    assert_eq!(states[0].1.balance, Tokens(70));
    assert!(s.user_states(Some(&u1), 10).await.unwrap().is_empty(), "strictly after the cursor");
    assert_eq!(s.event_count().await.unwrap(), 2);
    f.store.bench_raw_insert(vec![earn(9, "raw", 5)], now()).await.unwrap();
    assert_eq!(s.event_count().await.unwrap(), 3, "the raw insert writes the event alone");
    assert_eq!(s.ledger_sum(&UserId::parse("raw").unwrap()).await.unwrap(), Tokens(0));
    s.ping().await.unwrap();
}

async fn the_export_feed_hands_out_each_event_once(f: &Fixture) {
    let s = f.store();
    for id in 1..=5 {
        s.ingest(vec![Ok(earn(id, "u1", 1))], now()).await.unwrap();
    }
    // PostgreSQL hands out only what no running transaction (of any test on the server) can
    // still slip behind: ask again while it says more is pending.
    let (mut pages, mut mark) = (Vec::new(), ExportMark::default());
    loop {
        let page = s.events_after(mark, 3).await.unwrap();
        assert!(page.events.len() <= 3, "a page holds at most its limit");
        mark = page.next;
        match (page.events.is_empty(), page.held_back.is_some()) {
            (true, false) => break,
            (true, true) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            (false, _) => pages.push(page.events),
        }
    }
    let events: Vec<_> = pages.concat();
    let ids: Vec<u128> = events.iter().map(|e| e.event_id.0.as_u128()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "each once, in commit order");
    assert_eq!(events[3].event_type, "EARN_CYBER_TOKENS");
    let props: serde_json::Value = serde_json::from_str(&events[3].props).unwrap();
    assert_eq!(props["amount"], 1);
    assert!(s.events_after(mark, 10).await.unwrap().events.is_empty(), "nothing twice");
}

/// PostgreSQL: an event committed while an older transaction still runs is held back (the
/// older one could still commit below it), then handed out once the older one ends, the
/// older one's event first; the horizon parts what was committed before a page was read
/// from what commits after.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_export_holds_back_what_an_older_transaction_could_slip_behind() {
    let f = Fixture::postgres().await;
    let s = f.store();
    let url = &f.db.as_ref().expect("a database").url;
    let (older, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    older.batch_execute("BEGIN").await.unwrap();
    older.query_one("SELECT pg_current_xact_id()", &[]).await.unwrap();
    s.ingest(vec![Ok(earn(2, "u1", 1))], now()).await.unwrap();
    let page = s.events_after(ExportMark::default(), 10).await.unwrap();
    assert!(page.events.is_empty(), "held back: {:?}", page.events);
    let held_back = page.held_back.expect("and said to be held back");
    let horizon = page.horizon;
    assert!(held_back < horizon, "committed before the page was read");
    // The older transaction writes an event of its own, straight into the table; a third
    // commits after the page was read.
    let insert = format!(
        "INSERT INTO events (event_id, user_id, type, ts_ms, received_at_ms, props) \
         VALUES ('{}', 'u0', 'EARN_CYBER_TOKENS', 0, 0, '{{}}'); COMMIT",
        uuid::Uuid::from_u128(1)
    );
    older.batch_execute(&insert).await.unwrap();
    s.ingest(vec![Ok(earn(3, "u1", 1))], now()).await.unwrap();
    // Other tests on the server run transactions of their own: ask until all three are out.
    let mut exported = Vec::new();
    let mut mark = ExportMark::default();
    for _ in 0..500 {
        let page = s.events_after(mark, 1).await.unwrap();
        mark = page.next;
        exported.extend(page.events.iter().map(|e| (e.event_id.0.as_u128(), mark)));
        if exported.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ids: Vec<u128> = exported.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2, 3], "the older transaction's event first, each once");
    let before: Vec<bool> = exported.iter().map(|(_, at)| *at < horizon).collect();
    assert_eq!(before, [true, true, false], "the third committed after the horizon was read");
}

/// PostgreSQL: ledger transactions stuck behind a user's row lock take at most their share
/// of the pool; a read still gets a connection at once, and every stuck batch goes through
/// once the lock is released.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_never_wait_behind_stuck_ledger_transactions() {
    let f = Fixture::postgres().await;
    known(&f, "hot", 1).await;
    known(&f, "cold", 2).await;
    let url = &f.db.as_ref().expect("a database").url;
    let (locker, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    locker.batch_execute("BEGIN; SELECT 1 FROM users WHERE user_id = 'hot' FOR UPDATE").await.unwrap();
    let stuck: Vec<_> = (0..20u128)
        .map(|i| {
            let store = f.store.clone();
            tokio::spawn(async move { store.ingest(vec![Ok(earn(100 + i, "hot", 1))], now()).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cold = UserId::parse("cold").unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), f.store().user(&cold)).await;
    assert!(read.expect("a read is not kept waiting for a connection").unwrap().is_some());
    locker.batch_execute("COMMIT").await.unwrap();
    for batch in stuck {
        assert_eq!(batch.await.unwrap().unwrap().outcomes, [Outcome::Accepted]);
    }
    assert_eq!(f.store().ledger_sum(&UserId::parse("hot").unwrap()).await.unwrap(), Tokens(10 + 20));
}

async fn keys_live_and_die(f: &Fixture) {
    let s = f.store();
    let key = |id: &str, at: &str| ApiKeyRecord {
        key_id: id.into(),
        name: format!("key {id}"),
        secret_hash: "hash".into(),
        scopes: vec![Scope::Ingest, Scope::Read],
        created_at: at.parse().unwrap(),
        revoked: false,
    };
    s.create_api_key(key("b", "2026-01-02T00:00:00Z")).await.unwrap();
    s.create_api_key(key("a", "2026-01-03T00:00:00Z")).await.unwrap();
    assert!(s.create_api_key(key("a", NOW)).await.is_err(), "key ids are unique");
    let a = s.api_key("a").await.unwrap().unwrap();
    assert_eq!(
        (a.scopes, a.revoked, a.created_at),
        (vec![Scope::Ingest, Scope::Read], false, key("a", "2026-01-03T00:00:00Z").created_at)
    );
    assert!(s.api_key("nope").await.unwrap().is_none());
    let all: Vec<String> = s.api_keys().await.unwrap().into_iter().map(|k| k.key_id).collect();
    assert_eq!(all, ["b", "a"], "oldest first");
    assert!(s.revoke_api_key("a", now()).await.unwrap());
    assert!(!s.revoke_api_key("a", now()).await.unwrap(), "revoked once");
    assert!(!s.revoke_api_key("nope", now()).await.unwrap());
    assert!(s.api_key("a").await.unwrap().unwrap().revoked);
}

async fn the_outbox_keeps_one_per_key(f: &Fixture) {
    let s = f.store();
    let u1 = UserId::parse("u1").unwrap();
    let note = notify::token_arrival(&u1, "e1", 500);
    s.enqueue(vec![note.clone(), note.clone()], now()).await.unwrap();
    s.enqueue(vec![note, notify::token_arrival(&u1, "e2", 7)], now()).await.unwrap();
    let waiting = s.outbox(10).await.unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].kind, "NEW_TOKEN_ARRIVAL");
    assert_eq!(waiting[0].payload["amount"], 500);
    assert_eq!(s.outbox(1).await.unwrap().len(), 1);
}

/// Streak reminders' candidates: users whose run of play days ended on a day, at least so
/// long, with the run.
async fn runs_of_play_days_are_found_by_their_last_day(f: &Fixture) {
    let s = f.store();
    let plays: [(&str, &[u8]); 5] = [
        ("a", &[28, 29, 30]),
        ("b", &[29, 30]),
        ("c", &[27, 28, 29, 30]),
        ("d", &[28, 29, 30, 31]),
        ("e", &[26, 27, 29, 30]),
    ];
    let mut id = 1_000;
    for (user, days) in plays {
        let mut batch = vec![Ok(earn(id, user, 100))];
        for day in days {
            id += 1;
            // Noon in Seoul; "day 31" is 2026-05-01.
            let ts = if *day == 31 {
                "2026-05-01T03:00:00Z".to_owned()
            } else {
                format!("2026-04-{day}T03:00:00Z")
            };
            let props = json!({"game": "slot", "bet": 1, "payout": 0, "result": "lose"});
            batch.push(Ok(event(id, user, "GAME_PLAY", &ts, props)));
        }
        id += 1;
        let outcomes = s.ingest(batch, now()).await.unwrap().outcomes;
        assert!(outcomes.iter().all(|o| *o == Outcome::Accepted), "{outcomes:?}");
    }
    let day: jiff::civil::Date = "2026-04-30".parse().unwrap();
    let runs = |min| async move {
        let mut runs: Vec<(String, u32)> =
            s.streaks_ending(day, min).await.unwrap().into_iter().map(|(u, n)| (u.to_string(), n)).collect();
        runs.sort();
        runs
    };
    let owned = |list: &[(&str, u32)]| list.iter().map(|(u, n)| ((*u).to_owned(), *n)).collect::<Vec<_>>();
    assert_eq!(runs(3).await, owned(&[("a", 3), ("c", 4)]));
    assert_eq!(runs(2).await, owned(&[("a", 3), ("b", 2), ("c", 4), ("e", 2)]));
    assert_eq!(runs(5).await, owned(&[]));
}
