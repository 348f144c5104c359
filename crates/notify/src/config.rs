//! `[notify]`: the dispatcher's pace and bounds, and its channels.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Time;
use playpulse_core::ids::UserId;
use playpulse_core::notify::opt_out_signature;
use playpulse_core::notify::policy::{Caps, Purpose, Trigger};
use playpulse_core::notify::templates::{Template, default_template};
use serde::{Deserialize, Serialize};

use crate::apns::ApnsConfig;
use crate::email::EmailConfig;
use crate::fcm::FcmConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Deliver the outbox inside `playpulse serve` (when a channel is configured).
    pub enabled: bool,
    /// Pause between looks at an empty outbox.
    pub poll_ms: u64,
    /// Notifications claimed per look.
    pub batch: usize,
    /// Sends in flight at once (one user's go one after another).
    pub concurrency: usize,
    /// How long a claim holds a notification: a dispatcher that dies mid-send gives it up
    /// after this long, and another sends it again.
    pub lease_s: u64,
    /// Attempts before a notification is dead-lettered.
    pub max_attempts: u32,
    /// Wait before the second attempt; each later one waits twice as long, up to
    /// `backoff_max_s`, less a random part of up to half (jitter).
    pub backoff_first_s: u64,
    pub backoff_max_s: u64,
    pub webhook: WebhookConfig,
    pub fcm: FcmConfig,
    pub apns: ApnsConfig,
    pub email: EmailConfig,
    pub opt_out: OptOutConfig,
    /// Most notifications a user gets in 24 hours and in 7 days: past either, marketing is
    /// suppressed (notices always go, and count).
    pub caps: Caps,
    /// Per notification kind: its purpose (marketing needs the user's consent and is kept
    /// from users under the protective policy) and its holdout share. A kind not named here
    /// is marketing, held out of none.
    pub triggers: BTreeMap<String, Trigger>,
    /// Per notification kind, its texts in place of the built-in ones
    /// ([`playpulse_core::notify::templates`]).
    pub templates: BTreeMap<String, Template>,
    /// Kinds that carry the proposal the recommendation policy makes their user when they
    /// go out (`payload.proposal`).
    pub attach_proposal: Vec<String>,
    /// Segments whose entries and exits at each night are posted to the webhook, for the
    /// operator's own systems ([`SEGMENT_MOVE`](playpulse_core::notify::SEGMENT_MOVE)).
    pub segment_moves: Vec<String>,
    pub streak_reminder: StreakReminderConfig,
    pub churn_invitation: ChurnInvitationConfig,
}

/// `[notify.churn_invitation]`: users a churn model scores at least this likely to leave
/// within its horizon are invited to the partner event (at most once a week).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnInvitationConfig {
    /// From 0 to 1; above 1: no invitations.
    pub min_probability: f64,
}

impl Default for ChurnInvitationConfig {
    fn default() -> Self {
        Self { min_probability: 0.6 }
    }
}

/// `[notify.streak_reminder]`: each night reminds the users whose run of play days reached
/// `min_days` that day to play again the next day, at `at` in the business zone
/// ([`playpulse_core::notify::streaks`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreakReminderConfig {
    /// Shortest run reminded of; 0: no reminders.
    pub min_days: u32,
    /// `HH:MM`, the business zone's time.
    pub at: String,
}

impl Default for StreakReminderConfig {
    fn default() -> Self {
        Self { min_days: 3, at: "19:00".into() }
    }
}

impl StreakReminderConfig {
    /// The time of day reminders go at.
    pub fn time(&self) -> Result<Time, String> {
        let valid = self.at.len() == 5 && self.at.as_bytes()[2] == b':';
        self.at
            .parse::<Time>()
            .ok()
            .filter(|_| valid)
            .ok_or_else(|| format!("notify.streak_reminder.at must be HH:MM, not {:?}", self.at))
    }

    fn validate(&self) -> Result<(), String> {
        if self.min_days > 60 {
            return Err("notify.streak_reminder.min_days must be from 0 (off) to 60".into());
        }
        self.time().map(|_| ())
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_ms: 200,
            batch: 64,
            concurrency: 16,
            lease_s: 60,
            max_attempts: 8,
            backoff_first_s: 2,
            backoff_max_s: 3_600,
            webhook: WebhookConfig::default(),
            fcm: FcmConfig::default(),
            apns: ApnsConfig::default(),
            email: EmailConfig::default(),
            opt_out: OptOutConfig::default(),
            caps: Caps { per_day: 4, per_week: 12 },
            triggers: BTreeMap::from([
                (
                    "NEW_TOKEN_ARRIVAL".to_owned(),
                    Trigger { purpose: Purpose::Transactional, holdout_share: 0.0 },
                ),
                ("SEGMENT_UPGRADE".to_owned(), Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 }),
                ("STREAK_REMINDER".to_owned(), Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 }),
                // Held out by a tenth, so that what the invitations change can be measured.
                ("CHURN_INVITATION".to_owned(), Trigger { purpose: Purpose::Marketing, holdout_share: 0.1 }),
                ("VIP_INVITATION".to_owned(), Trigger { purpose: Purpose::Marketing, holdout_share: 0.1 }),
            ]),
            templates: BTreeMap::new(),
            attach_proposal: vec!["NEW_TOKEN_ARRIVAL".to_owned()],
            segment_moves: Vec::new(),
            streak_reminder: StreakReminderConfig::default(),
            churn_invitation: ChurnInvitationConfig::default(),
        }
    }
}

/// A generic webhook: every notification is POSTed as JSON to `url`, signed with `secret`
/// (see [`crate::sign`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// An `https://` address (or `http://` on the operator's own network); empty: no
    /// webhook.
    pub url: String,
    /// The signing secret, at least 32 characters (better from the environment:
    /// `PLAYPULSE_NOTIFY__WEBHOOK__SECRET`).
    pub secret: String,
    /// A request not answered in this long has failed (and is retried).
    pub timeout_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { url: String::new(), secret: String::new(), timeout_ms: 5_000 }
    }
}

/// The one-click opt-out: every notification carries `opt_out_url`, a link to
/// `{base_url}/opt-out` signed for its user with `secret`; following it withdraws the user's
/// marketing consents. Both empty: no links.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptOutConfig {
    /// How users reach this playpulse, e.g. `https://liveops.example.com`.
    pub base_url: String,
    /// At least 32 characters (better from `PLAYPULSE_NOTIFY__OPT_OUT__SECRET`); changing it
    /// voids every link sent before.
    pub secret: String,
}

/// Where opt-out links point, and the secret that signs them.
#[derive(Debug, Clone)]
pub struct OptOutLinks {
    base: url::Url,
    pub secret: Vec<u8>,
}

impl OptOutLinks {
    /// `{base}/opt-out?user=…&sig=…` for the user `user_id`.
    pub fn url_for(&self, user_id: &str) -> Option<String> {
        let user = UserId::parse(user_id).ok()?;
        let mut link = self.base.join("opt-out").ok()?;
        link.query_pairs_mut()
            .append_pair("user", user.as_str())
            .append_pair("sig", &opt_out_signature(&self.secret, &user));
        Some(link.into())
    }
}

impl OptOutConfig {
    /// The links, when they are on.
    pub fn links(&self) -> Option<OptOutLinks> {
        let base = url::Url::parse(&self.base_url).ok()?;
        (!self.secret.is_empty()).then(|| OptOutLinks { base, secret: self.secret.as_bytes().to_vec() })
    }

    fn validate(&self) -> Result<(), String> {
        if self.base_url.is_empty() && self.secret.is_empty() {
            return Ok(());
        }
        let url = url::Url::parse(&self.base_url).map_err(|e| format!("notify.opt_out.base_url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("notify.opt_out.base_url must be http:// or https://".into());
        }
        if self.secret.chars().count() < MIN_SECRET_CHARS {
            return Err(format!("notify.opt_out.secret must have at least {MIN_SECRET_CHARS} characters"));
        }
        Ok(())
    }
}

/// Shortest webhook secret accepted.
pub const MIN_SECRET_CHARS: usize = 32;

impl NotifyConfig {
    /// Checks the bounds that keep delivery sound.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("poll_ms", self.poll_ms),
            ("batch", self.batch as u64),
            ("concurrency", self.concurrency as u64),
            ("max_attempts", u64::from(self.max_attempts)),
            ("backoff_first_s", self.backoff_first_s),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("notify.{name} must be above 0"));
        }
        if self.backoff_max_s < self.backoff_first_s {
            return Err("notify.backoff_max_s must be at least notify.backoff_first_s".into());
        }
        // A lease shorter than a send would hand a row still in flight to another dispatcher
        // (FCM's send may fetch an access token first).
        let fcm = if self.fcm.service_account.is_empty() { 0 } else { self.fcm.timeout_ms.saturating_mul(3) };
        let apns = if self.apns.key_file.is_empty() { 0 } else { self.apns.timeout_ms.saturating_mul(2) };
        let email = if self.email.host.is_empty() { 0 } else { self.email.timeout_ms.saturating_mul(2) };
        let longest = self.webhook.timeout_ms.saturating_mul(2).max(fcm).max(apns).max(email);
        if self.lease_s.saturating_mul(1_000) <= longest {
            return Err("notify.lease_s must be more than twice notify.webhook.timeout_ms, \
                        notify.apns.timeout_ms and notify.email.timeout_ms, and three times \
                        notify.fcm.timeout_ms"
                .into());
        }
        for (kind, trigger) in &self.triggers {
            trigger.validate().map_err(|e| format!("notify.triggers.{kind}: {e}"))?;
        }
        for (kind, template) in &self.templates {
            template.check(kind).map_err(|e| format!("notify.templates.{kind}: {e}"))?;
        }
        if let Some(kind) = self.attach_proposal.iter().find(|k| default_template(k).is_none()) {
            return Err(format!("notify.attach_proposal: no notification of kind {kind} is made"));
        }
        self.opt_out.validate()?;
        self.streak_reminder.validate()?;
        let min = self.churn_invitation.min_probability;
        if min.is_nan() || min < 0.0 {
            return Err("notify.churn_invitation.min_probability must be 0 or more".into());
        }
        self.fcm.validate()?;
        self.apns.validate()?;
        self.email.validate()?;
        self.webhook.validate()
    }

    /// How notifications of `kind` are treated.
    pub fn trigger(&self, kind: &str) -> Trigger {
        self.triggers.get(kind).copied().unwrap_or(Trigger::UNNAMED)
    }

    /// The texts of notifications of `kind`: the configured ones, or the built-in ones.
    pub fn template(&self, kind: &str) -> Option<Template> {
        self.templates.get(kind).cloned().or_else(|| default_template(kind))
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_s)
    }

    /// Whether any channel is configured.
    pub fn has_channel(&self) -> bool {
        !self.webhook.url.is_empty()
            || !self.fcm.service_account.is_empty()
            || !self.apns.key_file.is_empty()
            || !self.email.host.is_empty()
    }
}

impl WebhookConfig {
    fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Ok(());
        }
        let url = url::Url::parse(&self.url).map_err(|e| format!("notify.webhook.url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("notify.webhook.url must be an https:// or http:// address".into());
        }
        if self.secret.chars().count() < MIN_SECRET_CHARS {
            return Err(format!("notify.webhook.secret must have at least {MIN_SECRET_CHARS} characters"));
        }
        if self.timeout_ms == 0 {
            return Err("notify.webhook.timeout_ms must be above 0".into());
        }
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default config with `body_ko` as NEW_TOKEN_ARRIVAL's Korean body.
    fn templated(body_ko: &str) -> NotifyConfig {
        let mut config = NotifyConfig::default();
        let mut template = config.template("NEW_TOKEN_ARRIVAL").unwrap();
        template.body.ko = body_ko.to_owned();
        config.templates.insert("NEW_TOKEN_ARRIVAL".into(), template);
        config
    }

    #[test]
    fn unsound_settings_are_refused_with_their_name() {
        assert_eq!(templated("토큰 {amount}개").validate(), Ok(()));
        assert_eq!(NotifyConfig::default().validate(), Ok(()));
        let webhook = |url: &str, secret: &str| NotifyConfig {
            webhook: WebhookConfig { url: url.into(), secret: secret.into(), ..WebhookConfig::default() },
            ..NotifyConfig::default()
        };
        let long = "s".repeat(MIN_SECRET_CHARS);
        assert_eq!(webhook("http://hooks.internal:8080/p", &long).validate(), Ok(()));
        assert_eq!(webhook("https://hooks.example.com/p", &long).validate(), Ok(()));
        for (bad, expected) in [
            (webhook("http://hooks.internal/p", "short"), "secret"),
            (webhook("ftp://hooks.example.com", &long), "http"),
            (webhook("not a url", &long), "notify.webhook.url"),
            (
                NotifyConfig {
                    opt_out: OptOutConfig {
                        base_url: "https://pp.example.com".into(),
                        secret: "short".into(),
                    },
                    ..NotifyConfig::default()
                },
                "notify.opt_out.secret",
            ),
            (
                NotifyConfig {
                    opt_out: OptOutConfig { base_url: String::new(), secret: long.clone() },
                    ..NotifyConfig::default()
                },
                "notify.opt_out.base_url",
            ),
            (NotifyConfig { batch: 0, ..NotifyConfig::default() }, "notify.batch"),
            (NotifyConfig { lease_s: 10, ..NotifyConfig::default() }, "lease_s"),
            (
                NotifyConfig {
                    webhook: WebhookConfig { timeout_ms: u64::MAX, ..WebhookConfig::default() },
                    ..NotifyConfig::default()
                },
                "lease_s",
            ),
            (NotifyConfig { backoff_max_s: 1, ..NotifyConfig::default() }, "backoff_max_s"),
            (
                NotifyConfig {
                    triggers: BTreeMap::from([(
                        "X".to_owned(),
                        Trigger { purpose: Purpose::Marketing, holdout_share: 0.9 },
                    )]),
                    ..NotifyConfig::default()
                },
                "notify.triggers.X: holdout_share",
            ),
            (
                templated("{amount}% 확률로 두 배!"),
                "notify.templates.NEW_TOKEN_ARRIVAL: body.ko: claims odds",
            ),
            (templated("{amonut} 토큰"), "notify.templates.NEW_TOKEN_ARRIVAL: body.ko: unknown placeholder"),
            (
                NotifyConfig { attach_proposal: vec!["STREAK".into()], ..NotifyConfig::default() },
                "notify.attach_proposal: no notification of kind STREAK",
            ),
        ] {
            let err = bad.validate().unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
