//! Calibration of the regime-change analysis (`anodiff_core::regime`) end to end: synthetic
//! trajectories in `d` independent coordinates, each window's exponent fitted as `anodiff
//! regime` fits it, then the change test and intervals.
//!
//! - planted changes: fBm whose Hurst exponent switches from `H1` to `H2` at a step `t0` drawn
//!   uniformly over the cells the test can place it in; coverage of the `t0`, `alpha_before`
//!   (`2 H1`) and `alpha_after` (`2 H2`) intervals and the rejection rate (power);
//! - stationary fBm at several `H`: the rate of reported changes (size, nominal 5 %).
//!
//! The full study is `#[ignore]`d (tables in CALIBRATION.md, section "Regime change"):
//! `cargo test --release -p anodiff-core --test calibration_regime -- --ignored --nocapture`.
//! The default test is a small version with binomial bands that fail with probability about
//! 0.01 when the procedure is as calibrated as the full study says.

use anodiff_core::msd::Windows;
use anodiff_core::regime::{
    correlation_hurst, exponent_correlation, exponent_options, fbm_paths, fit_change,
    window_exponent, window_lags, ExponentCorrelation, RegimeOptions,
};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

/// Correlations of the window exponents by [`correlation_hurst`] (in units of 0.05), simulated
/// once per study: `regime_change` computes the same from each data set, with its own seed.
type CorrCache = Mutex<HashMap<u64, ExponentCorrelation>>;

/// Layout of one synthetic trajectory.
#[derive(Clone, Copy)]
struct Layout {
    /// Coordinates.
    d: usize,
    /// Window length.
    len: usize,
    /// Stride.
    stride: usize,
    /// Windows.
    m: usize,
}

impl Layout {
    fn n_steps(&self) -> usize {
        self.len + (self.m - 1) * self.stride
    }

    /// Range of planted change steps: the cells `k = q + 1 ..= m - 3` (min_windows = 2).
    fn t0_range(&self) -> (usize, usize) {
        let q = self.len.div_ceil(self.stride);
        ((q + 1) * self.stride + 1, (self.m - 2) * self.stride)
    }
}

/// What one replicate gave.
struct Outcome {
    p: f64,
    t0_covered: bool,
    before_covered: bool,
    after_covered: bool,
    t0_width: f64,
    se_scale: f64,
}

fn replicate(
    lay: Layout,
    (h1, h2): (f64, f64),
    t0: usize,
    seed: u64,
    opts: &RegimeOptions,
    cache: &CorrCache,
) -> Outcome {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = lay.n_steps();
    let tr = fbm_paths(n, lay.d, |t| if t < t0 { h1 } else { h2 }, &mut rng).unwrap();
    let wins = Windows::Strided {
        len: lay.len,
        stride: lay.stride,
    }
    .resolve(n)
    .unwrap();
    assert_eq!(wins.len(), lay.m);
    let ex: Vec<_> = wins
        .iter()
        .map(|&w| window_exponent(&tr, w, None).unwrap())
        .collect();
    let h = correlation_hurst(&ex);
    let key = (h * 20.0).round() as u64;
    let cached = cache.lock().unwrap().get(&key).cloned();
    let corr = match cached {
        Some(c) => c,
        None => {
            let lags = window_lags(lay.len, None).unwrap();
            let c = exponent_correlation(
                lay.len,
                lay.stride,
                &lags,
                &exponent_options(),
                h,
                opts.corr_sims,
                key,
            )
            .unwrap();
            cache.lock().unwrap().insert(key, c.clone());
            c
        }
    };
    let o = RegimeOptions {
        seed,
        ..opts.clone()
    };
    let r = fit_change(&ex, &corr, &o).unwrap();
    let e = r.estimate;
    let t = t0 as f64;
    Outcome {
        p: r.test.p_value,
        t0_covered: e.t0_ci95[0] <= t && t <= e.t0_ci95[1],
        before_covered: e.alpha_before_ci95[0] <= 2.0 * h1 && 2.0 * h1 <= e.alpha_before_ci95[1],
        after_covered: e.alpha_after_ci95[0] <= 2.0 * h2 && 2.0 * h2 <= e.alpha_after_ci95[1],
        t0_width: e.t0_ci95[1] - e.t0_ci95[0],
        se_scale: r.test.se_scale,
    }
}

/// `reps` replicates; a planted change at a uniform step when `h1 != h2`.
fn study(
    lay: Layout,
    (h1, h2): (f64, f64),
    reps: usize,
    seed: u64,
    opts: &RegimeOptions,
) -> Vec<Outcome> {
    let (lo, hi) = lay.t0_range();
    let cache = CorrCache::default();
    (0..reps)
        .into_par_iter()
        .map(|i| {
            let s = seed + i as u64;
            let t0 = if h1 == h2 {
                usize::MAX
            } else {
                rand_chacha::ChaCha8Rng::seed_from_u64(s ^ 0xabc).random_range(lo..=hi)
            };
            replicate(lay, (h1, h2), t0, s, opts, &cache)
        })
        .collect()
}

fn count(v: &[Outcome], f: impl Fn(&Outcome) -> bool) -> usize {
    v.iter().filter(|o| f(o)).count()
}

/// 95 % Wilson interval of a binomial proportion.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let c = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let h = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (c - h, c + h)
}

fn summary(name: &str, v: &[Outcome], level: f64) {
    let n = v.len();
    let rej = count(v, |o| o.p < level);
    let (rl, rh) = wilson(rej, n);
    let cov = count(v, |o| o.t0_covered);
    let (cl, ch) = wilson(cov, n);
    let b = count(v, |o| o.before_covered);
    let a = count(v, |o| o.after_covered);
    let w = v.iter().map(|o| o.t0_width).sum::<f64>() / n as f64;
    let s = v.iter().map(|o| o.se_scale).sum::<f64>() / n as f64;
    println!(
        "| {name} | {n} | {rej} ({:.1} %, {:.1}-{:.1}) | {cov} ({:.1} %, {:.1}-{:.1}) | {b} | {a} | {w:.0} | {s:.2} |",
        100.0 * rej as f64 / n as f64,
        100.0 * rl,
        100.0 * rh,
        100.0 * cov as f64 / n as f64,
        100.0 * cl,
        100.0 * ch,
    );
}

/// CI-sized check: 8 planted changes (H 0.7 -> 0.35) and 8 stationary fBm (H = 0.5), d = 16,
/// T = 100, S = 50, 10 windows. If power is 100 %, coverage 95 % and size 5 % (the full study's
/// figures), P(power < 7 / 8) < 0.01, P(coverage < 6 / 8) = 0.006 and
/// P(false changes > 2 / 8) = 0.006.
#[test]
fn calibration_small() {
    let lay = Layout {
        d: 16,
        len: 100,
        stride: 50,
        m: 10,
    };
    let opts = RegimeOptions {
        null_sims: 999,
        boot: 499,
        ..RegimeOptions::default()
    };
    let planted = study(lay, (0.7, 0.35), 8, 1000, &opts);
    let stationary = study(lay, (0.5, 0.5), 8, 2000, &opts);
    summary("planted 0.7 -> 0.35", &planted, 0.05);
    summary("stationary 0.5", &stationary, 0.05);
    assert!(count(&planted, |o| o.p < 0.05) >= 7);
    assert!(count(&planted, |o| o.t0_covered) >= 6);
    assert!(count(&stationary, |o| o.p < 0.05) <= 2);
}

/// The full study behind CALIBRATION.md ("Regime change"). `REGIME_REPS` (default 200) sets
/// the replicates of the planted 0.7 -> 0.35 change; the stationary cases get half as many and
/// the small changes a quarter.
#[test]
#[ignore]
fn calibration_full() {
    let lay = Layout {
        d: 20,
        len: 200,
        stride: 100,
        m: 14,
    };
    let opts = RegimeOptions {
        null_sims: 1999,
        boot: 999,
        ..RegimeOptions::default()
    };
    let reps: usize = std::env::var("REGIME_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    println!(
        "d = {}, T = {}, S = {}, {} windows ({} steps); planted t0 uniform in {:?}",
        lay.d,
        lay.len,
        lay.stride,
        lay.m,
        lay.n_steps(),
        lay.t0_range()
    );
    println!(
        "| case | reps | p < 0.05 (Wilson 95 %) | t0 covered (Wilson 95 %) | alpha_before \
         covered | alpha_after covered | mean t0 width | mean se_scale |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut all = Vec::new();
    for (name, h, n, seed) in [
        ("planted 0.7 -> 0.35", (0.7, 0.35), reps, 10_000u64),
        ("stationary H = 0.35", (0.35, 0.35), reps / 2, 20_000),
        ("stationary H = 0.5", (0.5, 0.5), reps / 2, 30_000),
        ("stationary H = 0.7", (0.7, 0.7), reps / 2, 40_000),
        ("planted 0.55 -> 0.45", (0.55, 0.45), reps / 4, 50_000),
        ("planted 0.5 -> 0.45", (0.5, 0.45), reps / 4, 60_000),
    ] {
        let v = study(lay, h, n, seed, &opts);
        summary(name, &v, 0.05);
        all.push((name, v));
    }
    let planted = &all[0].1;
    let (cl, ch) = wilson(count(planted, |o| o.t0_covered), planted.len());
    assert!(cl <= 0.95 && ch >= 0.93, "t0 coverage band ({cl}, {ch})");
    for (name, v) in &all[1..4] {
        let (rl, _) = wilson(count(v, |o| o.p < 0.05), v.len());
        assert!(rl <= 0.05, "{name}: size above 5 %");
    }
}
