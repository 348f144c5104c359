//! Versioned migrations: each backend lists its SQL files in order and applies the ones its
//! `schema_migrations` table does not hold yet, each in its own transaction, at start.

/// One schema step.
pub struct Migration {
    pub version: u32,
    pub sql: &'static str,
}
