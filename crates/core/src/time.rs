//! Time as an input: one clock trait, business days in the operator's zone.

use std::sync::{Arc, Mutex};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The source of "now". Only [`SystemClock`] reads the wall clock; tests and the simulator
/// set and advance a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().expect("clock mutex is never poisoned: no code panics holding it") = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock mutex is never poisoned: no code panics holding it")
    }
}

/// The operator's business time zone, in which business days and hours are counted.
#[derive(Debug, Clone)]
pub struct BusinessZone(TimeZone);

/// The default business zone.
pub const DEFAULT_BUSINESS_TZ: &str = "Asia/Seoul";

impl BusinessZone {
    /// Looks up an IANA zone name such as `Asia/Seoul`.
    pub fn parse(name: &str) -> Result<Self, jiff::Error> {
        TimeZone::get(name).map(Self)
    }

    /// The IANA name of the zone.
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    /// The zone itself.
    pub fn tz(&self) -> &TimeZone {
        &self.0
    }

    /// The business day an instant falls on.
    pub fn day_of(&self, at: Timestamp) -> Date {
        at.to_zoned(self.0.clone()).date()
    }

    /// The first instant of a business day.
    pub fn start_of(&self, day: Date) -> Option<Timestamp> {
        day.to_zoned(self.0.clone()).ok().map(|z| z.timestamp())
    }
}

impl Default for BusinessZone {
    fn default() -> Self {
        Self::parse(DEFAULT_BUSINESS_TZ).expect("the bundled tz database has Asia/Seoul")
    }
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    let span = from.until(to).expect("dates within jiff's range always have a span");
    i64::from(span.get_days())
}

/// The date `days` after `from`.
pub fn add_days(from: Date, days: i64) -> Option<Date> {
    from.checked_add(days.days()).ok()
}

/// The first day the analytics count from: they speak of days as integers since it.
pub const EPOCH_DAY: Date = Date::constant(1970, 1, 1);

/// `date` as whole days since [`EPOCH_DAY`] (negative before it).
pub fn epoch_day(date: Date) -> i32 {
    i32::try_from(days_between(EPOCH_DAY, date)).expect("jiff's dates are within ±4 million days")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_day_turns_at_local_midnight() {
        let seoul = BusinessZone::default();
        // 14:59:59Z is 23:59:59 in Seoul; one second later the next business day starts.
        let before: Timestamp = "2026-03-01T14:59:59Z".parse().unwrap();
        let after: Timestamp = "2026-03-01T15:00:00Z".parse().unwrap();
        assert_eq!(seoul.day_of(before).to_string(), "2026-03-01");
        assert_eq!(seoul.day_of(after).to_string(), "2026-03-02");
    }

    #[test]
    fn day_arithmetic() {
        let a: Date = "2026-02-27".parse().unwrap();
        let b: Date = "2026-03-02".parse().unwrap();
        assert_eq!(days_between(a, b), 3);
        assert_eq!(days_between(b, a), -3);
        assert_eq!(add_days(a, 3), Some(b));
    }
}
