//! Predictive models: lifetime value from each user's purchase history, as the BG/NBD model
//! of repeat purchases (Fader, Hardie & Lee, 2005) with the Gamma-Gamma model of their
//! amounts, each fitted by maximum likelihood. Pure: the caller reads the history (the lake's
//! rollups) and stores the predictions.
//!
//! Both models take a customer's summary in one time unit throughout (days, weeks):
//! `x` repeat purchases, the last at `t_x` after the first, observed for `t` since the first.

mod fit;
pub mod ltv;
mod special;

pub use fit::FitError;
