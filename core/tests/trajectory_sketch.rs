//! The Johnson-Lindenstrauss sketch against brute force: on a seeded random walk, every pairwise
//! squared distance (hence every MSD value) of the projected trajectory lies within the requested
//! relative error of the exact one computed in f64 from the original f32 weights; the squared
//! norm estimate is unbiased over seeds; losses pass through; bad data is reported.

use anodiff_core::trajectory::sketch::jl_dimension;
use anodiff_core::trajectory::{InMemoryTrajectory, Sketch, TrajectorySource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A walk far from the origin (offset 10 per coordinate, ||w|| ~ 900) with small steps (uniform
/// increments of +-1e-3 plus a slow drift): the regime where uncentred f32 storage would lose
/// the displacements.
fn walk(n: usize, d: usize, seed: u64) -> InMemoryTrajectory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = vec![0.0f32; n * d];
    let mut cur: Vec<f64> = (0..d).map(|_| 10.0 + rng.random_range(-1.0..1.0)).collect();
    for t in 0..n {
        for c in 0..d {
            cur[c] += rng.random_range(-1e-3..1e-3) + if c % 3 == 0 { 2e-4 } else { 0.0 };
            w[t * d + c] = cur[c] as f32;
        }
    }
    let losses = (0..n).map(|t| 1.0 / (t + 1) as f64).collect();
    InMemoryTrajectory::from_weights(d, w, Some(losses)).unwrap()
}

fn all_steps(src: &dyn TrajectorySource) -> Vec<f32> {
    let mut out = vec![0.0; src.n_steps() * src.dim()];
    src.read_weights(0..src.n_steps(), 0..src.dim(), &mut out)
        .unwrap();
    out
}

fn dist2(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum()
}

/// Brute-force time-averaged MSD at lag tau over all steps.
fn msd(w: &[f32], d: usize, tau: usize) -> f64 {
    let n = w.len() / d;
    (0..n - tau)
        .map(|t| dist2(&w[t * d..(t + 1) * d], &w[(t + tau) * d..(t + tau + 1) * d]))
        .sum::<f64>()
        / (n - tau) as f64
}

#[test]
fn all_pairwise_distances_and_msd_within_stated_error() {
    let (n, d, eps, delta) = (100, 8000, 0.3, 1e-3);
    let traj = walk(n, d, 11);
    let sketch = Sketch::with_error(&traj, eps, delta, 2024).unwrap();
    // (4 ln 100 + 2 ln 1000) / (0.045 - 0.009) = 895.7
    assert_eq!(sketch.k(), 896);
    let k = sketch.k();
    let (w, y) = (all_steps(&traj), all_steps(&sketch));
    let mut worst = 0.0f64;
    for s in 0..n {
        for t in s + 1..n {
            let exact = dist2(&w[s * d..(s + 1) * d], &w[t * d..(t + 1) * d]);
            let approx = dist2(&y[s * k..(s + 1) * k], &y[t * k..(t + 1) * k]);
            let rel = approx / exact - 1.0;
            worst = worst.max(rel.abs());
            assert!(rel.abs() <= eps, "pair ({s}, {t}): relative error {rel}");
        }
    }
    // The bound is a worst case over pairs; the typical error is sqrt(2/k) = 4.7 %.
    eprintln!("worst pairwise relative error {worst:.4} (k = {k})");
    assert!(worst > 0.01 && worst < eps, "worst {worst}");
    for tau in [1, 5, 30, 99] {
        let rel = msd(&y, k, tau) / msd(&w, d, tau) - 1.0;
        assert!(rel.abs() <= eps, "MSD at lag {tau}: relative error {rel}");
    }
    // Losses pass through untouched.
    assert_eq!(sketch.losses(3..5).unwrap(), traj.losses(3..5).unwrap());
}

#[test]
fn squared_distance_estimate_is_unbiased_over_seeds() {
    // One pair, k = 8: ratio = ||P x||^2 / ||x||^2 has mean 1 and variance <= 2/k = 0.25.
    let traj = walk(2, 500, 5);
    let w = all_steps(&traj);
    let exact = dist2(&w[..500], &w[500..]);
    let seeds = 400;
    let ratios: Vec<f64> = (0..seeds)
        .map(|seed| {
            let s = Sketch::with_k(&traj, 8, seed).unwrap();
            let y = all_steps(&s);
            dist2(&y[..8], &y[8..]) / exact
        })
        .collect();
    let mean = ratios.iter().sum::<f64>() / seeds as f64;
    let var = ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
    // 4 standard errors of the mean (sd <= 0.5): a false failure has probability < 1e-4.
    assert!(
        (mean - 1.0).abs() < 4.0 * 0.5 / (seeds as f64).sqrt(),
        "mean {mean}"
    );
    assert!(var < 0.25 * 1.5, "variance {var} (theory <= 0.25)");
}

#[test]
fn sketch_dimension_formula() {
    // Hand values of (4 ln n + 2 ln(1/delta)) / (eps^2/2 - eps^3/3), rounded up.
    assert_eq!(jl_dimension(0.1, 1000, 1e-3).unwrap(), 8882); // 41.4465 / 0.0046667 = 8881.4
    assert_eq!(jl_dimension(0.3, 60, 0.01).unwrap(), 711); // 25.5876 / 0.036 = 710.8
    assert_eq!(jl_dimension(0.25, 200, 1e-3).unwrap(), 1345);
}

#[test]
fn nan_in_source_is_reported() {
    let mut w = vec![0.5f32; 40];
    w[27] = f32::NAN;
    // InMemoryTrajectory refuses NaN itself; use a .npy source, which validates on read.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.npy");
    anodiff_core::trajectory::npy::write_npy_f32(&p, 4, 10, &w).unwrap();
    let src = anodiff_core::trajectory::NpyTrajectory::open(&p).unwrap();
    let e = Sketch::with_k(&src, 4, 1).unwrap_err().to_string();
    assert!(
        e.contains("nan.npy") && e.contains("step 2, coordinate 7"),
        "{e}"
    );
}
