//! Shared helpers of the fit tests: a seeded Chambers-Mallows-Stuck sampler written out here
//! (independent of `anodiff_core::stable`), and the golden-file reader.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use std::f64::consts::PI;

/// One draw from S0(alpha, beta, scale, loc) by Chambers-Mallows-Stuck (1976) for alpha != 1:
/// standard S1 draw Z, then X = scale (Z - beta tan(pi alpha / 2)) + loc (Nolan 2020, s. 1.7).
pub fn cms_s0(rng: &mut impl Rng, a: f64, b: f64, g: f64, d: f64) -> f64 {
    let th = PI * (rng.random::<f64>() - 0.5);
    let w = -(1.0 - rng.random::<f64>()).ln();
    let t = b * (PI * a / 2.0).tan();
    let th0 = t.atan() / a;
    let z = (a * (th0 + th)).sin() / ((a * th0).cos() * th.cos()).powf(1.0 / a)
        * ((a * th0 + (a - 1.0) * th).cos() / w).powf((1.0 - a) / a);
    g * (z - t) + d
}

/// n seeded draws from S0(p[0], p[1], p[2], p[3]).
pub fn sample(n: usize, seed: u64, p: [f64; 4]) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| cms_s0(&mut rng, p[0], p[1], p[2], p[3]))
        .collect()
}
