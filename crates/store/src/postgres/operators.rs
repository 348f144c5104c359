//! Operators' accounts on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PgStore, all, exec, first};
use crate::operators::{ALL, BY_NAME, CREATE, FAILED, SUCCEEDED};
use crate::{Lockout, OperatorRecord, Operators, StoreError};

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
}
