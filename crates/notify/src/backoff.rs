//! When a failed notification is tried again.

use std::time::Duration;

use jiff::Timestamp;
use rand::Rng;

/// The longest `Retry-After` honoured: a receiver asking for more is tried again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// Exponential backoff with jitter: attempt n (from 1) failed, so the next waits
/// `first · 2^(n−1)` capped at `max`, less a random part of up to half, so that a receiver
/// coming back is not hit by every retry at once.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after failed attempt `attempt`, with `asked` the receiver's `Retry-After`.
    pub fn wait(&self, attempt: i64, asked: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 32)).unwrap_or(32);
        let full = self.first.saturating_mul(2u32.saturating_pow(doublings)).min(self.max);
        let jittered = full.mul_f64(rng.random_range(0.5..=1.0));
        jittered.max(asked.unwrap_or_default().min(MAX_RETRY_AFTER))
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (read against `now`).
pub fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    Some(at.duration_since(now).try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn waits_double_within_jitter_up_to_the_cap() {
        let backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(60) };
        let mut rng = StdRng::seed_from_u64(7);
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (40, 60), (i64::MAX, 60)] {
            for _ in 0..50 {
                let wait = backoff.wait(attempt, None, &mut rng);
                let full = Duration::from_secs(full);
                assert!(wait >= full / 2 && wait <= full, "attempt {attempt}: {wait:?}");
            }
        }
        let asked = backoff.wait(1, Some(Duration::from_secs(90)), &mut rng);
        assert_eq!(asked, Duration::from_secs(90), "Retry-After is honoured past the backoff");
        let greedy = backoff.wait(1, Some(Duration::from_secs(u64::MAX / 4)), &mut rng);
        assert_eq!(greedy, MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: Timestamp = "2026-05-01T03:00:00Z".parse().unwrap();
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Fri, 01 May 2026 03:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Fri, 01 May 2026 02:00:00 GMT", now), Some(Duration::ZERO), "past: now");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
