//! A small pool of read-only SQLite connections (WAL lets readers run beside the writer).

use std::sync::Mutex;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::StoreError;

pub(crate) struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        let permits = Semaphore::new(conns.len());
        Self { idle: Mutex::new(conns), permits }
    }

    /// Runs `work` on a pooled connection, off the async runtime.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self.permits.acquire().await.map_err(|_| StoreError::Closed)?;
        let conn = self
            .idle
            .lock()
            .expect("pool mutex is never poisoned: nothing panics holding it")
            .pop()
            .expect("a permit guarantees an idle connection");
        match tokio::task::spawn_blocking(move || {
            let result = work(&conn);
            (conn, result)
        })
        .await
        {
            Ok((conn, result)) => {
                self.idle.lock().expect("pool mutex is never poisoned").push(conn);
                result
            }
            Err(join) => {
                // The connection went down with the panicking task: shrink the pool for good.
                permit.forget();
                Err(StoreError::Corrupt(format!("read task failed: {join}")))
            }
        }
    }
}
