//! The operator team's accounts: role, password hash, and the wrong passwords that lock an
//! account for a while.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::operators::Role;

use crate::StoreError;
use crate::rows::{Cells, FromCells, instant};

/// An operator's account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    pub name: String,
    /// Argon2id, as a PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// Wrong passwords since the last right one.
    pub failed_logins: u32,
    /// Refuses every login until then, the right password included.
    pub locked_until: Option<Timestamp>,
}

impl OperatorRecord {
    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A signed-in operator's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    /// SHA-256 (hex) of the cookie's token; the token itself is never stored.
    pub token_hash: String,
    pub name: String,
    /// The token every state-changing request of the session must carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// When wrong passwords lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Wrong passwords in a row that lock the account.
    pub after: u32,
    /// How long it stays locked.
    pub for_ms: i64,
}

/// Operators' accounts.
#[async_trait]
pub trait Operators: Send + Sync {
    /// Creates an account; `false` if the name is taken (nothing changes then).
    async fn create_operator(&self, operator: OperatorRecord) -> Result<bool, StoreError>;

    /// An account by name.
    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError>;

    /// Every account, by name.
    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError>;

    /// Counts a wrong password at `now`; the account after it (locked if this one reached
    /// the lockout's count). One statement: concurrent wrong passwords are all counted.
    async fn login_failed(
        &self,
        name: &str,
        now: Timestamp,
        lockout: Lockout,
    ) -> Result<Option<OperatorRecord>, StoreError>;

    /// A right password: the count of wrong ones starts again.
    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError>;

    /// Stores a new session, and forgets every session expired at its creation time.
    async fn create_session(&self, session: OperatorSession) -> Result<(), StoreError>;

    /// The session of a token hash unless it expired by `now`, with its operator's role as
    /// it is now (a changed role applies at once).
    async fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(OperatorSession, Role)>, StoreError>;

    /// Ends a session (sign-out); `false` if there was none.
    async fn end_session(&self, token_hash: &str) -> Result<bool, StoreError>;
}

/// The columns [`OperatorRecord::from_cells`] reads.
macro_rules! operator_columns {
    () => {
        "name, password_hash, role, created_at_ms, failed_logins, locked_until_ms"
    };
}

pub(crate) const CREATE: &str = "INSERT INTO operators (name, password_hash, role, created_at_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING";
pub(crate) const BY_NAME: &str = concat!("SELECT ", operator_columns!(), " FROM operators WHERE name = $1");
pub(crate) const ALL: &str = concat!("SELECT ", operator_columns!(), " FROM operators ORDER BY name");
/// A lock that has run out starts the count again: the first wrong password after it is 1.
/// `$1` now, `$2` the lockout's count, `$3` its length, `$4` the name.
pub(crate) const FAILED: &str = concat!(
    "UPDATE operators SET \
     failed_logins = CASE WHEN locked_until_ms IS NOT NULL AND locked_until_ms <= $1 THEN 1 \
       ELSE failed_logins + 1 END, \
     locked_until_ms = CASE \
       WHEN locked_until_ms IS NOT NULL AND locked_until_ms > $1 THEN locked_until_ms \
       WHEN (CASE WHEN locked_until_ms IS NOT NULL AND locked_until_ms <= $1 THEN 1 \
         ELSE failed_logins + 1 END) >= $2 THEN $1 + $3 \
       ELSE NULL END \
     WHERE name = $4 RETURNING ",
    operator_columns!()
);
pub(crate) const SUCCEEDED: &str =
    "UPDATE operators SET failed_logins = 0, locked_until_ms = NULL WHERE name = $1";

pub(crate) const PRUNE_SESSIONS: &str = "DELETE FROM operator_sessions WHERE expires_at_ms <= $1";
pub(crate) const CREATE_SESSION: &str = "INSERT INTO operator_sessions \
     (token_hash, name, csrf, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const SESSION: &str = "SELECT s.token_hash, s.name, s.csrf, s.created_at_ms, s.expires_at_ms, \
     o.role FROM operator_sessions s JOIN operators o ON o.name = s.name \
     WHERE s.token_hash = $1 AND s.expires_at_ms > $2";
pub(crate) const END_SESSION: &str = "DELETE FROM operator_sessions WHERE token_hash = $1";

fn role(text: &str) -> Result<Role, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("operator role {text}")))
}

impl FromCells for (OperatorSession, Role) {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let session = OperatorSession {
            token_hash: row.get(at)?,
            name: row.get(at + 1)?,
            csrf: row.get(at + 2)?,
            created_at: instant(row.get(at + 3)?)?,
            expires_at: instant(row.get(at + 4)?)?,
        };
        Ok((session, role(&row.get::<String>(at + 5)?)?))
    }
}

impl FromCells for OperatorRecord {
    const WIDTH: usize = 6;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let role: String = row.get(at + 2)?;
        let failed: i64 = row.get(at + 4)?;
        Ok(OperatorRecord {
            name: row.get(at)?,
            password_hash: row.get(at + 1)?,
            role: self::role(&role)?,
            created_at: instant(row.get(at + 3)?)?,
            failed_logins: u32::try_from(failed)
                .map_err(|_| StoreError::Corrupt(format!("failed logins {failed}")))?,
            locked_until: row.get::<Option<i64>>(at + 5)?.map(instant).transpose()?,
        })
    }
}
