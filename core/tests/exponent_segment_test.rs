//! The two statistics of `fit_msd`'s one-vs-two-segment test compared by simulation with known
//! truth: the null is exact fractional Brownian motion (one power law, H = 0.3, so
//! alpha = 0.6), the alternative the planted smooth crossover of `tau0_interval_covers` in
//! tests/exponent_processes.rs (fBm H = 0.3 plus a drift v t with v = 50^-0.7, so
//! MSD = d (tau^0.6 + v^2 tau^2): subdiffusive below tau ~ 50, ballistic above). Both with
//! T = 1000, 30 log-spaced lags up to 250, at d = 16 and d = 4 coordinates. The size and power
//! of the default settings over H and d are in core/tests/calibration_msd.rs.

mod msd_common;

use anodiff_core::exponent::{fit_msd, MsdFitOptions, SegmentTest};
use anodiff_core::msd::{msd_with_blocks, Lags, Window};
use msd_common::*;

const T: usize = 1000;

/// Whether one segment is rejected at 5 % for one walk.
fn rejects(paths: &[Vec<f64>], seed: u64, null_sims: usize, test: SegmentTest) -> bool {
    let tr = traj(paths, 0.0);
    let lags = Lags::Log(30).resolve(T, Some(250)).unwrap();
    let m = msd_with_blocks(&tr, Window { start: 0, len: T }, &lags, 20).unwrap();
    let opts = MsdFitOptions {
        seed,
        n_boot: 20,
        restarts: 3,
        null_sims,
        segment_test: test,
        ..MsdFitOptions::default()
    };
    fit_msd(&m, &opts).unwrap().two_regime.is_some()
}

fn null_walk(d: usize, seed: u64) -> Vec<Vec<f64>> {
    fbm(T, d, 0.3, &mut rng(70_000 + seed))
}

fn planted_walk(d: usize, seed: u64) -> Vec<Vec<f64>> {
    let v = 50f64.powf(-0.7);
    let mut paths = fbm(T, d, 0.3, &mut rng(20_000 + seed));
    for p in paths.iter_mut() {
        for (t, x) in p.iter_mut().enumerate() {
            *x += v * t as f64;
        }
    }
    paths
}

/// Rejections out of `n` walks of the null and of the planted crossover.
fn rates(d: usize, n: u64, null_sims: usize, test: SegmentTest) -> (usize, usize) {
    let size = (0..n)
        .filter(|&s| rejects(&null_walk(d, s), s, null_sims, test))
        .count();
    let power = (0..n)
        .filter(|&s| rejects(&planted_walk(d, s), s, null_sims, test))
        .count();
    eprintln!(
        "{test:?}, d = {d}: one segment rejected in {size} / {n} null walks, {power} / {n} planted"
    );
    (size, power)
}

/// Quick check, run by default: 20 null and 20 planted walks at d = 16 (49 null simulations
/// each). Size: at most 4 / 20 rejections (nominal 5 %: mean 1, sd 0.97; P(X >= 5) = 0.3 %).
/// Power: at least 15 / 20 detections (the full version finds all 100 / 100).
#[test]
fn segment_test_size_and_power_d16() {
    let (size, power) = rates(16, 20, 49, SegmentTest::Standardised);
    assert!(size <= 4, "size {size} / 20");
    assert!(power >= 15, "power {power} / 20");
}

/// Both statistics (Davies' Wald statistic and the default standardised one) on 100 null and
/// 100 planted walks at d = 16 and at d = 4, 199 null simulations each. Size band for the default test: 5 % nominal, at most
/// 11 / 100 (mean 5, sd 2.2: 2.75 sd above; P(X >= 12) = 0.5 %).
#[test]
#[ignore = "slow (minutes); the quick version runs by default"]
fn segment_test_size_and_power_full() {
    for d in [16, 4] {
        rates(d, 100, 199, SegmentTest::DaviesWald);
        let (size, _power) = rates(d, 100, 199, SegmentTest::Standardised);
        assert!(size <= 11, "d = {d}: size {size} / 100");
    }
}
