//! A small pool of read-only SQLite connections (WAL lets readers run beside the writer).

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::StoreError;

type Idle = Arc<Mutex<Vec<Connection>>>;

pub(crate) struct ReadPool {
    idle: Idle,
    permits: Arc<Semaphore>,
    size: usize,
}

/// A connection lent to one read. It goes back to the pool when the read ends, whatever way
/// it ends, and only then is its permit released: a request cancelled while its read runs
/// (a client gone) can never leave a permit without a connection.
struct Lent {
    conn: Option<Connection>,
    idle: Idle,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
    }
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        let size = conns.len();
        Self { idle: Arc::new(Mutex::new(conns)), permits: Arc::new(Semaphore::new(size)), size }
    }

    /// The pool's size, and how many of its connections are lent out now.
    pub(crate) fn use_now(&self) -> (usize, usize) {
        (self.size, self.size - self.permits.available_permits())
    }

    async fn lend(&self) -> Result<Lent, StoreError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        let conn = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        Ok(Lent { conn, idle: self.idle.clone(), _permit: permit })
    }

    /// Runs `work` on a pooled connection, off the async runtime.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let lent = self.lend().await?;
        tokio::task::spawn_blocking(move || work(lent.conn()))
            .await
            .map_err(|join| StoreError::Corrupt(format!("read task failed: {join}")))?
    }

    /// Runs a point lookup (a few rows found by primary key) on the calling thread. It takes
    /// a few microseconds: less than handing it to a blocking thread and back, which costs two
    /// thread wake-ups, a third of a recommendation's time under load.
    pub(crate) async fn lookup<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lent = self.lend().await?;
        work(lent.conn())
    }
}

impl Lent {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("a permit is only ever held beside its connection")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_read_cancelled_midway_gives_its_connection_back() {
        let pool = ReadPool::new(vec![Connection::open_in_memory().unwrap()]);
        let slow = pool.read(|conn| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)
        });
        assert!(tokio::time::timeout(Duration::from_millis(20), slow).await.is_err(), "cancelled");
        for _ in 0..3 {
            let one = pool.read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await;
            assert_eq!(one.unwrap(), 1);
        }
        let looked_up = pool.lookup(|conn| Ok(conn.query_row("SELECT 2", [], |r| r.get::<_, i64>(0))?)).await;
        assert_eq!(looked_up.unwrap(), 2, "a lookup shares the pool");
    }
}
