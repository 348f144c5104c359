//! Deterministic samplers. They use the pure-Rust `libm` for every transcendental function,
//! so a seed gives the same numbers, and the same bytes, on any platform.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A uniform draw in [0, 1).
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

pub fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    unit(rng) < p
}

/// Standard normal (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]: ln is finite
    let u2 = unit(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

/// Log-normal with the given parameters of the underlying normal.
pub fn lognormal(rng: &mut ChaCha8Rng, mu: f64, sigma: f64) -> f64 {
    libm::exp(mu + sigma * normal(rng))
}

/// Gamma(shape, 1) by Marsaglia and Tsang (shape ≥ 1; smaller shapes are boosted).
fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let boost = libm::pow(unit(rng).max(f64::MIN_POSITIVE), 1.0 / shape);
        return gamma(rng, shape + 1.0) * boost;
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - unit(rng);
        if libm::log(u) < 0.5 * x * x + d - d * v + d * libm::log(v) {
            return d * v;
        }
    }
}

/// Beta(a, b) from two gammas.
pub fn beta(rng: &mut ChaCha8Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a);
    let y = gamma(rng, b);
    x / (x + y)
}

/// Poisson(lambda) by Knuth's product method (small lambdas only, as used here).
pub fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    let limit = libm::exp(-lambda);
    let (mut k, mut p) = (0, unit(rng));
    while p > limit && k < 1000 {
        k += 1;
        p *= unit(rng);
    }
    k
}

/// An index drawn with the given weights (which need not sum to one).
pub fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = unit(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn mean(n: usize, mut draw: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| draw()).sum::<f64>() / n as f64
    }

    #[test]
    fn moments_match_the_distributions() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((mean(100_000, || normal(&mut rng))).abs() < 0.02);
        assert!((mean(100_000, || beta(&mut rng, 2.0, 3.0)) - 0.4).abs() < 0.01);
        assert!((mean(100_000, || f64::from(poisson(&mut rng, 2.5))) - 2.5).abs() < 0.03);
        let ln_mean = mean(100_000, || libm::log(lognormal(&mut rng, 1.0, 0.5)));
        assert!((ln_mean - 1.0).abs() < 0.01);
        let picks = mean(100_000, || weighted(&mut rng, &[1.0, 3.0]) as f64);
        assert!((picks - 0.75).abs() < 0.01);
    }
}
