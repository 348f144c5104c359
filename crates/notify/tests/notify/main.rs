//! The dispatcher against a real webhook receiver on loopback, which checks every request as
//! a careful receiver would (the signature over the time and the raw body, the idempotency
//! key, the JSON) and answers as a test scripts it; on SQLite and on PostgreSQL.

mod delivery;
mod policy;
mod support;
