//! `playpulse bench soak`: a mixed load (ingest batches, balance reads, recommendations) held
//! at a share of the capacity measured just before, for minutes, with the nightly batch run
//! in the middle and the lake export every minute (on the background runtime, as `serve`
//! runs them). The store is filled first with a history of its own, so that the capacity is
//! that of a store whose indexes no longer fit in memory, which is what the load then meets
//! as the store grows. Every window prints the requests served, errors, latency and the
//! process's memory and open files, so a leak, a slowdown or a failure under the night shows;
//! at the end the capacity is measured again, on the store the load has grown.
//!
//! Requests are sent on a fixed schedule (open loop) and each latency is counted from the
//! instant the request was due, so a stall shows in p99 rather than hiding behind a slower
//! client. Server and load share this process (as in `bench ingest`): the memory and files
//! sampled are both's, the client's being bounded by the requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use playpulse_core::time::{Clock, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use uuid::Uuid;

use crate::app;
use crate::cli::BenchSoakArgs;
use crate::commands::bench::{Scratch, ms};
use crate::config::Config;
use crate::schedule::{Night, export_continuously, export_lake, run_night};

/// Requests in flight at most; past it the schedule waits (and latency shows it).
const MAX_IN_FLIGHT: u32 = 256;
/// Events per request while the store is filled before the load.
const SEED_BATCH: usize = 500;
/// Connections the capacity run keeps busy.
const CAPACITY_CONCURRENCY: usize = 32;

pub async fn soak(config: Config, args: BenchSoakArgs) -> anyhow::Result<()> {
    ensure!(args.share > 0.0 && args.share <= 1.0, "--share must be in (0, 1]");
    ensure!(args.users >= 1 && args.batch >= 1, "--users and --batch must be at least 1");
    if !args.skip_sqlite {
        run_backend("sqlite", None, None, &config, &args).await?;
    }
    match &args.pg {
        Some(pg) => {
            let label = if args.redis.is_some() { "postgres+redis" } else { "postgres" };
            run_backend(label, Some(pg), args.redis.as_deref(), &config, &args).await?;
        }
        None => eprintln!("postgres: skipped (pass --pg postgres://… or set PLAYPULSE_BENCH_PG)"),
    }
    Ok(())
}

/// One request of the mix.
enum Call {
    Ingest(Vec<u8>),
    Balance(usize),
    Recommendations(usize),
}

/// The mix: a tenth ingest batches, the rest reads of a random user's balance or proposals.
struct Mix {
    rng: StdRng,
    users: usize,
    batch: usize,
}

impl Mix {
    fn next(&mut self) -> Call {
        let user = self.rng.random_range(0..self.users);
        match self.rng.random_range(0..20) {
            0..=1 => {
                let events: Vec<Value> = (0..self.batch).map(|_| self.event()).collect();
                Call::Ingest(serde_json::to_vec(&json!({ "events": events })).expect("json"))
            }
            2..=10 => Call::Balance(user),
            _ => Call::Recommendations(user),
        }
    }

    fn event(&mut self) -> Value {
        let user = self.rng.random_range(0..self.users);
        let (kind, props) = match self.rng.random_range(0..4) {
            0 => ("SPEND_CYBER_TOKENS", json!({"amount": self.rng.random_range(1..20), "sink": "game"})),
            1 => ("EARN_CYBER_TOKENS", json!({"amount": self.rng.random_range(1..20), "source": "app"})),
            _ => (
                "GAME_PLAY",
                json!({"game": "slot", "bet": 10, "payout": self.rng.random_range(0..20), "result": "lose"}),
            ),
        };
        json!({"event_id": Uuid::from_u128(self.rng.random()).to_string(), "user_id": format!("soak-{user}"),
            "type": kind, "ts": SystemClock.now().to_string(), "props": props})
    }
}

/// Where the load goes.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Target {
    /// Sends one call; whether it succeeded (a 2xx whose body was read whole).
    async fn send(&self, call: Call) -> bool {
        let request = match call {
            Call::Ingest(body) => self
                .client
                .post(format!("{}/v1/events", self.base))
                .header("content-type", "application/json")
                .body(body),
            Call::Balance(u) => self.client.get(format!("{}/v1/users/soak-{u}/balance", self.base)),
            Call::Recommendations(u) => {
                self.client.get(format!("{}/v1/users/soak-{u}/recommendations", self.base))
            }
        };
        match request.bearer_auth(&self.key).send().await {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// What one window saw: latencies of reads (balance, recommendations) and of ingest
/// batches apart, since a batch waits for a group commit and a read does not.
#[derive(Default)]
struct Window {
    reads_us: Vec<u64>,
    ingest_us: Vec<u64>,
    errors: u64,
}

impl Window {
    fn all(&self) -> Vec<u64> {
        [self.reads_us.as_slice(), self.ingest_us.as_slice()].concat()
    }

    fn served(&self) -> u64 {
        (self.reads_us.len() + self.ingest_us.len()) as u64
    }
}

async fn run_backend(
    backend: &'static str,
    pg: Option<&str>,
    redis: Option<&str>,
    base: &Config,
    args: &BenchSoakArgs,
) -> anyhow::Result<()> {
    let scratch = Scratch::new(base, pg, redis).await?;
    let (state, key) = scratch.app().await?;
    let clock = state.clock.clone();
    let running = app::spawn(state.clone(), "127.0.0.1:0", Duration::from_secs(10)).await?;
    // The lake is kept up to date as `serve` keeps it, so the night finds minutes to export.
    let exporter = crate::background::spawn(export_continuously(state.store.clone(), scratch.config.clone()));
    let target = Target { client: reqwest::Client::new(), base: format!("http://{}", running.addr), key };

    let mut mix = Mix { rng: StdRng::seed_from_u64(7), users: args.users, batch: args.batch };
    eprintln!("{backend}: seeding {} users, then {} events…", args.users, args.prefill);
    let seeded = Instant::now();
    let seeds = (0..args.users).step_by(SEED_BATCH).map(|first| {
        let events: Vec<Value> = (first..args.users.min(first + SEED_BATCH))
            .map(|u| {
                json!({"event_id": Uuid::new_v4().to_string(), "user_id": format!("soak-{u}"),
                "type": "EARN_CYBER_TOKENS", "ts": SystemClock.now().to_string(),
                "props": {"amount": 100_000, "source": "app"}})
            })
            .collect();
        serde_json::to_vec(&json!({ "events": events })).expect("json")
    });
    let history = (0..args.prefill.div_ceil(SEED_BATCH)).map(|_| {
        let events: Vec<Value> = (0..SEED_BATCH).map(|_| mix.event()).collect();
        serde_json::to_vec(&json!({ "events": events })).expect("json")
    });
    // Every user's tokens first, so that the history's spends find a balance.
    fill(&target, seeds).await.with_context(|| format!("{backend}: seeding"))?;
    fill(&target, history).await.with_context(|| format!("{backend}: filling the store"))?;
    // The history goes into the lake now: copied by the exporter inside the capacity window,
    // it would lower the capacity measured in some runs and not in others.
    export_lake(state.store.as_ref(), &scratch.config)
        .await
        .with_context(|| format!("{backend}: exporting"))?;
    eprintln!("{backend}: seeded and exported in {:.0} s", seeded.elapsed().as_secs_f64());

    let capacity = measure_capacity(&target, &mut mix, Duration::from_secs(args.capacity_s)).await;
    let rate = capacity * args.share;
    eprintln!("{backend}: capacity {capacity:.0} req/s; soaking at {rate:.0} req/s for {} min", args.minutes);
    println!("{backend}: capacity {capacity:.0} req/s, load {rate:.0} req/s ({:.0}%)", args.share * 100.0);
    println!(
        "{:>6} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}  note",
        "t_s", "req/s", "errors", "p50_ms", "p99_ms", "p99_read", "p99_ingst", "rss_mib", "anon_mib", "fds"
    );

    let window = Arc::new(Mutex::new(Window::default()));
    let gate = Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize));
    let late = Arc::new(AtomicU64::new(0));
    let length = Duration::from_secs_f64(args.minutes * 60.0);
    let started = Instant::now();
    let night = {
        let (state, config, clock) = (state.clone(), scratch.config.clone(), clock.clone());
        crate::background::spawn(async move {
            tokio::time::sleep(length / 2).await;
            let at = Instant::now();
            let day =
                playpulse_core::time::BusinessZone::parse(&config.business.business_tz)?.day_of(clock.now());
            let ran =
                run_night(state.store.as_ref(), state.cache.as_deref(), &config, clock.as_ref(), day).await?;
            anyhow::ensure!(matches!(ran, Night::Ran(_)), "the night did not run");
            Ok::<_, anyhow::Error>((at.duration_since(started), at.elapsed()))
        })
    };
    let (mut windows, mut total, mut errors) = (Vec::new(), 0u64, 0u64);
    let mut next_window = started + Duration::from_secs(args.window_s);
    let mut k: u64 = 0;
    while started.elapsed() < length {
        let due = started + Duration::from_secs_f64(k as f64 / rate);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() >= next_window {
            let w = std::mem::take(&mut *window.lock().await);
            let row = report(started, &w, args.window_s, "");
            println!("{row}");
            total += w.served();
            errors += w.errors;
            windows.push(w);
            next_window += Duration::from_secs(args.window_s);
        }
        let permit = gate.clone().acquire_owned().await.expect("the gate stays open");
        if Instant::now() > due + Duration::from_millis(100) {
            late.fetch_add(1, Ordering::Relaxed);
        }
        let (target, window, call) = (target.clone(), window.clone(), mix.next());
        tokio::spawn(async move {
            let ingest = matches!(call, Call::Ingest(_));
            let ok = target.send(call).await;
            let waited = u64::try_from(Instant::now().saturating_duration_since(due).as_micros());
            let mut w = window.lock().await;
            if ok {
                let kind = if ingest { &mut w.ingest_us } else { &mut w.reads_us };
                kind.push(waited.unwrap_or(u64::MAX));
            } else {
                w.errors += 1;
            }
            drop(permit);
        });
        k += 1;
    }
    let _ = gate.acquire_many(MAX_IN_FLIGHT).await;
    let last = std::mem::take(&mut *window.lock().await);
    total += last.served();
    errors += last.errors;
    println!("{}", report(started, &last, args.window_s, "(last, partial)"));
    let (night_at, night_took) = night.await??;
    let soaked = started.elapsed();
    // Measured again on the store the load has grown: what the same mix sustains now.
    let capacity_end = measure_capacity(&target, &mut mix, Duration::from_secs(args.capacity_s)).await;
    let p99s: Vec<f64> = windows.iter().map(|w| percentile(&w.all(), 99)).collect();
    let worst =
        |of: fn(&Window) -> &Vec<u64>| windows.iter().map(|w| percentile(of(w), 99)).fold(0.0, f64::max);
    let Process { rss_mib: rss_end, anon_mib: anon_end, fds: fds_end } = Process::now();
    println!(
        "bench=soak backend={backend} minutes={} capacity_rps={capacity:.0} target_rps={rate:.0} achieved_rps={:.0} \
         capacity_end_rps={capacity_end:.0} requests={total} errors={errors} late={} p99_ms_first={:.2} p99_ms_max={:.2} p99_ms_last={:.2} \
         p99_read_ms_max={:.2} p99_ingest_ms_max={:.2} rss_mib_end={rss_end:.0} anon_mib_end={anon_end:.0} fds_end={fds_end} night_at_s={:.0} night_s={:.1}",
        args.minutes,
        total as f64 / soaked.as_secs_f64(),
        late.load(Ordering::Relaxed),
        p99s.first().copied().unwrap_or_default(),
        p99s.iter().copied().fold(0.0, f64::max),
        p99s.last().copied().unwrap_or_default(),
        worst(|w| &w.reads_us),
        worst(|w| &w.ingest_us),
        night_at.as_secs_f64(),
        night_took.as_secs_f64(),
    );
    exporter.abort();
    running.stop().await?;
    drop(state);
    scratch.remove().await
}

/// Sends ingest bodies, four at a time, each of which must succeed.
async fn fill(target: &Target, bodies: impl Iterator<Item = Vec<u8>>) -> anyhow::Result<()> {
    let mut sent =
        futures::stream::iter(bodies).map(|body| target.send(Call::Ingest(body))).buffer_unordered(4);
    while let Some(ok) = sent.next().await {
        ensure!(ok, "an ingest request failed");
    }
    Ok(())
}

/// Requests per second of the mix with [`CAPACITY_CONCURRENCY`] always in flight.
async fn measure_capacity(target: &Target, mix: &mut Mix, length: Duration) -> f64 {
    let started = Instant::now();
    let calls = std::iter::from_fn(|| (started.elapsed() < length).then(|| mix.next()));
    let served = futures::stream::iter(calls)
        .map(|call| target.send(call))
        .buffer_unordered(CAPACITY_CONCURRENCY)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    served as f64 / started.elapsed().as_secs_f64()
}

fn report(started: Instant, w: &Window, window_s: u64, note: &str) -> String {
    let Process { rss_mib, anon_mib, fds } = Process::now();
    let all = w.all();
    format!(
        "{:>6.0} {:>9.0} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.0} {:>9.0} {:>5}  {note}",
        started.elapsed().as_secs_f64(),
        w.served() as f64 / window_s as f64,
        w.errors,
        percentile(&all, 50),
        percentile(&all, 99),
        percentile(&w.reads_us, 99),
        percentile(&w.ingest_us, 99),
        rss_mib,
        anon_mib,
        fds
    )
}

/// The `p`th percentile, in milliseconds.
fn percentile(latencies_us: &[u64], p: usize) -> f64 {
    let mut sorted = latencies_us.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len().saturating_sub(1) * p / 100).map_or(0.0, |us| ms(Duration::from_micros(*us)))
}

/// This process's memory and open files, from Linux's `/proc`.
struct Process {
    /// Resident memory, including pages of files it maps (SQLite maps its database).
    rss_mib: f64,
    /// Resident memory of its own (heap and stacks): where a leak would show.
    anon_mib: f64,
    fds: usize,
}

impl Process {
    fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let mib = |field: &str| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0)
        };
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
        Self { rss_mib: mib("VmRSS:"), anon_mib: mib("RssAnon:"), fds }
    }
}
