//! Latent traits of a simulated user and the distributions they are drawn from.
//!
//! | trait | distribution | meaning |
//! |---|---|---|
//! | `activity` | 18% Beta(6, 2), mean 0.75 (habitual players); 82% Beta(6, 220), mean 0.027 (occasional visitors) | chance of playing on a given day |
//! | `peak_hour` | 60% N(21, 1.5²), 25% N(12.5, 1²), 15% N(8, 1²), local time | centre of the user's sessions |
//! | `tz` | 90% Asia/Seoul, 4% Asia/Tokyo, 3% America/Los_Angeles, 3% Europe/London | the user's zone |
//! | `spend` | LogNormal(0, 1.1) | will to pay: top-up chance and package size (heavy tail: the few who pay most), and a little of the stake |
//! | `risk` | Beta(2, 2) | risk appetite: game choice, rounds per session, stake, roulette straight bets, quiz answers |
//! | `partner` | Beta(1.5, 3) | chance of visiting partner A on an active day |
//! | `age_verified` | Bernoulli(0.6) | may unlock adult (19+) content |
//! | `base_hazard` | 0.004 + 0.010 × (1 − activity) | daily churn hazard before experience |
//! | `signup_day` | 50% day 0, else uniform over the window | first day of the user |
//! | `chases_losses` | Bernoulli(0.05), from a stream of its own | doubles the bet after each loss and plays on |
//!
//! Activity is bimodal, as visit frequency is in free-to-play apps: a minority makes playing a
//! daily habit, most users drop in a day or two a month (the median occasional user active in
//! a month is active on one day of it; the demo's DAU/MAU is about 0.2). One Beta(2, 4) for
//! everyone put most users at a few active days a month, where the seed's segment rules have
//! no band: more than the 14 events of a Medium month (a visit makes about 7) without the
//! 2,000 tokens of a High Engaged one. 40% of the demo's users fell between bands then, under
//! 6% now (`world` explains the other half: what a session stakes).
//!
//! `chases_losses` comes from its own stream so that every other trait, and the whole life of
//! a user who does not chase, is the same with or without it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::sample::{beta, chance, lognormal, normal, weighted};

/// Zones users live in, with their weights.
pub const USER_ZONES: [(&str, f64); 4] =
    [("Asia/Seoul", 0.90), ("Asia/Tokyo", 0.04), ("America/Los_Angeles", 0.03), ("Europe/London", 0.03)];
/// Peaks of the daily activity curve: (mean hour, standard deviation, weight).
pub const PEAK_HOURS: [(f64, f64, f64); 3] = [(21.0, 1.5, 0.60), (12.5, 1.0, 0.25), (8.0, 1.0, 0.15)];
/// Spread of session start hours around a user's peak.
pub const SESSION_HOUR_SD: f64 = 1.25;
/// Share of users present from the first day; the rest sign up uniformly over the window.
pub const PRESENT_AT_START: f64 = 0.5;
/// Share of users who make playing a daily habit; the others are occasional visitors.
pub const HABITUAL_PLAYERS: f64 = 0.18;
/// Beta parameters of the daily chance of playing, of habitual players and of occasional ones.
pub const HABITUAL_ACTIVITY: (f64, f64) = (6.0, 2.0);
pub const OCCASIONAL_ACTIVITY: (f64, f64) = (6.0, 220.0);
/// Share of users who chase their losses.
pub const LOSS_CHASERS: f64 = 0.05;

/// What the simulator knows about a user and the user's behaviour follows from.
#[derive(Debug, Clone, Serialize)]
pub struct Traits {
    pub activity: f64,
    pub peak_hour: f64,
    pub tz: &'static str,
    pub spend: f64,
    pub risk: f64,
    pub partner: f64,
    pub age_verified: bool,
    pub base_hazard: f64,
    pub signup_day: u32,
    pub chases_losses: bool,
}

impl Traits {
    /// Draws the traits of user `index` from `rng`, the user's own stream of `seed`.
    pub fn draw(rng: &mut ChaCha8Rng, seed: u64, index: u32, window_days: u32) -> Self {
        let (a, b) = if chance(rng, HABITUAL_PLAYERS) { HABITUAL_ACTIVITY } else { OCCASIONAL_ACTIVITY };
        let activity = beta(rng, a, b);
        let peak = PEAK_HOURS[weighted(rng, &PEAK_HOURS.map(|(_, _, w)| w))];
        let peak_hour = (peak.0 + peak.1 * normal(rng)).rem_euclid(24.0);
        let tz = USER_ZONES[weighted(rng, &USER_ZONES.map(|(_, w)| w))].0;
        let signup_day =
            if chance(rng, PRESENT_AT_START) { 0 } else { rng.random_range(0..window_days.max(1)) };
        Traits {
            activity,
            peak_hour,
            tz,
            spend: lognormal(rng, 0.0, 1.1),
            risk: beta(rng, 2.0, 2.0),
            partner: beta(rng, 1.5, 3.0),
            age_verified: chance(rng, 0.6),
            base_hazard: 0.004 + 0.010 * (1.0 - activity),
            signup_day,
            chases_losses: chases_losses(seed, index),
        }
    }
}

/// Whether user `index` chases losses, from a stream no other draw uses.
fn chases_losses(seed: u64, index: u32) -> bool {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((1 << 32) | u64::from(index));
    chance(&mut rng, LOSS_CHASERS)
}
