//! Token amounts: integers with checked arithmetic, never floats.

use serde::{Deserialize, Serialize};

/// Largest amount one event may move, so that no sum of a batch can overflow `i64`.
pub const MAX_EVENT_AMOUNT: i64 = 1_000_000_000_000;

/// A balance or a signed movement of cyber tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tokens(pub i64);

impl Tokens {
    /// Zero tokens.
    pub const ZERO: Tokens = Tokens(0);

    /// `self + delta`, or `None` on overflow.
    pub fn checked_add(self, delta: Tokens) -> Option<Tokens> {
        self.0.checked_add(delta.0).map(Tokens)
    }
}

impl std::fmt::Display for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
