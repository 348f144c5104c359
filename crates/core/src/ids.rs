//! Identifiers that arrive from clients, parsed once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest accepted user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 64;

/// An operator's opaque user id: 1 to 64 characters from `[A-Za-z0-9_.:-]`.
///
/// The alphabet keeps ids safe in URL paths and cache keys and leaves no room for e-mail
/// addresses or names (no PII).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

/// Why a user id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user_id must be 1 to {MAX_USER_ID_LEN} characters of A-Z a-z 0-9 _ . : -")]
pub struct InvalidUserId;

impl UserId {
    /// Parses a user id, enforcing length and alphabet.
    pub fn parse(raw: &str) -> Result<Self, InvalidUserId> {
        if !is_opaque_id(raw) {
            return Err(InvalidUserId);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an erased user's pseudonym ([`crate::erasure`]), which only the store
    /// writes: a client sending one is refused.
    pub fn is_pseudonym(&self) -> bool {
        self.0.starts_with(crate::erasure::PSEUDONYM_PREFIX)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The rule of operator-chosen ids (users, content, series): 1 to [`MAX_USER_ID_LEN`]
/// characters from `[A-Za-z0-9_.:-]`.
pub fn is_opaque_id(raw: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    !raw.is_empty() && raw.len() <= MAX_USER_ID_LEN && raw.chars().all(ok_char)
}

/// The idempotency key of an event: a UUID chosen by the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// Parses the textual UUID form.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_bounded_and_url_safe() {
        assert!(UserId::parse("u-42_a.b:c").is_ok());
        assert!(UserId::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "a b", "a/b", "ann@example.com", "é", &"x".repeat(65)] {
            assert_eq!(UserId::parse(bad), Err(InvalidUserId), "{bad:?}");
        }
    }
}
