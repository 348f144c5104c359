//! Maximum likelihood by the Nelder–Mead simplex (argmin) over the logarithms of positive
//! parameters, so that no step leaves their domain.

use argmin::core::{CostFunction, Error, Executor, State};
use argmin::solver::neldermead::NelderMead;

/// Why a fit gave no parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// Fewer customers than the model needs.
    TooFewCustomers { needed: usize, got: usize },
    /// The optimizer stopped without a finite likelihood.
    NoOptimum(String),
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::TooFewCustomers { needed, got } => write!(f, "{got} customers, {needed} needed"),
            FitError::NoOptimum(why) => write!(f, "no maximum of the likelihood found: {why}"),
        }
    }
}

impl std::error::Error for FitError {}

/// A negative log-likelihood over the logarithms of the parameters.
struct Negative<F>(F);

impl<F: Fn(&[f64]) -> f64> CostFunction for Negative<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, logs: &Self::Param) -> Result<f64, Error> {
        let params: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        let ll = (self.0)(&params);
        // Outside where the likelihood is finite: worse than anywhere inside.
        Ok(if ll.is_finite() { -ll } else { f64::MAX })
    }
}

/// The positive parameters that maximise `log_likelihood`, searched from `start`.
pub(crate) fn maximise(log_likelihood: impl Fn(&[f64]) -> f64, start: &[f64]) -> Result<Vec<f64>, FitError> {
    let logs: Vec<f64> = start.iter().map(|s| s.ln()).collect();
    // The first simplex: the start, and the start moved by a factor of e along each axis.
    let mut simplex = vec![logs.clone()];
    for i in 0..logs.len() {
        let mut vertex = logs.clone();
        vertex[i] += 1.0;
        simplex.push(vertex);
    }
    let solver =
        NelderMead::new(simplex).with_sd_tolerance(1e-12).map_err(|e| FitError::NoOptimum(e.to_string()))?;
    let result = Executor::new(Negative(log_likelihood), solver)
        .configure(|state| state.max_iters(20_000))
        .run()
        .map_err(|e| FitError::NoOptimum(e.to_string()))?;
    let state = result.state();
    match (state.get_best_param(), state.get_best_cost()) {
        (Some(best), cost) if cost.is_finite() && cost < f64::MAX => {
            Ok(best.iter().map(|l| l.exp()).collect())
        }
        _ => Err(FitError::NoOptimum("no finite likelihood".into())),
    }
}
