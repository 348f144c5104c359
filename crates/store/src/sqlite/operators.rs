//! Operators' accounts on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::operators::{ALL, BY_NAME, CREATE, FAILED, SUCCEEDED};
use crate::{Lockout, OperatorRecord, Operators, StoreError};

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
}
