//! Firebase Cloud Messaging, HTTP v1: a notification goes to each of its user's Android and
//! web devices as one message, titled and worded in the user's language, with the
//! notification's id, kind, idempotency key and figures as data. FCM keeps no idempotency
//! key of its own, so a message sent again after a failure carries the same key and an app
//! that remembers the keys it has shown shows each notification once.
//!
//! Authorisation is OAuth 2.0 for a service account: a JWT signed (RS256) with the account's
//! key is exchanged at its token endpoint for an access token, kept until a minute before it
//! expires. A device token FCM calls unregistered, or another sender's, is disabled.

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

/// What an access token is asked for.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The OAuth 2.0 grant of a signed JWT (RFC 7523).
pub const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The platforms FCM delivers to here (iOS devices are APNs').
const PLATFORMS: [&str; 2] = ["android", "web"];
/// An access token is renewed this long before it expires.
const RENEW_BEFORE: SignedDuration = SignedDuration::from_secs(60);

/// The fields of a service account's key file (JSON) that FCM needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key_id: String,
    pub private_key: String,
    pub token_uri: String,
}

/// The claims of the JWT exchanged for an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Assertion {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl ServiceAccount {
    /// The key that signs the account's assertions.
    pub fn signing_key(&self) -> Result<EncodingKey, String> {
        EncodingKey::from_rsa_pem(self.private_key.as_bytes()).map_err(|e| format!("private_key: {e}"))
    }
}

struct AccessToken {
    value: String,
    renew_at: Timestamp,
}

/// Firebase Cloud Messaging: pushes to users' Android and web devices (see [`crate::Fcm`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcmConfig {
    /// The path of the service account's key file (JSON, from the Firebase console); empty:
    /// no FCM. From the environment: `PLAYPULSE_NOTIFY__FCM__SERVICE_ACCOUNT`.
    pub service_account: String,
    /// Where FCM's API answers: its public address, unless a proxy stands between.
    pub api_base: String,
    /// A request not answered in this long has failed (and is retried).
    pub timeout_ms: u64,
}

impl Default for FcmConfig {
    fn default() -> Self {
        Self {
            service_account: String::new(),
            api_base: "https://fcm.googleapis.com".into(),
            timeout_ms: 5_000,
        }
    }
}

impl FcmConfig {
    /// The service account, read from its key file; `None` when FCM is off.
    pub fn account(&self) -> Result<Option<ServiceAccount>, String> {
        if self.service_account.is_empty() {
            return Ok(None);
        }
        let at = &self.service_account;
        let text =
            std::fs::read_to_string(at).map_err(|e| format!("notify.fcm.service_account: {at}: {e}"))?;
        let account = serde_json::from_str(&text)
            .map_err(|e| format!("notify.fcm.service_account: {at} is not a service account's key: {e}"))?;
        Ok(Some(account))
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let Some(account) = self.account()? else { return Ok(()) };
        account.signing_key().map_err(|e| format!("notify.fcm.service_account: {e}"))?;
        for (name, address) in
            [("api_base", &self.api_base), ("service_account: token_uri", &account.token_uri)]
        {
            let url = url::Url::parse(address).map_err(|e| format!("notify.fcm.{name}: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("notify.fcm.{name} must be an https:// address"));
            }
        }
        if self.timeout_ms == 0 {
            return Err("notify.fcm.timeout_ms must be above 0".into());
        }
        Ok(())
    }
}

pub struct Fcm {
    account: ServiceAccount,
    key: EncodingKey,
    send_url: reqwest::Url,
    client: reqwest::Client,
    store: Arc<dyn Store>,
    /// Held while a token is fetched, so that concurrent sends wait for one exchange.
    token: Mutex<Option<AccessToken>>,
}

impl Fcm {
    /// FCM as configured, `None` when no service account is.
    pub fn new(config: &FcmConfig, store: Arc<dyn Store>) -> Result<Option<Self>, String> {
        let Some(account) = config.account()? else { return Ok(None) };
        let key = account.signing_key().map_err(|e| format!("notify.fcm.service_account: {e}"))?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            config.api_base.trim_end_matches('/'),
            account.project_id
        );
        let send_url = send_url.parse().map_err(|e| format!("notify.fcm.api_base: {e}"))?;
        let client = http::client(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| format!("notify.fcm: {e}"))?;
        Ok(Some(Self { account, key, send_url, client, store, token: Mutex::new(None) }))
    }

    /// An access token good at `now`: the kept one, or a new one from the token endpoint.
    async fn access_token(&self, now: Timestamp) -> Result<String, Attempt> {
        let mut kept = self.token.lock().await;
        if let Some(token) = kept.as_ref().filter(|t| t.renew_at > now) {
            return Ok(token.value.clone());
        }
        let assertion = Assertion {
            iss: self.account.client_email.clone(),
            scope: FCM_SCOPE.to_owned(),
            aud: self.account.token_uri.clone(),
            iat: now.as_second(),
            exp: now.as_second() + 3_600,
        };
        let header =
            Header { kid: Some(self.account.private_key_id.clone()), ..Header::new(Algorithm::RS256) };
        let jwt = jsonwebtoken::encode(&header, &assertion, &self.key)
            .map_err(|e| Attempt::Refused { error: format!("the service account's key cannot sign: {e}") })?;
        let request =
            self.client.post(&self.account.token_uri).form(&[("grant_type", JWT_GRANT), ("assertion", &jwt)]);
        let response = request.send().await.map_err(|e| unanswered(&e))?;
        if !response.status().is_success() {
            let error = format!("the token endpoint answered HTTP {}", response.status().as_u16());
            // A key the endpoint refuses (revoked, wrong account) needs the operator, not a
            // retry; it is still retried, as the endpoint may also be down.
            return Err(match refusal(response.status(), response.headers(), error, now) {
                Attempt::Refused { error } => Attempt::Failed { error, retry_after: None },
                failed => failed,
            });
        }
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: i64,
        }
        let granted: Granted = response.json().await.map_err(|e| Attempt::Failed {
            error: format!("the token endpoint's answer is not a token: {e}"),
            retry_after: None,
        })?;
        // Whatever the endpoint says (a negative or huge lifetime), no overflow: renew at once.
        let renew_at =
            now.saturating_add(SignedDuration::from_secs(granted.expires_in).saturating_sub(RENEW_BEFORE));
        let value = granted.access_token;
        *kept = Some(AccessToken { value: value.clone(), renew_at: renew_at.unwrap_or(now) });
        Ok(value)
    }

    /// Sends `n` to one device.
    async fn send_to(&self, device: &Device, message: &Value, bearer: &str, now: Timestamp) -> Attempt {
        let mut message = message.clone();
        message["message"]["token"] = device.token.clone().into();
        let request = self.client.post(self.send_url.clone()).bearer_auth(bearer).json(&message);
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return unanswered(&err),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        if status.is_success() {
            return Attempt::Delivered;
        }
        let code = error_code(&response.json().await.unwrap_or_default());
        let error = format!("FCM answered HTTP {} {code}", status.as_u16());
        if status == StatusCode::UNAUTHORIZED {
            // The access token was revoked early: the next attempt fetches another.
            *self.token.lock().await = None;
            return Attempt::Failed { error, retry_after: None };
        }
        if matches!(code.as_str(), "UNREGISTERED" | "SENDER_ID_MISMATCH") {
            push::disable(self.store.as_ref(), device, &code, now).await;
            return Attempt::Refused { error };
        }
        refusal(status, &headers, error, now)
    }
}

/// FCM's error code in a refusal's body (`error.details[].errorCode`), else its status.
fn error_code(body: &Value) -> String {
    let error = &body["error"];
    let detailed = error["details"].as_array().into_iter().flatten().find_map(|d| d["errorCode"].as_str());
    detailed.or(error["status"].as_str()).unwrap_or("(no error code)").to_owned()
}

#[async_trait]
impl Channel for Fcm {
    fn name(&self) -> &'static str {
        "fcm"
    }

    fn medium(&self) -> Medium {
        Medium::Push
    }

    async fn send(&self, n: &StoredNotification, to: &UserRecord, now: Timestamp) -> Attempt {
        let audience = match push::audience(self.store.as_ref(), to, &PLATFORMS).await {
            Ok(audience) => audience,
            Err(attempt) => return attempt,
        };
        let bearer = match self.access_token(now).await {
            Ok(bearer) => bearer,
            Err(attempt) => return attempt,
        };
        let message = message_of(n, audience.lang);
        let sends = audience.devices.iter().map(|device| self.send_to(device, &message, &bearer, now));
        push::overall(futures::future::join_all(sends).await)
    }
}

/// The message of `n` in `lang`, its device token still to set.
fn message_of(n: &StoredNotification, lang: &str) -> Value {
    let (title, body) = push::texts(n, lang);
    json!({"message": {
        "notification": {"title": title, "body": body},
        // FCM's data values are strings.
        "data": {
            "id": n.id.to_string(),
            "idempotency_key": n.dedupe_key,
            "kind": n.kind,
            "payload": n.payload.to_string(),
        },
        "android": {"collapse_key": n.dedupe_key},
    }})
}
