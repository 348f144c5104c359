//! Operators' accounts on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::operators::{
    ALL, BY_NAME, CREATE, CREATE_SESSION, END_SESSION, FAILED, PRUNE_SESSIONS, SESSION, SUCCEEDED,
};
use playpulse_core::operators::Role;

use crate::{Lockout, OperatorRecord, OperatorSession, Operators, StoreError};

#[async_trait]
impl Operators for SqliteStore {
    async fn create_operator(&self, operator: OperatorRecord) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let o = &operator;
                let created = o.created_at.as_millisecond();
                Ok(exec(conn, CREATE, params![o.name, o.password_hash, o.role.as_str(), created])? == 1)
            })
            .await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.readers.lookup(|conn| first(conn, BY_NAME, [name])).await
    }

    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        self.readers.read(|conn| all(conn, ALL, [])).await
    }

    async fn login_failed(
        &self,
        name: &str,
        now: Timestamp,
        lockout: Lockout,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let name = name.to_owned();
        let after = i64::from(lockout.after);
        self.writer
            .write(move |conn| {
                first(conn, FAILED, params![now.as_millisecond(), after, lockout.for_ms, name])
            })
            .await
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.writer.write(move |conn| exec(conn, SUCCEEDED, [&name]).map(drop)).await
    }

    async fn create_session(&self, session: OperatorSession) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let s = &session;
                let (created, expires) = (s.created_at.as_millisecond(), s.expires_at.as_millisecond());
                exec(conn, PRUNE_SESSIONS, [created])?;
                exec(conn, CREATE_SESSION, params![s.token_hash, s.name, s.csrf, created, expires])?;
                Ok(())
            })
            .await
    }

    async fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(OperatorSession, Role)>, StoreError> {
        self.readers.lookup(|conn| first(conn, SESSION, params![token_hash, now.as_millisecond()])).await
    }

    async fn end_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        self.writer.write(move |conn| Ok(exec(conn, END_SESSION, [&token_hash])? == 1)).await
    }
}
