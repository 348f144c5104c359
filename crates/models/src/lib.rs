//! Predictive models. Churn: gradient-boosted trees over the lake's features, calibrated on a
//! held-out period, with the metrics that judge them. Lifetime value from each user's
//! purchase history, as the BG/NBD model of repeat purchases (Fader, Hardie & Lee, 2005) with
//! the Gamma-Gamma model of their amounts, each fitted by maximum likelihood. Pure: the
//! caller reads the history (the lake's rollups) and stores the models and their predictions.
//!
//! The LTV models take a customer's summary in one time unit throughout (days, weeks):
//! `x` repeat purchases, the last at `t_x` after the first, observed for `t` since the first.

mod calibration;
pub mod churn;
pub mod drift;
mod error;
mod fit;
pub mod ltv;
pub mod metrics;
mod special;
pub mod table;

pub use calibration::Isotonic;
pub use error::ModelError;
pub use fit::FitError;
