//! Pushes through the Apple Push Notification service, against a loopback stand-in for Apple
//! that checks each request as APNs does: HTTP/2, the provider token verified with the
//! team's public key (ES256, key id, team id, issue time), `apns-topic`, `apns-push-type`,
//! `apns-priority`, a device token of hex digits, an alert in `aps` within 4 KB. It answers
//! per device token as the test scripts it, in APNs' error format.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use playpulse_core::notify::token_arrival;
use playpulse_core::time::{Clock, ManualClock};
use playpulse_notify::{Apns, ApnsConfig, Dispatcher, MAX_PAYLOAD, NotifyConfig, ProviderClaims};
use playpulse_store::{DeliveryState, ProfileUpdate, Store};
use serde_json::{Value, json};

use crate::support::{
    BUNDLE, Backend, all, config, device, dispatcher_with, known, on_both, receiver, t0, user,
};

on_both!(
    an_ios_device_gets_the_alert_over_http2_with_a_verified_provider_token,
    a_refused_device_is_disabled_and_an_expired_provider_token_is_renewed,
    apns_out_of_reach_is_retried_and_keeps_the_device,
    apns_slow_or_failing_is_retried_and_a_push_sent_again_collapses,
);

const KEY: &str = include_str!("keys/apns-test-key.p8");
const PUBLIC_KEY: &str = include_str!("keys/apns-test-key.pub.pem");
const KEY_ID: &str = "ABC123DEFG";
const TEAM_ID: &str = "DEF123GHIJ";

/// How the stand-in answers one push.
#[derive(Clone, Copy)]
enum Reply {
    Unregistered,
    ExpiredProviderToken,
    /// Takes the push and answers after the client has given up on the answer.
    Slow,
    ServerError,
    /// 429 TooManyRequests, asking to wait this long.
    Throttle(u64),
}

/// How long a slow answer takes: past the channel's timeout (300 ms).
const SLOW_MS: u64 = 600;

/// What the stand-in saw of one accepted push.
#[derive(Debug, Clone)]
struct Pushed {
    device: String,
    title: String,
    body: String,
    key: String,
    collapse_id: String,
}

struct Apple {
    clock: ManualClock,
    /// Per device token, the answers to its next pushes (200 when none is left).
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Every provider token presented.
    tokens: Mutex<BTreeSet<String>>,
    pushed: Mutex<Vec<Pushed>>,
}

impl Apple {
    fn pushed(&self) -> Vec<Pushed> {
        self.pushed.lock().unwrap().clone()
    }

    fn tokens(&self) -> usize {
        self.tokens.lock().unwrap().len()
    }

    /// The checks APNs makes before it looks at the device; the provider token on success.
    fn check(
        &self,
        version: Version,
        device: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Pushed, String> {
        if version != Version::HTTP_2 {
            return Err(format!("{version:?}: APNs speaks HTTP/2 only"));
        }
        if device.is_empty()
            || !device.len().is_multiple_of(2)
            || !device.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(format!("device token {device:?} is not hex"));
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = header("authorization").strip_prefix("bearer ").ok_or("no bearer provider token")?;
        let jwt = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        if jwt.alg != Algorithm::ES256 || jwt.kid.as_deref() != Some(KEY_ID) {
            return Err(format!("unexpected JWT header {jwt:?}"));
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims = ["iss".to_owned()].into();
        validation.set_issuer(&[TEAM_ID]);
        validation.validate_exp = false;
        let key = DecodingKey::from_ec_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let claims =
            jsonwebtoken::decode::<ProviderClaims>(token, &key, &validation).map_err(|e| e.to_string())?;
        let age = self.clock.now().as_second() - claims.claims.iat;
        if !(-60..3_600).contains(&age) {
            return Err(format!("a provider token {age} s old"));
        }
        if header("apns-topic") != BUNDLE || header("apns-push-type") != "alert" {
            return Err("apns-topic or apns-push-type".into());
        }
        if !matches!(header("apns-priority"), "5" | "10") || header("apns-collapse-id").len() > 64 {
            return Err("apns-priority or apns-collapse-id".into());
        }
        if body.len() > MAX_PAYLOAD {
            return Err("payload over 4 KB".into());
        }
        let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let text = |v: &Value| v.as_str().filter(|t| !t.is_empty() && !t.contains('{')).map(str::to_owned);
        self.tokens.lock().unwrap().insert(token.to_owned());
        Ok(Pushed {
            device: device.to_owned(),
            title: text(&doc["aps"]["alert"]["title"]).ok_or("no alert title")?,
            body: text(&doc["aps"]["alert"]["body"]).ok_or("no alert body")?,
            key: doc["idempotency_key"].as_str().ok_or("no idempotency_key")?.to_owned(),
            collapse_id: header("apns-collapse-id").to_owned(),
        })
    }

    async fn push(&self, version: Version, device: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let pushed = self
            .check(version, device, headers, body)
            .unwrap_or_else(|why| panic!("APNs would refuse: {why}"));
        let reply = self.script.lock().unwrap().get_mut(device).and_then(VecDeque::pop_front);
        let refuse = |status: StatusCode, reason: &str| {
            (status, Json(json!({"reason": reason, "timestamp": 1_777_777_777_000_i64}))).into_response()
        };
        match reply {
            None => {
                self.pushed.lock().unwrap().push(pushed);
                (StatusCode::OK, [("apns-id", "6a3a1b2c-0000-4000-8000-000000000001")]).into_response()
            }
            Some(Reply::Unregistered) => refuse(StatusCode::GONE, "Unregistered"),
            Some(Reply::ExpiredProviderToken) => refuse(StatusCode::FORBIDDEN, "ExpiredProviderToken"),
            Some(Reply::Slow) => {
                // Taken on arrival: Apple may deliver a push whose sender gave up on the answer.
                self.pushed.lock().unwrap().push(pushed);
                tokio::time::sleep(std::time::Duration::from_millis(SLOW_MS)).await;
                StatusCode::OK.into_response()
            }
            Some(Reply::ServerError) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            Some(Reply::Throttle(seconds)) => {
                let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
                response.headers_mut().insert("retry-after", seconds.into());
                response
            }
        }
    }
}

/// Starts the stand-in (HTTP/2 without TLS, as `http2_prior_knowledge` speaks it on
/// loopback); it and the config of a team whose APNs it is.
async fn apple(clock: &ManualClock, dir: &Path) -> (Arc<Apple>, ApnsConfig) {
    let apple = Arc::new(Apple {
        clock: clock.clone(),
        script: Mutex::default(),
        tokens: Mutex::default(),
        pushed: Mutex::default(),
    });
    let app = axum::Router::new()
        .route(
            "/3/device/{token}",
            axum::routing::post(
                |State(a): State<Arc<Apple>>,
                 version: Version,
                 UrlPath(token): UrlPath<String>,
                 headers: HeaderMap,
                 body: Bytes| async move { a.push(version, &token, &headers, &body).await },
            ),
        )
        .with_state(apple.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key_file = dir.join("AuthKey_ABC123DEFG.p8");
    std::fs::write(&key_file, KEY).unwrap();
    let config = ApnsConfig {
        key_file: key_file.display().to_string(),
        key_id: KEY_ID.into(),
        team_id: TEAM_ID.into(),
        endpoint,
        timeout_ms: 300,
    };
    (apple, config)
}

/// A dispatcher that pushes through APNs first, then the webhook at `webhook`.
fn dispatcher(store: Arc<dyn Store>, clock: &ManualClock, apns: ApnsConfig, webhook: &str) -> Dispatcher {
    let config = NotifyConfig { apns, ..config(webhook) };
    config.validate().unwrap();
    let apns = Apns::new(&config.apns, store.clone()).unwrap().expect("APNs is configured");
    dispatcher_with(store, clock, config, Arc::new(apns))
}

/// An iOS device token: 64 hex digits, as APNs issues them.
fn ios(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn an_ios_device_gets_the_alert_over_http2_with_a_verified_provider_token(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (apple, apns) = apple(&clock, dir.path()).await;
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "ios", &ios(1)).await;
    device(store, 0, "android", "android-token-of-u0").await;
    device(store, 1, "ios", &ios(2)).await;
    let english = ProfileUpdate { lang: Some("en".into()), ..ProfileUpdate::default() };
    assert!(store.update_profile(&user(1), english).await.unwrap());
    let notes = (0..2).map(|i| token_arrival(&user(i), &format!("e{i}"), 1_500)).collect();
    store.enqueue(notes, t0()).await.unwrap();

    let d = dispatcher(b.store.clone(), &clock, apns, &url);
    assert_eq!(d.dispatch_once().await.unwrap(), 2);
    let by_device: BTreeMap<String, Pushed> =
        apple.pushed().into_iter().map(|p| (p.device.clone(), p)).collect();
    assert_eq!(by_device.len(), 2);
    let seed = "A 업체에서 1,500 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요.";
    assert_eq!((by_device[&ios(1)].title.as_str(), by_device[&ios(1)].body.as_str()), ("토큰 도착!", seed));
    assert_eq!(by_device[&ios(2)].title, "Tokens arrived!");
    assert!(by_device[&ios(1)].key.starts_with("token-arrival/"));
    assert_eq!(apple.tokens(), 1, "one provider token serves both pushes");
    assert!(hook.seen().is_empty());
    for n in all(store).await {
        assert_eq!((n.state, n.channel.as_deref()), (DeliveryState::Sent, Some("apns")));
    }

    // 51 minutes on, the provider token is signed anew.
    clock.set(t0() + SignedDuration::from_mins(51));
    store.enqueue(vec![token_arrival(&user(0), "later", 5)], clock.now()).await.unwrap();
    d.dispatch_once().await.unwrap();
    assert_eq!((apple.pushed().len(), apple.tokens()), (3, 2));
}

async fn a_refused_device_is_disabled_and_an_expired_provider_token_is_renewed(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (apple, apns) = apple(&clock, dir.path()).await;
    let (_hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "ios", &ios(1)).await;
    device(store, 0, "ios", &ios(2)).await;
    apple.script.lock().unwrap().insert(ios(1), [Reply::Unregistered].into());
    apple.script.lock().unwrap().insert(ios(2), [Reply::ExpiredProviderToken].into());
    store.enqueue(vec![token_arrival(&user(0), "e0", 10)], t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, apns, &url);

    d.dispatch_once().await.unwrap();
    let n = &all(store).await[0];
    assert_eq!(n.state, DeliveryState::Failed, "a device still to reach: {:?}", n.last_error);
    assert!(n.last_error.as_deref().unwrap().contains("403 ExpiredProviderToken"));
    let disabled: Vec<_> =
        store.devices_of(&user(0)).await.unwrap().into_iter().filter_map(|d| d.disabled_reason).collect();
    assert_eq!(disabled, ["Unregistered"]);

    clock.set(n.next_attempt_at);
    d.dispatch_once().await.unwrap();
    assert_eq!(all(store).await[0].state, DeliveryState::Sent);
    let devices: Vec<String> = apple.pushed().into_iter().map(|p| p.device).collect();
    assert_eq!(devices, [ios(2)], "the disabled device is not tried again");
    assert_eq!(apple.tokens(), 2, "a new provider token after ExpiredProviderToken");
}

async fn apns_out_of_reach_is_retried_and_keeps_the_device(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (apple, mut apns) = apple(&clock, dir.path()).await;
    let (_hook, url) = receiver(clock.clone()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    apns.endpoint = format!("http://{closed}");
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "ios", &ios(1)).await;
    store.enqueue(vec![token_arrival(&user(0), "e0", 10)], t0()).await.unwrap();
    dispatcher(b.store.clone(), &clock, apns, &url).dispatch_once().await.unwrap();
    let n = &all(store).await[0];
    assert_eq!(n.state, DeliveryState::Failed);
    assert!(n.last_error.as_deref().unwrap().contains("could not connect"), "{:?}", n.last_error);
    assert!(store.devices_of(&user(0)).await.unwrap()[0].disabled_at.is_none(), "a passing trouble");
    assert!(apple.pushed().is_empty());
}

/// APNs slow past the timeout (it takes the push, but answers after the client gave up), then failing
/// with a 500, then throttling: each is tried again (not before the `Retry-After`) and the
/// device kept. The push sent again carries the same `apns-collapse-id`, so the device shows
/// it once.
async fn apns_slow_or_failing_is_retried_and_a_push_sent_again_collapses(b: &Backend) {
    let (clock, dir) = (ManualClock::new(t0()), tempfile::tempdir().unwrap());
    let (apple, apns) = apple(&clock, dir.path()).await;
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "ios", &ios(1)).await;
    let script = [Reply::Slow, Reply::ServerError, Reply::Throttle(600)];
    apple.script.lock().unwrap().insert(ios(1), script.into());
    store.enqueue(vec![token_arrival(&user(0), "e0", 10)], t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, apns, &url);
    for expected in ["timed out", "500 InternalServerError", "429 TooManyRequests"] {
        let before = clock.now();
        d.dispatch_once().await.unwrap();
        let n = &all(store).await[0];
        assert_eq!(n.state, DeliveryState::Failed);
        assert!(n.last_error.as_deref().unwrap().contains(expected), "{expected}: {:?}", n.last_error);
        if expected.starts_with("429") {
            assert!(n.next_attempt_at >= before + SignedDuration::from_secs(600), "Retry-After is honoured");
        }
        clock.set(n.next_attempt_at);
    }
    d.dispatch_once().await.unwrap();
    let n = &all(store).await[0];
    assert_eq!((n.state, n.attempts), (DeliveryState::Sent, 4));
    assert!(store.devices_of(&user(0)).await.unwrap()[0].disabled_at.is_none());
    let pushed = apple.pushed();
    assert_eq!(pushed.len(), 2, "the late one and the last");
    assert!(pushed.iter().all(|p| p.key == n.dedupe_key && p.collapse_id == format!("playpulse-{}", n.id)));
    assert!(hook.seen().is_empty());
}
