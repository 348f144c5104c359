//! API keys on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::keys::{ALL, BY_ID, CREATE, Keys, REVOKE, join_scopes};
use crate::{ApiKeyRecord, StoreError};

#[async_trait]
impl Keys for SqliteStore {
    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let scopes = join_scopes(&key.scopes);
                let created = key.created_at.as_millisecond();
                exec(conn, CREATE, params![key.key_id, key.name, key.secret_hash, scopes, created])?;
                Ok(())
            })
            .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.readers.lookup(|conn| first(conn, BY_ID, [key_id])).await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.readers.read(|conn| all(conn, ALL, [])).await
    }

    async fn revoke_api_key(&self, key_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let key_id = key_id.to_owned();
        self.writer
            .write(move |conn| Ok(exec(conn, REVOKE, params![now.as_millisecond(), key_id])? == 1))
            .await
    }
}
