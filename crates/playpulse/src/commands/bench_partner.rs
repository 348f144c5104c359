//! `playpulse bench partner`: signed partner rewards per second over HTTP, against plain
//! `POST /v1/events` with one event per request, on the same server in the same run.
//!
//! Every request body (and every partner signature) is made before the clock starts, so both
//! phases cost the client the same: sending a prepared body and reading the answer. The two
//! phases alternate over several rounds, so neither always runs on the warmer store.

use std::time::{Duration, Instant};

use anyhow::ensure;
use futures::StreamExt;
use playpulse_core::partner::{PartnerId, RewardCaps, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use playpulse_core::time::{Clock, SystemClock};
use playpulse_store::PartnerRecord;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app;
use crate::commands::bench::{Scratch, ms};
use crate::config::Config;

#[derive(clap::Args)]
pub struct BenchPartnerArgs {
    /// Requests per phase and round, each carrying one event.
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
    /// Distinct users the rewards go to.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Rounds of (events, partner) phases.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Register the partner without caps (default: `partners.default_caps`, as a new
    /// partner gets, whose per-user caps lock and count each rewarded user).
    #[arg(long)]
    pub uncapped: bool,
    /// PostgreSQL server URL (a scratch database is created and dropped); omit to skip.
    #[arg(long, env = "PLAYPULSE_BENCH_PG")]
    pub pg: Option<String>,
    /// Redis URL used as hot cache in the PostgreSQL run; omit for none.
    #[arg(long, env = "PLAYPULSE_BENCH_REDIS")]
    pub redis: Option<String>,
}

/// One prepared request: URL, headers and body.
struct Request {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

pub async fn partner(config: Config, args: BenchPartnerArgs) -> anyhow::Result<()> {
    ensure!(args.requests >= 1 && args.users >= 1 && args.concurrency >= 1 && args.rounds >= 1);
    eprintln!(
        "workload: {} single-event requests per phase, {} rounds, {} users, {} in flight, partner {}",
        args.requests,
        args.rounds,
        args.users,
        args.concurrency,
        if args.uncapped { "uncapped" } else { "with the default caps" }
    );
    let mut rows = vec![run_backend("sqlite", None, None, &config, &args).await?];
    match &args.pg {
        Some(pg) => {
            let label = if args.redis.is_some() { "postgres+redis" } else { "postgres" };
            rows.push(run_backend(label, Some(pg), args.redis.as_deref(), &config, &args).await?);
        }
        None => eprintln!("postgres: skipped (pass --pg postgres://… or set PLAYPULSE_BENCH_PG)"),
    }
    println!(
        "{:<16} {:>14} {:>16} {:>7} {:>12} {:>12}",
        "backend", "events req/s", "partner req/s", "ratio", "events p99", "partner p99"
    );
    for (backend, events, partner) in &rows {
        println!(
            "{backend:<16} {:>14.0} {:>16.0} {:>7.2} {:>9.2} ms {:>9.2} ms",
            events.per_s,
            partner.per_s,
            partner.per_s / events.per_s,
            ms(events.p99),
            ms(partner.p99)
        );
    }
    for (backend, events, partner) in &rows {
        println!(
            "bench=partner backend={backend} events_per_s={:.0} partner_per_s={:.0} ratio={:.3} events_p99_ms={:.3} partner_p99_ms={:.3}",
            events.per_s,
            partner.per_s,
            partner.per_s / events.per_s,
            ms(events.p99),
            ms(partner.p99)
        );
    }
    Ok(())
}

/// Requests per second (the median round) and the p99 latency over all rounds.
struct Rate {
    per_s: f64,
    p99: Duration,
}

async fn run_backend(
    backend: &'static str,
    pg: Option<&str>,
    redis: Option<&str>,
    base: &Config,
    args: &BenchPartnerArgs,
) -> anyhow::Result<(&'static str, Rate, Rate)> {
    let mut scratch = Scratch::new(base, pg, redis).await?;
    scratch.config.partners.rate_limit_per_s = u32::MAX;
    scratch.config.partners.rate_limit_burst = u32::MAX;
    let config = &scratch.config;
    let (state, key) = scratch.app().await?;
    let now = state.clock.now();
    let partner = PartnerId::parse("bench-partner").expect("a valid id");
    let secret = crate::commands::partners::new_secret();
    let caps = if args.uncapped { RewardCaps::default() } else { config.partners.default_caps };
    let record =
        PartnerRecord { id: partner.clone(), name: "bench".into(), active: true, caps, created_at: now };
    state.store.create_partner(record, secret.clone()).await?;
    let running = app::spawn(state.clone(), "127.0.0.1:0", Duration::from_secs(10)).await?;
    let base_url = format!("http://{}", running.addr);
    let client = reqwest::Client::new();

    let (mut events, mut partners) = (Vec::new(), Vec::new());
    let mut n = 0usize;
    for round in 0..args.rounds {
        eprintln!("{backend}: round {}/{}…", round + 1, args.rounds);
        let plain: Vec<Request> = (0..args.requests)
            .map(|_| {
                n += 1;
                event_request(&base_url, &key, n % args.users, now)
            })
            .collect();
        events.push(timed(&client, plain, args.concurrency).await?);
        let signed: Vec<Request> = (0..args.requests)
            .map(|_| {
                n += 1;
                partner_request(&base_url, &partner, &secret, n, n % args.users, SystemClock.now())
            })
            .collect();
        partners.push(timed(&client, signed, args.concurrency).await?);
    }
    running.stop().await?;
    drop(state);
    scratch.remove().await?;
    Ok((backend, rate(events), rate(partners)))
}

fn rate(rounds: Vec<(f64, Vec<Duration>)>) -> Rate {
    let mut per_s: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    per_s.sort_by(f64::total_cmp);
    let mut latencies: Vec<Duration> = rounds.into_iter().flat_map(|r| r.1).collect();
    latencies.sort_unstable();
    Rate { per_s: per_s[per_s.len() / 2], p99: latencies[(latencies.len() - 1) * 99 / 100] }
}

fn event_request(base: &str, key: &str, user: usize, now: jiff::Timestamp) -> Request {
    let event = json!({
        "event_id": Uuid::new_v4().to_string(), "user_id": format!("bench-{user}"),
        "type": "EARN_CYBER_TOKENS", "ts": now.to_string(), "props": {"amount": 1, "source": "partner"},
    });
    Request {
        url: format!("{base}/v1/events"),
        headers: vec![("authorization", format!("Bearer {key}"))],
        body: serde_json::to_vec(&json!({ "events": [event] })).expect("JSON"),
    }
}

fn partner_request(
    base: &str,
    partner: &PartnerId,
    secret: &str,
    n: usize,
    user: usize,
    now: jiff::Timestamp,
) -> Request {
    let reward = json!({
        "type": "reward", "txn_id": format!("t{n}"), "user_id": format!("bench-{user}"),
        "ts": now.to_string(), "amount": 1,
    });
    let body = serde_json::to_vec(&json!({ "events": [reward] })).expect("JSON");
    let ts = now.as_second();
    Request {
        url: format!("{base}/v1/partners/{partner}/events"),
        headers: vec![
            (TIMESTAMP_HEADER, ts.to_string()),
            (SIGNATURE_HEADER, sign(secret.as_bytes(), ts, &body)),
        ],
        body,
    }
}

/// Sends prepared requests, `concurrency` at a time: requests/s and each one's latency.
async fn timed(
    client: &reqwest::Client,
    requests: Vec<Request>,
    concurrency: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let count = requests.len();
    let started = Instant::now();
    let mut answers = futures::stream::iter(requests)
        .map(|r| async move {
            let sent = Instant::now();
            let mut request = client.post(&r.url).header("content-type", "application/json");
            for (name, value) in &r.headers {
                request = request.header(*name, value);
            }
            let response = request.body(r.body).send().await?.error_for_status()?;
            let answer: Value = response.json().await?;
            ensure!(answer["accepted"] == 1, "a request was not accepted: {answer}");
            anyhow::Ok(sent.elapsed())
        })
        .buffer_unordered(concurrency);
    let mut latencies = Vec::with_capacity(count);
    while let Some(latency) = answers.next().await {
        latencies.push(latency?);
    }
    Ok((count as f64 / started.elapsed().as_secs_f64(), latencies))
}
