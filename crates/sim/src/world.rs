//! One user's life, day by day: sessions, games, top-ups, partner visits, unlocks, churn.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::SimConfig;
use crate::content;
use crate::event::{Kind, SimEvent};
use crate::games::{self, Game};
use crate::sample::{chance, normal, poisson, unit, weighted};
use crate::traits::{SESSION_HOUR_SD, Traits};

/// Token packages on sale: (price in KRW, tokens).
pub const PACKAGES: [(i64, i64); 5] =
    [(1_100, 100), (5_500, 550), (11_000, 1_150), (55_000, 6_000), (110_000, 12_500)];
/// Tokens granted on the first day, on each day's first session, and per partner action.
/// The daily bonus keeps a habitual player who does not pay in play: a regular session puts
/// about 200 tokens on the table, and a slot round swings by four times its stake.
pub const WELCOME_BONUS: i64 = 200;
pub const DAILY_BONUS: i64 = 50;
pub const PARTNER_TOKENS_PER_ACTION: i64 = 15;
/// Tokens a median user puts on the table in one session, before risk and will to pay.
///
/// A session's budget is spread over its rounds, so the stake is the budget divided by the
/// rounds the user usually plays: a visitor who plays one round stakes it at once, a regular
/// who plays six stakes a sixth each time. The tokens a user spends in a month then follow
/// the sessions they play, as the events do, which is why the seed's rules can read F and M
/// together: about 7 events and 200 tokens a visit put one or two visits a month in Medium
/// (F 5–14, M 100–1,999) and a habit of 20 days in High Engaged (M ≥ 2,000). The budget grows
/// only a little with the will to pay (spend^0.15): what a payer buys lets them keep playing
/// rather than stake far more, so cash is concentrated on a few users and tokens spent much
/// less (the statistics tests hold both).
pub const SESSION_BUDGET: f64 = 200.0;
/// The most a table takes on one play. It also ends a loss chaser's doubling, as table limits
/// do in casinos.
pub const MAX_BET: i64 = 1_000;
/// Extra rounds a session lasts, on average, are (0.5 + 1.5 × risk) × engagement, where
/// engagement is ROUNDS_PER_ACTIVITY × activity, at most MAX_ENGAGEMENT: an occasional
/// visitor plays a round or two, a habitual player six or seven.
pub const ROUNDS_PER_ACTIVITY: f64 = 6.0;
pub const MAX_ENGAGEMENT: f64 = 4.5;
/// Consecutive losses after which a user's churn hazard rises.
pub const LOSING_STREAK: u32 = 5;
/// Plays a loss chaser adds to a session, at most, to win back what was lost.
pub const CHASE_EXTRA_PLAYS: u32 = 10;

/// Everything the simulator produced and knew about one user.
pub struct UserRun {
    pub traits: Traits,
    /// All events in time order, inside the window and beyond it.
    pub events: Vec<SimEvent>,
    /// The local day at whose end the user churned.
    pub churned_after: Option<u32>,
    /// The churn hazard in force at the end of each local day lived (index = day).
    pub hazard: Vec<f64>,
    /// Spends sent on purpose with more tokens than the balance (the ledger must reject them).
    pub overdrafts: Vec<uuid::Uuid>,
}

struct Life {
    index: u32,
    rng: ChaCha8Rng,
    traits: Traits,
    /// Mean rounds a session lasts beyond the first, and the usual stake of one round.
    extra_rounds: f64,
    stake: i64,
    tz: TimeZone,
    balance: i64,
    paid_pool: i64,
    losses_in_row: u32,
    last_bet: i64,
    days_since_partner: u32,
    /// Stages unlocked so far in the story and the adult series.
    stages: [u32; 2],
    /// When the latest session ended: the next one starts after it, also across midnight, so
    /// the user's events in time order are the order they were lived in.
    free_at: Timestamp,
    events: Vec<SimEvent>,
    overdrafts: Vec<uuid::Uuid>,
}

/// Simulates user `index` over `days` local days from the config's start.
pub fn live(cfg: &SimConfig, index: u32, days: u32) -> UserRun {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(u64::from(index));
    let traits = Traits::draw(&mut rng, cfg.seed, index, cfg.days);
    let tz = TimeZone::get(traits.tz).expect("the bundled tz database has every user zone");
    let extra_rounds =
        (0.5 + 1.5 * traits.risk) * (ROUNDS_PER_ACTIVITY * traits.activity).min(MAX_ENGAGEMENT);
    let budget = SESSION_BUDGET * libm::pow(traits.spend, 0.15) * (0.75 + 0.5 * traits.risk);
    // A loss chaser budgets for the longest chase too, which leaves the balance room to double.
    let chase_rounds = if traits.chases_losses { f64::from(CHASE_EXTRA_PLAYS) } else { 0.0 };
    let stake = ((budget / (1.0 + extra_rounds + chase_rounds)) as i64).clamp(1, MAX_BET);
    let mut life = Life {
        index,
        rng,
        traits,
        extra_rounds,
        stake,
        tz,
        balance: 0,
        paid_pool: 0,
        losses_in_row: 0,
        last_bet: 0,
        days_since_partner: 0,
        stages: [0, 0],
        free_at: Timestamp::MIN,
        events: Vec::new(),
        overdrafts: Vec::new(),
    };
    let mut hazard = vec![0.0; life.traits.signup_day as usize];
    let mut churned_after = None;
    for day in life.traits.signup_day..days {
        let date = cfg.start.checked_add(i64::from(day).days()).expect("simulated dates are in range");
        let first_day = day == life.traits.signup_day;
        if first_day || chance(&mut life.rng, life.traits.activity) {
            life.active_day(date, first_day, cfg.inject_overdrafts && index.is_multiple_of(100) && first_day);
        }
        life.days_since_partner += 1;
        let h = life.hazard();
        hazard.push(h);
        if chance(&mut life.rng, h) {
            churned_after = Some(day);
            break;
        }
    }
    UserRun { traits: life.traits, events: life.events, churned_after, hazard, overdrafts: life.overdrafts }
}

impl Life {
    /// Daily churn hazard given the traits and the day's experience.
    fn hazard(&self) -> f64 {
        let mut h = self.traits.base_hazard;
        if self.losses_in_row >= LOSING_STREAK {
            h *= 1.8;
        }
        if self.balance < 5 {
            h *= 1.6;
        }
        if self.traits.partner >= 0.3 && self.days_since_partner > 7 {
            h *= 1.3;
        }
        h
    }

    fn active_day(&mut self, date: Date, first_day: bool, overdraft: bool) {
        let sessions = 1 + poisson(&mut self.rng, 0.9 * self.traits.activity);
        let mut starts: Vec<Timestamp> = (0..sessions).map(|_| self.session_start(date)).collect();
        starts.sort_unstable();
        for (i, start) in starts.into_iter().enumerate() {
            let start = start.max(self.free_at + SignedDuration::from_secs(60));
            self.free_at = self.session(start, i == 0, first_day && i == 0, overdraft && i == 0);
        }
    }

    fn session_start(&mut self, date: Date) -> Timestamp {
        let hour = (self.traits.peak_hour + SESSION_HOUR_SD * normal(&mut self.rng)).rem_euclid(24.0);
        let seconds = (hour * 3600.0) as i64;
        let midnight = date.to_zoned(self.tz.clone()).expect("local midnight exists").timestamp();
        midnight + SignedDuration::from_secs(seconds)
    }

    fn emit(&mut self, at: &mut Timestamp, kind: Kind) {
        *at += SignedDuration::from_secs(self.rng.random_range(3..40));
        let id = uuid::Builder::from_random_bytes(self.rng.random()).into_uuid();
        let event = SimEvent { id, user: self.index, ts: *at, kind };
        self.balance += event.delta();
        debug_assert!(self.balance >= 0, "the simulator never overdraws except on purpose");
        self.events.push(event);
    }

    fn spend(&mut self, at: &mut Timestamp, amount: i64, sink: &'static str) {
        let paid = self.paid_pool > 0;
        self.paid_pool -= self.paid_pool.min(amount);
        self.emit(at, Kind::Spend { amount, sink, paid });
    }

    /// One session; returns when it ended.
    fn session(
        &mut self,
        start: Timestamp,
        first_of_day: bool,
        first_ever: bool,
        overdraft: bool,
    ) -> Timestamp {
        let mut at = start;
        self.emit(&mut at, Kind::SessionStart);
        if first_ever {
            self.emit(&mut at, Kind::Earn { amount: WELCOME_BONUS, source: "reward" });
        }
        if first_of_day {
            self.emit(&mut at, Kind::Earn { amount: DAILY_BONUS, source: "app" });
            if chance(&mut self.rng, self.traits.partner) {
                self.partner_visit(&mut at);
            }
        }
        if overdraft {
            // Sent on purpose: more than the balance, so the ledger must reject it.
            at += SignedDuration::from_secs(5);
            let id = uuid::Builder::from_random_bytes(self.rng.random()).into_uuid();
            let kind = Kind::Spend { amount: self.balance + 1_000_000, sink: "item", paid: false };
            self.events.push(SimEvent { id, user: self.index, ts: at, kind });
            self.overdrafts.push(id);
        }
        let mut plays = 1 + poisson(&mut self.rng, self.extra_rounds);
        let mut chased = 0;
        while plays > 0 {
            plays -= 1;
            if !self.play(&mut at) {
                break;
            }
            if self.traits.chases_losses && self.losses_in_row > 0 && chased < CHASE_EXTRA_PLAYS {
                plays += 1;
                chased += 1;
            }
        }
        if chance(&mut self.rng, 0.08) {
            self.unlock(&mut at);
        }
        at
    }

    fn partner_visit(&mut self, at: &mut Timestamp) {
        let actions = self.rng.random_range(1..=5);
        let dwell_s = self.rng.random_range(20..=600);
        self.emit(at, Kind::PartnerVisit { dwell_s, actions });
        self.emit(at, Kind::Earn { amount: PARTNER_TOKENS_PER_ACTION * actions, source: "partner" });
        self.days_since_partner = 0;
    }

    /// One game play, topping up first if the user wants to and can; `false` ends the session.
    /// A user short of the stake who does not buy stops: the stake is the round's share of the
    /// session's budget, not whatever is left. A loss chaser doubles the last bet after a
    /// loss, as far as the balance (all of it, if need be) and the table go.
    fn play(&mut self, at: &mut Timestamp) -> bool {
        let r = self.traits.risk;
        let game = Game::ALL[weighted(&mut self.rng, &[0.45, 0.1 + 0.4 * r, (0.45 - 0.4 * r).max(0.05)])];
        let chasing = self.traits.chases_losses && self.losses_in_row > 0;
        let stake = if chasing { self.stake.max(2 * self.last_bet).min(MAX_BET) } else { self.stake };
        if self.balance < stake && !self.top_up(at) && (self.balance == 0 || !chasing) {
            return false;
        }
        let bet = stake.min(self.balance);
        self.spend(at, bet, "game");
        let payout = games::play(game, bet, r, &mut self.rng);
        let result = games::result(bet, payout);
        self.emit(at, Kind::GamePlay { game: game.name(), bet, payout, result });
        if payout > 0 {
            self.emit(at, Kind::Earn { amount: payout, source: "reward" });
        }
        self.losses_in_row = if result == "lose" { self.losses_in_row + 1 } else { 0 };
        self.last_bet = bet;
        true
    }

    /// Buys a package if the user is the buying kind today. The chance grows faster than the
    /// will to pay (spend^1.6), so that about one user in twenty ever pays and a few pay most.
    fn top_up(&mut self, at: &mut Timestamp) -> bool {
        if !chance(&mut self.rng, (0.008 * libm::pow(self.traits.spend, 1.6)).min(0.9)) {
            return false;
        }
        let tier = ((self.traits.spend / 2.0) as usize).min(PACKAGES.len() - 1);
        let (cash_krw, tokens) = PACKAGES[tier];
        self.paid_pool += tokens;
        self.emit(at, Kind::Purchase { tokens, cash_krw });
        true
    }

    /// Unlocks the next stage of a series ([`crate::content`]): the adult one now and then
    /// for an age-verified user.
    fn unlock(&mut self, at: &mut Timestamp) {
        let adult = self.traits.age_verified && unit(&mut self.rng) < 0.3;
        let series = &content::SERIES[usize::from(adult)];
        let stage = self.stages[usize::from(adult)] + 1;
        let cost = content::cost(stage);
        if stage > content::STAGES || self.balance < cost {
            return;
        }
        let content_id = series.content_id(stage);
        self.spend(at, cost, "unlock");
        self.emit(at, Kind::ContentUnlock { content_id: content_id.clone(), stage });
        self.emit(at, Kind::ViewContent { content_id });
        self.stages[usize::from(adult)] = stage;
    }
}
