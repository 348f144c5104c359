//! The BG/NBD model (Fader, Hardie & Lee, "Counting your customers the easy way", 2005):
//! while alive, a customer buys at a Poisson rate λ, gamma-distributed across customers
//! (shape `r`, rate `alpha`); after each purchase they drop out with probability p,
//! beta-distributed across customers (`a`, `b`).

use super::History;
use crate::FitError;
use crate::fit::maximise;
use crate::special::{hyp2f1, ln_gamma};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Fewest customers a fit is tried on.
    pub const MIN_CUSTOMERS: usize = 10;

    /// The parameters of greatest likelihood for `customers`.
    pub fn fit(customers: &[History]) -> Result<BgNbd, FitError> {
        if customers.len() < Self::MIN_CUSTOMERS {
            return Err(FitError::TooFewCustomers { needed: Self::MIN_CUSTOMERS, got: customers.len() });
        }
        // Per customer, so that the optimizer's tolerance means the same for any count.
        let n = customers.len() as f64;
        let ll = |p: &[f64]| BgNbd { r: p[0], alpha: p[1], a: p[2], b: p[3] }.log_likelihood(customers) / n;
        let p = maximise(ll, &[1.0, 1.0, 1.0, 1.0])?;
        Ok(BgNbd { r: p[0], alpha: p[1], a: p[2], b: p[3] })
    }

    /// The log-likelihood of `customers` (equation 6 of the paper, summed).
    pub fn log_likelihood(&self, customers: &[History]) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let constant = r * alpha.ln() - ln_gamma(r) + ln_gamma(a + b) - ln_gamma(b);
        customers
            .iter()
            .map(|&History { x, t_x, t }| {
                let head = constant + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
                let survived = -(r + x) * (alpha + t).ln();
                if x > 0.0 {
                    let dropped = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln();
                    head + log_sum_exp(survived, dropped)
                } else {
                    head + survived
                }
            })
            .sum()
    }

    /// The probability that a customer with history `h` is still alive at the end of it.
    pub fn p_alive(&self, h: &History) -> f64 {
        if h.x == 0.0 {
            return 1.0;
        }
        1.0 / (1.0 + self.dropped_odds(h))
    }

    /// The odds of "dropped out after the last purchase" against "alive" given `h`.
    fn dropped_odds(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if h.x == 0.0 {
            return 0.0;
        }
        a / (b + h.x - 1.0) * ((alpha + h.t) / (alpha + h.t_x)).powf(r + h.x)
    }

    /// Expected purchases in the `horizon` after the end of history `h` (equation 10).
    pub fn expected_purchases(&self, h: &History, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.x;
        let z = horizon / (alpha + h.t + horizon);
        let ratio = ((alpha + h.t) / (alpha + h.t + horizon)).powf(r + x);
        let numerator =
            (a + b + x - 1.0) / (a - 1.0) * (1.0 - ratio * hyp2f1(r + x, b + x, a + b + x - 1.0, z));
        numerator / (1.0 + self.dropped_odds(h))
    }
}

fn log_sum_exp(u: f64, v: f64) -> f64 {
    let top = u.max(v);
    top + ((u - top).exp() + (v - top).exp()).ln()
}
