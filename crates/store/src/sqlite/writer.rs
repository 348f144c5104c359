//! The single SQLite writer, with group commit.
//!
//! SQLite allows one writer at a time, so one thread owns the write connection and runs every
//! write. Jobs that queue up while a transaction commits are taken together into the next
//! one and answered only after the shared COMMIT has reached the disk: one fsync and one
//! pass over the hot pages serve many requests, which is what makes `synchronous=FULL`
//! affordable. If any job of a group fails, the group is rolled back and each of its jobs is
//! run again in a transaction of its own, so a failure only ever answers the job that caused
//! it and never leaves another half-applied.

use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// Most jobs one group transaction takes.
const MAX_JOBS_PER_COMMIT: usize = 64;
/// Most jobs waiting for the writer; senders wait beyond that (back-pressure).
const MAX_QUEUED_JOBS: usize = 1024;

/// One write: re-runnable, since a failed group runs its jobs again one by one.
trait Job: Send {
    /// Runs the work inside the current transaction; `false` if it failed.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Write<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send, F: FnMut(&Connection) -> Result<T, StoreError> + Send> Job for Write<T, F> {
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.work)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (commit, self.result) {
            (_, Some(Err(own))) => Err(own),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(err), _) => Err(err),
            (Ok(()), None) => Err(StoreError::Commit("the write never ran".into())),
        };
        // The caller may have gone away (client disconnected); a committed write stands.
        let _ = self.reply.send(answer);
    }
}

/// A handle to the writer thread.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` until every handle is dropped.
    pub(crate) fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_JOBS);
        thread::Builder::new().name("sqlite-writer".into()).spawn(move || run(&conn, queue))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in a transaction and returns its result once it is durably committed.
    /// `work` may run more than once (only the last run's effects are ever committed).
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Write { work, result: None, reply });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn run(conn: &Connection, mut queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        match transaction(conn, &mut jobs) {
            Ok(()) => jobs.into_iter().for_each(|job| job.finish(Ok(()))),
            Err(err) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    job.finish(Err(err));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, jobs = jobs.len(), "group write failed; retrying its jobs one by one");
                for mut job in jobs {
                    let alone = transaction(conn, std::slice::from_mut(&mut job));
                    job.finish(alone);
                }
            }
        }
    }
}

/// Runs jobs in one transaction and commits it; on any failure nothing of them remains.
fn transaction(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let outcome = if jobs.iter_mut().all(|job| job.run(conn)) {
        conn.execute_batch("COMMIT").map_err(StoreError::from)
    } else {
        Err(StoreError::Commit("a write of the group failed".into()))
    };
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use futures::future::join_all;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER NOT NULL CHECK (n <> 13))").unwrap();
        let writer = Writer::spawn(conn).unwrap();
        // 200 writes queue up behind each other, so groups form; n = 13 violates the CHECK
        // (and so takes the roll-back-and-retry-alone path).
        let writes = (0..200i64).map(|n| {
            writer.write(move |conn| {
                conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                Ok(n)
            })
        });
        let results = join_all(writes).await;
        for (n, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), n != 13, "write {n}: {result:?}");
        }
        let count =
            writer.write(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))?));
        assert_eq!(count.await.unwrap(), 199, "every other write committed, exactly once");
    }
}
