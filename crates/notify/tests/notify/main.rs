//! The dispatcher against receivers on loopback that check every request as the real ones
//! would (a webhook receiver, stand-ins for Firebase Cloud Messaging and APNs, a real SMTP
//! server) and answer as a test scripts them; on SQLite and on PostgreSQL.

mod apns;
mod delivery;
mod email;
mod fcm;
mod policy;
mod support;
