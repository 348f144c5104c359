//! The store conformance suite: every store method, one body, both backends. An SQLite file in
//! a temp dir, and a PostgreSQL database created for the test and dropped after it
//! (`PLAYPULSE_TEST_PG`, default the local server). The first thing a backend change is
//! tested with.

mod content;
mod jobs;
mod ledger;
mod operators;
mod outbox;
mod partners;
mod players;
mod results;
mod scores;
mod vitals;

use std::sync::Arc;

use jiff::Timestamp;
use playpulse_core::event::{Event, ValidationPolicy};
use playpulse_core::time::BusinessZone;
use playpulse_store::postgres::{PgStore, ScratchDatabase};
use playpulse_store::sqlite::SqliteStore;
use playpulse_store::{RawInsert, Store};
use serde_json::{Value, json};

/// The instant the tests' writes happen at.
pub const NOW: &str = "2026-05-01T03:00:00Z";

pub fn now() -> Timestamp {
    NOW.parse().expect("NOW is an instant")
}

/// A fresh store of one backend, removed when dropped.
pub struct Fixture {
    pub store: Arc<dyn RawInsert>,
    _dir: Option<tempfile::TempDir>,
    db: Option<ScratchDatabase>,
}

impl Fixture {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store =
            SqliteStore::open(&dir.path().join("t.db"), BusinessZone::default(), now()).expect("sqlite");
        Self { store: Arc::new(store), _dir: Some(dir), db: None }
    }

    pub async fn postgres() -> Self {
        let admin = std::env::var("PLAYPULSE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = ScratchDatabase::create(&admin, "pp_store")
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin} (PLAYPULSE_TEST_PG): {e}"));
        let store = PgStore::connect(&db.url, BusinessZone::default(), now()).await.expect("postgres");
        Self { store: Arc::new(store), _dir: None, db: Some(db) }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A store over the same data, opened anew (as after a restart).
    pub async fn reopened(&self) -> Arc<dyn RawInsert> {
        match (&self._dir, &self.db) {
            (Some(dir), _) => Arc::new(
                SqliteStore::open(&dir.path().join("t.db"), BusinessZone::default(), now()).expect("sqlite"),
            ),
            (_, Some(db)) => {
                Arc::new(PgStore::connect(&db.url, BusinessZone::default(), now()).await.expect("postgres"))
            }
            _ => unreachable!("a fixture has a file or a database"),
        }
    }
}

/// The PostgreSQL database goes when the fixture goes, also after a failed assertion (the
/// SQLite file goes with its temp dir): tests share one server and leave it as they found it.
impl Drop for Fixture {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        // Drop runs outside async: a short-lived runtime on its own thread does the cleanup
        // (`DROP DATABASE … WITH (FORCE)` closes the store's own connections).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let _ = rt.block_on(db.drop_now());
        })
        .join();
    }
}

/// Runs one async test body on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread")] async fn $name() {
            let f = $crate::Fixture::sqlite().await; super::$name(&f).await;
        })* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread")] async fn $name() {
            let f = $crate::Fixture::postgres().await; super::$name(&f).await;
        })* }
    };
}
pub(crate) use on_both;

/// A valid event of `user`, `kind` and `props` at `ts`.
pub fn event(id: u128, user: &str, kind: &str, ts: &str, props: Value) -> Event {
    let raw = json!({
        "event_id": uuid::Uuid::from_u128(id).to_string(),
        "user_id": user,
        "type": kind,
        "ts": ts,
        "props": props,
    });
    Event::parse(&raw, &ValidationPolicy::default(), now()).expect("a valid test event")
}

/// An earn of `amount` by `user`.
pub fn earn(id: u128, user: &str, amount: i64) -> Event {
    event(id, user, "EARN_CYBER_TOKENS", NOW, json!({"amount": amount, "source": "app"}))
}

/// Makes `user` known to the store (an accepted event).
pub async fn known(f: &Fixture, user: &str, id: u128) {
    f.store().ingest(vec![Ok(earn(id, user, 10))], now()).await.expect("ingest");
}
