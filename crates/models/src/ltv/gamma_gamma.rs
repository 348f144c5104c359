//! The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee, "RFM and CLV", 2005;
//! Fader & Hardie, "The Gamma-Gamma model of monetary value", 2013): a customer's purchases
//! are gamma-distributed with shape `p` and a rate ν of their own, and ν is gamma-distributed
//! across customers (shape `q`, rate `gamma`). It is fitted on customers with at least one
//! repeat purchase, from the number `x` and mean `m` of their repeat purchases' amounts.

use crate::FitError;
use crate::fit::maximise;
use crate::special::ln_gamma;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// A customer's repeat purchases: how many, and their mean amount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    pub x: f64,
    pub mean: f64,
}

impl GammaGamma {
    /// Fewest customers with repeat purchases a fit is tried on.
    pub const MIN_CUSTOMERS: usize = 10;

    /// The parameters of greatest likelihood for `customers` (those with `x` ≥ 1 and a
    /// positive mean; the others carry no information on amounts and are left out).
    pub fn fit(customers: &[Spend]) -> Result<GammaGamma, FitError> {
        let repeat: Vec<Spend> = customers.iter().copied().filter(|c| c.x >= 1.0 && c.mean > 0.0).collect();
        if repeat.len() < Self::MIN_CUSTOMERS {
            return Err(FitError::TooFewCustomers { needed: Self::MIN_CUSTOMERS, got: repeat.len() });
        }
        // Per customer, so that the optimizer's tolerance means the same for any count.
        let n = repeat.len() as f64;
        let ll = |v: &[f64]| GammaGamma { p: v[0], q: v[1], gamma: v[2] }.log_likelihood(&repeat) / n;
        let v = maximise(ll, &[1.0, 1.0, 1.0])?;
        Ok(GammaGamma { p: v[0], q: v[1], gamma: v[2] })
    }

    /// The log-likelihood of `customers` (each with `x` ≥ 1).
    pub fn log_likelihood(&self, customers: &[Spend]) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let constant = q * gamma.ln() - ln_gamma(q);
        customers
            .iter()
            .map(|&Spend { x, mean }| {
                constant + ln_gamma(p * x + q) - ln_gamma(p * x) + (p * x - 1.0) * mean.ln() + p * x * x.ln()
                    - (p * x + q) * (gamma + mean * x).ln()
            })
            .sum()
    }

    /// The expected amount of a future purchase of a customer with `spend` (their mean
    /// weighed against the population's, by how many purchases it rests on); the
    /// population's mean, p·γ/(q − 1), for a customer with none. `None` when q ≤ 1 (the
    /// population's mean is infinite).
    pub fn expected_amount(&self, spend: &Spend) -> Option<f64> {
        let GammaGamma { p, q, gamma } = *self;
        (q > 1.0).then(|| p * (gamma + spend.x * spend.mean) / (p * spend.x + q - 1.0))
    }
}
