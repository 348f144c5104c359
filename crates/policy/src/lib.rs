//! Proposals: what playpulse suggests to a user, and why. The seed policy, its templates,
//! the protective rules that override it, the best time window, disclosed odds, and the
//! learning loop that chooses among variants and evaluates policies offline.
//!
//! Architecture invariant: pure rules, no I/O; the server feeds them a user's facts and logs
//! what they chose. A separate crate from `core` because the learner samples (rand).

pub mod arms;
pub mod evaluate;
pub mod games;
pub mod learn;
pub mod proposals;
pub mod recommend;
pub mod templates;
pub mod timing;
