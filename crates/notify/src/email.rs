//! E-mail over SMTP: a notification goes to each enabled e-mail address of its user (an
//! address is registered like a device, platform `email`) as one plain-text message through
//! the operator's relay, upgraded with STARTTLS when the relay offers it (or as configured).
//!
//! Mail keeps no idempotency key, so a message sent again carries the same `Message-ID`
//! (made from the key) and the key itself in `Playpulse-Idempotency-Key`. A message refused
//! because its address is bad for good (enhanced status 5.1.x, or 5.2.1: no such mailbox,
//! domain, disabled) disables the address; any other permanent refusal ends the notification
//! dead; a 4xx answer, a timeout or a dropped connection is retried.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use playpulse_core::notify::policy::Medium;
use playpulse_store::{Device, Store, StoredNotification, UserRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::OptOutLinks;
use crate::dispatcher::{Attempt, Channel};
use crate::push;

/// `[notify.email]`: the relay mail goes out through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// The relay's host name; empty: no e-mail.
    pub host: String,
    /// 587 (submission) by default; 465 with `tls = "implicit"`.
    pub port: u16,
    pub tls: EmailTls,
    /// Both empty: the relay is used without authentication. The password is better given
    /// in `PLAYPULSE_NOTIFY__EMAIL__PASSWORD`.
    pub username: String,
    pub password: String,
    /// The sender, e.g. `Playpulse <noreply@example.com>`.
    pub from: String,
    /// A PEM file of certificate authorities to trust beside the system's (a relay with a
    /// certificate of the operator's own CA).
    pub ca_file: String,
    /// A message not accepted in this long has failed (and is retried).
    pub timeout_ms: u64,
}

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTls {
    /// STARTTLS when the relay offers it, plain text when it does not.
    WhenOffered,
    /// STARTTLS or nothing is sent.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// Plain text only: a relay on the same host.
    None,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: EmailTls::WhenOffered,
            username: String::new(),
            password: String::new(),
            from: String::new(),
            ca_file: String::new(),
            timeout_ms: 10_000,
        }
    }
}

impl EmailConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.host.is_empty() {
            return Ok(());
        }
        self.sender()?;
        self.tls_parameters()?;
        if self.username.is_empty() != self.password.is_empty() {
            return Err("notify.email.username and notify.email.password go together".into());
        }
        // With "when offered", a relay (or whoever stands in its way) that offers no STARTTLS
        // would be given the password in the clear.
        if !self.username.is_empty() && matches!(self.tls, EmailTls::WhenOffered | EmailTls::None) {
            return Err("notify.email.tls must be starttls or implicit when a password is set: \
                        it is never sent in the clear"
                .into());
        }
        if self.port == 0 || self.timeout_ms == 0 {
            return Err("notify.email.port and notify.email.timeout_ms must be above 0".into());
        }
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    fn sender(&self) -> Result<Mailbox, String> {
        self.from
            .parse()
            .map_err(|e| format!("notify.email.from: {e} (e.g. Playpulse <noreply@example.com>)"))
    }

    fn tls_parameters(&self) -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if !self.ca_file.is_empty() {
            let at = &self.ca_file;
            let pem = std::fs::read(at).map_err(|e| format!("notify.email.ca_file: {at}: {e}"))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| format!("notify.email.ca_file: {at}: {e}"))?;
            builder = builder.add_root_certificate(ca);
        }
        builder.build_rustls().map_err(|e| format!("notify.email: {e}"))
    }
}

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
    store: Arc<dyn Store>,
    opt_out: Option<OptOutLinks>,
}

impl Email {
    /// E-mail as configured, `None` when no relay is.
    pub fn new(config: &EmailConfig, store: Arc<dyn Store>) -> Result<Option<Self>, String> {
        if config.host.is_empty() {
            return Ok(None);
        }
        let parameters = config.tls_parameters()?;
        let tls = match config.tls {
            EmailTls::WhenOffered => Tls::Opportunistic(parameters),
            EmailTls::Starttls => Tls::Required(parameters),
            EmailTls::Implicit => Tls::Wrapper(parameters),
            EmailTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout()));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(config.username.clone(), config.password.clone()));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from: config.sender()?,
            timeout: config.timeout(),
            store,
            opt_out: None,
        }))
    }

    /// Adds each user's signed opt-out link to their mail, in the text and as the one-click
    /// `List-Unsubscribe` of RFC 8058.
    pub fn with_opt_out(mut self, links: Option<OptOutLinks>) -> Self {
        self.opt_out = links;
        self
    }

    /// Sends `n` to one address.
    async fn send_to(&self, address: &Device, n: &StoredNotification, lang: &str, now: Timestamp) -> Attempt {
        let to: Mailbox = match address.token.parse() {
            Ok(to) => to,
            Err(err) => {
                push::disable(self.store.as_ref(), address, "invalid_address", now).await;
                return Attempt::Refused { error: format!("not an e-mail address: {err}") };
            }
        };
        let opt_out = self.opt_out.as_ref().and_then(|links| links.url_for(&n.user_id));
        let message = match message(&self.from, to, n, lang, opt_out.as_deref()) {
            Ok(message) => message,
            Err(error) => return Attempt::Refused { error },
        };
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
        match sent {
            Ok(Ok(_)) => Attempt::Delivered,
            Err(_) => Attempt::Failed { error: "the relay timed out".into(), retry_after: None },
            Ok(Err(err)) if err.is_permanent() => {
                let error = format!("the relay refused the message: {err}");
                if let Some(code) = bad_address(&err.to_string()) {
                    push::disable(self.store.as_ref(), address, code, now).await;
                }
                Attempt::Refused { error }
            }
            Ok(Err(err)) => Attempt::Failed { error: format!("the relay: {err}"), retry_after: None },
        }
    }
}

#[async_trait]
impl Channel for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn medium(&self) -> Medium {
        Medium::Email
    }

    async fn send(&self, n: &StoredNotification, to: &UserRecord, now: Timestamp) -> Attempt {
        let audience = match push::audience(self.store.as_ref(), to, &["email"]).await {
            Ok(audience) => audience,
            Err(attempt) => return attempt,
        };
        let sends = audience.devices.iter().map(|address| self.send_to(address, n, audience.lang, now));
        push::overall(futures::future::join_all(sends).await)
    }
}

/// The message of `n` to `to` in `lang`: its title as the subject; its body, its proposal's
/// text and the opt-out link as the text.
fn message(
    from: &Mailbox,
    to: Mailbox,
    n: &StoredNotification,
    lang: &str,
    opt_out: Option<&str>,
) -> Result<Message, String> {
    let (title, body) = push::texts(n, lang);
    let mut text = body.to_owned();
    if let Some(proposal) = n.payload["proposal"]["text"].as_str() {
        text.push_str(&format!("\n\n{proposal}"));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(title)
        .message_id(Some(message_id(&n.dedupe_key, from)))
        .raw_header(header("Playpulse-Idempotency-Key", &n.dedupe_key)?);
    if let Some(link) = opt_out {
        let words = if lang == "en" { "Unsubscribe" } else { "수신 거부" };
        text.push_str(&format!("\n\n{words}: {link}\n"));
        builder = builder
            .raw_header(header("List-Unsubscribe", &format!("<{link}>"))?)
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| format!("the message cannot be written: {e}"))
}

fn header(name: &'static str, value: &str) -> Result<HeaderValue, String> {
    if value.chars().any(char::is_control) {
        return Err(format!("{name} holds a control character"));
    }
    Ok(HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned()))
}

/// The same `Message-ID` on every attempt: a hash of the idempotency key at the sender's
/// domain.
fn message_id(key: &str, from: &Mailbox) -> String {
    let digest = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
    format!("<{digest}@{}>", from.email.domain())
}

/// The enhanced status code of a refusal that says the address itself is bad for good
/// (RFC 3463: 5.1.x, bad destination; 5.2.1, mailbox disabled), so the address is disabled;
/// `None` for a refusal of this message or of the sender (policy, size, authentication).
fn bad_address(refusal: &str) -> Option<&'static str> {
    // Not 5.1.7 or 5.1.8: those are about the sender's address.
    const CODES: [&str; 7] = ["5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"];
    let mut words = refusal.split(|c: char| !(c.is_ascii_digit() || c == '.'));
    words.find_map(|w| CODES.iter().find(|code| **code == w).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bad_address_disables_it() {
        assert_eq!(bad_address("permanent error (550): 5.1.1 <a@x.test>: user unknown"), Some("5.1.1"));
        assert_eq!(bad_address("permanent error (550): 5.2.1 mailbox disabled"), Some("5.2.1"));
        assert_eq!(bad_address("permanent error (553): 5.1.10 null MX"), Some("5.1.10"));
        for kept in [
            "permanent error (550): 5.7.1 relaying denied",
            "permanent error (535): 5.7.8 authentication failed",
            "permanent error (552): 5.3.4 message too big",
            "permanent error (550): no such user",
            "permanent error (554): 5.1.11 something new",
            "permanent error (553): 5.1.8 bad sender's system address",
        ] {
            assert_eq!(bad_address(kept), None, "{kept}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let ok = EmailConfig {
            host: "smtp.example.com".into(),
            from: "Playpulse <noreply@example.com>".into(),
            ..EmailConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(EmailConfig::default().validate(), Ok(()));
        for (bad, expected) in [
            (EmailConfig { from: "not an address".into(), ..ok.clone() }, "notify.email.from"),
            (EmailConfig { username: "u".into(), ..ok.clone() }, "go together"),
            (EmailConfig { username: "u".into(), password: "p".into(), ..ok.clone() }, "notify.email.tls"),
            (EmailConfig { ca_file: "/nonexistent.pem".into(), ..ok.clone() }, "notify.email.ca_file"),
            (EmailConfig { timeout_ms: 0, ..ok.clone() }, "timeout_ms"),
        ] {
            let err = bad.validate().unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
