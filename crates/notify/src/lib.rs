//! Delivery of the notification outbox.
//!
//! Ingest and the nightly batch write notifications to the outbox in the transaction that
//! causes them; the [`Dispatcher`] inside `playpulse serve` claims the due ones, sends each
//! through its channel, and records how every attempt ended. Delivery is at-least-once: a
//! dispatcher that dies mid-send loses its lease and the row is sent again, with the same
//! idempotency key, so a receiver that dedupes by it sees each notification once. Failures
//! are retried with exponential backoff and jitter (never sooner than a `Retry-After` asks),
//! and a notification that keeps failing, or that a receiver refuses for good, ends dead
//! with its last error. Before a send, the rules of [`playpulse_core::notify::policy`] may
//! keep a notification from its user (a holdout, the protective policy); it is then recorded
//! as suppressed with the reason.
//!
//! Architecture invariant: this crate reaches the store only through its traits, and the
//! outside world only through [`Channel`]s.

mod apns;
mod backoff;
mod config;
mod dispatcher;
mod email;
mod fcm;
mod http;
mod push;
mod webhook;

pub use crate::apns::{Apns, ApnsConfig, MAX_PAYLOAD, ProviderClaims};
pub use crate::backoff::{Backoff, retry_after};
pub use crate::config::{NotifyConfig, OptOutConfig, OptOutLinks, WebhookConfig};
pub use crate::dispatcher::{Attempt, Channel, Dispatcher, Proposals, Protection};
pub use crate::email::{Email, EmailConfig, EmailTls};
pub use crate::fcm::{Assertion, FCM_SCOPE, Fcm, FcmConfig, JWT_GRANT, ServiceAccount};
pub use crate::webhook::{SIGNATURE_HEADER, Webhook, sign};
