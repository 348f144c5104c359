//! Lifetime value: how many purchases a customer will make (BG/NBD) and what each will be
//! worth (Gamma-Gamma), or the spend itself from the features (gradient-boosted trees).

pub mod bgnbd;
pub mod boosted;
pub mod gamma_gamma;

/// A customer's purchase history, in one time unit (days, weeks): `x` repeat purchases
/// (after the first), the last `t_x` after the first, and `t` observed since the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
}
