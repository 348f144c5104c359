//! The playpulse population simulator: synthetic event histories whose truth is known.
//!
//! Each user has latent traits ([`traits`]) from documented distributions and lives day by
//! day ([`world`]): sessions around preferred hours, mini-games with true odds ([`games`]),
//! top-ups, partner visits, staged unlocks, and a churn hazard that grows with bad
//! experiences. Every token spent was earned or bought first, so the whole history imports
//! without a rejection (unless overdrafts are injected on purpose). The simulation runs 90
//! hidden days past the written window, so the ground truth ([`truth`]) knows each user's
//! future activity and spend.
//!
//! Deterministic: a seed gives the same bytes on any machine. Each user draws from their own
//! ChaCha stream, and every transcendental function comes from the pure-Rust `libm`.
//! No I/O here: the binary writes the files.

// The simulator turns sampled reals into counts and amounts on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]

pub mod content;
pub mod event;
pub mod games;
pub mod response;
mod sample;
#[cfg(test)]
mod stats_tests;
pub mod traits;
pub mod truth;
pub mod world;

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::event::{SimEvent, user_id};
use crate::truth::{Day, SPEND_HORIZONS_DAYS, UserTruth};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub users: u32,
    /// Business days written, from `start`.
    pub days: u32,
    pub seed: u64,
    /// First business day.
    pub start: Date,
    /// The as-of day of the ground truth; default the window's last day.
    pub as_of: Option<Date>,
    /// IANA zone of business days.
    pub business_tz: String,
    /// Send one overdraft per hundred users, which the ledger must reject.
    pub inject_overdrafts: bool,
}

/// The written window, time-ordered, and the truth per user.
pub struct Simulation {
    pub events: Vec<SimEvent>,
    pub truth: Vec<UserTruth>,
}

/// Errors in the request itself.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidConfig(pub String);

impl std::fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidConfig {}

/// Runs the simulation on `threads` threads; `progress` is told of every finished user.
pub fn simulate(
    cfg: &SimConfig,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Simulation, InvalidConfig> {
    if cfg.users == 0 || cfg.days == 0 {
        return Err(InvalidConfig("--users and --days must be at least 1".into()));
    }
    let business =
        TimeZone::get(&cfg.business_tz).map_err(|e| InvalidConfig(format!("business zone: {e}")))?;
    let window_end =
        cfg.start.checked_add(i64::from(cfg.days).days()).map_err(|e| InvalidConfig(e.to_string()))?;
    let as_of = cfg.as_of.unwrap_or(window_end.yesterday().map_err(|e| InvalidConfig(e.to_string()))?);
    if as_of < cfg.start || as_of >= window_end {
        return Err(InvalidConfig(format!(
            "--as-of must fall inside the window {} .. {}",
            cfg.start, window_end
        )));
    }
    let as_of_offset = day_offset(cfg.start, as_of);
    // Lived days: the window, and enough beyond the as-of day for every truth horizon.
    let lived = cfg.days.max(as_of_offset + SPEND_HORIZONS_DAYS[1] + 1) + 1;

    let threads = threads.clamp(1, 64);
    let chunk = cfg.users.div_ceil(threads as u32);
    let parts: Vec<(Vec<SimEvent>, Vec<UserTruth>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u32)
            .map(|t| {
                let (business, cfg) = (&business, cfg);
                scope.spawn(move || {
                    let users = t * chunk..((t + 1) * chunk).min(cfg.users);
                    let mut events = Vec::new();
                    let mut truth = Vec::new();
                    for index in users {
                        let (window, user_truth) = user(cfg, business, index, lived, as_of_offset, as_of);
                        events.extend(window);
                        truth.push(user_truth);
                        progress();
                    }
                    (events, truth)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("simulation threads do not panic")).collect()
    });
    let (mut events, mut truth) = (Vec::new(), Vec::new());
    for (e, t) in parts {
        events.extend(e);
        truth.extend(t);
    }
    // Users' own events are already in time order; a stable sort keeps it on equal instants.
    events.sort_by_key(|e| (e.ts, e.user));
    Ok(Simulation { events, truth })
}

fn day_offset(start: Date, day: Date) -> u32 {
    let days = start.until(day).expect("dates in range").get_days();
    u32::try_from(days).unwrap_or(0)
}

/// Simulates one user; returns the events of the written window and the user's truth.
fn user(
    cfg: &SimConfig,
    business: &TimeZone,
    index: u32,
    lived: u32,
    as_of_offset: u32,
    as_of: Date,
) -> (Vec<SimEvent>, UserTruth) {
    let run = world::live(cfg, index, lived);
    let mut days = vec![Day::default(); lived as usize + 2];
    let mut balance = 0;
    let mut window = Vec::new();
    for event in &run.events {
        let offset = day_offset(cfg.start, event.ts.to_zoned(business.clone()).date()) as usize;
        let injected = run.overdrafts.contains(&event.id);
        if let Some(day) = days.get_mut(offset) {
            day.active = true;
            if !injected {
                match &event.kind {
                    event::Kind::Spend { amount, .. } => day.spend += amount,
                    event::Kind::Purchase { cash_krw, .. } => day.cash += cash_krw,
                    _ => {}
                }
            }
        }
        if offset < cfg.days as usize {
            if !injected {
                balance += event.delta();
            }
            window.push(event.clone());
        }
    }
    let truth = truth::truth_of(user_id(index), &run, &days, as_of_offset, as_of.to_string(), balance);
    (window, truth)
}
