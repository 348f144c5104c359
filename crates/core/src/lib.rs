//! Domain types and pure rules of playpulse.
//!
//! Everything here is deterministic and free of I/O: no async, no SQL, no network, no wall
//! clock (time comes in through [`time::Clock`]). Input becomes domain types at the edge
//! ([`ids::UserId`], [`ids::EventId`], [`tokens::Tokens`], [`event::Event`]); inside, a value
//! that exists is valid. The store and the server build on these types and rules.

pub mod access;
pub mod analytics;
pub mod content;
pub mod erasure;
pub mod event;
pub mod ids;
pub mod ingest;
pub mod ledger;
pub mod limits;
pub mod notify;
pub mod operators;
pub mod partner;
pub mod proposal;
pub mod protection;
pub mod quiz;
pub mod rewards;
pub mod segments;
pub mod settings;
pub mod streak;
pub mod text;
pub mod time;
pub mod tokens;
