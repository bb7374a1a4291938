//! Test-only helpers shared by the MSD and exponent tests: seeded Gaussian noise, an exact
//! fractional Brownian motion generator and trajectory builders.
#![allow(dead_code)]

use anodiff_core::trajectory::InMemoryTrajectory;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded RNG.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal variate (Box-Muller; independent of rand_distr, which the crate uses).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `d` independent exact fractional Brownian motions with Hurst index `h`, `n` steps each,
/// `B(0) = 0` and unit-variance increments, by Hosking's (1984) Durbin-Levinson recursion on the
/// fractional Gaussian noise autocovariance `g(k) = (|k+1|^2H - 2|k|^2H + |k-1|^2H) / 2`. Exact
/// (no approximation beyond rounding), O(n^2 d). Returned as `paths[c][t]`.
pub fn fbm(n: usize, d: usize, h: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let g = |k: usize| {
        let k = k as f64;
        0.5 * ((k + 1.0).powf(2.0 * h) - 2.0 * k.powf(2.0 * h) + (k - 1.0).abs().powf(2.0 * h))
    };
    let m = n - 1; // number of increments
    let mut noise = vec![vec![0.0f64; m]; d];
    let mut phi: Vec<f64> = Vec::new();
    let mut v = g(0);
    for k in 0..m {
        if k > 0 {
            let num = g(k) - (1..k).map(|j| phi[j - 1] * g(k - j)).sum::<f64>();
            let pkk = num / v;
            let prev = phi.clone();
            for j in 1..k {
                phi[j - 1] = prev[j - 1] - pkk * prev[k - j - 1];
            }
            phi.push(pkk);
            v *= 1.0 - pkk * pkk;
        }
        for path in noise.iter_mut() {
            let mean: f64 = (1..=k).map(|j| phi[j - 1] * path[k - j]).sum();
            path[k] = mean + v.sqrt() * normal(rng);
        }
    }
    noise
        .into_iter()
        .map(|inc| {
            let mut p = Vec::with_capacity(n);
            p.push(0.0);
            for x in inc {
                p.push(p.last().copied().unwrap_or(0.0) + x);
            }
            p
        })
        .collect()
}

/// Gaussian random walks: `d` coordinates, `n` steps, step sd `sigma`, starting at `offset`.
pub fn brownian(n: usize, d: usize, sigma: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    (0..d)
        .map(|_| {
            let mut x = 0.0;
            (0..n)
                .map(|t| {
                    if t > 0 {
                        x += sigma * normal(rng);
                    }
                    x
                })
                .collect()
        })
        .collect()
}

/// An in-memory trajectory from `paths[c][t]` plus a constant offset, stored as f32.
pub fn traj(paths: &[Vec<f64>], offset: f64) -> InMemoryTrajectory {
    let d = paths.len();
    let n = paths[0].len();
    let mut w = vec![0.0f32; n * d];
    for (c, p) in paths.iter().enumerate() {
        for (t, v) in p.iter().enumerate() {
            w[t * d + c] = (offset + v) as f32;
        }
    }
    InMemoryTrajectory::from_weights(d, w, None).expect("finite test trajectory")
}

/// The MSD of `window` at lag `tau` by the direct O(d T^2) double sum, in f64 from the stored
/// f32 values (each difference of two f32 is exact in f64).
pub fn brute_msd(w: &[f32], dim: usize, start: usize, len: usize, tau: usize) -> f64 {
    let mut s = 0.0f64;
    for t in start..start + len - tau {
        let a = &w[(t + tau) * dim..(t + tau + 1) * dim];
        let b = &w[t * dim..(t + 1) * dim];
        s += a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>();
    }
    s / (len - tau) as f64
}

/// Runs `anodiff SUB ARGS...` and returns its exit code (-1 if killed), stdout and stderr.
/// Only the CLI package's tests (tests/cli_msd.rs, tests/cli_analyze.rs) have the binary.
pub fn run_command(sub: &str, args: &[&str]) -> (i32, String, String) {
    let Some(bin) = option_env!("CARGO_BIN_EXE_anodiff") else {
        return (
            -1,
            String::new(),
            "no anodiff binary outside the CLI's tests".into(),
        );
    };
    let o = std::process::Command::new(bin)
        .arg(sub)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}
