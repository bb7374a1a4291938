//! Size and power of `fit_msd`'s one-vs-two-regime test and the error rates of its regime
//! labels, by simulation, with the default settings (10 log-spaced lags per decade, fit up to
//! T/4, 199 null simulations, 200 bootstrap replicates, origin blocks below 8 coordinates).
//!
//! The walks are exact fractional Brownian motion made here by an independent Davies-Harte
//! circulant embedding (Box-Muller normals, its own FFT call), so the truth is known: one power
//! law with `alpha = 2H`. Rates come with Wilson 95 % intervals.
//!
//! The default tests are CI-sized (about 12 s in the test profile on 2 cores); the full study
//! (`full_study_size`, `full_study_power`; about 10 minutes) prints the tables of
//! CALIBRATION.md ("MSD exponent and crossover"):
//!
//! ```text
//! cargo test -p anodiff-core --test calibration_msd -- --ignored --nocapture
//! ```

use anodiff_core::exponent::{fit_msd, MsdFit, MsdFitOptions, Regime};
use anodiff_core::msd::{msd_for_bootstrap, Lags, Window};
use anodiff_core::trajectory::InMemoryTrajectory;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::num_complex::Complex64;

/// Box-Muller standard normal (independent of the crate's `rand_distr` sampler).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `d` paths of exact fBm, `n` points each (`B(0) = 0`, unit-variance increments), by the
/// Davies-Harte (1987) embedding of the fGn autocovariance
/// `g(k) = (|k+1|^2H - 2|k|^2H + |k-1|^2H) / 2` in a circulant of size `2(n - 1)`.
fn fbm_paths(n: usize, d: usize, h: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let m = n - 1;
    let g = |k: usize| {
        let k = k as f64;
        0.5 * ((k + 1.0).powf(2.0 * h) - 2.0 * k.powf(2.0 * h) + (k - 1.0).abs().powf(2.0 * h))
    };
    let l = 2 * m;
    let mut row: Vec<Complex64> = (0..l)
        .map(|j| Complex64::new(g(j.min(l - j)), 0.0))
        .collect();
    let fft = rustfft::FftPlanner::new().plan_fft_forward(l);
    fft.process(&mut row);
    let s: Vec<f64> = row
        .iter()
        .map(|c| (c.re.max(0.0) / l as f64).sqrt())
        .collect();
    let mut out = Vec::with_capacity(d);
    while out.len() < d {
        let mut z: Vec<Complex64> = s
            .iter()
            .map(|&v| Complex64::new(v * normal(rng), v * normal(rng)))
            .collect();
        fft.process(&mut z);
        for part in [0, 1] {
            if out.len() < d {
                let mut p = Vec::with_capacity(n);
                let mut x = 0.0;
                p.push(x);
                for c in &z[..m] {
                    x += if part == 0 { c.re } else { c.im };
                    p.push(x);
                }
                out.push(p);
            }
        }
    }
    out
}

/// Row-major f32 trajectory from `paths[c][t]`.
fn traj(paths: &[Vec<f64>]) -> InMemoryTrajectory {
    let (d, n) = (paths.len(), paths[0].len());
    let mut w = vec![0.0f32; n * d];
    for (c, p) in paths.iter().enumerate() {
        for (t, v) in p.iter().enumerate() {
            w[t * d + c] = *v as f32;
        }
    }
    InMemoryTrajectory::from_weights(d, w, None).expect("finite walk")
}

/// The default analysis of the CLI: default lags, 20 origin blocks (used below 8 coordinates),
/// default fit options with the given seed.
fn analyse(paths: &[Vec<f64>], seed: u64) -> MsdFit {
    let tr = traj(paths);
    let n = paths[0].len();
    let lags = Lags::default().resolve(n, None).unwrap();
    let m = msd_for_bootstrap(&tr, Window { start: 0, len: n }, &lags, 20).unwrap();
    let opts = MsdFitOptions {
        seed,
        ..MsdFitOptions::default()
    };
    fit_msd(&m, &opts).unwrap()
}

/// Wilson score 95 % interval of a binomial proportion `k / n`.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let c = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let h = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((c - h).max(0.0), (c + h).min(1.0))
}

/// A label that asserts something false about a true exponent `alpha`: "subdiffusive" claims
/// `alpha < 1`, "superdiffusive" `1 < alpha < 2`, "ballistic" `alpha > 1`, "normal" `alpha < 2`;
/// "undetermined" claims nothing.
fn wrong_label(r: Regime, alpha: f64) -> bool {
    match r {
        Regime::Subdiffusive => alpha >= 1.0,
        Regime::Superdiffusive => !(alpha > 1.0 && alpha < 2.0),
        Regime::Ballistic => alpha <= 1.0,
        Regime::Normal => alpha >= 2.0,
        Regime::Undetermined => false,
    }
}

/// The label that is right for an exponent strictly inside a regime.
fn true_label(alpha: f64) -> Regime {
    if alpha < 1.0 {
        Regime::Subdiffusive
    } else if alpha == 1.0 {
        Regime::Normal
    } else if alpha < 2.0 {
        Regime::Superdiffusive
    } else {
        Regime::Ballistic
    }
}

/// Outcomes over `n` pure-fBm walks.
struct NullCell {
    h: f64,
    d: usize,
    n: usize,
    rejected: usize,
    wrong: usize,
    right: usize,
    missed: usize,
}

fn null_cell(h: f64, d: usize, t: usize, n: usize, seed0: u64) -> NullCell {
    let alpha = 2.0 * h;
    let mut c = NullCell {
        h,
        d,
        n,
        rejected: 0,
        wrong: 0,
        right: 0,
        missed: 0,
    };
    for i in 0..n as u64 {
        let seed = seed0 + i;
        let paths = fbm_paths(t, d, h, &mut ChaCha8Rng::seed_from_u64(seed));
        let f = analyse(&paths, seed);
        c.rejected += usize::from(f.two_regime.is_some());
        c.wrong += usize::from(wrong_label(f.regime, alpha));
        c.right += usize::from(f.regime == true_label(alpha));
        let [lo, hi] = f.power_law.alpha_ci95;
        c.missed += usize::from(!(lo <= alpha && alpha <= hi));
    }
    c
}

fn pct(k: usize, n: usize) -> String {
    let (lo, hi) = wilson(k, n);
    format!(
        "{k} / {n} ({:.1} %, [{:.1}, {:.1}])",
        100.0 * k as f64 / n as f64,
        100.0 * lo,
        100.0 * hi
    )
}

/// A planted crossover with its exact expected MSD per coordinate.
#[derive(Clone, Copy)]
enum Planted {
    /// fBm with H = 0.3 plus a drift `v t`, `v = tau_x^-0.7`: `tau^0.6 + v^2 tau^2`, the two
    /// terms equal at `tau_x`.
    Drift { tau_x: f64 },
    /// fBm with H = 0.2 plus `c` times an independent fBm with H = 0.85, `c = tau_x^-0.65`:
    /// `tau^0.4 + c^2 tau^1.7`, the terms equal at `tau_x`.
    TwoFbm { tau_x: f64 },
}

impl Planted {
    fn name(self) -> String {
        match self {
            Planted::Drift { tau_x } => format!("fBm H = 0.3 + drift, terms equal at {tau_x}"),
            Planted::TwoFbm { tau_x } => {
                format!("fBm H = 0.2 + fBm H = 0.85, terms equal at {tau_x}")
            }
        }
    }

    fn paths(self, t: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match self {
            Planted::Drift { tau_x } => {
                let v = tau_x.powf(-0.7);
                let mut p = fbm_paths(t, d, 0.3, &mut rng);
                for path in p.iter_mut() {
                    for (k, x) in path.iter_mut().enumerate() {
                        *x += v * k as f64;
                    }
                }
                p
            }
            Planted::TwoFbm { tau_x } => {
                let c = tau_x.powf(-0.65);
                let mut p = fbm_paths(t, d, 0.2, &mut rng);
                let q = fbm_paths(t, d, 0.85, &mut rng);
                for (a, b) in p.iter_mut().zip(&q) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += c * y;
                    }
                }
                p
            }
        }
    }
}

fn power_cell(p: Planted, d: usize, t: usize, n: usize, seed0: u64) -> usize {
    (0..n as u64)
        .filter(|&i| {
            let seed = seed0 + i;
            analyse(&p.paths(t, d, seed), seed).two_regime.is_some()
        })
        .count()
}

/// CI-sized size check: pure fBm (H = 0.3, 0.5, 0.8) at d = 1 and 50, T = 500, 12 walks each
/// (72 in all). The pooled rejection rate's Wilson interval must reach down to 5 %, and so must
/// the pooled rate of wrong regime labels; the pooled non-coverage of the true exponent by
/// `alpha_ci95` must not exceed 10 / 72 (nominal 3.6, sd 1.9). Fixed seeds: deterministic.
#[test]
fn size_and_labels_on_pure_fbm() {
    let (mut rej, mut wrong, mut missed, mut n) = (0, 0, 0, 0);
    for (k, &h) in [0.3, 0.5, 0.8].iter().enumerate() {
        for &d in &[1usize, 50] {
            let c = null_cell(h, d, 500, 12, 1000 * (k as u64 + 1) + d as u64);
            eprintln!(
                "H {h} d {d}: rejected {}, wrong label {}, CI misses {}",
                c.rejected, c.wrong, c.missed
            );
            rej += c.rejected;
            wrong += c.wrong;
            missed += c.missed;
            n += c.n;
        }
    }
    assert!(wilson(rej, n).0 <= 0.05, "size: {}", pct(rej, n));
    assert!(
        wilson(wrong, n).0 <= 0.05,
        "wrong labels: {}",
        pct(wrong, n)
    );
    assert!(missed <= 10, "alpha_ci95 misses 2H in {missed} / {n}");
}

/// CI-sized power check: fBm H = 0.3 plus a drift whose terms are equal at lag 30, T = 500,
/// d = 50: the crossover must be found in at least 10 of 12 walks (the full study finds it in
/// every walk at this strength).
#[test]
fn planted_crossover_is_detected() {
    let found = power_cell(Planted::Drift { tau_x: 30.0 }, 50, 500, 12, 77);
    assert!(found >= 10, "{found} / 12");
}

/// The size part of the full study behind CALIBRATION.md: T = 1000, 200 pure-fBm walks per
/// (H, d) cell. Prints a markdown table; asserts in every cell that the Wilson intervals of the
/// rejection rate and of the wrong-label rate reach down to 5 %.
#[test]
#[ignore = "full calibration study, minutes; run with --ignored --nocapture"]
fn full_study_size() {
    let t = 1000;
    let n_null = 200;
    println!("Size (one segment rejected at 5 % on pure fBm; T = {t}, {n_null} walks per cell):\n");
    println!(
        "| H | d | rejected (Wilson 95 %) | wrong label | right label | alpha_ci95 misses 2H |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut failures = Vec::new();
    for (k, &h) in [0.3, 0.5, 0.8].iter().enumerate() {
        for &d in &[1usize, 50, 1000] {
            let c = null_cell(h, d, t, n_null, 100_000 * (k as u64 + 1) + 7 * d as u64);
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                c.h,
                c.d,
                pct(c.rejected, c.n),
                pct(c.wrong, c.n),
                pct(c.right, c.n),
                pct(c.missed, c.n)
            );
            if wilson(c.rejected, c.n).0 > 0.05 {
                failures.push(format!("size H {h} d {d}: {}", pct(c.rejected, c.n)));
            }
            if wilson(c.wrong, c.n).0 > 0.05 {
                failures.push(format!("labels H {h} d {d}: {}", pct(c.wrong, c.n)));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// The power part of the full study: T = 1000, 100 walks per planted crossover and d. Prints a
/// markdown table (no assertion: power is what is measured).
#[test]
#[ignore = "full calibration study, minutes; run with --ignored --nocapture"]
fn full_study_power() {
    let t = 1000;
    let n_power = 100;
    println!("Power (two regimes reported at 5 %; T = {t}, {n_power} walks per cell):\n");
    println!("| planted crossover | d = 1 | d = 50 |");
    println!("| --- | --- | --- |");
    for (k, p) in [
        Planted::Drift { tau_x: 1000.0 },
        Planted::Drift { tau_x: 300.0 },
        Planted::Drift { tau_x: 100.0 },
        Planted::Drift { tau_x: 30.0 },
        Planted::Drift { tau_x: 10.0 },
        Planted::TwoFbm { tau_x: 1000.0 },
        Planted::TwoFbm { tau_x: 300.0 },
        Planted::TwoFbm { tau_x: 100.0 },
        Planted::TwoFbm { tau_x: 30.0 },
    ]
    .into_iter()
    .enumerate()
    {
        let cells: Vec<String> = [1usize, 50]
            .iter()
            .map(|&d| {
                let found = power_cell(p, d, t, n_power, 900_000 + 1000 * k as u64 + d as u64);
                pct(found, n_power)
            })
            .collect();
        println!("| {} | {} | {} |", p.name(), cells[0], cells[1]);
    }
}
