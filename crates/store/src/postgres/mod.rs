//! The production backend: PostgreSQL through a connection pool. One file per concern, as in
//! the crate root.
//!
//! Concurrent ingest transactions serialize per user on row locks of their `users` rows,
//! always taken in ascending key order (no deadlocks), and then read the committed state of
//! their users. Every batch statement sends whole columns as arrays (`unnest`), and the
//! statements of one step are pipelined, so a batch of 500 events costs a handful of round
//! trips.

mod content;
mod export;
mod jobs;
mod keys;
mod ledger;
mod operators;
mod outbox;
mod partners;
mod players;
mod privacy;
mod results;
mod scores;
mod scratch;
mod vitals;

use std::collections::BTreeSet;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use jiff::Timestamp;
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::time::BusinessZone;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::NoTls;

pub use self::scratch::ScratchDatabase;
use crate::migrate::{self, Migration, migrations};
use crate::rows::FromCells;
use crate::{Store, StoreError};

const MIGRATIONS: &[Migration] = migrations!("migrations");

/// Connections per process.
const POOL_SIZE: usize = 16;
/// Ledger transactions (ingest, partner rewards, unlocks) at once per process. They row-lock
/// their users and wait on each other's locks; left unbounded they filled the pool under
/// steady ingest and reads queued behind them for a connection. The rest of the pool is the
/// reads', which never wait behind a ledger transaction.
const WRITERS: usize = 4;
/// Advisory-lock key that serializes migrations across instances.
const MIGRATION_LOCK: i64 = 0x7070_6d69_6772_6174;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    writers: Semaphore,
    zone: BusinessZone,
    pseudonyms: Pseudonyms,
}

/// Statement parameters, named so that pipelined statements can borrow them.
pub(super) type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

impl PgStore {
    /// Connects, and applies pending migrations (one instance at a time).
    pub async fn connect(url: &str, zone: BusinessZone, now: Timestamp) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        migrate(&pool, now).await?;
        let pseudonyms = pseudonyms(&pool).await?;
        Ok(Self { pool, writers: Semaphore::new(WRITERS), zone, pseudonyms })
    }
}

impl PgStore {
    /// A connection for a ledger transaction, once one of the [`WRITERS`] slots is free; the
    /// slot goes with the permit.
    async fn writer(&self) -> Result<(SemaphorePermit<'_>, Object), StoreError> {
        let permit = self.writers.acquire().await.map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok((permit, self.pool.get().await?))
    }
}

/// The pseudonyms' key, made by whichever instance comes first.
async fn pseudonyms(pool: &Pool) -> Result<Pseudonyms, StoreError> {
    let client = pool.get().await?;
    exec(&client, crate::privacy::SEED_KEY, &[&crate::privacy::new_key()]).await?;
    let key: String =
        first(&client, crate::privacy::KEY, &[]).await?.ok_or_else(crate::privacy::missing_key)?;
    crate::privacy::pseudonyms(&key)
}

/// Applies pending migrations, one instance at a time.
async fn migrate(pool: &Pool, now: Timestamp) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(migrate::CREATE_TABLE).await?;
    tx.batch_execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS name TEXT").await?;
    let applied: BTreeSet<i64> = all::<i64>(&tx, migrate::APPLIED, &[]).await?.into_iter().collect();
    for m in migrate::pending(MIGRATIONS, &applied) {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| StoreError::Migration { version: m.version, reason: e.to_string() })?;
        let version = i32::try_from(m.version).expect("migration versions are small");
        tx.execute(migrate::RECORD, &[&version, &now.as_millisecond(), &m.name]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every row `sql` returns.
async fn all<T: FromCells>(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<T>, StoreError> {
    let stmt = client.prepare_cached(sql).await?;
    client.query(&stmt, params).await?.iter().map(|row| T::from_cells(row, 0)).collect()
}

/// The first row `sql` returns, if any.
async fn first<T: FromCells>(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<T>, StoreError> {
    let stmt = client.prepare_cached(sql).await?;
    client.query_opt(&stmt, params).await?.as_ref().map(|row| T::from_cells(row, 0)).transpose()
}

/// Runs `sql`; the number of rows it changed.
async fn exec(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.execute(&stmt, params).await?)
}

/// A row count as PostgreSQL's `bigint` parameters want it.
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}
