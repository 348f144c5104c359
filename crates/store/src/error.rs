//! The store's one error type.

/// Failures of the store. None of them means an event was half-applied: every write is one
/// transaction.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with a database error's SQLSTATE and message, which the driver's own text
    /// (`db error`) leaves out: logs need them; answers never show them.
    #[error("postgres: {}{}", .0, .0.as_db_error().map(|db| format!(": SQLSTATE {}: {}", db.code().code(), db.message())).unwrap_or_default())]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(String),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        StoreError::Pool(err.to_string())
    }
}
