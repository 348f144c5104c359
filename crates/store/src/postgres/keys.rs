//! API keys on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PgStore, all, exec, first};
use crate::keys::*;
use crate::{ApiKeyRecord, StoreError};

/// Advisory-lock key that serializes changes of the token keys across instances.
const TOKEN_KEYS_LOCK: i64 = 0x7070_746f_6b65_6e73;

#[async_trait]
impl Keys for PgStore {
    async fn create_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let (scopes, created) = (join_scopes(&key.scopes), key.created_at.as_millisecond());
        let client = self.pool.get().await?;
        exec(&client, CREATE, &[&key.key_id, &key.name, &key.secret_hash, &scopes, &created]).await?;
        Ok(())
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        first(&self.pool.get().await?, BY_ID, &[&key_id]).await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        all(&self.pool.get().await?, ALL, &[]).await
    }

    async fn revoke_api_key(&self, key_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        Ok(exec(&self.pool.get().await?, REVOKE, &[&now.as_millisecond(), &key_id]).await? == 1)
    }

    async fn token_keys(&self) -> Result<Vec<TokenKey>, StoreError> {
        all(&self.pool.get().await?, TOKEN_KEYS, &[]).await
    }

    async fn add_token_key(
        &self,
        key: TokenKey,
        old_until: Timestamp,
        only_if_none: bool,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TOKEN_KEYS_LOCK]).await?;
        if only_if_none && first::<i64>(&tx, CURRENT_TOKEN_KEY, &[]).await?.unwrap_or_default() > 0 {
            return Ok(());
        }
        let created = key.created_at.as_millisecond();
        exec(&tx, END_RETIRING, &[&created]).await?;
        exec(&tx, RETIRE_CURRENT, &[&old_until.as_millisecond()]).await?;
        exec(&tx, ADD_TOKEN_KEY, &[&key.key_id, &key.secret, &created]).await?;
        tx.commit().await?;
        Ok(())
    }
}
