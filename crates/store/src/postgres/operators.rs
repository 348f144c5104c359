//! Operators' accounts on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PgStore, all, exec, first};
use crate::operators::{
    ALL, BY_NAME, CREATE, CREATE_SESSION, END_SESSION, FAILED, PRUNE_SESSIONS, SESSION, SUCCEEDED,
};
use playpulse_core::operators::Role;

use crate::{Lockout, OperatorRecord, OperatorSession, Operators, StoreError};

#[async_trait]
impl Operators for PgStore {
    async fn create_operator(&self, operator: OperatorRecord) -> Result<bool, StoreError> {
        let o = operator;
        let params: super::Params<'_> =
            &[&o.name, &o.password_hash, &o.role.as_str(), &o.created_at.as_millisecond()];
        Ok(exec(&self.pool.get().await?, CREATE, params).await? == 1)
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        first(&self.pool.get().await?, BY_NAME, &[&name]).await
    }

    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        all(&self.pool.get().await?, ALL, &[]).await
    }

    async fn login_failed(
        &self,
        name: &str,
        now: Timestamp,
        lockout: Lockout,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let params: super::Params<'_> =
            &[&now.as_millisecond(), &i64::from(lockout.after), &lockout.for_ms, &name];
        first(&self.pool.get().await?, FAILED, params).await
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        exec(&self.pool.get().await?, SUCCEEDED, &[&name]).await.map(drop)
    }

    async fn create_session(&self, session: OperatorSession) -> Result<(), StoreError> {
        let s = &session;
        let (created, expires) = (s.created_at.as_millisecond(), s.expires_at.as_millisecond());
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        exec(&tx, PRUNE_SESSIONS, &[&created]).await?;
        exec(&tx, CREATE_SESSION, &[&s.token_hash, &s.name, &s.csrf, &created, &expires]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(OperatorSession, Role)>, StoreError> {
        first(&self.pool.get().await?, SESSION, &[&token_hash, &now.as_millisecond()]).await
    }

    async fn end_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        Ok(exec(&self.pool.get().await?, END_SESSION, &[&token_hash]).await? == 1)
    }
}
