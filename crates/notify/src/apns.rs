//! Apple Push Notification service: a notification goes to each of its user's iOS devices as
//! one HTTP/2 request, `POST /3/device/{token}`, with the device's app id as `apns-topic`,
//! push type `alert`, the title and body in the user's language, and the notification's id,
//! kind and idempotency key beside `aps` (APNs keeps no idempotency key; the app dedupes).
//!
//! Authorisation is a provider token: a JWT signed (ES256) with the team's key, its key id in
//! the header and the team id and issue time as claims, reused for 50 minutes (Apple refuses
//! one older than an hour and one renewed more often than every 20 minutes). A device APNs
//! calls unregistered or a bad token is disabled.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use playpulse_core::notify::policy::Medium;
use playpulse_store::{Device, Store, StoredNotification, UserRecord};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::dispatcher::{Attempt, Channel};
use crate::http::{self, refusal, unanswered};
use crate::push;

/// How long a provider token is used before another is signed.
const TOKEN_LIFE: SignedDuration = SignedDuration::from_mins(50);
/// Largest payload APNs accepts for an alert, in bytes.
pub const MAX_PAYLOAD: usize = 4_096;

/// The claims of a provider token.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderClaims {
    pub iss: String,
    pub iat: i64,
}

/// Apple Push Notification service: pushes to users' iOS devices (see [`crate::Apns`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApnsConfig {
    /// The path of the signing key (`AuthKey_XXXXXXXXXX.p8`, from the Apple developer
    /// account); empty: no APNs. From the environment: `PLAYPULSE_NOTIFY__APNS__KEY_FILE`.
    pub key_file: String,
    /// The key's id and the team's id, 10 characters each, as Apple shows them.
    pub key_id: String,
    pub team_id: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for
    /// development builds of the app.
    pub endpoint: String,
    /// A request not answered in this long has failed (and is retried).
    pub timeout_ms: u64,
}

impl Default for ApnsConfig {
    fn default() -> Self {
        Self {
            key_file: String::new(),
            key_id: String::new(),
            team_id: String::new(),
            endpoint: "https://api.push.apple.com".into(),
            timeout_ms: 5_000,
        }
    }
}

impl ApnsConfig {
    /// The PEM of the signing key, read from its file; `None` when APNs is off.
    pub fn key_pem(&self) -> Result<Option<String>, String> {
        if self.key_file.is_empty() {
            return Ok(None);
        }
        let at = &self.key_file;
        std::fs::read_to_string(at).map(Some).map_err(|e| format!("notify.apns.key_file: {at}: {e}"))
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let Some(pem) = self.key_pem()? else { return Ok(()) };
        jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes())
            .map_err(|e| format!("notify.apns.key_file: not an ES256 (P-256) key: {e}"))?;
        for (name, id) in [("key_id", &self.key_id), ("team_id", &self.team_id)] {
            if id.len() != 10 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("notify.apns.{name} must be the 10 letters and digits Apple shows"));
            }
        }
        let url = url::Url::parse(&self.endpoint).map_err(|e| format!("notify.apns.endpoint: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("notify.apns.endpoint must be an https:// address".into());
        }
        if self.timeout_ms == 0 {
            return Err("notify.apns.timeout_ms must be above 0".into());
        }
        Ok(())
    }
}

pub struct Apns {
    key: EncodingKey,
    key_id: String,
    team_id: String,
    endpoint: String,
    client: reqwest::Client,
    store: Arc<dyn Store>,
    /// The provider token and when it was signed.
    token: Mutex<Option<(String, Timestamp)>>,
}

impl Apns {
    /// APNs as configured, `None` when no key is.
    pub fn new(config: &ApnsConfig, store: Arc<dyn Store>) -> Result<Option<Self>, String> {
        let Some(pem) = config.key_pem()? else { return Ok(None) };
        let key =
            EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| format!("notify.apns.key_file: {e}"))?;
        let client = http::client(Duration::from_millis(config.timeout_ms))
            // APNs speaks HTTP/2 only.
            .http2_prior_knowledge()
            .build()
            .map_err(|e| format!("notify.apns: {e}"))?;
        Ok(Some(Self {
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            endpoint: config.endpoint.trim_end_matches('/').to_owned(),
            client,
            store,
            token: Mutex::new(None),
        }))
    }

    /// The provider token good at `now`: the kept one, or a newly signed one.
    async fn provider_token(&self, now: Timestamp) -> Result<String, Attempt> {
        let mut kept = self.token.lock().await;
        if let Some((token, signed)) = kept.as_ref()
            && now.duration_since(*signed) < TOKEN_LIFE
        {
            return Ok(token.clone());
        }
        let header = Header { kid: Some(self.key_id.clone()), ..Header::new(Algorithm::ES256) };
        let claims = ProviderClaims { iss: self.team_id.clone(), iat: now.as_second() };
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Attempt::Refused { error: format!("the APNs key cannot sign: {e}") })?;
        *kept = Some((token.clone(), now));
        Ok(token)
    }

    /// Sends `n` to one device.
    async fn send_to(&self, device: &Device, n: &StoredNotification, body: &[u8], now: Timestamp) -> Attempt {
        let token = match self.provider_token(now).await {
            Ok(token) => token,
            Err(attempt) => return attempt,
        };
        let request = self
            .client
            .post(format!("{}/3/device/{}", self.endpoint, device.token))
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", &device.app_id)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            // A push sent again replaces the first on the device, rather than showing twice.
            .header("apns-collapse-id", format!("playpulse-{}", n.id))
            .header("content-type", "application/json")
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return unanswered(&err),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        if status.is_success() {
            return Attempt::Delivered;
        }
        let answer: Value = response.json().await.unwrap_or_default();
        let reason = answer["reason"].as_str().unwrap_or("(no reason)").to_owned();
        let error = format!("APNs answered HTTP {} {reason}", status.as_u16());
        match (status, reason.as_str()) {
            (StatusCode::GONE, _) | (_, "BadDeviceToken" | "Unregistered" | "DeviceTokenNotForTopic") => {
                push::disable(self.store.as_ref(), device, &reason, now).await;
                Attempt::Refused { error }
            }
            // A provider token Apple no longer takes: the next attempt signs another.
            (StatusCode::FORBIDDEN, "ExpiredProviderToken" | "InvalidProviderToken") => {
                *self.token.lock().await = None;
                Attempt::Failed { error, retry_after: None }
            }
            _ => refusal(status, &headers, error, now),
        }
    }
}

#[async_trait]
impl Channel for Apns {
    fn name(&self) -> &'static str {
        "apns"
    }

    fn medium(&self) -> Medium {
        Medium::Push
    }

    async fn send(&self, n: &StoredNotification, to: &UserRecord, now: Timestamp) -> Attempt {
        let audience = match push::audience(self.store.as_ref(), to, &["ios"]).await {
            Ok(audience) => audience,
            Err(attempt) => return attempt,
        };
        let body = body_of(n, audience.lang);
        if body.len() > MAX_PAYLOAD {
            return Attempt::Refused {
                error: format!("the payload has {} bytes, over APNs' {MAX_PAYLOAD}", body.len()),
            };
        }
        let sends = audience.devices.iter().map(|device| self.send_to(device, n, &body, now));
        push::overall(futures::future::join_all(sends).await)
    }
}

/// The JSON APNs delivers to the app: the alert in `aps`, the notification's identity beside
/// it (the figures stay out: the payload is small, and the app can ask for them).
fn body_of(n: &StoredNotification, lang: &str) -> Vec<u8> {
    let (title, body) = push::texts(n, lang);
    let doc = json!({
        "aps": {"alert": {"title": title, "body": body}, "sound": "default"},
        "id": n.id,
        "idempotency_key": n.dedupe_key,
        "kind": n.kind,
    });
    serde_json::to_vec(&doc).expect("JSON values serialize")
}
