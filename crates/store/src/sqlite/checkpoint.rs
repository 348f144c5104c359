//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold: that
//! commit, and every write queued behind it, waits while the WAL is copied into the
//! database file and synced (tenths of a second with a large WAL). Here the writer never
//! checkpoints; a thread of its own runs a PASSIVE checkpoint, which takes no lock the writer
//! or the readers need, and SQLite starts the WAL over at the first commit after a complete
//! one.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

/// How often the WAL is checkpointed. Each checkpoint copies a hot page once however often
/// the WAL holds it, so checkpoints much more frequent than this would write far more.
const EVERY: Duration = Duration::from_secs(1);

/// Stops the thread when dropped (with the store).
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn`, a connection of its own.
    pub(crate) fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                if let Err(err) = checkpoint(&conn) {
                    tracing::warn!(error = %err, "WAL checkpoint failed; retrying in a second");
                }
            }
        })?;
        Ok(Self { _stop: stop })
    }
}

/// One PASSIVE checkpoint: copies what no reader still needs, never waits for a lock.
fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::time::Instant;

    use super::*;

    /// Frames in the WAL after the writer's last commit, as SQLite reports them.
    static WAL_FRAMES: AtomicI32 = AtomicI32::new(0);

    #[test]
    fn the_wal_is_checkpointed_and_started_over_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = super::super::connect(&path).unwrap();
        writer.wal_hook(Some(|_, frames| {
            WAL_FRAMES.store(frames, Ordering::SeqCst);
            Ok(())
        }));
        writer.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        for _ in 0..200 {
            writer.execute("INSERT INTO t (b) VALUES (zeroblob(4096))", []).unwrap();
        }
        let grown = WAL_FRAMES.load(Ordering::SeqCst);
        assert!(grown >= 200, "the writer itself does not checkpoint: {grown} frames");
        let _checkpointer = Checkpointer::spawn(super::super::connect(&path).unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            thread::sleep(Duration::from_millis(100));
            // After a complete checkpoint the next commit writes at the WAL's start again.
            writer.execute("INSERT INTO t (b) VALUES (zeroblob(10))", []).unwrap();
            let frames = WAL_FRAMES.load(Ordering::SeqCst);
            if frames < 10 {
                break;
            }
            assert!(Instant::now() < deadline, "the WAL never started over: {frames} frames");
        }
    }
}
