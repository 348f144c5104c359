//! Pushes through Firebase Cloud Messaging, against a loopback stand-in for Google that checks
//! each request as the real one does: the token exchange's JWT verified with the service
//! account's public key (issuer, audience, scope, lifetime, key id), the bearer token on
//! every send, and the v1 message's shape (a device token, a title and a body, string-only
//! data). It answers as the test scripts it, in FCM's error format.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jiff::SignedDuration;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use playpulse_core::time::{Clock, ManualClock};
use playpulse_notify::{Assertion, Dispatcher, FCM_SCOPE, Fcm, FcmConfig, JWT_GRANT, NotifyConfig};
use playpulse_store::{DeliveryState, ProfileUpdate, Store};
use serde_json::{Value, json};

use crate::support::{
    Backend, all, config, device, dispatcher_with, enqueue, known, on_both, receiver, t0, user,
};

on_both!(
    a_push_reaches_each_android_and_web_device_in_its_users_language,
    an_unregistered_token_is_disabled_and_the_webhook_takes_what_no_device_reaches,
    throttling_is_honoured_and_a_revoked_or_expired_token_is_renewed,
    fcm_out_of_reach_is_retried_and_keeps_the_device,
    fcm_slow_or_failing_is_retried_with_the_same_key,
);

const PRIVATE_KEY: &str = include_str!("keys/fcm-test-account.pem");
const PUBLIC_KEY: &str = include_str!("keys/fcm-test-account.pub.pem");
const ACCOUNT: &str = "playpulse-push@pp-test.iam.gserviceaccount.com";
const KEY_ID: &str = "0f3c9a-test-key";
const PROJECT: &str = "pp-test";
/// How long a slow answer takes: past the channel's timeout (300 ms).
const SLOW_MS: u64 = 600;

/// How the stand-in answers one send.
#[derive(Clone, Copy)]
enum Reply {
    Ok,
    Unregistered,
    Throttle {
        retry_after_s: u64,
    },
    Unauthorized,
    /// Takes the message and answers after the client has given up on the answer.
    Slow,
    ServerError,
}

/// What the stand-in saw of one accepted send.
#[derive(Debug, Clone, PartialEq)]
struct Pushed {
    token: String,
    key: String,
    title: String,
    body: String,
}

struct Google {
    clock: ManualClock,
    token_uri: String,
    issued: Mutex<Vec<String>>,
    script: Mutex<VecDeque<Reply>>,
    pushed: Mutex<Vec<Pushed>>,
}

impl Google {
    fn issued(&self) -> usize {
        self.issued.lock().unwrap().len()
    }

    fn pushed(&self) -> Vec<Pushed> {
        self.pushed.lock().unwrap().clone()
    }

    fn script(&self, replies: &[Reply]) {
        self.script.lock().unwrap().extend(replies);
    }

    /// The token endpoint: a valid assertion gets an access token good for an hour.
    fn exchange(&self, form: &BTreeMap<String, String>) -> Result<Value, String> {
        if form.get("grant_type").map(String::as_str) != Some(JWT_GRANT) {
            return Err("unsupported grant_type".into());
        }
        let jwt = form.get("assertion").ok_or("no assertion")?;
        let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(KEY_ID) {
            return Err(format!("unexpected header {header:?}"));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.token_uri]);
        validation.set_issuer(&[ACCOUNT]);
        // The times are checked against the test's clock below, not the machine's.
        validation.validate_exp = false;
        let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let claims =
            jsonwebtoken::decode::<Assertion>(jwt, &key, &validation).map_err(|e| e.to_string())?.claims;
        let now = self.clock.now().as_second();
        if claims.scope != FCM_SCOPE {
            return Err(format!("scope {}", claims.scope));
        }
        if (claims.iat - now).abs() > 60 || claims.exp <= now || claims.exp - claims.iat > 3_600 {
            return Err(format!(
                "a stale or too long-lived assertion: iat {} exp {}",
                claims.iat, claims.exp
            ));
        }
        let mut issued = self.issued.lock().unwrap();
        let token = format!("ya29.test-{}", issued.len() + 1);
        issued.push(token.clone());
        Ok(json!({"access_token": token, "expires_in": 3_599, "token_type": "Bearer"}))
    }

    /// The send endpoint's checks of one request: the bearer token and the message.
    fn check_send(&self, headers: &HeaderMap, body: &Value) -> Result<Pushed, String> {
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let last = self.issued.lock().unwrap().last().cloned().unwrap_or_default();
        if bearer != format!("Bearer {last}") {
            return Err(format!("not the latest access token: {bearer}"));
        }
        let Some(message) = body.as_object().filter(|b| b.len() == 1).and_then(|b| b["message"].as_object())
        else {
            return Err("the body is not {\"message\": {...}}".into());
        };
        let text = |v: &Value| v.as_str().filter(|t| !t.is_empty() && !t.contains('{')).map(str::to_owned);
        let token = message.get("token").and_then(Value::as_str).ok_or("no token")?;
        let title = text(&message["notification"]["title"]).ok_or("no title")?;
        let body_text = text(&message["notification"]["body"]).ok_or("no body")?;
        let data = message.get("data").and_then(Value::as_object).ok_or("no data")?;
        if data.values().any(|v| !v.is_string()) {
            return Err("a data value that is not a string".into());
        }
        let key = data.get("idempotency_key").and_then(Value::as_str).ok_or("no idempotency_key")?;
        Ok(Pushed { token: token.into(), key: key.into(), title, body: body_text })
    }

    async fn send(&self, headers: &HeaderMap, body: &Value) -> Response {
        let pushed = match self.check_send(headers, body) {
            Ok(pushed) => pushed,
            Err(why) if why.starts_with("not the latest") => return fcm_error(401, "UNAUTHENTICATED", None),
            Err(why) => panic!("FCM would refuse this message: {why}"),
        };
        let reply = self.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
        match reply {
            Reply::Ok => {
                self.pushed.lock().unwrap().push(pushed);
                Json(json!({"name": format!("projects/{PROJECT}/messages/0:{}", self.pushed().len())}))
                    .into_response()
            }
            Reply::Unregistered => fcm_error(404, "NOT_FOUND", Some("UNREGISTERED")),
            Reply::Throttle { retry_after_s } => {
                let mut response = fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"));
                response.headers_mut().insert("retry-after", retry_after_s.into());
                response
            }
            Reply::Unauthorized => {
                // The token is revoked: only a new one is accepted.
                self.issued.lock().unwrap().push("revoked".into());
                fcm_error(401, "UNAUTHENTICATED", None)
            }
            Reply::Slow => {
                // Taken on arrival: Google may deliver a message whose sender gave up on the answer.
                self.pushed.lock().unwrap().push(pushed);
                tokio::time::sleep(std::time::Duration::from_millis(SLOW_MS)).await;
                Json(json!({"name": format!("projects/{PROJECT}/messages/late")})).into_response()
            }
            Reply::ServerError => fcm_error(500, "INTERNAL", None),
        }
    }
}

/// An error as FCM words it.
fn fcm_error(code: u16, status: &str, error_code: Option<&str>) -> Response {
    let details: Vec<Value> = error_code
        .map(|c| json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}))
        .into_iter()
        .collect();
    let body = json!({"error": {"code": code, "message": "refused", "status": status, "details": details}});
    (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
}

/// Starts the stand-in; it and the key file of an account whose token endpoint it is.
async fn google(clock: &ManualClock, dir: &Path) -> (Arc<Google>, FcmConfig) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token_uri = format!("{base}/token");
    let google = Arc::new(Google {
        clock: clock.clone(),
        token_uri: token_uri.clone(),
        issued: Mutex::default(),
        script: Mutex::default(),
        pushed: Mutex::default(),
    });
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(
                |State(g): State<Arc<Google>>, Form(form): Form<BTreeMap<String, String>>| async move {
                    match g.exchange(&form) {
                        Ok(granted) => Json(granted).into_response(),
                        Err(why) => panic!("Google would refuse this assertion: {why}"),
                    }
                },
            ),
        )
        .route(
            &format!("/v1/projects/{PROJECT}/messages:send"),
            axum::routing::post(
                |State(g): State<Arc<Google>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    g.send(&headers, &body).await
                },
            ),
        )
        .with_state(google.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = json!({
        "type": "service_account", "project_id": PROJECT, "private_key_id": KEY_ID,
        "private_key": PRIVATE_KEY, "client_email": ACCOUNT, "token_uri": token_uri,
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, key.to_string()).unwrap();
    let config = FcmConfig { service_account: path.display().to_string(), api_base: base, timeout_ms: 300 };
    (google, config)
}

/// A dispatcher that pushes through FCM first, then the webhook at `webhook`.
fn dispatcher(store: Arc<dyn Store>, clock: &ManualClock, fcm: FcmConfig, webhook: &str) -> Dispatcher {
    let config = NotifyConfig { fcm, ..config(webhook) };
    config.validate().unwrap();
    let fcm = Fcm::new(&config.fcm, store.clone()).unwrap().expect("FCM is configured");
    dispatcher_with(store, clock, config, Arc::new(fcm))
}

/// An iOS token as APNs issues them: 64 hex digits.
const IOS_TOKEN: &str = "4f1a2b3c4d5e6f708192a3b4c5d6e7f80123456789abcdef0123456789abcdef";

async fn a_push_reaches_each_android_and_web_device_in_its_users_language(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (google, fcm) = google(&clock, dir.path()).await;
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "android", "android-token-of-u0").await;
    device(store, 0, "web", "web-token-of-u0").await;
    device(store, 0, "ios", IOS_TOKEN).await;
    device(store, 1, "android", "android-token-of-u1").await;
    let english = ProfileUpdate { lang: Some("en".into()), ..ProfileUpdate::default() };
    assert!(store.update_profile(&user(1), english).await.unwrap());
    enqueue(store, 2).await; // one each for u0 and u1

    let d = dispatcher(b.store.clone(), &clock, fcm, &url);
    assert_eq!(d.dispatch_once().await.unwrap(), 2);
    let mut pushed = google.pushed();
    pushed.sort_by(|a, b| a.token.cmp(&b.token));
    let tokens: Vec<&str> = pushed.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["android-token-of-u0", "android-token-of-u1", "web-token-of-u0"], "no iOS token");
    let seed = "A 업체에서 500 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요.";
    assert_eq!((pushed[0].title.as_str(), pushed[0].body.as_str()), ("토큰 도착!", seed));
    assert_eq!(pushed[1].body, "You earned 500 cyber tokens at partner A! Use them in a game now.");
    assert_eq!(pushed[0].key, pushed[2].key, "one notification, one key on every device");
    assert_eq!(google.issued(), 1, "one access token serves every send");
    assert!(hook.seen().is_empty(), "pushed, not posted");
    for n in all(store).await {
        assert_eq!((n.state, n.channel.as_deref()), (DeliveryState::Sent, Some("fcm")));
    }
}

async fn an_unregistered_token_is_disabled_and_the_webhook_takes_what_no_device_reaches(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (google, fcm) = google(&clock, dir.path()).await;
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "android", "uninstalled-app-token").await;
    google.script(&[Reply::Unregistered]);
    enqueue(store, 1).await;
    let d = dispatcher(b.store.clone(), &clock, fcm, &url);
    d.dispatch_once().await.unwrap();
    let dead = &all(store).await[0];
    assert_eq!(dead.state, DeliveryState::Dead);
    assert!(dead.last_error.as_deref().unwrap().contains("UNREGISTERED"), "{:?}", dead.last_error);
    let devices = store.devices_of(&user(0)).await.unwrap();
    assert_eq!(devices[0].disabled_reason.as_deref(), Some("UNREGISTERED"));

    // Its user's next notification, like that of a user with no device, goes to the webhook.
    let notes = (0..2).map(|i| playpulse_core::notify::token_arrival(&user(i * 2), &format!("n{i}"), 70));
    store.enqueue(notes.collect(), t0()).await.unwrap();
    d.dispatch_once().await.unwrap();
    assert_eq!(google.pushed().len(), 0);
    assert_eq!(hook.accepted().len(), 2);
    let channels: Vec<_> = all(store).await.iter().skip(1).map(|n| n.channel.clone()).collect();
    assert_eq!(channels, [Some("webhook".to_owned()), Some("webhook".to_owned())]);
}

async fn throttling_is_honoured_and_a_revoked_or_expired_token_is_renewed(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (google, fcm) = google(&clock, dir.path()).await;
    let (_hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "android", "android-token-of-u0").await;
    google.script(&[Reply::Throttle { retry_after_s: 120 }, Reply::Unauthorized]);
    enqueue(store, 1).await;
    let d = dispatcher(b.store.clone(), &clock, fcm, &url);

    d.dispatch_once().await.unwrap();
    let throttled = &all(store).await[0];
    assert_eq!(throttled.state, DeliveryState::Failed);
    assert!(throttled.next_attempt_at >= t0() + SignedDuration::from_secs(120), "Retry-After is honoured");
    assert!(throttled.last_error.as_deref().unwrap().contains("429 QUOTA_EXCEEDED"));

    clock.set(throttled.next_attempt_at);
    d.dispatch_once().await.unwrap();
    let refused = &all(store).await[0];
    assert_eq!(refused.state, DeliveryState::Failed, "a revoked token is a passing trouble");
    clock.set(refused.next_attempt_at);
    d.dispatch_once().await.unwrap();
    assert_eq!(all(store).await[0].state, DeliveryState::Sent);
    assert_eq!(google.issued(), 3, "the first token, the revoked mark, and a new one after the 401");

    // An hour on, the kept token has expired and another is fetched before the send.
    clock.set(clock.now() + SignedDuration::from_secs(3_600));
    store
        .enqueue(vec![playpulse_core::notify::token_arrival(&user(0), "later", 10)], clock.now())
        .await
        .unwrap();
    d.dispatch_once().await.unwrap();
    assert_eq!((google.issued(), google.pushed().len()), (4, 2));
}

async fn fcm_out_of_reach_is_retried_and_keeps_the_device(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (google, mut fcm) = google(&clock, dir.path()).await;
    let (_hook, url) = receiver(clock.clone()).await;
    // Nothing listens there: the token endpoint answers, FCM itself does not.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    fcm.api_base = format!("http://{closed}");
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "android", "android-token-of-u0").await;
    enqueue(store, 1).await;
    dispatcher(b.store.clone(), &clock, fcm, &url).dispatch_once().await.unwrap();
    let n = &all(store).await[0];
    assert_eq!(n.state, DeliveryState::Failed);
    assert!(n.last_error.as_deref().unwrap().contains("could not connect"), "{:?}", n.last_error);
    assert!(store.devices_of(&user(0)).await.unwrap()[0].disabled_at.is_none(), "a passing trouble");
    assert!(google.pushed().is_empty());
}

/// FCM slow past the timeout (it takes the message, but answers after the client gave up), then failing
/// with a 500: both are tried again, the device kept; the app may get the message twice,
/// under one idempotency key, by which it shows it once.
async fn fcm_slow_or_failing_is_retried_with_the_same_key(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (google, fcm) = google(&clock, dir.path()).await;
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "android", "android-token-of-u0").await;
    google.script(&[Reply::Slow, Reply::ServerError]);
    enqueue(store, 1).await;
    let d = dispatcher(b.store.clone(), &clock, fcm, &url);
    for expected in ["timed out", "HTTP 500"] {
        d.dispatch_once().await.unwrap();
        let n = &all(store).await[0];
        assert_eq!(n.state, DeliveryState::Failed);
        assert!(n.last_error.as_deref().unwrap().contains(expected), "{expected}: {:?}", n.last_error);
        clock.set(n.next_attempt_at);
    }
    d.dispatch_once().await.unwrap();
    let n = &all(store).await[0];
    assert_eq!((n.state, n.attempts), (DeliveryState::Sent, 3));
    assert!(store.devices_of(&user(0)).await.unwrap()[0].disabled_at.is_none());
    let keys: Vec<String> = google.pushed().into_iter().map(|p| p.key).collect();
    assert_eq!(keys, [n.dedupe_key.clone(), n.dedupe_key.clone()], "the late one and the last, one key");
    assert!(hook.seen().is_empty());
}
