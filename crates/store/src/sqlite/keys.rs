//! API keys on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::keys::*;
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

    async fn token_keys(&self) -> Result<Vec<TokenKey>, StoreError> {
        self.readers.read(|conn| all(conn, TOKEN_KEYS, [])).await
    }

    async fn add_token_key(
        &self,
        key: TokenKey,
        old_until: Timestamp,
        only_if_none: bool,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                if only_if_none && first::<i64>(conn, CURRENT_TOKEN_KEY, [])?.unwrap_or_default() > 0 {
                    return Ok(());
                }
                let created = key.created_at.as_millisecond();
                exec(conn, END_RETIRING, [created])?;
                exec(conn, RETIRE_CURRENT, [old_until.as_millisecond()])?;
                exec(conn, ADD_TOKEN_KEY, params![key.key_id, key.secret, created])?;
                Ok(())
            })
            .await
    }
}
