//! What a trigger's notifications change, measured against its holdout.
//!
//! Each user who had a notification of a trigger in the range counts once, from the business
//! day of their first one (the exposure): *treated* when it was not held out, whatever became
//! of it afterwards (sent, suppressed by consent or caps, unreachable: the comparison is by
//! intention to treat, so both groups stay random halves of the same population), *holdout*
//! when it was. Over the window that starts on that day, each group's mean tokens spent and
//! share of users who came back on a later day are compared, with 95% confidence intervals
//! from the normal approximation (Welch's for the means, Wald's for the shares).

use jiff::Timestamp;
use jiff::civil::Date;

/// A user's first notification of a kind in the range, and its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub kind: String,
    pub user_id: String,
    pub at: Timestamp,
    pub held_out: bool,
}

/// One effect report's question: triggers whose users' first notification in the range fell
/// on a business day from `from` to `to`, followed over `window_days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectQuery {
    pub from: Date,
    pub to: Date,
    pub window_days: u32,
}

/// Longest window a report may follow users over.
pub const MAX_WINDOW_DAYS: u32 = 90;

/// One trigger's groups over complete windows, and the users whose window has not ended yet
/// (left out until it has).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEffect {
    pub kind: String,
    pub treated: GroupSums,
    pub holdout: GroupSums,
    pub pending: u64,
}

/// One group's sums over its users' windows, as the lake counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupSums {
    pub users: u64,
    /// Tokens spent, summed over users, and the sum of each user's square (for the variance).
    pub spent: f64,
    pub spent_squares: f64,
    /// Users active on a day of the window after the exposure's.
    pub returned: u64,
}

impl GroupSums {
    pub fn mean_spent(&self) -> f64 {
        ratio(self.spent, self.users)
    }

    pub fn returned_share(&self) -> f64 {
        ratio(self.returned as f64, self.users)
    }

    /// The sample variance of tokens spent per user (n - 1 in the denominator).
    fn spent_variance(&self) -> f64 {
        if self.users < 2 {
            return 0.0;
        }
        let n = self.users as f64;
        ((self.spent_squares - self.spent * self.spent / n) / (n - 1.0)).max(0.0)
    }
}

fn ratio(sum: f64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The treated group's figure less the holdout's, with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    pub difference: f64,
    pub low: f64,
    pub high: f64,
}

/// The two-sided 95% quantile of the normal distribution.
const Z_95: f64 = 1.959_963_984_540_054;

impl Difference {
    fn around(difference: f64, standard_error: f64) -> Self {
        let half = Z_95 * standard_error;
        Difference { difference, low: difference - half, high: difference + half }
    }

    /// Treated less holdout mean tokens spent; `None` while either group has fewer than two
    /// users (no variance to go by).
    pub fn of_spend(treated: &GroupSums, holdout: &GroupSums) -> Option<Self> {
        if treated.users < 2 || holdout.users < 2 {
            return None;
        }
        let error = (treated.spent_variance() / treated.users as f64
            + holdout.spent_variance() / holdout.users as f64)
            .sqrt();
        Some(Self::around(treated.mean_spent() - holdout.mean_spent(), error))
    }

    /// Treated less holdout share of users who came back; `None` while either group has
    /// fewer than two users.
    pub fn of_return(treated: &GroupSums, holdout: &GroupSums) -> Option<Self> {
        if treated.users < 2 || holdout.users < 2 {
            return None;
        }
        let variance = |g: &GroupSums| {
            let p = g.returned_share();
            p * (1.0 - p) / g.users as f64
        };
        let error = (variance(treated) + variance(holdout)).sqrt();
        Some(Self::around(treated.returned_share() - holdout.returned_share(), error))
    }

    /// Whether the interval leaves out no effect at all.
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn sums(values: &[(f64, bool)]) -> GroupSums {
        GroupSums {
            users: values.len() as u64,
            spent: values.iter().map(|v| v.0).sum(),
            spent_squares: values.iter().map(|v| v.0 * v.0).sum(),
            returned: values.iter().filter(|v| v.1).count() as u64,
        }
    }

    #[test]
    fn the_figures_by_hand() {
        let treated = sums(&[(10.0, true), (20.0, true), (30.0, false), (40.0, true)]);
        let holdout = sums(&[(0.0, false), (10.0, true), (20.0, false)]);
        assert_eq!((treated.mean_spent(), holdout.mean_spent()), (25.0, 10.0));
        // Variances 166.67 and 100: error = sqrt(166.67 / 4 + 100 / 3) = 8.6603.
        let spend = Difference::of_spend(&treated, &holdout).unwrap();
        assert!((spend.difference - 15.0).abs() < 1e-9);
        assert!((spend.high - spend.low - 2.0 * Z_95 * 8.660_254).abs() < 1e-4, "{spend:?}");
        let back = Difference::of_return(&treated, &holdout).unwrap();
        assert!((back.difference - (0.75 - 1.0 / 3.0)).abs() < 1e-9);
        assert_eq!(Difference::of_spend(&treated, &sums(&[(1.0, true)])), None, "one held-out user");
        assert_eq!(GroupSums::default().mean_spent(), 0.0);
    }

    /// Simulated experiments with a known effect: the 95% intervals hold the true difference
    /// about 95% of the time, for a skewed spend and for a return share.
    #[test]
    fn the_intervals_cover_the_true_effect_at_their_level() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let runs = 1_000;
        let (mut spend_covered, mut return_covered) = (0, 0);
        for _ in 0..runs {
            // Spend: a payer share of 30% (treated) vs 25%, each payer spending 1–200 tokens.
            let mut group = |n: usize, payers: f64, back: f64| -> GroupSums {
                let draws: Vec<(f64, bool)> = (0..n)
                    .map(|_| {
                        let spend =
                            if rng.random_bool(payers) { f64::from(rng.random_range(1..=200)) } else { 0.0 };
                        (spend, rng.random_bool(back))
                    })
                    .collect();
                sums(&draws)
            };
            let (treated, holdout) = (group(900, 0.30, 0.55), group(100, 0.25, 0.45));
            let true_spend = (0.30 - 0.25) * 100.5;
            let spend = Difference::of_spend(&treated, &holdout).unwrap();
            spend_covered += usize::from(spend.low <= true_spend && true_spend <= spend.high);
            let back = Difference::of_return(&treated, &holdout).unwrap();
            return_covered += usize::from(back.low <= 0.10 && 0.10 <= back.high);
        }
        // 95% of 1,000 runs, give or take four binomial standard deviations (27).
        for (name, covered) in [("spend", spend_covered), ("return", return_covered)] {
            assert!((923..=977).contains(&covered), "{name}: {covered} of {runs}");
        }
    }
}
