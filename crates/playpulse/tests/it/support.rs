//! A real playpulse on a real socket, over a real SQLite file or a fresh PostgreSQL database
//! with Redis, per test.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use playpulse::app::{self, Running};
use playpulse::config::Config;
use playpulse_core::access::Scope;
use playpulse_core::segments::SegmentReport;
use playpulse_core::time::ManualClock;
use playpulse_server::AppState;
use playpulse_store::postgres::ScratchDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// The instant every test app's clock shows.
pub const NOW: &str = "2026-05-01T03:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: an SQLite file, no cache.
    Sqlite,
    /// Production: PostgreSQL with the Redis hot cache.
    Postgres,
}

/// Admin URL of the PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("PLAYPULSE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("PLAYPULSE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A PostgreSQL database that exists for one test and is dropped after it.
pub struct TestDb(ScratchDatabase);

impl TestDb {
    pub async fn create() -> Self {
        let admin = pg_admin_url();
        let db = ScratchDatabase::create(&admin, "pp_test")
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin} (PLAYPULSE_TEST_PG): {e}"));
        Self(db)
    }

    pub fn url(&self) -> &str {
        &self.0.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let db = self.0.clone();
        // Drop runs outside async: a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let _ = rt.block_on(db.drop_now());
        })
        .join();
    }
}

/// The Redis keys a test app wrote under its own prefix, removed when it is dropped, also
/// after a failed assertion: tests share one Redis and must leave it as they found it.
pub struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // Drop runs outside async: a short-lived runtime on its own thread does the cleanup.
        // A Redis that is gone already (a test's private one) holds nothing to remove.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let _ = rt.block_on(playpulse_cache::remove_prefix(&url, &prefix));
        })
        .join();
    }
}

/// Where a test app keeps its data; dropped with it.
pub enum Storage {
    Sqlite,
    Pg(TestDb),
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: ManualClock,
    /// The config the app was spawned with.
    pub config: Config,
    running: Option<Running>,
    pub storage: Storage,
    /// The data directory (the SQLite file lives here).
    pub dir: tempfile::TempDir,
    /// Last, so that it is dropped after the server and the state that write the keys.
    _redis_keys: Option<RedisKeys>,
}

impl TestApp {
    /// The config a nightly batch of this app runs with: the app's own (segment rules and
    /// all), its lake in the app's temp dir.
    pub fn batch_config(&self) -> Config {
        self.config.clone()
    }

    /// Runs the nightly batch of `as_of` on this app's store and cache, at the app's clock.
    pub async fn batch(&self, as_of: jiff::civil::Date) -> anyhow::Result<SegmentReport> {
        let (store, cache) = (self.state.store.as_ref(), self.state.cache.as_deref());
        playpulse::commands::batch::batch(store, cache, &self.batch_config(), as_of, self.state.clock.now())
            .await
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a config adjusted by `tweak` (rate limits, custom events…).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.store.data_dir = dir.path().to_path_buf();
        let storage = match backend {
            Backend::Sqlite => Storage::Sqlite,
            Backend::Postgres => {
                let db = TestDb::create().await;
                config.store.db = db.url().to_owned();
                config.cache.redis = redis_url();
                config.cache.prefix = format!("pp_test_{}", Uuid::new_v4().simple());
                Storage::Pg(db)
            }
        };
        tweak(&mut config);
        let redis_keys = (!config.cache.redis.is_empty())
            .then(|| RedisKeys { url: config.cache.redis.clone(), prefix: config.cache.prefix.clone() });
        let store = app::open_store(&config).await.expect("open store");
        let cache = app::open_cache(&config).await.expect("Redis must be reachable (PLAYPULSE_TEST_REDIS)");
        let clock = ManualClock::new(NOW.parse().expect("NOW parses"));
        let state = app::state(&config, store, cache, Arc::new(clock.clone())).expect("state");
        let key = playpulse_server::auth::create_key(
            state.store.as_ref(),
            "test admin",
            vec![Scope::Admin],
            state.clock.now(),
        )
        .await
        .expect("create key")
        .token;
        let running =
            app::spawn(state.clone(), "127.0.0.1:0", Duration::from_millis(200)).await.expect("spawn");
        Self {
            base: format!("http://{}", running.addr),
            key,
            client: reqwest::Client::new(),
            state,
            clock,
            config,
            running: Some(running),
            storage,
            dir,
            _redis_keys: redis_keys,
        }
    }

    /// Stops the server, finishing in-flight requests.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }

    pub async fn key_with(&self, scopes: &[Scope]) -> String {
        playpulse_server::auth::create_key(
            self.state.store.as_ref(),
            "test",
            scopes.to_vec(),
            self.state.clock.now(),
        )
        .await
        .unwrap()
        .token
    }

    /// POSTs a batch of events with the admin key.
    pub async fn send(&self, events: &[Value]) -> (StatusCode, Value) {
        self.post_raw("/v1/events", &self.key, serde_json::to_vec(&json!({ "events": events })).unwrap())
            .await
    }

    pub async fn post_raw(&self, path: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    /// Sends `body` as JSON with the admin key.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(path, &self.key).await
    }

    pub async fn get_as(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let response =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(key).send().await.expect("request");
        decode(response).await
    }

    pub async fn balance(&self, user: &str) -> i64 {
        let (status, body) = self.get(&format!("/v1/users/{user}/balance")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_i64().expect("balance is a number")
    }
}

/// Status and JSON body; problem bodies must say `application/problem+json`.
pub async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(content_type, "application/problem+json", "{status} {body}");
        assert!(body["code"].is_string(), "a problem carries a code: {body}");
    }
    (status, body)
}

/// Runs `playpulse simulate` with `args` (users, days, seed, start…), writing into `out`.
pub fn simulate(out: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_playpulse"))
        .arg("simulate")
        .args(args)
        .args(["--out", out.to_str().expect("a UTF-8 path")])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("playpulse simulate starts");
    assert!(status.success(), "playpulse simulate {args:?}");
}

/// The simulator's `truth.jsonl` in `dir`, one value per user.
pub fn truth(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("truth.jsonl")).expect("truth.jsonl");
    text.lines().map(|l| serde_json::from_str(l).expect("a truth line")).collect()
}

/// An event envelope with a fresh id, an hour before the test clock.
pub fn event(user: &str, kind: &str, props: Value) -> Value {
    event_at(user, kind, props, NOW.parse::<Timestamp>().unwrap() - jiff::SignedDuration::from_hours(1))
}

pub fn event_at(user: &str, kind: &str, props: Value, ts: Timestamp) -> Value {
    json!({"event_id": Uuid::new_v4().to_string(), "user_id": user, "type": kind, "ts": ts.to_string(), "props": props})
}

pub fn earn(user: &str, amount: i64) -> Value {
    event(user, "EARN_CYBER_TOKENS", json!({"amount": amount, "source": "app"}))
}

pub fn spend(user: &str, amount: i64) -> Value {
    event(user, "SPEND_CYBER_TOKENS", json!({"amount": amount, "sink": "game"}))
}

/// Statuses of a batch answer, in order.
pub fn statuses(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| match r["code"].as_str() {
            Some(code) => code.to_owned(),
            None => r["status"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}
