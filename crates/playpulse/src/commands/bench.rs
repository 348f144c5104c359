//! `playpulse bench ingest`: events/s through HTTP batches, single-event latency, and the raw
//! insert ceiling of the same store, per backend, in one run.
//!
//! Each backend gets a scratch store (a temp SQLite file; a PostgreSQL database created and
//! dropped on the given server). The server runs in this process on a loopback socket and the
//! load comes over real HTTP, so client, server and database share the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use playpulse_core::access::Scope;
use playpulse_core::event::Event;
use playpulse_core::time::{Clock, SystemClock};
use playpulse_server::AppState;
use playpulse_store::postgres::ScratchDatabase;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app;
use crate::cli::BenchIngestArgs;
use crate::config::Config;

/// Seed of the generated workload, so runs compare like with like.
const WORKLOAD_SEED: u64 = 42;

/// What one backend measured.
struct Figures {
    backend: &'static str,
    events_per_s: f64,
    raw_events_per_s: f64,
    p50: Duration,
    p99: Duration,
}

pub async fn ingest(config: Config, args: BenchIngestArgs) -> anyhow::Result<()> {
    ensure!(
        args.batch >= 1 && args.batch <= playpulse_core::ingest::MAX_EVENTS_PER_BATCH,
        "--batch must be 1..=1000"
    );
    ensure!(args.users >= 1 && args.events >= args.users, "--events must be at least --users");
    let workload = workload(&args);
    eprintln!(
        "workload: {} events over {} users, batches of {}, {} in flight",
        args.events, args.users, args.batch, args.concurrency
    );
    let mut results = vec![run_backend("sqlite", None, None, &config, &args, &workload).await?];
    match &args.pg {
        Some(pg) => {
            let label = if args.redis.is_some() { "postgres+redis" } else { "postgres" };
            results
                .push(run_backend(label, Some(pg), args.redis.as_deref(), &config, &args, &workload).await?);
        }
        None => eprintln!("postgres: skipped (pass --pg postgres://… or set PLAYPULSE_BENCH_PG)"),
    }
    println!(
        "{:<16} {:>14} {:>16} {:>8} {:>12} {:>12}",
        "backend", "http events/s", "raw insert ev/s", "ratio", "single p50", "single p99"
    );
    for f in &results {
        println!(
            "{:<16} {:>14.0} {:>16.0} {:>7.0}% {:>9.2} ms {:>9.2} ms",
            f.backend,
            f.events_per_s,
            f.raw_events_per_s,
            100.0 * f.events_per_s / f.raw_events_per_s,
            ms(f.p50),
            ms(f.p99)
        );
    }
    for f in &results {
        println!(
            "bench=ingest backend={} events_per_s={:.0} raw_events_per_s={:.0} p50_ms={:.3} p99_ms={:.3}",
            f.backend,
            f.events_per_s,
            f.raw_events_per_s,
            ms(f.p50),
            ms(f.p99)
        );
    }
    Ok(())
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Every user first earns a stake, then plays, earns and spends in a random mix; events of
/// different users interleave across batches as they would from a busy game server.
fn workload(args: &BenchIngestArgs) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(WORKLOAD_SEED);
    let now = SystemClock.now();
    let mut events = Vec::with_capacity(args.events);
    for u in 0..args.users {
        events.push(envelope(
            &mut rng,
            now,
            u,
            "EARN_CYBER_TOKENS",
            json!({"amount": 100_000, "source": "partner"}),
        ));
    }
    while events.len() < args.events {
        let u = rng.random_range(0..args.users);
        let (kind, props) = match rng.random_range(0..10) {
            0..=2 => ("SPEND_CYBER_TOKENS", json!({"amount": rng.random_range(1..50), "sink": "game"})),
            3..=4 => ("EARN_CYBER_TOKENS", json!({"amount": rng.random_range(1..50), "source": "app"})),
            5..=7 => (
                "GAME_PLAY",
                json!({"game": "slot", "bet": 10, "payout": rng.random_range(0..20), "result": "lose"}),
            ),
            8 => ("PARTNER_VISIT", json!({"dwell_s": rng.random_range(5..600), "actions": 2})),
            _ => ("SESSION_START", json!({})),
        };
        events.push(envelope(&mut rng, now, u, kind, props));
    }
    events
}

fn envelope(rng: &mut StdRng, now: Timestamp, user: usize, kind: &str, props: Value) -> Value {
    let ts = now - SignedDuration::from_secs(rng.random_range(0..30 * 86_400));
    json!({
        "event_id": Uuid::from_u128(rng.random()).to_string(),
        "user_id": format!("bench-{user}"),
        "type": kind,
        "ts": ts.to_string(),
        "props": props,
    })
}

/// A scratch store: a temp dir for SQLite, or a database created on `pg`, and a Redis key
/// prefix of its own. Everything it made is removed when it is dropped, also when the run
/// failed: a benchmark leaves nothing behind in a shared PostgreSQL or Redis.
pub(crate) struct Scratch {
    pub(crate) config: Config,
    _dir: tempfile::TempDir,
    pg: Option<ScratchDatabase>,
}

impl Scratch {
    pub(crate) async fn new(base: &Config, pg: Option<&str>, redis: Option<&str>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = base.clone();
        config.store.data_dir = dir.path().to_path_buf();
        config.store.db.clear();
        config.cache.redis = redis.unwrap_or_default().to_owned();
        config.cache.prefix = format!("bench_{}", Uuid::new_v4().simple());
        config.server.rate_limit_per_s = u32::MAX;
        config.server.rate_limit_burst = u32::MAX;
        let mut scratch = Self { config, _dir: dir, pg: None };
        if let Some(admin) = pg {
            let db = ScratchDatabase::create(admin, "playpulse_bench")
                .await
                .with_context(|| format!("cannot create a scratch database on {admin}"))?;
            scratch.config.store.db.clone_from(&db.url);
            scratch.pg = Some(db);
        }
        Ok(scratch)
    }

    /// The app over this store and cache, on the system clock, and an admin key for it.
    pub(crate) async fn app(&self) -> anyhow::Result<(AppState, String)> {
        let config = &self.config;
        let state = app::state(
            config,
            app::open_store(config).await?,
            app::open_cache(config).await?,
            Arc::new(SystemClock),
        )?;
        let key = playpulse_server::auth::create_key(
            state.store.as_ref(),
            "bench",
            vec![Scope::Admin],
            state.clock.now(),
        )
        .await?
        .token;
        Ok((state, key))
    }

    /// Removes the scratch database and cache keys now, reporting a failure to do so.
    pub(crate) async fn remove(mut self) -> anyhow::Result<()> {
        let pg = self.pg.take();
        let (redis, prefix) =
            (std::mem::take(&mut self.config.cache.redis), self.config.cache.prefix.clone());
        remove_scratch(pg, &redis, &prefix).await
    }
}

async fn remove_scratch(pg: Option<ScratchDatabase>, redis: &str, prefix: &str) -> anyhow::Result<()> {
    if !redis.is_empty() {
        playpulse_cache::remove_prefix(redis, prefix)
            .await
            .with_context(|| format!("cannot remove the bench keys `{prefix}:*` from Redis"))?;
    }
    if let Some(db) = pg {
        db.drop_now().await.with_context(|| format!("cannot drop the scratch database {}", db.name))?;
    }
    Ok(())
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (pg, redis) = (self.pg.take(), std::mem::take(&mut self.config.cache.redis));
        if pg.is_none() && redis.is_empty() {
            return;
        }
        // Reached on an error path (the normal path calls `remove`): drop cannot await, so a
        // short-lived runtime on its own thread does the cleanup.
        let prefix = self.config.cache.prefix.clone();
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(remove_scratch(pg, &redis, &prefix))
        })
        .join();
        if let Ok(Err(err)) = cleaned {
            eprintln!("warning: {err:#}");
        }
    }
}

async fn run_backend(
    backend: &'static str,
    pg: Option<&str>,
    redis: Option<&str>,
    base: &Config,
    args: &BenchIngestArgs,
    workload: &[Value],
) -> anyhow::Result<Figures> {
    eprintln!("{backend}: full ingest path over HTTP…");
    let scratch = Scratch::new(base, pg, redis).await?;
    let (state, key) = scratch.app().await?;
    let running = app::spawn(state.clone(), "127.0.0.1:0", Duration::from_secs(10)).await?;
    let url = format!("http://{}/v1/events", running.addr);
    let client = reqwest::Client::new();

    // Two phases, each sent `concurrency` batches at a time: every user's first earn, then
    // the mix (whose spends need those earns committed).
    let (seeds, mix) = workload.split_at(args.users);
    let started = Instant::now();
    let mut accepted = 0;
    for phase in [seeds, mix] {
        let bodies = phase.chunks(args.batch).map(|chunk| serde_json::to_vec(&json!({ "events": chunk })));
        let mut answers = futures::stream::iter(bodies)
            .map(|body| {
                let (client, url, key) = (&client, &url, &key);
                async move { post(client, url, key, body?).await }
            })
            .buffer_unordered(args.concurrency);
        while let Some(answer) = answers.next().await {
            accepted += answer?;
        }
    }
    let elapsed = started.elapsed();
    ensure!(
        accepted == workload.len(),
        "{backend}: only {accepted} of {} events were accepted",
        workload.len()
    );
    let events_per_s = workload.len() as f64 / elapsed.as_secs_f64();

    eprintln!("{backend}: {} single-event requests…", args.single);
    let mut rng = StdRng::seed_from_u64(WORKLOAD_SEED + 1);
    let now = SystemClock.now();
    let mut latencies = Vec::with_capacity(args.single);
    for _ in 0..args.single {
        let user = rng.random_range(0..args.users);
        let event = envelope(&mut rng, now, user, "EARN_CYBER_TOKENS", json!({"amount": 1, "source": "app"}));
        let body = serde_json::to_vec(&json!({ "events": [event] }))?;
        let sent = Instant::now();
        ensure!(post(&client, &url, &key, body).await? == 1, "{backend}: a single event was not accepted");
        latencies.push(sent.elapsed());
    }
    latencies.sort_unstable();
    let percentile = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    let (p50, p99) = (percentile(50), percentile(99));
    running.stop().await?;
    drop(state);
    scratch.remove().await?;

    eprintln!("{backend}: raw insert of the same rows…");
    let raw_events_per_s = raw_ceiling(base, pg, args, workload).await?;
    Ok(Figures { backend, events_per_s, raw_events_per_s, p50, p99 })
}

async fn post(client: &reqwest::Client, url: &str, key: &str, body: Vec<u8>) -> anyhow::Result<usize> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    let answer: Value = response.json().await?;
    Ok(answer["accepted"].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
}

/// The same rows inserted plainly into the events table of a fresh store: no HTTP, no
/// validation, no ledger, no user state.
async fn raw_ceiling(
    base: &Config,
    pg: Option<&str>,
    args: &BenchIngestArgs,
    workload: &[Value],
) -> anyhow::Result<f64> {
    let scratch = Scratch::new(base, pg, None).await?;
    let store = app::open_bench_store(&scratch.config).await?;
    let policy = scratch.config.validation();
    let now = SystemClock.now();
    let batches: Vec<Vec<Event>> = workload
        .chunks(args.batch)
        .map(|chunk| chunk.iter().map(|raw| Event::parse(raw, &policy, now)).collect::<Result<_, _>>())
        .collect::<Result<_, _>>()
        .map_err(|r| anyhow::anyhow!("workload event invalid: {}", r.message))?;
    let started = Instant::now();
    let mut inserts = futures::stream::iter(batches)
        .map(|batch| {
            let store = &store;
            async move { store.bench_raw_insert(batch, now).await }
        })
        .buffer_unordered(args.concurrency);
    while let Some(done) = inserts.next().await {
        done?;
    }
    drop(inserts);
    let elapsed = started.elapsed();
    ensure!(store.event_count().await? == workload.len() as u64, "raw insert lost rows");
    drop(store);
    scratch.remove().await?;
    Ok(workload.len() as f64 / elapsed.as_secs_f64())
}
