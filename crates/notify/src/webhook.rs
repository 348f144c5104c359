//! The generic webhook: each notification POSTed as JSON to the operator's address.
//!
//! Signed like this, so a receiver can tell the request came from this playpulse and is
//! fresh: `Playpulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! The receiver recomputes the HMAC over the raw body, compares in constant time, and refuses
//! a `t` too far from its clock. `Idempotency-Key` is the notification's key: the same on
//! every attempt, so a receiver that stores it handles each notification once.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use playpulse_core::notify::policy::Medium;
use playpulse_store::{StoredNotification, UserRecord};
use reqwest::header::CONTENT_TYPE;
use sha2::Sha256;

use crate::config::{OptOutLinks, WebhookConfig};
use crate::dispatcher::{Attempt, Channel};
use crate::http::{self, refusal, unanswered};

pub const SIGNATURE_HEADER: &str = "Playpulse-Signature";

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `at`.
pub fn sign(secret: &[u8], at: Timestamp, body: &[u8]) -> String {
    let t = at.as_second();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Webhook {
    url: reqwest::Url,
    secret: Vec<u8>,
    client: reqwest::Client,
    opt_out: Option<OptOutLinks>,
}

impl Webhook {
    /// The configured webhook, `None` when its address is empty.
    pub fn new(config: &WebhookConfig) -> Result<Option<Self>, String> {
        if config.url.is_empty() {
            return Ok(None);
        }
        let client = http::client(config.timeout()).build().map_err(|e| format!("notify.webhook: {e}"))?;
        let url = config.url.parse().map_err(|e| format!("notify.webhook.url: {e}"))?;
        Ok(Some(Self { url, secret: config.secret.as_bytes().to_vec(), client, opt_out: None }))
    }

    /// Adds each user's signed opt-out link to what they are sent.
    pub fn with_opt_out(mut self, links: Option<OptOutLinks>) -> Self {
        self.opt_out = links;
        self
    }

    fn opt_out_url(&self, n: &StoredNotification) -> Option<String> {
        self.opt_out.as_ref()?.url_for(&n.user_id)
    }
}

/// The JSON a receiver gets.
fn body_of(n: &StoredNotification, opt_out_url: Option<String>) -> Vec<u8> {
    let mut doc = serde_json::json!({
        "id": n.id,
        "idempotency_key": n.dedupe_key,
        "kind": n.kind,
        "user_id": n.user_id,
        "created_at": n.created_at.to_string(),
        "attempt": n.attempts,
        "payload": n.payload,
    });
    if let Some(link) = opt_out_url {
        doc["opt_out_url"] = link.into();
    }
    serde_json::to_vec(&doc).expect("JSON values serialize")
}

#[async_trait]
impl Channel for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn medium(&self) -> Medium {
        Medium::Webhook
    }

    fn reaches_operator(&self) -> bool {
        true
    }

    async fn send(&self, n: &StoredNotification, _to: &UserRecord, now: Timestamp) -> Attempt {
        let body = body_of(n, self.opt_out_url(n));
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &n.dedupe_key)
            .header(SIGNATURE_HEADER, sign(&self.secret, now, &body))
            .body(body);
        match request.send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => {
                let status = response.status();
                refusal(status, response.headers(), format!("HTTP {}", status.as_u16()), now)
            }
            Err(err) => unanswered(&err),
        }
    }
}

#[cfg(test)]
mod tests {
    use playpulse_core::ids::UserId;

    use super::*;
    use crate::config::OptOutConfig;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let at: Timestamp = "2026-05-01T03:00:00Z".parse().unwrap();
        let header = sign(b"secret", at, br#"{"a":1}"#);
        assert!(header.starts_with(&format!("t={},v1=", at.as_second())), "{header}");
        assert_eq!(header.len(), format!("t={},v1=", at.as_second()).len() + 64);
        assert_ne!(header, sign(b"secret", at, br#"{"a":2}"#));
        assert_ne!(header, sign(b"secret", at + jiff::SignedDuration::from_secs(1), br#"{"a":1}"#));
        assert_ne!(header, sign(b"other", at, br#"{"a":1}"#));
    }

    #[test]
    fn each_user_gets_an_opt_out_link_signed_for_them() {
        let webhook = WebhookConfig { url: "http://127.0.0.1:9/hook".into(), ..WebhookConfig::default() };
        let secret = "an opt-out secret of at least thirty-two characters";
        let links = OptOutConfig { base_url: "https://pp.example.com/base/".into(), secret: secret.into() };
        let webhook = Webhook::new(&webhook).unwrap().unwrap().with_opt_out(links.links());
        let user = UserId::parse("user one").unwrap_or_else(|_| UserId::parse("u-1").unwrap());
        let n = StoredNotification {
            id: 1,
            kind: "NEW_TOKEN_ARRIVAL".into(),
            user_id: user.to_string(),
            dedupe_key: "k".into(),
            payload: serde_json::json!({}),
            state: playpulse_store::DeliveryState::Queued,
            attempts: 1,
            claim: 1,
            created_at: Timestamp::UNIX_EPOCH,
            next_attempt_at: Timestamp::UNIX_EPOCH,
            sent_at: None,
            channel: None,
            last_error: None,
            reason: None,
        };
        let link = url::Url::parse(&webhook.opt_out_url(&n).unwrap()).unwrap();
        assert_eq!((link.host_str(), link.path()), (Some("pp.example.com"), "/base/opt-out"));
        let pairs: std::collections::BTreeMap<_, _> = link.query_pairs().collect();
        assert_eq!(pairs["user"], user.as_str());
        assert!(playpulse_core::notify::opt_out_verifies(secret.as_bytes(), &user, &pairs["sig"]));
        let body: serde_json::Value = serde_json::from_slice(&body_of(&n, webhook.opt_out_url(&n))).unwrap();
        assert_eq!(body["opt_out_url"], link.as_str());
    }
}
