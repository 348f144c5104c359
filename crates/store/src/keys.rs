//! API keys: only their hashes are stored.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::access::Scope;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant};

/// A stored API key (the secret itself is never stored, only its hash).
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub revoked: bool,
}

/// The API keys servers authenticate with.
#[async_trait]
pub trait Keys: Send + Sync {
    /// Stores a new API key.
    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError>;

    /// Looks up an API key by its public id.
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// All API keys, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes an API key at `now`; `false` if there is no such key or it was revoked before.
    async fn revoke_api_key(&self, key_id: &str, now: Timestamp) -> Result<bool, StoreError>;
}

macro_rules! key_columns {
    () => {
        "SELECT key_id, name, secret_hash, scopes, created_at_ms, revoked_at_ms FROM api_keys"
    };
}

pub(crate) const CREATE: &str =
    "INSERT INTO api_keys (key_id, name, secret_hash, scopes, created_at_ms) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const BY_ID: &str = concat!(key_columns!(), " WHERE key_id = $1");
pub(crate) const ALL: &str = concat!(key_columns!(), " ORDER BY created_at_ms, key_id");
pub(crate) const REVOKE: &str =
    "UPDATE api_keys SET revoked_at_ms = $1 WHERE key_id = $2 AND revoked_at_ms IS NULL";

impl FromCells for ApiKeyRecord {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(ApiKeyRecord {
            key_id: row.get(at)?,
            name: row.get(at + 1)?,
            secret_hash: row.get(at + 2)?,
            scopes: parse_scopes(&row.get::<String>(at + 3)?)?,
            created_at: instant(row.get(at + 4)?)?,
            revoked: row.get::<Option<i64>>(at + 5)?.is_some(),
        })
    }
}

/// Scopes are stored as a comma-separated list.
pub(crate) fn join_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn parse_scopes(text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split(',')
        .map(|s| {
            s.parse().map_err(|e: playpulse_core::access::UnknownScope| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}
