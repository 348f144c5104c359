//! `playpulse demo`: simulate a population, ingest its history through the ingest paths,
//! check the ledger against the simulator, and serve it with a fresh admin key.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use playpulse_core::access::Scope;
use playpulse_core::operators::Role;
use playpulse_core::partner::{PartnerId, RewardCaps};
use playpulse_core::time::SystemClock;
use playpulse_server::AppState;
use playpulse_store::PartnerRecord;

use crate::app;
use crate::cli::DemoArgs;
use crate::commands::operators::{create as create_operator, generate_password};
use crate::commands::replay::{PartnerKey, age_verified, import_catalog, replay};
use crate::commands::simulate::{run_simulation, sim_config};
use crate::config::Config;
use crate::schedule::{Night, run_night};

/// Marks a folder as the demo's own, so a re-run may wipe it.
const MARKER: &str = ".playpulse-demo";

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

    // The history arrives in a minute, so no rate limit may slow it: the arrival clock would
    // see two months of partner rewards in one day.
    config.partners.rate_limit_per_s = u32::MAX;
    config.partners.rate_limit_burst = u32::MAX;
    // A configured Redis starts afresh too: its keys under the prefix belong to the wiped store.
    if !config.cache.redis.is_empty() {
        playpulse_cache::remove_prefix(&config.cache.redis, &config.cache.prefix).await?;
    }
    let cache = app::open_cache(&config).await?;
    let state = app::state(&config, app::open_store(&config).await?, cache.clone(), Arc::new(SystemClock))?;
    let partner = register_partner(&state).await?;
    let catalog = import_catalog(&state).await?;
    eprintln!(
        "ingesting {} events through the ingest paths (partner A signs its own)…",
        simulation.events.len()
    );
    let verified = age_verified(&simulation.truth);
    let replayed = replay(&state, &partner, &verified, simulation.events).await?;
    let (accepted, rejected) = (replayed.accepted, replayed.rejected);
    ensure!(rejected == 0, "{rejected} simulated events were rejected");
    let expected: HashMap<String, i64> =
        simulation.truth.iter().map(|t| (t.user_id.clone(), t.balance_at_window_end)).collect();
    let checked = check_balances(&state, &expected).await?;
    eprintln!("running the nightly batch (lake export, RFM, segments)…");
    let as_of = sim.start.checked_add(jiff::Span::new().days(i64::from(sim.days) - 1))?;
    // Run as the schedule runs it, so the night is recorded among the jobs like any other.
    let night = run_night(state.store.as_ref(), cache.as_deref(), &config, state.clock.as_ref(), as_of);
    let segments = match night.await? {
        Night::Ran(report) => report,
        Night::Failed(err) => return Err(err),
        Night::Taken => bail!("the demo's fresh store already had its night"),
    };

    let key = playpulse_server::auth::create_key(
        state.store.as_ref(),
        "demo admin",
        vec![Scope::Admin],
        state.clock.now(),
    )
    .await?;
    let password = generate_password();
    create_operator(state.store.as_ref(), "admin", Role::Admin, &password, state.clock.now()).await?;
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
    println!(
        "  users={} events={accepted} partner_events={} unlocks={} rejected={rejected} balances_checked={checked} content_items={catalog}",
        sim.users, replayed.partner_events, replayed.unlocks
    );
    print!("  {}", crate::commands::batch::render(as_of, &segments).lines().next().unwrap_or_default());
    println!();
    println!("  API:       {base}   (OpenAPI {base}/openapi.json, metrics {base}/metrics)");
    println!("  admin key: {}   (shown once)", key.token);
    println!("  dashboard: {base}/dashboard   (operator admin, password {password}, shown once)");
    println!("  try:");
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/users/{whale}", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' '{base}/v1/users/{whale}/ledger?limit=5'", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/users/{whale}/recommendations", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/quiz", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/games", key.token);
    println!("    curl -s -H 'Authorization: Bearer {}' {base}/v1/users/{whale}/content", key.token);
    println!(
        "    curl -s -H 'Authorization: Bearer {}' '{base}/v1/partners/{}/summary?from={}&to={as_of}'",
        key.token, partner.id, sim.start
    );
    println!("  data: {} (wiped by the next demo run). Ctrl-C stops.", args.data_dir.display());
    tokio::signal::ctrl_c().await?;
    running.stop().await
}

/// Registers partner A, uncapped: the replay delivers two months of its rewards in one
/// business day of the server's clock, which the default per-user daily cap would refuse.
async fn register_partner(state: &AppState) -> anyhow::Result<PartnerKey> {
    let id = PartnerId::parse("partner-a").expect("a valid id");
    let secret = crate::commands::partners::new_secret();
    let record = PartnerRecord {
        id: id.clone(),
        name: "A".into(),
        active: true,
        caps: RewardCaps::default(),
        created_at: state.clock.now(),
    };
    ensure!(state.store.create_partner(record, secret.clone()).await?, "partner-a exists already");
    Ok(PartnerKey { id, secret })
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
