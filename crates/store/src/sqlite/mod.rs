//! The embedded backend: one SQLite file in WAL mode, one writer thread with group commit,
//! a few read connections. One file per concern, as in the crate root.

mod content;
mod export;
mod jobs;
mod keys;
mod ledger;
mod operators;
pub(crate) mod outbox;
mod partners;
mod players;
mod pool;
mod privacy;
mod results;
mod scores;
mod vitals;
mod writer;

use std::collections::BTreeSet;
use std::path::Path;

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::time::BusinessZone;
use rusqlite::{Connection, OptionalExtension, params};

use self::pool::ReadPool;
use self::writer::Writer;
use crate::migrate::{self, Migration, migrations};
use crate::rows::FromCells;
use crate::{Store, StoreError};

const MIGRATIONS: &[Migration] = migrations!("migrations");

/// Read connections kept open beside the writer.
const READ_CONNECTIONS: usize = 4;
/// Page cache per connection, in KiB.
const PAGE_CACHE_KIB: i64 = 64 * 1024;
/// WAL size, in pages, that triggers a checkpoint: each checkpoint copies a hot page once
/// however often the WAL holds it, so rarer checkpoints write far less.
const WAL_CHECKPOINT_PAGES: i64 = 16 * 1024;
/// How long a connection waits for another process's write lock (e.g. the CLI beside a server).
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The embedded store.
pub struct SqliteStore {
    writer: Writer,
    readers: ReadPool,
    zone: BusinessZone,
    pseudonyms: Pseudonyms,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    // WAL lets readers run beside the writer; FULL syncs every commit, so an acknowledged
    // event survives a power cut, not only a crash of the process.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A page cache large enough for the hot indexes (random event ids, per-user rows), so a
    // big batch neither rereads pages nor spills them mid-transaction; savepoint journals in RAM.
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    // Deleted and overwritten content is zeroed, so an erased user's id does not linger in
    // free space of the file (rows updated in place leave their old bytes behind otherwise).
    conn.pragma_update(None, "secure_delete", true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection, now: Timestamp) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(migrate::CREATE_TABLE)?;
    renumber_if_old(&tx)?;
    let applied: BTreeSet<i64> = all(&tx, migrate::APPLIED, [])?.into_iter().collect();
    tx.commit()?;
    for m in migrate::pending(MIGRATIONS, &applied) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Migration { version: m.version, reason: e.to_string() })?;
        tx.execute(migrate::RECORD, params![m.version, now.as_millisecond(), m.name])?;
        tx.commit()?;
    }
    Ok(())
}

/// Files made before both backends numbered their steps alike lack step 2 (PostgreSQL's
/// export order) and hold the later steps one lower; their table has no `name` column.
fn renumber_if_old(conn: &Connection) -> Result<(), StoreError> {
    let named: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('schema_migrations') WHERE name = 'name')",
        [],
        |r| r.get(0),
    )?;
    if named {
        return Ok(());
    }
    conn.execute_batch(
        "ALTER TABLE schema_migrations ADD COLUMN name TEXT;
         UPDATE schema_migrations SET version = -version WHERE version >= 2;
         UPDATE schema_migrations SET version = 1 - version WHERE version < 0;
         INSERT INTO schema_migrations (version, applied_at_ms) \
           SELECT 2, applied_at_ms FROM schema_migrations WHERE version = 3;",
    )?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, zone: BusinessZone, now: Timestamp) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = connect(path)?;
        migrate(&mut conn, now)?;
        exec(&conn, crate::privacy::SEED_KEY, [crate::privacy::new_key()])?;
        let key: String = first(&conn, crate::privacy::KEY, [])?.ok_or_else(crate::privacy::missing_key)?;
        let pseudonyms = crate::privacy::pseudonyms(&key)?;
        let readers = (0..READ_CONNECTIONS).map(|_| connect(path)).collect::<Result<_, _>>()?;
        Ok(Self { writer: Writer::spawn(conn)?, readers: ReadPool::new(readers), zone, pseudonyms })
    }
}

/// Every row `sql` returns.
fn all<T: FromCells>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::from_cells(row, 0)?);
    }
    Ok(out)
}

/// The first row `sql` returns, if any.
fn first<T: FromCells>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_row(params, |row| Ok(T::from_cells(row, 0))).optional()?.transpose()
}

/// Runs `sql`; the number of rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.readers.lookup(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared statements number their placeholders in order of first use, so SQLite's
    /// numbering of `$N` names matches PostgreSQL's positions.
    #[test]
    fn shared_placeholders_are_numbered_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Timestamp::UNIX_EPOCH).unwrap();
        conn.execute_batch(crate::results::STAGE_SEGMENTS).unwrap();
        for sql in crate::shared_statements() {
            let stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            for i in 1..=stmt.parameter_count() {
                assert_eq!(stmt.parameter_name(i), Some(format!("${i}").as_str()), "{sql}");
            }
        }
    }

    #[test]
    fn a_file_numbered_the_old_way_is_renumbered_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        let old = [
            include_str!("migrations/0001_init.sql"),
            include_str!("migrations/0003_segments.sql"),
            include_str!("migrations/0004_outbox.sql"),
        ];
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
        )
        .unwrap();
        for (i, sql) in old.iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 7)", [i + 1]).unwrap();
        }
        migrate(&mut conn, Timestamp::UNIX_EPOCH).unwrap();
        migrate(&mut conn, Timestamp::UNIX_EPOCH).unwrap();
        let versions: Vec<i64> =
            all(&conn, "SELECT version FROM schema_migrations ORDER BY version", []).unwrap();
        assert_eq!(versions, (1..=i64::try_from(MIGRATIONS.len()).unwrap()).collect::<Vec<_>>());
    }
}
