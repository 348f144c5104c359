//! Product settings the domain rules read (the `[ingest]` and `business` parts of the config).

use serde::Deserialize;

use crate::event::ValidationPolicy;
use crate::time::DEFAULT_BUSINESS_TZ;

/// Domain settings, as loaded from `config/playpulse.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// IANA zone in which business days and hours are counted.
    pub business_tz: String,
    /// Accept event types outside the known list into the event store.
    pub allow_custom_events: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { business_tz: DEFAULT_BUSINESS_TZ.to_owned(), allow_custom_events: false }
    }
}

impl Settings {
    /// The validation policy these settings imply.
    pub fn validation(&self) -> ValidationPolicy {
        ValidationPolicy { allow_custom_events: self.allow_custom_events, ..ValidationPolicy::default() }
    }
}
