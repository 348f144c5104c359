//! `playpulse demo`: simulate a population, ingest its history through the ingest path,
//! check the ledger against the simulator, and serve it with a fresh admin key.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use playpulse_core::access::Scope;
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_core::time::SystemClock;
use playpulse_server::AppState;
use playpulse_server::events::ingest_values;
use playpulse_sim::event::SimEvent;
use serde_json::Value;

use crate::app;
use crate::cli::DemoArgs;
use crate::commands::simulate::{progress_bar, run_simulation, sim_config};
use crate::config::Config;

/// Marks a folder as the demo's own, so a re-run may wipe it.
const MARKER: &str = ".playpulse-demo";
/// Ingest lanes run side by side; each carries a fixed share of the users, in time order.
const LANES: usize = 4;

pub async fn run(mut config: Config, args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    fresh_dir(&args.data_dir)?;
    config.store.db.clear();
    config.store.data_dir.clone_from(&args.data_dir);
    config.server.listen.clone_from(&args.listen);
    let sim = sim_config(&config, &args.population)?;
    eprintln!(
        "simulating {} users over {} days from {} (seed {})…",
        sim.users, sim.days, sim.start, sim.seed
    );
    let simulation = run_simulation(&sim)?;

    let state = app::state(&config, app::open_store(&config).await?, None, Arc::new(SystemClock))?;
    eprintln!("ingesting {} events through the ingest path…", simulation.events.len());
    let (accepted, rejected) = ingest(&state, simulation.events).await?;
    ensure!(rejected == 0, "{rejected} simulated events were rejected");
    let expected: HashMap<String, i64> =
        simulation.truth.iter().map(|t| (t.user_id.clone(), t.balance_at_window_end)).collect();
    let checked = check_balances(&state, &expected).await?;
    eprintln!("running the nightly batch (lake export, RFM, segments)…");
    let as_of = sim.start.checked_add(jiff::Span::new().days(i64::from(sim.days) - 1))?;
    let segments =
        crate::commands::batch::batch(state.store.as_ref(), None, &config, as_of, state.clock.now()).await?;

    let key = playpulse_server::auth::create_key(
        state.store.as_ref(),
        "demo admin",
        vec![Scope::Admin],
        state.clock.now(),
    )
    .await?;
    let running =
        app::spawn(state, &config.server.listen, Duration::from_secs(config.cache.recover_every_s)).await?;
    let base = format!("http://{}", running.addr);
    // The biggest spender still playing makes the most telling first call.
    let whale = simulation
        .truth
        .iter()
        .filter(|t| t.signed_up && !t.churned_by_as_of)
        .max_by(|a, b| a.traits.spend.total_cmp(&b.traits.spend))
        .map_or("u000000", |t| t.user_id.as_str());
    println!("playpulse demo is ready ({:.0} s of set-up)", started.elapsed().as_secs_f64());
    println!("  users={} events={accepted} rejected={rejected} balances_checked={checked}", sim.users);
    print!("  {}", crate::commands::batch::render(as_of, &segments).lines().next().unwrap_or_default());
    println!();
    println!("  API:       {base}   (OpenAPI {base}/openapi.json, metrics {base}/metrics)");
    println!("  admin key: {}   (shown once)", key.token);
    println!("  try:");
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/users/{whale}", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' '{base}/v1/users/{whale}/ledger?limit=5'", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/users/{whale}/recommendations", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/quiz", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/games", key.token);
    println!("  data: {} (wiped by the next demo run). Ctrl-C stops.", args.data_dir.display());
    tokio::signal::ctrl_c().await?;
    running.stop().await
}

/// Empties the demo's folder, refusing to touch one that is not the demo's.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let ours = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !ours && !empty {
            bail!("{} exists and is not a demo folder; pass another --data-dir", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "created by `playpulse demo`; the next run wipes this folder\n")?;
    Ok(())
}

/// Sends the history in batches of 1,000, in lanes split by user so that each user's events
/// keep their order; returns (accepted, rejected).
async fn ingest(state: &AppState, events: Vec<SimEvent>) -> anyhow::Result<(u64, u64)> {
    let bar = progress_bar(events.len() as u64, "ingest");
    let mut lanes: Vec<Vec<SimEvent>> = vec![Vec::new(); LANES];
    for event in events {
        lanes[event.user as usize % LANES].push(event);
    }
    let work = lanes.into_iter().map(|lane| {
        let (state, bar) = (state.clone(), bar.clone());
        tokio::spawn(async move {
            let (mut accepted, mut rejected) = (0u64, 0u64);
            for chunk in lane.chunks(MAX_EVENTS_PER_BATCH) {
                let values: Vec<Value> = chunk.iter().map(|e| e.envelope()).collect();
                let answer = ingest_values(&state, values)
                    .await
                    .map_err(|e| anyhow::anyhow!("ingest failed: {}: {}", e.code, e.detail))?;
                accepted += answer.accepted as u64;
                rejected += answer.rejected as u64;
                bar.inc(chunk.len() as u64);
            }
            anyhow::Ok((accepted, rejected))
        })
    });
    let mut totals = (0, 0);
    for lane in futures::future::join_all(work).await {
        let (a, r) = lane??;
        totals = (totals.0 + a, totals.1 + r);
    }
    bar.finish_and_clear();
    Ok(totals)
}

/// Every stored balance must be the simulator's; returns how many users were compared.
async fn check_balances(state: &AppState, expected: &HashMap<String, i64>) -> anyhow::Result<usize> {
    let mut after = None;
    let mut checked = 0;
    loop {
        let page = state.store.user_states(after.as_ref(), 1000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (user, s) in &page {
            let want = expected.get(user.as_str()).copied().unwrap_or(0);
            ensure!(
                s.balance.0 == want,
                "user {user}: ledger balance {} but the simulator says {want}",
                s.balance
            );
            checked += 1;
        }
    }
    Ok(checked)
}
