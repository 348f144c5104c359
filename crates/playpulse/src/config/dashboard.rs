//! `[dashboard]`: how operators sign in to the web dashboard.

use std::num::NonZeroU32;

use anyhow::Context;
use jiff::SignedDuration;
use playpulse_server::dashboard::DashboardSettings;
use playpulse_store::Lockout;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// How long a sign-in lasts, in hours (1 to 720).
    pub session_hours: u32,
    /// Wrong passwords in a row that lock an account.
    pub lockout_after: u32,
    /// How long a locked account stays locked, in minutes.
    pub lockout_minutes: u32,
    /// Sign-in attempts one client address may make per minute.
    pub login_attempts_per_minute: u32,
    /// Marks the session cookie `Secure` always (otherwise only for requests that arrived
    /// over HTTPS, as `X-Forwarded-Proto: https` from the TLS proxy says).
    pub secure_cookie: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            session_hours: 12,
            lockout_after: 5,
            lockout_minutes: 15,
            login_attempts_per_minute: 10,
            secure_cookie: false,
        }
    }
}

impl DashboardConfig {
    /// The server's settings; errors name the key.
    pub fn settings(&self) -> anyhow::Result<DashboardSettings> {
        anyhow::ensure!((1..=720).contains(&self.session_hours), "dashboard.session_hours must be 1 to 720");
        anyhow::ensure!(self.lockout_after >= 1, "dashboard.lockout_after must be at least 1");
        anyhow::ensure!(self.lockout_minutes >= 1, "dashboard.lockout_minutes must be at least 1");
        let attempts = NonZeroU32::new(self.login_attempts_per_minute)
            .context("dashboard.login_attempts_per_minute must be at least 1")?;
        Ok(DashboardSettings {
            session_ttl: SignedDuration::from_hours(i64::from(self.session_hours)),
            lockout: Lockout { after: self.lockout_after, for_ms: i64::from(self.lockout_minutes) * 60_000 },
            login_attempts_per_minute: attempts,
            secure_cookie: self.secure_cookie,
        })
    }
}
