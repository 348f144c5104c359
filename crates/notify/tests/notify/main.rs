//! The dispatcher against receivers on loopback that check every request as the real ones
//! would (a webhook receiver, a stand-in for Firebase Cloud Messaging) and answer as a test
//! scripts them; on SQLite and on PostgreSQL.

mod delivery;
mod fcm;
mod policy;
mod support;
