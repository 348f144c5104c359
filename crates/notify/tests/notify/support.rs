//! The receiver and the fixtures the notify tests share.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use playpulse_core::event::{Event, ValidationPolicy};
use playpulse_core::ids::UserId;
use playpulse_core::notify;
use playpulse_core::protection::HarmThresholds;
use playpulse_core::time::{BusinessZone, Clock, ManualClock};
use playpulse_notify::{Channel, Dispatcher, NotifyConfig, Protection, Webhook, WebhookConfig};
use playpulse_store::postgres::{PgStore, ScratchDatabase};
use playpulse_store::sqlite::SqliteStore;
use playpulse_store::{Device, Store, StoredNotification};
use sha2::Sha256;

pub const SECRET: &str = "a webhook secret of thirty-two characters or more";
const T0: &str = "2026-05-01T03:00:00Z";

pub fn t0() -> Timestamp {
    T0.parse().unwrap()
}

/// How the receiver answers one request.
#[derive(Clone)]
pub enum Reply {
    Status(u16),
    Throttle {
        retry_after_s: u64,
    },
    /// Answers 200 after this long.
    Slow(Duration),
}

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub key: String,
    pub attempt: i64,
    /// The notification's payload, its texts filled.
    pub payload: serde_json::Value,
    pub answered: u16,
}

#[derive(Default)]
pub struct Receiver {
    pub script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

impl Receiver {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Keys the receiver answered (or is answering) 2xx, with how often.
    pub fn accepted(&self) -> BTreeMap<String, usize> {
        let mut handled = BTreeMap::new();
        for s in self.seen().into_iter().filter(|s| s.answered == 200) {
            *handled.entry(s.key).or_default() += 1;
        }
        handled
    }
}

/// Checks one request as a receiver must before trusting it.
/// The idempotency key, the attempt and the payload of a request that passes.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<(String, i64, serde_json::Value), String> {
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
    let texts = ["title", "body"].map(|part| ["ko", "en"].map(|lang| doc["payload"][part][lang].as_str()));
    // The operator's notifications carry figures only; the users' carry their texts.
    let for_user = !doc["kind"].as_str().is_some_and(notify::for_operator);
    if doc["idempotency_key"] != key
        || doc["kind"].as_str().is_none()
        || for_user && texts.iter().flatten().any(|t| t.is_none_or(|t| t.is_empty() || t.contains('{')))
    {
        return Err(format!("unexpected document {doc}"));
    }
    Ok((key.to_owned(), doc["attempt"].as_i64().ok_or("no attempt")?, doc["payload"].clone()))
}

/// Starts the receiver; its address.
pub async fn receiver(clock: ManualClock) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver::default());
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (state, clock) = (shared.clone(), clock.clone());
            async move {
                let (key, attempt, payload) = match verify(&headers, &body, clock.now()) {
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
                state.seen.lock().unwrap().push(Seen {
                    key,
                    attempt,
                    payload,
                    answered: response.status().as_u16(),
                });
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

pub fn config(url: &str) -> NotifyConfig {
    NotifyConfig {
        max_attempts: 4,
        lease_s: 10,
        webhook: WebhookConfig { url: url.into(), secret: SECRET.into(), timeout_ms: 300 },
        ..NotifyConfig::default()
    }
}

pub fn dispatcher(store: Arc<dyn Store>, clock: &ManualClock, config: NotifyConfig) -> Dispatcher {
    let webhook = Webhook::new(&config.webhook).unwrap().expect("a webhook is configured");
    let protection = Protection { harm: HarmThresholds::default(), zone: BusinessZone::default() };
    Dispatcher::new(store, vec![Arc::new(webhook)], Arc::new(clock.clone()), config, protection)
}

/// A dispatcher that tries `push` first, then the webhook `config` names.
pub fn dispatcher_with(
    store: Arc<dyn Store>,
    clock: &ManualClock,
    config: NotifyConfig,
    push: Arc<dyn Channel>,
) -> Dispatcher {
    let webhook = Webhook::new(&config.webhook).unwrap().expect("a webhook is configured");
    let protection = Protection { harm: HarmThresholds::default(), zone: BusinessZone::default() };
    Dispatcher::new(store, vec![push, Arc::new(webhook)], Arc::new(clock.clone()), config, protection)
}

/// The app id push devices are registered with.
pub const BUNDLE: &str = "com.example.game";

/// Registers a push device of user `u{who}`.
pub async fn device(store: &dyn Store, who: usize, platform: &str, token: &str) {
    let device = Device {
        user_id: user(who).to_string(),
        platform: platform.into(),
        token: token.into(),
        app_id: BUNDLE.into(),
        registered_at: t0(),
        disabled_at: None,
        disabled_reason: None,
    };
    assert!(store.put_device(device).await.unwrap());
}

pub async fn enqueue(store: &dyn Store, count: usize) {
    known(store, 5).await;
    let notes = (0..count).map(|i| notify::token_arrival(&user(i % 5), &format!("e{i}"), 500)).collect();
    store.enqueue(notes, t0()).await.unwrap();
}

pub fn user(i: usize) -> UserId {
    UserId::parse(&format!("u{i}")).unwrap()
}

/// Makes users `u0`… known to the store: an accepted event each.
pub async fn known(store: &dyn Store, users: usize) {
    let earn = |i: usize| {
        let raw = serde_json::json!({"event_id": uuid::Uuid::new_v4().to_string(), "user_id": user(i).as_str(),
            "type": "EARN_CYBER_TOKENS", "ts": T0, "props": {"amount": 10, "source": "app"}});
        Ok(Event::parse(&raw, &ValidationPolicy::default(), t0()).unwrap())
    };
    store.ingest((0..users).map(earn).collect(), t0()).await.unwrap();
}

/// Every notification of the store, by id.
pub async fn all(store: &dyn Store) -> Vec<StoredNotification> {
    let mut all = Vec::new();
    for u in 0..5 {
        all.extend(store.notifications_of(&user(u), None, 500).await.unwrap());
    }
    all.sort_by_key(|n| n.id);
    all
}

/// A store of one backend, and what keeps it alive.
pub struct Backend {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    db: Option<ScratchDatabase>,
}

impl Backend {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("n.db"), BusinessZone::default(), t0()).unwrap();
        Self { store: Arc::new(store), _dir: Some(dir), db: None }
    }

    pub async fn postgres() -> Self {
        let admin = std::env::var("PLAYPULSE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = ScratchDatabase::create(&admin, "pp_notify").await.expect("PostgreSQL (PLAYPULSE_TEST_PG)");
        let store = PgStore::connect(&db.url, BusinessZone::default(), t0()).await.unwrap();
        Self { store: Arc::new(store), _dir: None, db: Some(db) }
    }

    /// Another instance on the same database.
    pub async fn second_instance(&self) -> Arc<dyn Store> {
        match &self.db {
            Some(db) => Arc::new(PgStore::connect(&db.url, BusinessZone::default(), t0()).await.unwrap()),
            None => self.store.clone(),
        }
    }

    pub async fn dropped(mut self) {
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
            let b = $crate::support::Backend::sqlite().await; super::$name(&b).await; b.dropped().await;
        })* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread")] async fn $name() {
            let b = $crate::support::Backend::postgres().await; super::$name(&b).await; b.dropped().await;
        })* }
    };
}
pub(crate) use on_both;
