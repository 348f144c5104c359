//! Play streaks: consecutive business days with at least one game play.
//!
//! Events may arrive out of order, so the streak keeps a 64-day bitmap of play days ending at
//! the latest play day: a late event inside that horizon fills its day exactly. Runs longer
//! than the horizon keep growing when days arrive in order; a late event older than 63 days
//! before the latest play day cannot change the current run and is ignored.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::time::days_between;

/// Days the bitmap remembers, counting the latest play day.
pub const STREAK_HORIZON_DAYS: i64 = 64;

/// The play-day history needed to keep a streak exact under late events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Streak {
    /// Latest business day with a game play.
    pub last_play_day: Option<Date>,
    /// Bit `i` is set when the user played `i` days before `last_play_day`.
    pub mask: u64,
    /// Length of the run of play days ending at `last_play_day`.
    pub run_days: u32,
}

impl Streak {
    /// Records a game play on business day `day`.
    pub fn record(&mut self, day: Date) {
        let Some(last) = self.last_play_day else {
            *self = Streak { last_play_day: Some(day), mask: 1, run_days: 1 };
            return;
        };
        let ahead = days_between(last, day);
        if ahead > 0 {
            self.mask = if ahead < STREAK_HORIZON_DAYS { (self.mask << ahead) | 1 } else { 1 };
            self.run_days = if ahead == 1 { self.run_days.saturating_add(1) } else { 1 };
            self.last_play_day = Some(day);
        } else if -ahead < STREAK_HORIZON_DAYS {
            self.mask |= 1 << -ahead;
            let run = self.mask.trailing_ones();
            // A full mask means the run reaches past the horizon: only in-order growth knows it.
            self.run_days = if run < 64 { run } else { self.run_days.max(run) };
        }
        debug_assert!(self.mask & 1 == 1 && self.run_days >= 1);
    }

    /// The streak as seen on business day `today`: the run if it is still alive (the user
    /// played today or yesterday), otherwise zero.
    pub fn current(&self, today: Date) -> u32 {
        match self.last_play_day {
            Some(last) if (0..=1).contains(&days_between(last, today)) => self.run_days,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::time::add_days;

    fn day(n: i64) -> Date {
        add_days("2026-01-01".parse().unwrap(), n).unwrap()
    }

    /// The run of consecutive days ending at the latest day in the set.
    fn model_run(days: &BTreeSet<i64>) -> u32 {
        let Some(&last) = days.last() else { return 0 };
        (0..).take_while(|i| days.contains(&(last - i))).map(|_| 1).sum()
    }

    #[test]
    fn consecutive_days_grow_and_a_gap_restarts() {
        let mut s = Streak::default();
        for d in [0, 1, 2, 2, 3] {
            s.record(day(d));
        }
        assert_eq!(s.run_days, 4);
        assert_eq!(s.current(day(4)), 4);
        assert_eq!(s.current(day(5)), 0);
        s.record(day(6));
        assert_eq!(s.run_days, 1);
    }

    #[test]
    fn late_event_fills_a_hole() {
        let mut s = Streak::default();
        for d in [0, 1, 3, 4] {
            s.record(day(d));
        }
        assert_eq!(s.run_days, 2);
        s.record(day(2));
        assert_eq!(s.run_days, 5);
    }

    proptest! {
        #[test]
        fn matches_a_set_of_days_within_the_horizon(days in prop::collection::vec(0i64..60, 1..80)) {
            let mut s = Streak::default();
            let mut seen = BTreeSet::new();
            for d in days {
                s.record(day(d));
                seen.insert(d);
                prop_assert_eq!(s.run_days, model_run(&seen));
            }
        }
    }
}
