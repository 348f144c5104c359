//! API keys on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PgStore, all, exec, first};
use crate::keys::{ALL, BY_ID, CREATE, Keys, REVOKE, join_scopes};
use crate::{ApiKeyRecord, StoreError};

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
}
