//! The Redis hot cache: read after commit, survives an outage, repaired by reconciliation.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::on_both_backends;
use crate::support::{Backend, Storage, TestApp, earn, redis_url, spend};

on_both_backends!(
    a_redis_outage_fails_no_ingest_and_heals,
    a_dropped_request_leaves_no_stale_balance,
    a_test_app_leaves_no_keys_in_redis
);

/// A Redis server of this test's own, so that it can be stopped and started again.
struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    fn start(port: Option<u16>) -> Self {
        let port =
            port.unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (it is on every machine of this project's kind)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn balance_and_source(app: &TestApp, user: &str) -> (i64, String) {
    let (status, body) = app.get(&format!("/v1/users/{user}/balance")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["balance"].as_i64().unwrap(), body["source"].as_str().unwrap().to_owned())
}

async fn a_redis_outage_fails_no_ingest_and_heals(backend: Backend) {
    let mut redis = PrivateRedis::start(None);
    let url = redis.url();
    let app = TestApp::spawn_with(backend, |c| {
        c.cache.redis.clone_from(&url);
        c.cache.prefix = "pp_cache_test".into();
    })
    .await;
    app.send(&[earn("ivy", 100)]).await;
    assert_eq!(balance_and_source(&app, "ivy").await, (100, "cache".into()));

    redis.stop();
    let (status, answer) = app.send(&[spend("ivy", 30)]).await;
    assert_eq!(status, StatusCode::OK, "Redis down must not fail ingest: {answer}");
    assert_eq!(answer["accepted"], 1);
    assert_eq!(balance_and_source(&app, "ivy").await, (70, "db".into()), "a degraded cache is bypassed");
    let ready: Value =
        app.client.get(format!("{}/readyz", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["cache"], "degraded");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("playpulse_cache_errors_total{op=\"put\"}"), "{metrics}");

    // Redis comes back empty; the recovery loop reconciles and the cache serves again.
    let redis = PrivateRedis::start(Some(redis.port));
    let started = Instant::now();
    while balance_and_source(&app, "ivy").await != (70, "cache".into()) {
        assert!(started.elapsed() < Duration::from_secs(15), "the cache did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Drift written behind playpulse's back is found and repaired by `playpulse reconcile`.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg("pp_cache_test:user:ivy")
        .arg("bal")
        .arg(999)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        balance_and_source(&app, "ivy").await,
        (999, "cache".into()),
        "the cache serves what it holds"
    );
    let mut cli = Command::new(env!("CARGO_BIN_EXE_playpulse"));
    cli.args(["reconcile", "--redis", &redis.url()]).env("PLAYPULSE_CACHE__PREFIX", "pp_cache_test");
    match &app.storage {
        Storage::Sqlite => {
            cli.args(["--data-dir", app.dir.path().to_str().unwrap()]).env_remove("PLAYPULSE_DB")
        }
        Storage::Pg(db) => cli.args(["--db", db.url()]),
    };
    let out = cli.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "checked=1 drifted=1\n");
    assert_eq!(balance_and_source(&app, "ivy").await, (70, "cache".into()));
    app.stop().await;
}

/// A client sends a spend and hangs up once it is committed, while the cache write after the
/// commit waits on a slow Redis whose connection is then lost. The commit stands; the balance
/// read through the cache must be the ledger's, never the one from before the spend.
async fn a_dropped_request_leaves_no_stale_balance(backend: Backend) {
    let redis = PrivateRedis::start(None);
    let url = redis.url();
    let app = TestApp::spawn_with(backend, |c| {
        c.cache.redis.clone_from(&url);
        c.cache.prefix = "pp_drop_test".into();
    })
    .await;
    app.send(&[earn("dee", 100)]).await;
    assert_eq!(balance_and_source(&app, "dee").await, (100, "cache".into()));

    let mut admin = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let admin_cmd = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        args[1..].iter().for_each(|a| {
            cmd.arg(*a);
        });
        cmd
    };
    // Redis holds every write: the cache write after the commit waits.
    let _: () = admin_cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]).query_async(&mut admin).await.unwrap();

    let body = serde_json::to_vec(&json!({"events": [spend("dee", 30)]})).unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: playpulse\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        app.key,
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    let started = Instant::now();
    while app.get("/v1/users/dee/ledger").await.1["entries"].as_array().map(Vec::len) != Some(2) {
        assert!(started.elapsed() < Duration::from_secs(10), "the spend was not committed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(client);
    // Long enough for the server to see the client gone, well inside Redis's 250 ms timeout.
    tokio::time::sleep(Duration::from_millis(60)).await;
    // The connection holding the queued write is lost, and the write with it.
    let _: () = admin_cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let _: () = admin_cmd(&["CLIENT", "UNPAUSE"]).query_async(&mut admin).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Reads trust the cache unless it is degraded: then it must hold the ledger's balance.
    let ledger = app.get("/v1/users/dee/ledger").await.1;
    assert_eq!(ledger["entries"][0]["balance_after"], 70, "{ledger}");
    let ready: Value =
        app.client.get(format!("{}/readyz", app.base)).send().await.unwrap().json().await.unwrap();
    let cached: Option<i64> =
        admin_cmd(&["HGET", "pp_drop_test:user:dee", "bal"]).query_async(&mut admin).await.unwrap();
    assert!(
        ready["cache"] == "degraded" || cached == Some(70),
        "the cache is trusted ({ready}) with a balance of {cached:?} where the ledger says 70"
    );
    assert_eq!(balance_and_source(&app, "dee").await.0, 70, "the balance read is the ledger's");
    // The recovery loop repairs the key and the cache serves again.
    let started = Instant::now();
    while balance_and_source(&app, "dee").await != (70, "cache".into()) {
        assert!(started.elapsed() < Duration::from_secs(15), "the cache did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// Keys under `prefix` in the shared test Redis.
async fn keys_under(prefix: &str) -> usize {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap();
    keys.len()
}

/// Whatever a test app wrote into the shared Redis goes when the app goes (checked by its
/// own prefix: other tests write theirs at the same time).
async fn a_test_app_leaves_no_keys_in_redis(backend: Backend) {
    let prefix = format!("pp_test_{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(backend, |c| {
        c.cache.redis = redis_url();
        c.cache.prefix.clone_from(&prefix);
    })
    .await;
    let earns: Vec<_> = (0..20).map(|u| earn(&format!("kept-{u}"), 5)).collect();
    assert_eq!(app.send(&earns).await.1["accepted"], 20);
    assert_eq!(keys_under(&prefix).await, 20, "the cache holds the users while the app runs");
    app.stop().await;
    assert_eq!(keys_under(&prefix).await, 0, "a dropped test app leaves no key behind");
}
