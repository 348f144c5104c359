//! `playpulse simulate`: a synthetic history (JSONL and Parquet) and its ground truth.

use playpulse_core::time::{BusinessZone, Clock, SystemClock};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use playpulse_lake::EventRow;
use playpulse_sim::event::{SimEvent, user_id};
use playpulse_sim::{SimConfig, Simulation};

use crate::cli::{PopulationArgs, SimulateArgs};
use crate::config::Config;

/// Turns the command-line population into a simulator config.
pub fn sim_config(config: &Config, population: &PopulationArgs) -> anyhow::Result<SimConfig> {
    let start = match population.start {
        Some(start) => start,
        None => {
            let zone = BusinessZone::parse(&config.business.business_tz)?;
            let today = zone.day_of(SystemClock.now());
            today.checked_sub(jiff::Span::new().days(i64::from(population.days)))?
        }
    };
    Ok(SimConfig {
        users: population.users,
        days: population.days,
        seed: population.seed,
        start,
        as_of: None,
        business_tz: config.business.business_tz.clone(),
        inject_overdrafts: false,
    })
}

/// A progress bar on a terminal, nothing otherwise.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{what:>10} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("the template is valid"));
    bar
}

/// Simulates with a progress bar over users.
pub fn run_simulation(sim: &SimConfig) -> anyhow::Result<Simulation> {
    let bar = progress_bar(u64::from(sim.users), "simulate");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let simulation = playpulse_sim::simulate(sim, threads, &|| bar.inc(1))?;
    bar.finish_and_clear();
    Ok(simulation)
}

pub async fn run(config: Config, args: SimulateArgs) -> anyhow::Result<()> {
    let mut sim = sim_config(&config, &args.population)?;
    sim.as_of = args.as_of;
    sim.inject_overdrafts = args.inject_overdrafts;
    let started = Instant::now();
    let simulation = run_simulation(&sim)?;
    let generated_s = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let written = Instant::now();
    let (jsonl, parquet) = std::thread::scope(|scope| {
        let jsonl = scope.spawn(|| write_jsonl(&args.out.join("events.jsonl"), &simulation.events));
        let parquet = write_parquet(&args.out.join("events.parquet"), &simulation.events);
        (jsonl.join().expect("the JSONL writer does not panic"), parquet)
    });
    jsonl?;
    parquet?;
    let mut truth = BufWriter::new(File::create(args.out.join("truth.jsonl"))?);
    for user in &simulation.truth {
        serde_json::to_writer(&mut truth, user)?;
        truth.write_all(b"\n")?;
    }
    truth.flush()?;
    let written_s = written.elapsed().as_secs_f64();
    let n = simulation.events.len() as f64;
    println!(
        "users={} events={} start={} generated_per_s={:.0} written_per_s={:.0} out={}",
        sim.users,
        simulation.events.len(),
        sim.start,
        n / generated_s,
        n / written_s,
        args.out.display()
    );
    Ok(())
}

fn write_jsonl(path: &Path, events: &[SimEvent]) -> anyhow::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for event in events {
        serde_json::to_writer(&mut out, &event.envelope())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn write_parquet(path: &Path, events: &[SimEvent]) -> anyhow::Result<()> {
    let rows: Vec<EventRow> = events
        .iter()
        .map(|e| {
            let envelope = e.envelope();
            EventRow {
                event_id: Some(e.id.to_string()),
                user_id: Some(user_id(e.user)),
                event_type: envelope["type"].as_str().map(str::to_owned),
                ts: Some(e.ts.to_string()),
                props: Some(envelope["props"].to_string()),
            }
        })
        .collect();
    playpulse_lake::write_events(path, &rows)?;
    Ok(())
}
