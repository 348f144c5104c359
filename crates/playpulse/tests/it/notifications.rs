//! Notifications over the real API and the real binary: a user's list with delivery states,
//! devices, an admin's retry; and a server killed with SIGKILL mid-send, whose notifications
//! the restarted server delivers, each handled once by its idempotency key.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use jiff::{SignedDuration, Timestamp};
use playpulse_core::access::Scope;
use playpulse_core::ids::UserId;
use playpulse_core::notify::opt_out_signature;
use playpulse_core::time::{Clock, SystemClock};
use playpulse_notify::OptOutConfig;
use playpulse_store::Settlement;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::binary::Target;
use crate::on_both_backends;
use crate::support::{Backend, NOW, TestApp, event, statuses};

on_both_backends!(
    the_api_lists_deliveries_keeps_devices_and_retries_dead_ones,
    an_opt_out_link_withdraws_marketing_with_one_click,
    a_server_killed_mid_send_delivers_after_restart_each_once
);

fn partner_earn(user: &str, amount: i64) -> Value {
    event(user, "EARN_CYBER_TOKENS", json!({"amount": amount, "source": "partner"}))
}

async fn the_api_lists_deliveries_keeps_devices_and_retries_dead_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, answer) = app.send(&[partner_earn("ann", 500), partner_earn("ann", 70)]).await;
    assert_eq!(statuses(&answer), ["accepted", "accepted"]);
    let (status, page) = app.get("/v1/users/ann/notifications?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let newest = &page["notifications"][0];
    assert_eq!(
        (newest["kind"].as_str(), newest["state"].as_str()),
        (Some("NEW_TOKEN_ARRIVAL"), Some("queued"))
    );
    assert_eq!(newest["payload"]["amount"], 70, "newest first");
    let (_, older) = app.get(&format!("/v1/users/ann/notifications?before={}", page["next_before"])).await;
    assert_eq!(older["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(older["notifications"][0]["payload"]["amount"], 500);
    assert!(older["next_before"].is_null(), "{older}");
    for (path, code) in [
        ("/v1/users/ann/notifications?limit=0", "invalid_limit"),
        ("/v1/users/ann/notifications?before=x", "invalid_query"),
    ] {
        assert_eq!(app.get(path).await.1["code"], code, "{path}");
    }
    assert_eq!(app.get("/v1/users/nobody/notifications").await.0, StatusCode::NOT_FOUND);

    // Consents and quiet hours: opt-in, kept with their first time, shown in the profile.
    let (_, profile) = app.get("/v1/users/ann").await;
    assert_eq!(profile["notifications"]["marketing"], false, "{profile}");
    let prefs = |p: Value| json!({ "notifications": p });
    for (body, code) in [
        (prefs(json!({"quiet_hours": "25:00-07:00"})), "invalid_quiet_hours"),
        (prefs(json!({"quiet_hours": "22:00-22:00"})), "invalid_quiet_hours"),
        (prefs(json!({"marketing": "yes"})), "invalid_body"),
        (prefs(json!({"sms": true})), "invalid_body"),
        (prefs(json!({"marketing_channels": ["push", "sms"]})), "invalid_marketing_channels"),
        (prefs(json!({"marketing_channels": "push"})), "invalid_body"),
    ] {
        let (status, answer) = app.call(Method::PATCH, "/v1/users/ann", body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}"
        );
    }
    let change = prefs(json!({"marketing": true, "quiet_hours": "23:00-07:00"}));
    assert_eq!(app.call(Method::PATCH, "/v1/users/ann", change).await.0, StatusCode::NO_CONTENT);
    let (_, profile) = app.get("/v1/users/ann").await;
    let shown = &profile["notifications"];
    assert_eq!((shown["marketing"].as_bool(), shown["night_marketing"].as_bool()), (Some(true), Some(false)));
    assert_eq!(
        (shown["marketing_since"].as_str(), shown["quiet_hours"].as_str()),
        (Some(NOW), Some("23:00-07:00"))
    );
    app.call(Method::PATCH, "/v1/users/ann", prefs(json!({"quiet_hours": ""}))).await;
    assert!(app.get("/v1/users/ann").await.1["notifications"]["quiet_hours"].is_null());
    // Consent per medium: every one until the user names theirs.
    assert_eq!(shown["marketing_channels"], json!(["push", "email", "webhook"]));
    let media = prefs(json!({"marketing_channels": ["email", "push"]}));
    assert_eq!(app.call(Method::PATCH, "/v1/users/ann", media).await.0, StatusCode::NO_CONTENT);
    let (_, profile) = app.get("/v1/users/ann").await;
    assert_eq!(profile["notifications"]["marketing_channels"], json!(["push", "email"]));
    assert_eq!(profile["notifications"]["marketing"], true, "the consent itself stays");

    // Devices: checked, kept per user, newest first.
    let apns = "ab".repeat(32);
    let device = |platform: &str, token: &str| json!({"platform": platform, "token": token, "app_id": "com.example.game"});
    for (body, status, code) in [
        (device("windows", &apns), StatusCode::UNPROCESSABLE_ENTITY, "invalid_platform"),
        (device("ios", "zz"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_device_token"),
        (device("android", "a\u{0}b"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_device_token"),
        (device("email", "ann at example.com"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_device_token"),
        (json!({"platform": "ios", "token": apns}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_device"),
    ] {
        let (got, answer) = app.call(Method::PUT, "/v1/users/ann/devices", body.clone()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(
        app.call(Method::PUT, "/v1/users/nobody/devices", device("ios", &apns)).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        app.get("/v1/users/ann/devices").await.1.as_array().unwrap().is_empty(),
        "a refusal keeps nothing"
    );
    let (status, list) = app.call(Method::PUT, "/v1/users/ann/devices", device("ios", &apns)).await;
    assert_eq!((status, list[0]["token"].as_str()), (StatusCode::OK, Some(apns.as_str())), "{list}");
    app.clock.set(app.clock.now() + SignedDuration::from_secs(1));
    app.call(Method::PUT, "/v1/users/ann/devices", device("android", "fcm-token-1")).await;
    app.clock.set(app.clock.now() + SignedDuration::from_secs(1));
    app.call(Method::PUT, "/v1/users/ann/devices", device("email", "ann@mail.example.com")).await;
    let (_, list) = app.get("/v1/users/ann/devices").await;
    let platforms: Vec<&str> =
        list.as_array().unwrap().iter().map(|d| d["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["email", "android", "ios"]);

    // A dead notification is queued again by an admin only.
    let store = &app.state.store;
    let now = app.clock.now();
    let claimed = store.claim_notifications(now, now + SignedDuration::from_secs(60), 10).await.unwrap();
    let (dead, other) = (&claimed[0], &claimed[1]);
    store
        .settle_notification(dead.id, dead.claim, now, Settlement::Dead { error: "HTTP 410".into() })
        .await
        .unwrap();
    let retry = |id: i64| format!("/v1/notifications/{id}/retry");
    let reader = app.key_with(&[Scope::Read, Scope::Ingest]).await;
    assert_eq!(app.post_raw(&retry(dead.id), &reader, Vec::new()).await.0, StatusCode::FORBIDDEN);
    let (status, conflict) = app.call(Method::POST, &retry(other.id), json!({})).await;
    assert_eq!((status, conflict["code"].as_str()), (StatusCode::CONFLICT, Some("not_dead")));
    assert_eq!(app.call(Method::POST, &retry(999_999), json!({})).await.0, StatusCode::NOT_FOUND);
    let (status, revived) = app.call(Method::POST, &retry(dead.id), json!({})).await;
    assert_eq!(
        (status, revived["state"].as_str(), revived["attempts"].as_i64()),
        (StatusCode::OK, Some("queued"), Some(0))
    );
    assert_eq!(revived["last_error"], "HTTP 410", "the last error stays for the record");

    // The export carries both; erasure removes both.
    let (_, export) = app.get("/v1/users/ann/export").await;
    assert_eq!(
        (export["notifications"].as_array().unwrap().len(), export["devices"].as_array().unwrap().len()),
        (2, 3)
    );
    let (status, receipt) = app.call(Method::DELETE, "/v1/users/ann", json!({})).await;
    assert!(status.is_success(), "{receipt}");
    assert!(store.devices_of(&playpulse_core::ids::UserId::parse("ann").unwrap()).await.unwrap().is_empty());
    app.stop().await;
}

const SECRET: &str = "the receiver's shared secret, long enough";

async fn an_opt_out_link_withdraws_marketing_with_one_click(backend: Backend) {
    let off = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(
        off.client.get(format!("{}/opt-out?user=a&sig=b", off.base)).send().await.unwrap().status(),
        404
    );
    off.stop().await;
    let secret = "the operator's opt-out secret, long enough";
    let app = TestApp::spawn_with(backend, |c| {
        c.notify.opt_out = OptOutConfig { base_url: "https://pp.example.com".into(), secret: secret.into() };
    })
    .await;
    app.send(&[partner_earn("ann", 5), partner_earn("bob", 5)]).await;
    for user in ["ann", "bob"] {
        let consent = json!({"notifications": {"marketing": true, "night_marketing": true}});
        assert_eq!(
            app.call(Method::PATCH, &format!("/v1/users/{user}"), consent).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let sig = opt_out_signature(secret.as_bytes(), &UserId::parse("ann").unwrap());
    let link = format!("{}/opt-out?user=ann&sig={sig}", app.base);
    let marketing = |user: &'static str| {
        let app = &app;
        async move { app.get(&format!("/v1/users/{user}")).await.1["notifications"]["marketing"].as_bool() }
    };
    // Opening the link (as a mail client's preview does) shows the button and changes nothing.
    let shown = app.client.get(&link).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(shown.text().await.unwrap().contains("<form method=\"post\""));
    assert_eq!(marketing("ann").await, Some(true));
    // Tampered, another user's, or malformed: refused alike, nothing changes.
    for bad in [
        format!("{}/opt-out?user=bob&sig={sig}", app.base),
        format!("{}/opt-out?user=ann&sig={}", app.base, &sig[..63]),
        format!("{}/opt-out?user=a%00b&sig={sig}", app.base),
    ] {
        assert_eq!(app.client.post(&bad).send().await.unwrap().status(), StatusCode::FORBIDDEN, "{bad}");
    }
    assert_eq!(app.client.post(format!("{}/opt-out", app.base)).send().await.unwrap().status(), 400);
    assert_eq!(marketing("bob").await, Some(true));
    // The button: both consents withdrawn, and pressing again is harmless.
    for _ in 0..2 {
        assert_eq!(app.client.post(&link).send().await.unwrap().status(), StatusCode::OK);
    }
    let (_, profile) = app.get("/v1/users/ann").await;
    assert_eq!(profile["notifications"]["marketing"], false);
    assert_eq!(profile["notifications"]["night_marketing"], false);
    assert_eq!(marketing("bob").await, Some(true));
    app.stop().await;
}

/// The JSON answer to a request sent with `key`.
async fn answer_of(request: reqwest::RequestBuilder, key: &str) -> Value {
    request.bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

/// A webhook receiver that checks each request's signature and handles each idempotency key
/// once, as a receiver must; the first request it gets is left unanswered.
#[derive(Default)]
struct Receiver {
    /// Per key: requests received, and whether it was handled (the first 2xx).
    keys: Mutex<BTreeMap<String, (usize, Option<Value>)>>,
    first_arrived: Notify,
}

async fn receive(receiver: Arc<Receiver>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signature = header("playpulse-signature");
    let t: i64 = signature
        .split(',')
        .next()
        .and_then(|t| t.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let expected = playpulse_notify::sign(SECRET.as_bytes(), Timestamp::from_second(t).unwrap(), &body);
    if signature != expected || (SystemClock.now().as_second() - t).abs() > 300 {
        return AxumStatus::UNAUTHORIZED;
    }
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let key = header("idempotency-key");
    let first_ever = {
        let mut keys = receiver.keys.lock().unwrap();
        let first_ever = keys.is_empty();
        let entry = keys.entry(key).or_default();
        entry.0 += 1;
        if !first_ever && entry.1.is_none() {
            entry.1 = Some(doc);
        }
        first_ever
    };
    if first_ever {
        receiver.first_arrived.notify_one();
        std::future::pending::<()>().await;
    }
    AxumStatus::OK
}

async fn a_server_killed_mid_send_delivers_after_restart_each_once(backend: Backend) {
    let receiver = Arc::new(Receiver::default());
    let shared = receiver.clone();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(move |h: HeaderMap, b: Bytes| receive(shared.clone(), h, b)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let target = Target::new(backend).await;
    let key = target.key();
    let env = [
        ("PLAYPULSE_SCHEDULE__ENABLED", "false"),
        ("PLAYPULSE_NOTIFY__WEBHOOK__URL", url.as_str()),
        ("PLAYPULSE_NOTIFY__WEBHOOK__SECRET", SECRET),
        ("PLAYPULSE_NOTIFY__WEBHOOK__TIMEOUT_MS", "1000"),
        ("PLAYPULSE_NOTIFY__LEASE_S", "3"),
        ("PLAYPULSE_NOTIFY__POLL_MS", "50"),
    ];
    let mut server = target.serve_with(&env).await;
    let users: Vec<String> = (0..30).map(|u| format!("k{u}")).collect();
    let events: Vec<Value> = users.iter().map(|u| partner_earn(u, 500)).collect();
    let client = reqwest::Client::new();
    let events = client.post(format!("{}/v1/events", server.base)).json(&json!({ "events": events }));
    let answer = answer_of(events, &key).await;
    assert!(statuses(&answer).iter().all(|s| s == "accepted"), "{answer}");

    // The first push hangs at the receiver: the server dies with it in flight.
    tokio::time::timeout(Duration::from_secs(20), receiver.first_arrived.notified())
        .await
        .expect("a push arrives");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = target.serve_with(&env).await;

    let started = Instant::now();
    loop {
        let handled = receiver.keys.lock().unwrap().values().filter(|(_, doc)| doc.is_some()).count();
        if handled == users.len() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{handled} of {} handled", users.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let keys = receiver.keys.lock().unwrap().clone();
    let resent = keys.values().filter(|(n, _)| *n > 1).count();
    assert!(resent >= 1, "the push in flight at the kill was sent again");
    for (key, (_, doc)) in &keys {
        let doc = doc.as_ref().unwrap();
        assert_eq!(
            (doc["kind"].as_str(), &doc["payload"]["amount"]),
            (Some("NEW_TOKEN_ARRIVAL"), &json!(500)),
            "{key}"
        );
        // "Use them now": the policy's proposal of the moment, ready to show and to log.
        let proposal = &doc["payload"]["proposal"];
        assert!(proposal["proposal_id"].as_str().is_some_and(|id| !id.is_empty()), "{doc}");
        assert!(proposal["type"].is_string() && proposal["lang"] == "ko", "{doc}");
        assert!(proposal["text"].as_str().is_some_and(|t| !t.is_empty() && !t.contains('{')), "{doc}");
    }
    let mut users_reached: Vec<&str> =
        keys.values().map(|(_, d)| d.as_ref().unwrap()["user_id"].as_str().unwrap()).collect();
    users_reached.sort_unstable();
    let mut expected: Vec<&str> = users.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(users_reached, expected, "every user's push, one key each");
    // The restarted server records every one as sent (the last settles just after its 200).
    let sent = |page: &Value| page["notifications"][0]["state"] == "sent";
    for user in &users {
        let started = Instant::now();
        loop {
            let page =
                answer_of(client.get(format!("{}/v1/users/{user}/notifications", server.base)), &key).await;
            if sent(&page) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{user}: {page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut child = server.child;
    child.kill().unwrap();
    child.wait().unwrap();
}
