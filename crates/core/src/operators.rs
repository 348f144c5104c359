//! The operator team's accounts: names, roles and password rules. Passwords are kept only as
//! Argon2id hashes (PHC strings, which carry their own salt and parameters, so a later change
//! of parameters still verifies old hashes).

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted (NIST SP 800-63B asks for at least 8; operators hold the keys
/// to every player's data, so more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: hashing cost grows with the input, and nobody types more.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What an operator may do on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// Reads, and acts: retries jobs, revokes keys, sets users' limits.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an account cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("unknown role `{0}`: use viewer or admin")]
    UnknownRole(String),
    #[error("an operator name is 1 to 64 characters of a-z, 0-9, '.', '_', '-' and '@'")]
    InvalidName,
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes")]
    InvalidPassword,
}

impl FromStr for Role {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "admin" => Ok(Role::Admin),
            other => Err(AccountError::UnknownRole(other.to_owned())),
        }
    }
}

/// Checks an operator name: lower-case, so that `Ann` and `ann` cannot be two accounts.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@');
    if (1..=64).contains(&name.len()) && name.chars().all(allowed) {
        Ok(())
    } else {
        Err(AccountError::InvalidName)
    }
}

/// The Argon2id hash of a new password, after checking its length.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::InvalidPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash =
        hasher().hash_password(password.as_bytes(), &salt).map_err(|_| AccountError::InvalidPassword)?;
    Ok(hash.to_string())
}

/// Whether `password` is the one `hash` was made from. A malformed hash verifies nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Argon2id with OWASP's first recommended parameters: 19 MiB of memory, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("the parameters are within Argon2's bounds");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery "));
        assert!(!verify_password(&hash, ""));
        assert!(!verify_password("not a hash", "correct horse battery"));
        let again = hash_password("correct horse battery").unwrap();
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[test]
    fn names_passwords_and_roles_are_checked() {
        assert_eq!(check_name("ann.lee@studio"), Ok(()));
        for bad in ["", "Ann", "a b", "a\0b", &"a".repeat(65), "한"] {
            assert_eq!(check_name(bad), Err(AccountError::InvalidName), "{bad:?}");
        }
        assert_eq!(hash_password("short"), Err(AccountError::InvalidPassword));
        assert_eq!(hash_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)), Err(AccountError::InvalidPassword));
        assert!(!verify_password(&hash_password("long enough pw").unwrap(), &"x".repeat(2000)));
        assert_eq!("admin".parse(), Ok(Role::Admin));
        assert_eq!("viewer".parse(), Ok(Role::Viewer));
        assert_eq!("root".parse::<Role>(), Err(AccountError::UnknownRole("root".into())));
    }
}
