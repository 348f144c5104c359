//! The single SQLite writer, with group commit.
//!
//! SQLite allows one writer at a time, so one thread owns the write connection and runs every
//! write. Jobs that queue up while a transaction commits are taken together into the next
//! one: each runs in its own savepoint (a failing job rolls back alone), and all of them are
//! answered only after the shared COMMIT has reached the disk. One fsync thus covers many
//! requests, which is what makes `synchronous=FULL` affordable.

use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// Most jobs one group transaction takes.
const MAX_JOBS_PER_COMMIT: usize = 64;
/// Most jobs waiting for the writer; senders wait beyond that (back-pressure).
const MAX_QUEUED_JOBS: usize = 1024;

/// Called after the group's COMMIT with its failure, if any.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// Runs inside the group transaction (or learns that it could not begin).
type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> Finish + Send>;

/// A handle to the writer thread.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` until every handle is dropped.
    pub(crate) fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_JOBS);
        thread::Builder::new().name("sqlite-writer".into()).spawn(move || run(conn, queue))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in a transaction and returns its result once it is durably committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, work),
                Err(begin) => Err(StoreError::Commit(begin.to_string())),
            };
            Box::new(move |commit: Option<&StoreError>| {
                let answer = match commit {
                    Some(err) => Err(StoreError::Commit(err.to_string())),
                    None => result,
                };
                // The caller may have gone away (client disconnected); the write stands.
                let _ = reply.send(answer);
            })
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT job")?;
    let result = work(conn);
    match &result {
        Ok(_) => conn.execute_batch("RELEASE job")?,
        Err(_) => conn.execute_batch("ROLLBACK TO job; RELEASE job")?,
    }
    result
}

fn run(conn: Connection, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let finishers: Vec<Finish> = match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => jobs.into_iter().map(|job| job(Ok(&conn))).collect(),
            Err(err) => {
                let err = StoreError::from(err);
                jobs.into_iter().map(|job| job(Err(&err))).collect()
            }
        };
        let failure = if conn.is_autocommit() {
            None // BEGIN failed: every job already carries the error.
        } else {
            conn.execute_batch("COMMIT").err().map(|err| {
                tracing::error!(error = %err, "sqlite commit failed; rolling back the group");
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::from(err)
            })
        };
        for finish in finishers {
            finish(failure.as_ref());
        }
    }
}
