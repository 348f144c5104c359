//! Delivery to a real webhook receiver on loopback, which checks every request as a careful
//! receiver would (the signature over the time and the raw body, the idempotency key, the
//! JSON) and answers as the test scripts it: refusals, throttling, slowness, a connection
//! cut mid-request, a dispatcher gone mid-send. From the receiver's side every notification
//! is handled once by its idempotency key, or dead-lettered with the reason.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use playpulse_core::time::{BusinessZone, Clock, ManualClock};
use playpulse_notify::{Dispatcher, NotifyConfig, Webhook, WebhookConfig};
use playpulse_store::postgres::{PgStore, ScratchDatabase};
use playpulse_store::sqlite::SqliteStore;
use playpulse_store::{DeliveryState, Store, StoredNotification};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "a webhook secret of thirty-two characters or more";
const T0: &str = "2026-05-01T03:00:00Z";

fn t0() -> Timestamp {
    T0.parse().unwrap()
}

/// How the receiver answers one request.
#[derive(Clone)]
enum Reply {
    Status(u16),
    Throttle {
        retry_after_s: u64,
    },
    /// Answers 200 after this long.
    Slow(Duration),
}

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    key: String,
    attempt: i64,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

impl Receiver {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Keys the receiver answered (or is answering) 2xx, with how often.
    fn accepted(&self) -> BTreeMap<String, usize> {
        let mut handled = BTreeMap::new();
        for s in self.seen().into_iter().filter(|s| s.answered == 200) {
            *handled.entry(s.key).or_default() += 1;
        }
        handled
    }
}

/// Checks one request as a receiver must before trusting it.
fn verify(headers: &HeaderMap, body: &[u8], now: Timestamp) -> Result<(String, i64), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(format!("no {name}"));
    if header("content-type")? != "application/json" {
        return Err("not JSON".into());
    }
    let signature = header("playpulse-signature")?;
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .ok_or("malformed signature")?;
    let t: i64 = t.parse().map_err(|_| "bad t")?;
    if (now.as_second() - t).abs() > 300 {
        return Err("stale signature".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).map_err(|_| "bad hex")?).map_err(|_| "signature does not verify")?;
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let key = header("idempotency-key")?;
    if doc["idempotency_key"] != key
        || doc["kind"].as_str().is_none()
        || doc["payload"]["body"]["ko"].as_str().is_none()
    {
        return Err(format!("unexpected document {doc}"));
    }
    Ok((key.to_owned(), doc["attempt"].as_i64().ok_or("no attempt")?))
}

/// Starts the receiver; its address.
async fn receiver(clock: ManualClock) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver::default());
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (state, clock) = (shared.clone(), clock.clone());
            async move {
                let (key, attempt) = match verify(&headers, &body, clock.now()) {
                    Ok(ok) => ok,
                    Err(why) => panic!("the receiver refused a request: {why}"),
                };
                let reply = state.script.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
                let (response, wait): (Response, _) = match reply {
                    Reply::Status(code) => (StatusCode::from_u16(code).unwrap().into_response(), None),
                    Reply::Throttle { retry_after_s } => {
                        let headers = [("retry-after", retry_after_s.to_string())];
                        ((StatusCode::TOO_MANY_REQUESTS, headers).into_response(), None)
                    }
                    Reply::Slow(wait) => (StatusCode::OK.into_response(), Some(wait)),
                };
                // Seen on arrival: a receiver may act on a request whose sender gives up on it.
                state.seen.lock().unwrap().push(Seen { key, attempt, answered: response.status().as_u16() });
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, format!("http://{address}/hook"))
}

fn config(url: &str) -> NotifyConfig {
    NotifyConfig {
        max_attempts: 4,
        lease_s: 10,
        webhook: WebhookConfig { url: url.into(), secret: SECRET.into(), timeout_ms: 300 },
        ..NotifyConfig::default()
    }
}

fn dispatcher(store: Arc<dyn Store>, clock: &ManualClock, config: NotifyConfig) -> Dispatcher {
    let webhook = Webhook::new(&config.webhook).unwrap().expect("a webhook is configured");
    Dispatcher::new(store, Arc::new(webhook), Arc::new(clock.clone()), config)
}

async fn enqueue(store: &dyn Store, count: usize) {
    let notes = (0..count)
        .map(|i| {
            notify::token_arrival(&UserId::parse(&format!("u{}", i % 5)).unwrap(), &format!("e{i}"), 500)
        })
        .collect();
    store.enqueue(notes, t0()).await.unwrap();
}

/// Every notification of the store, by id.
async fn all(store: &dyn Store) -> Vec<StoredNotification> {
    let mut all = Vec::new();
    for u in 0..5 {
        all.extend(
            store.notifications_of(&UserId::parse(&format!("u{u}")).unwrap(), None, 500).await.unwrap(),
        );
    }
    all.sort_by_key(|n| n.id);
    all
}

/// A store of one backend, and what keeps it alive.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    db: Option<ScratchDatabase>,
}

impl Backend {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("n.db"), BusinessZone::default(), t0()).unwrap();
        Self { store: Arc::new(store), _dir: Some(dir), db: None }
    }

    async fn postgres() -> Self {
        let admin = std::env::var("PLAYPULSE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = ScratchDatabase::create(&admin, "pp_notify").await.expect("PostgreSQL (PLAYPULSE_TEST_PG)");
        let store = PgStore::connect(&db.url, BusinessZone::default(), t0()).await.unwrap();
        Self { store: Arc::new(store), _dir: None, db: Some(db) }
    }

    /// Another instance on the same database.
    async fn second_instance(&self) -> Arc<dyn Store> {
        match &self.db {
            Some(db) => Arc::new(PgStore::connect(&db.url, BusinessZone::default(), t0()).await.unwrap()),
            None => self.store.clone(),
        }
    }

    async fn dropped(mut self) {
        if let Some(db) = self.db.take() {
            drop(self.store);
            db.drop_now().await.unwrap();
        }
    }
}

/// Runs a test body on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread")] async fn $name() {
            let b = super::Backend::sqlite().await; super::$name(&b).await; b.dropped().await;
        })* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread")] async fn $name() {
            let b = super::Backend::postgres().await; super::$name(&b).await; b.dropped().await;
        })* }
    };
}

on_both!(
    each_notification_arrives_signed_and_once,
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
    for n in all(b.store.as_ref()).await {
        assert_eq!(
            (n.state, n.sent_at, n.channel.as_deref()),
            (DeliveryState::Sent, Some(t0()), Some("webhook"))
        );
    }
    assert_eq!(b.store.vitals(t0()).await.unwrap().outbox_pending, 0);
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
