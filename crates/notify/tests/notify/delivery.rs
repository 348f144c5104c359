//! Delivery to a real webhook receiver on loopback, which checks every request as a careful
//! receiver would (the signature over the time and the raw body, the idempotency key, the
//! JSON) and answers as the test scripts it: refusals, throttling, slowness, a connection
//! cut mid-request, a dispatcher gone mid-send. From the receiver's side every notification
//! is handled once by its idempotency key, or dead-lettered with the reason.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use playpulse_core::notify;
use playpulse_core::notify::templates::{Template, Texts};
use playpulse_core::time::{Clock, ManualClock};
use playpulse_notify::{NotifyConfig, Proposals};
use playpulse_store::{DeliveryState, UserRecord};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, Reply, all, config, dispatcher, enqueue, on_both, receiver, t0, user};

on_both!(
    each_notification_arrives_signed_and_once,
    the_configured_texts_go_out_filled,
    the_kinds_named_carry_the_proposal_of_the_moment,
    failures_back_off_honour_retry_after_and_end_delivered,
    a_refusal_is_dead_at_once_and_an_admin_retry_delivers_it,
    an_unreachable_receiver_dead_letters_after_the_last_attempt,
    a_slow_receiver_times_out_and_is_tried_again,
    a_dispatcher_gone_mid_send_is_replaced_when_its_lease_lapses,
    two_dispatchers_never_send_one_notification_twice,
);

async fn each_notification_arrives_signed_and_once(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    enqueue(b.store.as_ref(), 3).await;
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    assert_eq!(d.dispatch_once().await.unwrap(), 3);
    assert_eq!(d.dispatch_once().await.unwrap(), 0, "nothing is sent twice");
    assert_eq!(rx.accepted().len(), 3);
    assert!(rx.seen().iter().all(|s| s.attempt == 1));
    let seed = "A 업체에서 500 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요.";
    assert!(rx.seen().iter().all(|s| s.payload["body"]["ko"] == seed), "the seed's text, filled");
    for n in all(b.store.as_ref()).await {
        assert_eq!(
            (n.state, n.sent_at, n.channel.as_deref()),
            (DeliveryState::Sent, Some(t0()), Some("webhook"))
        );
    }
    assert_eq!(b.store.vitals(t0()).await.unwrap().outbox_pending, 0);
}

async fn the_configured_texts_go_out_filled(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    enqueue(b.store.as_ref(), 2).await;
    let mut custom = config(&url);
    let body =
        Texts { ko: "토큰 {amount}개가 들어왔어요".into(), en: "{amount} tokens are in".into() };
    let template = Template { body, ..custom.template("NEW_TOKEN_ARRIVAL").unwrap() };
    custom.templates.insert("NEW_TOKEN_ARRIVAL".into(), template);
    custom.validate().unwrap();
    dispatcher(b.store.clone(), &clock, custom).dispatch_once().await.unwrap();
    let bodies: Vec<String> =
        rx.seen().iter().map(|s| s.payload["body"]["ko"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies, ["토큰 500개가 들어왔어요", "토큰 500개가 들어왔어요"]);
}

/// Proposes to every user but `u1`, and remembers whom it was asked about.
#[derive(Default)]
struct Policy(Mutex<Vec<String>>);

impl Proposals for Policy {
    fn proposal_for(&self, to: &UserRecord) -> Option<serde_json::Value> {
        let user = &to.user;
        self.0.lock().unwrap().push(user.to_string());
        (user.as_str() != "u1").then(|| json!({"proposal_id": format!("p-{user}"), "type": "MID_STAKE"}))
    }
}

async fn the_kinds_named_carry_the_proposal_of_the_moment(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    enqueue(b.store.as_ref(), 2).await;
    let policy = Arc::new(Policy::default());
    dispatcher(b.store.clone(), &clock, config(&url))
        .with_proposals(policy.clone())
        .dispatch_once()
        .await
        .unwrap();
    let mut proposals: Vec<_> = rx.seen().iter().map(|s| s.payload["proposal"].clone()).collect();
    proposals.sort_by_key(|p| p.is_null());
    assert_eq!(proposals, [json!({"proposal_id": "p-u0", "type": "MID_STAKE"}), json!(null)]);

    // A kind not named is sent without asking.
    let store = b.store.as_ref();
    store.enqueue(vec![notify::token_arrival(&user(0), "later", 5)], t0()).await.unwrap();
    let unnamed = NotifyConfig { attach_proposal: Vec::new(), ..config(&url) };
    dispatcher(b.store.clone(), &clock, unnamed)
        .with_proposals(policy.clone())
        .dispatch_once()
        .await
        .unwrap();
    assert_eq!(rx.seen().len(), 3);
    assert!(rx.seen()[2].payload.get("proposal").is_none());
    let mut asked = policy.0.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, ["u0", "u1"]);
}

async fn failures_back_off_honour_retry_after_and_end_delivered(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    rx.script.lock().unwrap().extend([Reply::Status(503), Reply::Throttle { retry_after_s: 120 }]);
    enqueue(b.store.as_ref(), 1).await;
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.last_error.as_deref()), (DeliveryState::Failed, Some("HTTP 503")));
    let wait = n.next_attempt_at.duration_since(t0());
    assert!(
        wait >= SignedDuration::from_secs(1) && wait <= SignedDuration::from_secs(2),
        "first backoff {wait:?}"
    );
    assert_eq!(d.dispatch_once().await.unwrap(), 0, "not before its time");

    clock.set(n.next_attempt_at);
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!(n.state, DeliveryState::Failed);
    assert_eq!(n.next_attempt_at.duration_since(clock.now()), SignedDuration::from_secs(120), "Retry-After");

    clock.set(n.next_attempt_at);
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.attempts), (DeliveryState::Sent, 3));
    let attempts: Vec<(i64, u16)> = rx.seen().iter().map(|s| (s.attempt, s.answered)).collect();
    assert_eq!(attempts, [(1, 503), (2, 429), (3, 200)]);
    assert_eq!(rx.accepted().values().sum::<usize>(), 1);
}

async fn a_refusal_is_dead_at_once_and_an_admin_retry_delivers_it(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    rx.script.lock().unwrap().push_back(Reply::Status(422));
    enqueue(b.store.as_ref(), 1).await;
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.last_error.as_deref()), (DeliveryState::Dead, Some("HTTP 422")));
    clock.set(t0() + SignedDuration::from_hours(2));
    assert_eq!(d.dispatch_once().await.unwrap(), 0, "dead stays dead");
    b.store.retry_notification(n.id, clock.now()).await.unwrap();
    assert_eq!(d.dispatch_once().await.unwrap(), 1);
    assert_eq!(all(b.store.as_ref()).await[0].state, DeliveryState::Sent);
    assert_eq!(rx.seen().len(), 2);
}

async fn an_unreachable_receiver_dead_letters_after_the_last_attempt(b: &Backend) {
    // An address nothing listens on: bound, then let go.
    let closed: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let clock = ManualClock::new(t0());
    enqueue(b.store.as_ref(), 2).await;
    let d = dispatcher(b.store.clone(), &clock, config(&format!("http://{closed}/hook")));
    for attempt in 1..=4 {
        assert_eq!(d.dispatch_once().await.unwrap(), 2, "attempt {attempt}");
        let next = all(b.store.as_ref()).await.iter().map(|n| n.next_attempt_at).max().unwrap();
        clock.set(next.max(clock.now()));
    }
    for n in all(b.store.as_ref()).await {
        assert_eq!((n.state, n.attempts), (DeliveryState::Dead, 4));
        let error = n.last_error.unwrap();
        assert!(error.starts_with("could not connect") && error.ends_with("(after 4 attempts)"), "{error}");
    }
    clock.set(clock.now() + SignedDuration::from_hours(24));
    assert_eq!(d.dispatch_once().await.unwrap(), 0);
}

async fn a_slow_receiver_times_out_and_is_tried_again(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    rx.script.lock().unwrap().push_back(Reply::Slow(Duration::from_millis(1_500)));
    enqueue(b.store.as_ref(), 1).await;
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.last_error.as_deref()), (DeliveryState::Failed, Some("timed out")));
    // The receiver may have acted on the request it answered too late: the retry carries
    // the same key, so it handles the notification once.
    clock.set(n.next_attempt_at);
    d.dispatch_once().await.unwrap();
    assert_eq!(all(b.store.as_ref()).await[0].state, DeliveryState::Sent);
    let keys: Vec<String> = rx.seen().into_iter().map(|s| s.key).collect();
    assert_eq!(keys, [n.dedupe_key.clone(), n.dedupe_key.clone()], "the same key both times");
    assert_eq!(rx.accepted()[&n.dedupe_key], 2, "answered twice: a receiver must dedupe by key");
}

async fn a_dispatcher_gone_mid_send_is_replaced_when_its_lease_lapses(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    rx.script.lock().unwrap().push_back(Reply::Slow(Duration::from_secs(30)));
    enqueue(b.store.as_ref(), 1).await;
    let mut long_timeout = config(&url);
    long_timeout.webhook.timeout_ms = 4_000;
    let first = dispatcher(b.store.clone(), &clock, long_timeout.clone());
    let sending = tokio::spawn(async move { first.dispatch_once().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sending.abort(); // as a kill would: the request is out, nothing is recorded
    assert!(sending.await.unwrap_err().is_cancelled());
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.attempts), (DeliveryState::Queued, 1));
    let second = dispatcher(b.second_instance().await, &clock, long_timeout);
    assert_eq!(second.dispatch_once().await.unwrap(), 0, "leased to the one that went");
    clock.set(t0() + SignedDuration::from_secs(10));
    assert_eq!(second.dispatch_once().await.unwrap(), 1);
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!((n.state, n.attempts), (DeliveryState::Sent, 2));
    let keys: Vec<String> = rx.seen().into_iter().map(|s| s.key).collect();
    assert_eq!(keys, [n.dedupe_key.clone(), n.dedupe_key], "sent again under the same key");
}

async fn two_dispatchers_never_send_one_notification_twice(b: &Backend) {
    let clock = ManualClock::new(t0());
    let (rx, url) = receiver(clock.clone()).await;
    enqueue(b.store.as_ref(), 400).await;
    let mut small_batches = config(&url);
    small_batches.batch = 9;
    let instances = [b.store.clone(), b.second_instance().await].map(|store| {
        let d = dispatcher(store, &clock, small_batches.clone());
        tokio::spawn(async move { while d.dispatch_once().await.unwrap() > 0 {} })
    });
    for instance in instances {
        instance.await.unwrap();
    }
    let seen = rx.seen();
    assert_eq!(seen.len(), 400, "one request per notification");
    assert!(rx.accepted().values().all(|&n| n == 1) && rx.accepted().len() == 400);
    assert!(all(b.store.as_ref()).await.iter().all(|n| n.state == DeliveryState::Sent && n.attempts == 1));
}

/// A receiver that reads the first request and hangs up without answering, then answers
/// the next one: a connection cut mid-request is retried, with the same key.
#[tokio::test]
async fn a_connection_cut_mid_request_is_tried_again() {
    let b = Backend::sqlite().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    tokio::spawn(async move {
        for answer in [false, true] {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 64 * 1024];
            let mut read = 0;
            // Headers and the whole body: the request is complete before the cut.
            while !String::from_utf8_lossy(&request[..read]).contains("\"payload\"") {
                read += socket.read(&mut request[read..]).await.unwrap();
            }
            log.lock().unwrap().push(String::from_utf8_lossy(&request[..read]).to_lowercase());
            if answer {
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
            }
        }
    });
    let clock = ManualClock::new(t0());
    enqueue(b.store.as_ref(), 1).await;
    let d = dispatcher(b.store.clone(), &clock, config(&url));
    d.dispatch_once().await.unwrap();
    let n = all(b.store.as_ref()).await.remove(0);
    assert_eq!(n.state, DeliveryState::Failed);
    assert!(n.last_error.as_deref().unwrap().starts_with("connection failed"), "{:?}", n.last_error);
    clock.set(n.next_attempt_at);
    d.dispatch_once().await.unwrap();
    assert_eq!(all(b.store.as_ref()).await[0].state, DeliveryState::Sent);
    let key = format!("idempotency-key: {}", n.dedupe_key);
    assert!(requests.lock().unwrap().iter().all(|r| r.contains(&key)));
    b.dropped().await;
}
