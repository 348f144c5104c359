//! Play streaks: consecutive business days with at least one game play.
//!
//! Events may arrive out of order, so the streak keeps a 64-day bitmap of play days ending at
//! the latest play day: a late event inside that horizon fills its day exactly. Days that
//! leave the bitmap are not forgotten: the run of play days that ends just beyond its far edge
//! is kept as a count, so a late event that fills the last hole of the bitmap joins that run
//! and the streak stays exact however long it is. A late event older than 63 days before the
//! latest play day is ignored.

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
    /// The run inside the bitmap (its trailing ones) plus the run of play days that ends on
    /// the day just beyond the bitmap's far edge (64 days before `last_play_day`). With a
    /// full bitmap this is the run ending at `last_play_day`, as it always was stored; with
    /// a hole, the part beyond the edge waits here until the hole is filled.
    pub run_days: u32,
}

impl Streak {
    /// Length of the run of play days ending at `last_play_day`.
    pub fn run(&self) -> u32 {
        if self.mask == u64::MAX { self.run_days } else { self.mask.trailing_ones() }
    }

    /// The run of play days ending on the day just beyond the bitmap's far edge.
    fn beyond(&self) -> u32 {
        self.run_days.saturating_sub(self.mask.trailing_ones())
    }

    /// The run of play days ending `age` days before `last_play_day` (0 ≤ age ≤ 64), as the
    /// bitmap and the count beyond it know it.
    fn run_ending(&self, age: u32) -> u32 {
        if age >= 64 {
            return self.beyond();
        }
        let ones = (self.mask >> age).trailing_ones();
        if age + ones == 64 { ones + self.beyond() } else { ones }
    }

    /// Records a game play on business day `day`.
    pub fn record(&mut self, day: Date) {
        let Some(last) = self.last_play_day else {
            *self = Streak { last_play_day: Some(day), mask: 1, run_days: 1 };
            return;
        };
        let ahead = days_between(last, day);
        if ahead > 0 {
            // The new far edge is `ahead` days younger: the run ending there is counted from
            // the days about to leave the bitmap (none are left after a gap of 65 or more).
            let beyond = match u32::try_from(STREAK_HORIZON_DAYS - ahead) {
                Ok(age) => self.run_ending(age),
                Err(_) => 0,
            };
            self.mask = if ahead < STREAK_HORIZON_DAYS { (self.mask << ahead) | 1 } else { 1 };
            self.last_play_day = Some(day);
            self.run_days = self.mask.trailing_ones() + beyond;
        } else if -ahead < STREAK_HORIZON_DAYS {
            let beyond = self.beyond();
            self.mask |= 1 << -ahead;
            self.run_days = self.mask.trailing_ones() + beyond;
        }
        debug_assert!(self.mask & 1 == 1 && self.run() >= 1);
    }

    /// The streak as seen on business day `today`: the run if it is still alive, otherwise
    /// zero. A run is alive when its latest play day is today or yesterday, or later than
    /// today: an event may be stamped up to a day ahead of the server, so its business day
    /// can be tomorrow.
    pub fn current(&self, today: Date) -> u32 {
        match self.last_play_day {
            Some(last) if days_between(last, today) <= 1 => self.run(),
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
        assert_eq!(s.run(), 4);
        assert_eq!(s.current(day(4)), 4);
        assert_eq!(s.current(day(5)), 0);
        s.record(day(6));
        assert_eq!(s.run(), 1);
    }

    #[test]
    fn late_event_fills_a_hole() {
        let mut s = Streak::default();
        for d in [0, 1, 3, 4] {
            s.record(day(d));
        }
        assert_eq!(s.run(), 2);
        s.record(day(2));
        assert_eq!(s.run(), 5);
    }

    #[test]
    fn a_play_stamped_on_tomorrows_business_day_keeps_the_streak_alive() {
        let mut s = Streak::default();
        for d in [0, 1, 2] {
            s.record(day(d));
        }
        // Today is day 1 for the server; the play on day 2 came within the allowed skew.
        assert_eq!(s.current(day(1)), 3);
        assert_eq!(s.current(day(3)), 3);
        assert_eq!(s.current(day(4)), 0);
    }

    #[test]
    fn a_late_event_that_joins_a_run_longer_than_the_horizon_counts_it_whole() {
        let mut s = Streak::default();
        for d in (0..100).filter(|d| *d != 50) {
            s.record(day(d));
        }
        assert_eq!(s.run(), 49);
        s.record(day(50));
        assert_eq!(s.run(), 100, "days 0 to 99, every one played");
        assert_eq!(s.current(day(100)), 100);
        s.record(day(100));
        assert_eq!(s.run(), 101);
    }

    #[test]
    fn rows_stored_before_the_count_beyond_the_edge_read_as_they_did() {
        // A bitmap with a hole and run_days equal to its trailing ones: nothing beyond.
        let s = Streak { last_play_day: Some(day(70)), mask: 0b1011, run_days: 2 };
        assert_eq!(s.run(), 2);
        let full = Streak { last_play_day: Some(day(70)), mask: u64::MAX, run_days: 71 };
        assert_eq!(full.run(), 71);
    }

    proptest! {
        #[test]
        fn matches_a_set_of_days_within_the_horizon(days in prop::collection::vec(0i64..60, 1..80)) {
            let mut s = Streak::default();
            let mut seen = BTreeSet::new();
            for d in days {
                s.record(day(d));
                seen.insert(d);
                prop_assert_eq!(s.run(), model_run(&seen));
            }
        }

        /// Long histories with holes filled late: exact, whatever the length of the run, for
        /// every late day within the horizon of the latest play day when it comes.
        #[test]
        fn matches_a_set_of_days_over_long_histories(
            played in prop::collection::vec(prop::bool::weighted(0.98), 1..300),
            late in prop::collection::btree_set(0usize..300, 0..20),
        ) {
            // Mostly unbroken play, so runs longer than the horizon are common.
            let (mut held, mut arrivals) = (Vec::new(), Vec::new());
            for (d, _) in (0i64..).zip(&played).filter(|(_, p)| **p) {
                if late.contains(&usize::try_from(d).unwrap()) { held.push(d) } else { arrivals.push(d) }
            }
            let mut s = Streak::default();
            let mut seen = BTreeSet::new();
            for d in arrivals {
                s.record(day(d));
                seen.insert(d);
                // Held days older than this one arrive now; those past the horizon are lost.
                held.retain(|&h| {
                    if h >= d {
                        return true;
                    }
                    if d - h < STREAK_HORIZON_DAYS {
                        s.record(day(h));
                        seen.insert(h);
                    }
                    false
                });
                prop_assert_eq!(s.run(), model_run(&seen));
            }
        }
    }
}
