//! The dispatcher against receivers on loopback that check every request as the real ones
//! would (a webhook receiver, stand-ins for Firebase Cloud Messaging and APNs) and answer as a test
//! scripts them; on SQLite and on PostgreSQL.

mod apns;
mod delivery;
mod fcm;
mod policy;
mod support;
