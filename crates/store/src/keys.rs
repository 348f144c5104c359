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

/// A key that signs player-scoped tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    pub key_id: String,
    /// The Ed25519 secret key, hex.
    pub secret: String,
    pub created_at: Timestamp,
    /// Verifies tokens until then; `None` for the current key.
    pub retired_at: Option<Timestamp>,
}

/// The API keys servers authenticate with, and the keys that sign player tokens.
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

    /// Every token key, oldest first.
    async fn token_keys(&self) -> Result<Vec<TokenKey>, StoreError>;

    /// Makes `key` the current signing key: the current one retires at `old_until`, any
    /// older one still verifying retires at `key.created_at`. With `only_if_none`, does
    /// nothing when a current key exists (the first start of several instances at once).
    async fn add_token_key(
        &self,
        key: TokenKey,
        old_until: Timestamp,
        only_if_none: bool,
    ) -> Result<(), StoreError>;
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

pub(crate) const TOKEN_KEYS: &str =
    "SELECT key_id, secret, created_at_ms, retired_at_ms FROM token_keys ORDER BY created_at_ms, key_id";
/// Whether a current (unretired) token key exists.
pub(crate) const CURRENT_TOKEN_KEY: &str = "SELECT COUNT(*) FROM token_keys WHERE retired_at_ms IS NULL";
/// Keys already retiring stop at `$1` (the new key's creation)...
pub(crate) const END_RETIRING: &str =
    "UPDATE token_keys SET retired_at_ms = $1 WHERE retired_at_ms IS NOT NULL AND retired_at_ms > $1";
/// ...and the current one verifies until `$1`.
pub(crate) const RETIRE_CURRENT: &str =
    "UPDATE token_keys SET retired_at_ms = $1 WHERE retired_at_ms IS NULL";
pub(crate) const ADD_TOKEN_KEY: &str =
    "INSERT INTO token_keys (key_id, secret, created_at_ms) VALUES ($1, $2, $3)";

impl FromCells for TokenKey {
    const WIDTH: usize = 4;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(TokenKey {
            key_id: row.get(at)?,
            secret: row.get(at + 1)?,
            created_at: instant(row.get(at + 2)?)?,
            retired_at: row.get::<Option<i64>>(at + 3)?.map(instant).transpose()?,
        })
    }
}

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
