//! Ground truth: what later models are measured against, per user, as of one business day.

use serde::Serialize;

use crate::traits::Traits;
use crate::world::UserRun;

/// Days after the as-of day that decide the churn label.
pub const CHURN_LABEL_DAYS: u32 = 7;
/// Horizons of the future-spend truth.
pub const SPEND_HORIZONS_DAYS: [u32; 2] = [30, 90];

/// One user's truth as of a business day.
#[derive(Debug, Clone, Serialize)]
pub struct UserTruth {
    pub user_id: String,
    pub traits: Traits,
    /// Business date of the as-of day.
    pub as_of: String,
    /// Whether the user had signed up by the end of the as-of day (later fields are empty if not).
    pub signed_up: bool,
    /// Whether the user had churned (stopped for good) by the end of the as-of day.
    pub churned_by_as_of: bool,
    /// Label: at least one event in the 7 business days after the as-of day.
    pub active_next_7d: Option<bool>,
    /// The probability of no event in those 7 days that the simulator's own hazard and
    /// activity rate, in force at the end of the as-of day, imply.
    pub churn_prob_7d: Option<f64>,
    /// Tokens spent (SPEND_CYBER_TOKENS) in the 30 and 90 business days after the as-of day.
    pub spend_next_30d: i64,
    pub spend_next_90d: i64,
    /// Cash paid (KRW) for token packages in the same horizons.
    pub cash_next_30d: i64,
    pub cash_next_90d: i64,
    /// Balance after every event of the written window, as the ledger must end.
    pub balance_at_window_end: i64,
    /// Events sent on purpose that the ledger must reject (with `--inject-overdrafts`).
    pub injected_rejects: usize,
}

/// Per business day of the simulation: whether active, tokens spent, cash paid.
#[derive(Default, Clone, Copy)]
pub struct Day {
    pub active: bool,
    pub spend: i64,
    pub cash: i64,
}

/// Computes the truth of `run`, given its events' business-day offsets.
pub fn truth_of(
    user_id: String,
    run: &UserRun,
    days: &[Day],
    as_of: u32,
    as_of_date: String,
    balance_at_window_end: i64,
) -> UserTruth {
    let signed_up = run.traits.signup_day <= as_of;
    let churned_by_as_of = run.churned_after.is_some_and(|d| d <= as_of);
    let range_sum = |len: u32, f: fn(&Day) -> i64| -> i64 {
        let from = as_of as usize + 1;
        days.iter().skip(from).take(len as usize).map(f).sum()
    };
    let active_next_7d = signed_up
        .then(|| days.iter().skip(as_of as usize + 1).take(CHURN_LABEL_DAYS as usize).any(|d| d.active));
    let churn_prob_7d = signed_up.then(|| {
        if churned_by_as_of {
            return 1.0;
        }
        let h = run.hazard.get(as_of as usize).copied().unwrap_or(run.traits.base_hazard);
        inactive_probability(h, run.traits.activity, CHURN_LABEL_DAYS)
    });
    let [short, long] = SPEND_HORIZONS_DAYS;
    UserTruth {
        user_id,
        traits: run.traits.clone(),
        as_of: as_of_date,
        signed_up,
        churned_by_as_of,
        active_next_7d,
        churn_prob_7d,
        spend_next_30d: range_sum(short, |d| d.spend),
        spend_next_90d: range_sum(long, |d| d.spend),
        cash_next_30d: range_sum(short, |d| d.cash),
        cash_next_90d: range_sum(long, |d| d.cash),
        balance_at_window_end,
        injected_rejects: run.overdrafts.len(),
    }
}

/// P(no active day among the next `days`) for a user alive now, with daily churn hazard `h`
/// (checked at the end of each day, today included) and daily activity probability `a`:
/// churning at the end of day k after k inactive days, or surviving all of them inactive.
pub fn inactive_probability(h: f64, a: f64, days: u32) -> f64 {
    let survive_idle = (1.0 - h) * (1.0 - a);
    let churn_paths: f64 = (0..days).map(|k| libm::pow(survive_idle, f64::from(k)) * h).sum();
    churn_paths + libm::pow(survive_idle, f64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactivity_probability_has_the_right_limits() {
        assert!((inactive_probability(0.0, 0.0, 7) - 1.0).abs() < 1e-12, "never active: surely inactive");
        assert!((inactive_probability(1.0, 0.9, 7) - 1.0).abs() < 1e-12, "churns tonight");
        assert!(inactive_probability(0.0, 1.0, 7).abs() < 1e-12, "active every day");
        let p = inactive_probability(0.01, 0.3, 7);
        let by_hand = (0..7).map(|k| (0.99f64 * 0.7).powi(k) * 0.01).sum::<f64>() + (0.99f64 * 0.7).powi(7);
        assert!((p - by_hand).abs() < 1e-12);
    }
}
