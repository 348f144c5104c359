//! Scratch databases for tests and benchmarks: created empty on a server, dropped after.

use tokio_postgres::NoTls;

use crate::StoreError;

/// A database that exists only for one test or benchmark run.
#[derive(Debug, Clone)]
pub struct ScratchDatabase {
    /// The database name, `{prefix}_{random}`.
    pub name: String,
    /// A URL to connect to it.
    pub url: String,
    admin_url: String,
}

async fn admin(admin_url: &str, sql: &str) -> Result<(), StoreError> {
    let (client, conn) = tokio_postgres::connect(admin_url, NoTls).await?;
    tokio::spawn(conn);
    client.batch_execute(sql).await?;
    Ok(())
}

impl ScratchDatabase {
    /// Creates an empty database on the server `admin_url` points at.
    pub async fn create(admin_url: &str, prefix: &str) -> Result<Self, StoreError> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        admin(admin_url, &format!("CREATE DATABASE {name}")).await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        Ok(Self { url: format!("{base}/{name}"), name, admin_url: admin_url.to_owned() })
    }

    /// Drops the database, disconnecting whoever is still connected.
    pub async fn drop_now(&self) -> Result<(), StoreError> {
        admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await
    }
}
