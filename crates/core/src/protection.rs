//! Player protection kept by the ledger: self-set limits it enforces on every spend and
//! purchase, and the counters behind the harm markers that switch a user to the protective
//! proposal policy.
//!
//! Two times, two jobs: everything here is judged on the server's clock when the event
//! arrived (`now`), never on the event's own `ts`, which the sender chooses. A spend dated
//! yesterday still counts against today's limit, and a spend dated after a cool-off's end
//! is still refused while the cool-off runs.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventType, RejectCode, Rejection};
use crate::time::BusinessZone;
use crate::tokens::Tokens;

/// A user's own limits. Enforced by the ledger: a spend past them is rejected, and so is
/// any purchase during a cool-off or an exclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most tokens the user may spend per business day.
    pub daily_spend_tokens: Option<i64>,
    /// No spending or buying before this instant (a short break the user chose).
    pub cool_off_until: Option<Timestamp>,
    /// No spending or buying before this instant (self-exclusion, usually months).
    pub excluded_until: Option<Timestamp>,
}

/// Running per-user counters the write path keeps: today's spend for the limits, what the
/// harm markers look at, and partner activity for partner missions. `day` and the play
/// times are the server's at arrival (see the module's note); partner counters follow the
/// events' own times, since they feed missions, not protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
// Counters added later read as zero from rows written before them.
#[serde(default)]
pub struct Tally {
    /// Business day (of arrival) that `spent_today`, `bought_today` and the day's markers count.
    pub day: Option<Date>,
    pub spent_today: i64,
    /// Tokens bought on `day` that count against the daily limit (see
    /// [`Tally::check_purchase`]).
    pub bought_today: i64,
    /// Plays on `day` whose bet rose right after a lost play.
    pub chases_today: u32,
    /// Whether `day` had a play between midnight and 05:00 business time.
    pub late_night: bool,
    /// Consecutive lost plays, the latest last.
    pub loss_run: u32,
    pub last_bet: i64,
    /// Average tokens spent per active day before `day` (a slow moving average).
    pub baseline_spend: i64,
    /// Start and latest play of the current session (plays less than 30 minutes apart).
    pub session_start_ms: i64,
    pub last_play_ms: i64,
    /// Latest visit to partner A (0: never).
    pub last_partner_visit_ms: i64,
    /// Business month (first day) that `partner_tokens_month` counts.
    pub partner_month: Option<Date>,
    /// Tokens earned at partner A in `partner_month`.
    pub partner_tokens_month: i64,
    /// Business day (of arrival) that `rewarded_today` counts: partner tokens received, for
    /// the partners' per-user reward caps.
    pub rewarded_day: Option<Date>,
    pub rewarded_today: i64,
    /// Business month (first day, of arrival) that `rewarded_this_month` counts.
    pub rewarded_month: Option<Date>,
    pub rewarded_this_month: i64,
}

/// Plays further apart than this start a new session.
const SESSION_GAP_MS: i64 = 30 * 60 * 1000;
/// Business hours [0, LATE_NIGHT_END) count as late night.
const LATE_NIGHT_END: i8 = 5;

/// Thresholds of the harm markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HarmThresholds {
    /// Bets raised right after a loss, in one day, that count as loss chasing.
    pub chases_per_day: u32,
    /// Today's spend at this multiple of the user's daily baseline is a velocity marker…
    pub velocity_factor: i64,
    /// …provided it is at least this many tokens (new users have no baseline).
    pub velocity_min_tokens: i64,
    /// A session at least this long is a marker.
    pub long_session_minutes: i64,
}

impl Default for HarmThresholds {
    fn default() -> Self {
        Self { chases_per_day: 3, velocity_factor: 3, velocity_min_tokens: 1_000, long_session_minutes: 180 }
    }
}

/// Which harm markers are on for a user now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct HarmMarkers {
    pub loss_chasing: bool,
    pub spend_velocity: bool,
    pub long_session: bool,
    pub late_night: bool,
    /// The daily limit is used up, or a cool-off or an exclusion runs.
    pub limit_reached: bool,
    /// A cool-off runs: nothing may invite play or spending, only a reminder.
    pub cooling_off: bool,
    /// A self-exclusion runs: nothing may invite play or spending, only a reminder.
    pub self_excluded: bool,
}

impl HarmMarkers {
    pub fn any(&self) -> bool {
        self.loss_chasing
            || self.spend_velocity
            || self.long_session
            || self.late_night
            || self.limit_reached
            || self.paused()
    }

    /// Whether the user chose a break (cool-off or exclusion) that runs now.
    pub fn paused(&self) -> bool {
        self.cooling_off || self.self_excluded
    }

    /// The names of the markers that are on, for reasons and logs.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.loss_chasing, "loss_chasing"),
            (self.spend_velocity, "spend_velocity"),
            (self.long_session, "long_session"),
            (self.late_night, "late_night"),
            (self.limit_reached, "limit_reached"),
            (self.cooling_off, "cooling_off"),
            (self.self_excluded, "self_excluded"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

impl Tally {
    /// The markers as of `now`: counters of another day than today no longer count.
    pub fn markers(
        &self,
        limits: &Limits,
        thresholds: &HarmThresholds,
        today: Date,
        now: Timestamp,
    ) -> HarmMarkers {
        let current = self.day == Some(today);
        let spent = if current { self.spent_today } else { 0 };
        let session_ms = self.last_play_ms - self.session_start_ms;
        let in_session = now.as_millisecond() - self.last_play_ms < SESSION_GAP_MS;
        let cooling_off = limits.cool_off_until.is_some_and(|t| t > now);
        let self_excluded = limits.excluded_until.is_some_and(|t| t > now);
        HarmMarkers {
            loss_chasing: current && self.chases_today >= thresholds.chases_per_day,
            spend_velocity: spent >= thresholds.velocity_min_tokens
                && spent >= self.baseline_spend.saturating_mul(thresholds.velocity_factor),
            long_session: in_session && session_ms >= thresholds.long_session_minutes * 60_000,
            late_night: current && self.late_night,
            limit_reached: limits.daily_spend_tokens.is_some_and(|cap| spent >= cap)
                || cooling_off
                || self_excluded,
            cooling_off,
            self_excluded,
        }
    }

    /// Moves the day's counters to `day` (of arrival) when it is newer. When another
    /// instance's clock already moved them past `day` (clocks a little apart across
    /// midnight), they stay where they are: a spend is then counted on the later day rather
    /// than not at all.
    fn roll_to(&mut self, day: Date) {
        if self.day.is_some_and(|current| current >= day) {
            return;
        }
        if self.day.is_some() {
            // A slow average over active days: a quarter of the way to the last day.
            self.baseline_spend += (self.spent_today - self.baseline_spend) / 4;
        }
        *self = Tally {
            day: Some(day),
            spent_today: 0,
            bought_today: 0,
            chases_today: 0,
            late_night: false,
            ..*self
        };
    }

    /// Refuses what a running exclusion or cool-off forbids: every spend and every purchase.
    fn check_not_paused(limits: &Limits, now: Timestamp) -> Result<(), Rejection> {
        if let Some(until) = limits.excluded_until.filter(|u| *u > now) {
            return Err(Rejection::new(
                RejectCode::SelfExcluded,
                format!("the user is self-excluded until {until}: no spending or buying"),
            ));
        }
        if let Some(until) = limits.cool_off_until.filter(|u| *u > now) {
            return Err(Rejection::new(
                RejectCode::CoolingOff,
                format!("the user is cooling off until {until}: no spending or buying"),
            ));
        }
        Ok(())
    }

    /// Refuses a spend the limits forbid at `now`, the server's clock at the event's arrival;
    /// otherwise counts it on that business day. Called by the ledger before the balance
    /// moves; on refusal nothing changes.
    pub fn check_spend(
        &mut self,
        limits: &Limits,
        amount: Tokens,
        now: Timestamp,
        zone: &BusinessZone,
    ) -> Result<(), Rejection> {
        self.count_today(limits, amount, true, now, zone, |t| &mut t.spent_today, "spend", "tokens")
    }

    /// Refuses a purchase (tokens bought with cash) during a cool-off or an exclusion at
    /// `now`, and, when `within_daily_limit` (the operator's switch), one that takes the
    /// tokens bought today past the user's daily limit; otherwise counts it.
    pub fn check_purchase(
        &mut self,
        limits: &Limits,
        tokens: Tokens,
        within_daily_limit: bool,
        now: Timestamp,
        zone: &BusinessZone,
    ) -> Result<(), Rejection> {
        let bought: fn(&mut Tally) -> &mut i64 = |t| &mut t.bought_today;
        self.count_today(limits, tokens, within_daily_limit, now, zone, bought, "purchase", "bought tokens")
    }

    /// Counts `amount` in the day's counter `counter` picks (the day of `now`), unless a break
    /// runs or, when `capped`, the count would pass the daily limit. On refusal nothing
    /// changes.
    #[allow(clippy::too_many_arguments)]
    fn count_today(
        &mut self,
        limits: &Limits,
        amount: Tokens,
        capped: bool,
        now: Timestamp,
        zone: &BusinessZone,
        counter: fn(&mut Tally) -> &mut i64,
        what: &str,
        unit: &str,
    ) -> Result<(), Rejection> {
        Self::check_not_paused(limits, now)?;
        let mut next = *self;
        next.roll_to(zone.day_of(now));
        let count = counter(&mut next);
        let after = count.saturating_add(amount.0);
        if capped && let Some(cap) = limits.daily_spend_tokens.filter(|cap| after > *cap) {
            return Err(Rejection::new(
                RejectCode::DailyLimitReached,
                format!("the {what} would take today's {after} {unit} past the user's daily limit of {cap}"),
            ));
        }
        *count = after;
        *self = next;
        Ok(())
    }

    /// Counts partner activity: visits, and tokens earned at partner A per business month.
    pub fn record_partner(&mut self, event: &Event, zone: &BusinessZone) {
        match (&event.event_type, event.movement) {
            (EventType::PartnerVisit, _) => {
                self.last_partner_visit_ms = self.last_partner_visit_ms.max(event.ts.as_millisecond());
            }
            (EventType::EarnCyberTokens, Some(m)) if m.reason == "earn:partner" => {
                let month = zone.day_of(event.ts).first_of_month();
                match self.partner_month {
                    Some(current) if current > month => {} // a late event of a closed month
                    Some(current) if current == month => self.partner_tokens_month += m.delta.0,
                    _ => (self.partner_month, self.partner_tokens_month) = (Some(month), m.delta.0),
                }
                // The caps count on the server's clock at arrival, whatever `ts` says.
                let day = zone.day_of(event.received_at);
                if self.rewarded_day != Some(day) {
                    (self.rewarded_day, self.rewarded_today) = (Some(day), 0);
                }
                if self.rewarded_month != Some(day.first_of_month()) {
                    (self.rewarded_month, self.rewarded_this_month) = (Some(day.first_of_month()), 0);
                }
                self.rewarded_today += m.delta.0;
                self.rewarded_this_month += m.delta.0;
            }
            _ => {}
        }
    }

    /// Partner tokens earned in the business month of `today`.
    pub fn partner_tokens_in(&self, today: Date) -> i64 {
        if self.partner_month == Some(today.first_of_month()) { self.partner_tokens_month } else { 0 }
    }

    /// Counts a play for the loss-chasing, session and late-night markers, at `now`, the
    /// server's clock when the play arrived: plays are counted on the day and hour they
    /// reached the ledger, so back-dating them hides nothing.
    pub fn record_play(&mut self, event: &Event, now: Timestamp, zone: &BusinessZone) {
        let props: serde_json::Value = serde_json::from_str(&event.props).unwrap_or_default();
        let bet = props["bet"].as_i64().unwrap_or(0);
        let ms = now.as_millisecond();
        if ms - self.last_play_ms >= SESSION_GAP_MS || self.session_start_ms == 0 {
            self.session_start_ms = ms;
        }
        self.last_play_ms = self.last_play_ms.max(ms);
        self.roll_to(zone.day_of(now));
        if self.loss_run > 0 && bet > self.last_bet {
            self.chases_today += 1;
        }
        self.late_night |= now.to_zoned(zone.tz().clone()).hour() < LATE_NIGHT_END;
        self.loss_run = if props["result"] == "lose" { self.loss_run + 1 } else { 0 };
        self.last_bet = bet;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::ValidationPolicy;

    fn event(kind: &str, props: serde_json::Value, at: &str) -> Event {
        let raw = json!({"event_id": uuid::Uuid::new_v4().to_string(), "user_id": "u", "type": kind, "ts": at, "props": props});
        Event::parse(&raw, &ValidationPolicy::default(), "2027-01-01T00:00:00Z".parse().unwrap()).unwrap()
    }

    fn play(bet: i64, result: &str, at: &str) -> Event {
        event("GAME_PLAY", json!({"game": "slot", "bet": bet, "payout": 0, "result": result}), at)
    }

    #[test]
    fn markers_follow_their_definitions() {
        let zone = BusinessZone::default();
        let limits = Limits::default();
        let harm = HarmThresholds::default();
        let mut tally = Tally::default();
        // 01:00 to 04:10 in Seoul: late night, and one session of 190 minutes.
        for (i, at) in
            ["2026-03-01T16:00:00Z", "2026-03-01T16:25:00Z", "2026-03-01T16:50:00Z", "2026-03-01T19:10:00Z"]
                .iter()
                .enumerate()
        {
            tally.record_play(&play(10, if i == 0 { "lose" } else { "win" }, at), at.parse().unwrap(), &zone);
        }
        let today = zone.day_of("2026-03-01T16:00:00Z".parse().unwrap());
        let markers = tally.markers(&limits, &harm, today, "2026-03-01T19:15:00Z".parse().unwrap());
        assert!(markers.late_night && !markers.loss_chasing && !markers.spend_velocity);
        assert!(!markers.long_session, "plays 2h20 apart are two sessions");

        // Spend velocity: a baseline of ~100 a day, then 1,000 in a day.
        let mut tally = Tally::default();
        for day in 1..=8 {
            let at: Timestamp = format!("2026-03-{day:02}T03:00:00Z").parse().unwrap();
            tally.check_spend(&limits, Tokens(100), at, &zone).unwrap();
        }
        let at: Timestamp = "2026-03-09T03:00:00Z".parse().unwrap();
        tally.check_spend(&limits, Tokens(999), at, &zone).unwrap();
        assert!(!tally.markers(&limits, &harm, zone.day_of(at), at).spend_velocity, "under the floor");
        tally.check_spend(&limits, Tokens(1), at, &zone).unwrap();
        assert!(tally.markers(&limits, &harm, zone.day_of(at), at).spend_velocity);
        assert!(
            !tally.markers(&limits, &harm, zone.day_of(at).tomorrow().unwrap(), at).spend_velocity,
            "a new day"
        );
    }

    #[test]
    fn partner_tokens_count_per_business_month() {
        let zone = BusinessZone::default();
        let mut tally = Tally::default();
        let earn =
            |n: i64, at: &str| event("EARN_CYBER_TOKENS", json!({"amount": n, "source": "partner"}), at);
        tally.record_partner(&earn(100, "2026-03-31T14:00:00Z"), &zone); // 23:00 on 03-31 in Seoul
        tally.record_partner(&earn(40, "2026-03-31T15:30:00Z"), &zone); // 00:30 on 04-01 in Seoul
        tally.record_partner(&earn(7, "2026-03-20T03:00:00Z"), &zone); // late, of a closed month
        tally.record_partner(
            &event("EARN_CYBER_TOKENS", json!({"amount": 5, "source": "app"}), "2026-04-02T03:00:00Z"),
            &zone,
        );
        let april: Date = "2026-04-15".parse().unwrap();
        assert_eq!(tally.partner_tokens_in(april), 40);
        assert_eq!(tally.partner_tokens_in("2026-05-01".parse().unwrap()), 0);
        tally.record_partner(
            &event("PARTNER_VISIT", json!({"dwell_s": 5, "actions": 1}), "2026-04-02T03:00:00Z"),
            &zone,
        );
        assert_eq!(
            tally.last_partner_visit_ms,
            "2026-04-02T03:00:00Z".parse::<Timestamp>().unwrap().as_millisecond()
        );
    }
}
