//! The paper's claims about its 2-D model (Sec. "simplified model", Fig. 8), checked over many
//! landscapes and walkers with stated tolerances.
//!
//! Setting (unless a test says otherwise): diamond-square landscapes of 257 x 257 with
//! Douillet's defaults (roughness 3, amplitude halved per level), `eta = 0.02`,
//! `eta sigma = 0.01` (the authors' code), 1000 steps, uniform random starts, reflecting walls,
//! 12 landscapes x 5 walkers. MSD exponents are the OLS log-log slopes of the time-averaged MSD
//! over lags 1..len/4 of each segment ([`segment_exponent`]); `t0` is found by
//! [`final_basin_entry`]'s default rule.
//!
//! Findings (numbers measured with this file's seeds, printed by each test):
//! - after `t0` the walker is subdiffusive: reproduced (60/60 runs, median alpha ~ 0.1);
//! - before `t0`, superdiffusion is **not** the typical behaviour on unselected landscapes
//!   (median alpha ~ 0.6; roughly one run in five has alpha > 1): at lags 1-2 the walker
//!   zig-zags across fine-scale minima, and long descents are interrupted by temporary traps.
//!   The paper's example was one hand-picked landscape with hand-picked segment limits;
//! - convex landscapes are near-ballistic before the minimum: reproduced;
//! - shuffled-then-smoothed landscapes trap the walker (subdiffusive): reproduced;
//! - gradient tails: within one run the gradient components are close to Gaussian (excess
//!   kurtosis ~ 0); pooled over landscapes they are mildly heavy-tailed (a scale mixture).
//!   Without a stable MLE in this branch the tail is judged by kurtosis and the quantile ratio
//!   `(q95 - q05) / (q75 - q25)` (2.439 for a normal law; larger means heavier tails), mapped
//!   to a stability index through McCulloch's (1986) table: ~1.93 pooled, vs the paper's 1.9.
//!   The crate's symmetric stable MLE per landscape (5 walkers, 10,000 values) gives alpha
//!   1.96-2.0 (LLR vs normal 0-50): mildly heavy at most, not "well below 2".

use anodiff_core::fit::alternatives::{fit as fit_alternative, AltModel};
use anodiff_core::fit::{Estimator, Mle};
use anodiff_core::landscape::*;
use anodiff_core::toy::*;
use anodiff_core::vuong::vuong;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SIZE: usize = 257;
const LANDSCAPES: u64 = 12;
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

fn fractal(l: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(100 + l);
    let cfg = DiamondSquareConfig {
        size: SIZE,
        ..Default::default()
    };
    diamond_square(&cfg, &mut rng).unwrap()
}

fn shuffled(l: u64) -> Array2<f64> {
    let z = fractal(l);
    let mut rng = ChaCha8Rng::seed_from_u64(200 + l);
    shuffle_smooth(&z, &ShuffleSmoothConfig::default(), &mut rng).unwrap()
}

fn runs_on(make: impl Fn(u64) -> Array2<f64>, n_land: u64, cfg: &ToyConfig) -> Vec<ToyRun> {
    (0..n_land)
        .flat_map(|l| {
            let land = Landscape::new(make(l)).unwrap();
            simulate_many(&land, cfg, &SEEDS).unwrap()
        })
        .collect()
}

fn alpha(p: &[[f64; 2]]) -> Option<f64> {
    segment_exponent(p).ok().map(|f| f.slope)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fraction(v: &[f64], f: impl Fn(f64) -> bool) -> f64 {
    v.iter().filter(|&&x| f(x)).count() as f64 / v.len() as f64
}

fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (m2.sqrt(), m4 / (m2 * m2) - 3.0)
}

fn quantile_ratio(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    (q(0.95) - q(0.05)) / (q(0.75) - q(0.25))
}

/// McCulloch (1986) quantile estimate of alpha for a symmetric law: linear interpolation in the
/// beta = 0 column of his Table III (nu_alpha -> alpha), the published table, not this crate's
/// code. A stand-in for the stable MLE, which is not in this branch.
fn mcculloch_alpha_symmetric(nu: f64) -> f64 {
    const NU: [f64; 9] = [2.439, 2.5, 2.6, 2.7, 2.8, 3.0, 3.2, 3.5, 4.0];
    const ALPHA: [f64; 9] = [2.0, 1.916, 1.808, 1.729, 1.664, 1.563, 1.484, 1.391, 1.279];
    if nu <= NU[0] {
        return 2.0;
    }
    let k = NU.iter().rposition(|&v| v <= nu).unwrap().min(NU.len() - 2);
    ALPHA[k] + (nu - NU[k]) / (NU[k + 1] - NU[k]) * (ALPHA[k + 1] - ALPHA[k])
}

fn pooled_gradients(runs: &[ToyRun]) -> Vec<f64> {
    runs.iter()
        .flat_map(|r| r.gradients_seen().iter().flat_map(|g| [g[0], g[1]]))
        .collect()
}

#[test]
fn fractal_after_t0_is_subdiffusive() {
    let runs = runs_on(fractal, LANDSCAPES, &ToyConfig::default());
    let after: Vec<f64> = runs
        .iter()
        .filter_map(|r| alpha(&r.positions[r.t0..]))
        .collect();
    let (med, frac) = (median(after.clone()), fraction(&after, |a| a < 1.0));
    println!(
        "after t0: {} runs, median alpha {med:.3}, fraction < 1: {frac:.3}",
        after.len()
    );
    // Paper: subdiffusive after t0. Tolerance: at least 90% of runs below 1 and a median
    // below 0.5 (measured: all runs, median ~0.1).
    assert!(after.len() >= 50);
    assert!(frac >= 0.9 && med < 0.5);
}

#[test]
fn fractal_before_t0_superdiffusion_is_the_exception_not_the_rule() {
    let runs = runs_on(fractal, LANDSCAPES, &ToyConfig::default());
    let before: Vec<(usize, f64)> = runs
        .iter()
        .filter_map(|r| alpha(&r.positions[..=r.t0]).map(|a| (r.t0, a)))
        .collect();
    let all: Vec<f64> = before.iter().map(|b| b.1).collect();
    let short: Vec<f64> = before.iter().filter(|b| b.0 <= 60).map(|b| b.1).collect();
    let (med, frac) = (median(all.clone()), fraction(&all, |a| a > 1.0));
    println!(
        "before t0: {} runs, median alpha {med:.3}, fraction > 1: {frac:.3}; \
         direct descents (t0 <= 60): {} runs, median {:.3}",
        all.len(),
        short.len(),
        if short.is_empty() {
            f64::NAN
        } else {
            median(short.clone())
        }
    );
    // The paper reports alpha > 1 before t0 (one hand-picked run). Over unselected landscapes
    // this model gives a median below 1 with a minority of superdiffusive runs; the band
    // [0.05, 0.45] for the superdiffusive fraction and a median in [0.3, 1.0] pin that finding
    // (measured 0.19 and 0.64), so a change that made the claim hold would show up here.
    assert!(all.len() >= 40);
    assert!((0.05..=0.45).contains(&frac), "fraction {frac}");
    assert!((0.3..1.0).contains(&med), "median {med}");
}

#[test]
fn convex_cone_is_ballistic_before_the_apex() {
    // The authors' convex run: a cone with |grad L| = 0.5, start (-1, -1), eta = 0.02: the
    // walker moves v = eta/2 = 0.01 per step towards the apex (sqrt 2 away, ~141 steps) plus
    // Gaussian noise of sd s = 0.01 per coordinate, so over the first 100 steps
    // MSD(tau) = v^2 tau^2 + 2 s^2 tau (analytic; the direction barely turns far from the apex).
    let land = Landscape::new(cone(SIZE, 0.5).unwrap()).unwrap();
    let cfg = ToyConfig {
        start: Start::At([-1.0, -1.0]),
        ..Default::default()
    };
    let seeds: Vec<u64> = (0..20).collect();
    let runs = simulate_many(&land, &cfg, &seeds).unwrap();
    let lags = [1usize, 2, 5, 10, 20];
    let mut mean = vec![0.0; lags.len()];
    for r in &runs {
        for (m, v) in mean.iter_mut().zip(tamsd(&r.positions[..=100], &lags)) {
            *m += v / runs.len() as f64;
        }
    }
    let (v, s) = (0.01f64, 0.01f64);
    for (&tau, m) in lags.iter().zip(&mean) {
        let t = tau as f64;
        let want = v * v * t * t + 2.0 * s * s * t;
        // 20 walkers x ~100 displacements: sampling error of the mean TAMSD is a few percent
        // (largest at tau = 1, where the noise dominates); allow 8%.
        assert!((m / want - 1.0).abs() < 0.08, "tau {tau}: {m} vs {want}");
    }
    let t0s: Vec<f64> = runs.iter().map(|r| r.t0 as f64).collect();
    let alphas: Vec<f64> = runs
        .iter()
        .filter_map(|r| alpha(&r.positions[..=r.t0]))
        .collect();
    println!(
        "cone: median t0 {}, alpha before t0 {:?}",
        median(t0s.clone()),
        alphas
    );
    // t0 lands within ~10 steps of the 141-step descent (the walker then jiggles at the apex
    // within a radius of ~eta/2); the exponent over lags 1..t0/4 mixes the noise-dominated
    // lag 1 with ballistic lags: by the formula above it is ~1.7-1.8 (measured 1.66-1.77 in
    // 19 of 20 runs, one at 1.31); require 90% of runs in (1.6, 2.05] and all above 1.2.
    let t0 = median(t0s);
    assert!((125.0..=150.0).contains(&t0), "t0 {t0}");
    assert_eq!(alphas.len(), runs.len());
    assert!(fraction(&alphas, |a| a > 1.6 && a <= 2.05) >= 0.9);
    assert!(alphas.iter().all(|&a| a > 1.2));
    // Without noise the path is a straight line at constant speed: alpha = 2.
    let quiet = ToyConfig { sigma: 0.0, ..cfg };
    let r = simulate_many(&land, &quiet, &[0]).unwrap().remove(0);
    let a = alpha(&r.positions[..120]).unwrap();
    assert!((a - 2.0).abs() < 0.01, "noise-free alpha {a}");
}

#[test]
fn convex_paraboloid_is_near_ballistic_before_the_minimum() {
    // Same start as the authors' convex run, (-1, -1), so every walker has a real descent.
    let land = Landscape::new(paraboloid(SIZE, 0.5).unwrap()).unwrap();
    let seeds: Vec<u64> = (0..40).collect();
    let cfg = ToyConfig {
        start: Start::At([-1.0, -1.0]),
        ..Default::default()
    };
    let runs = simulate_many(&land, &cfg, &seeds).unwrap();
    let alphas: Vec<f64> = runs
        .iter()
        .filter_map(|r| alpha(&r.positions[..=r.t0]))
        .collect();
    let med = median(alphas.clone());
    let frac = fraction(&alphas, |a| a > 1.0);
    println!(
        "paraboloid: {} runs, median alpha before t0 {med:.3}, fraction > 1 {frac:.3}",
        alphas.len()
    );
    // The drift decays geometrically (w -> 0.98 w) and the noise (sd 0.01 per step) dominates
    // near the centre, so the exponent is below 2 (measured median 1.65 from (-1, -1); with
    // uniform random starts, many of which begin near the minimum, 1.3-1.5). Require a median
    // above 1.5 and every run superdiffusive.
    assert!(alphas.len() >= 35);
    assert!(med > 1.5 && frac == 1.0, "median {med}, fraction {frac}");
}

#[test]
fn shuffled_smoothed_landscape_traps_the_walker() {
    let fr = runs_on(fractal, 6, &ToyConfig::default());
    let sh = runs_on(shuffled, 6, &ToyConfig::default());
    let whole =
        |runs: &[ToyRun]| -> Vec<f64> { runs.iter().filter_map(|r| alpha(&r.positions)).collect() };
    let travel = |runs: &[ToyRun]| -> f64 {
        median(
            runs.iter()
                .map(|r| {
                    let (a, b) = (r.positions[0], r.positions[r.positions.len() - 1]);
                    (b[0] - a[0]).hypot(b[1] - a[1])
                })
                .collect(),
        )
    };
    let a_sh = whole(&sh);
    let med = median(a_sh.clone());
    println!(
        "shuffled: median whole-run alpha {med:.3}, fraction < 1 {:.3}, median travel {:.3} \
         (fractal: {:.3})",
        fraction(&a_sh, |a| a < 1.0),
        travel(&sh),
        travel(&fr)
    );
    // Paper: the walker gets stuck and is subdiffusive. Require 90% of runs with a whole-run
    // exponent below 1 and a median below 0.8.
    assert!(
        fraction(&a_sh, |a| a < 1.0) >= 0.9 && med < 0.8,
        "median {med}"
    );
}

#[test]
fn gradient_stable_mle_per_landscape_is_near_gaussian() {
    // Paper (Fig. 8(c)): symmetric stable fit of the gradients of one run on one hand-picked
    // landscape, alpha_dist = 1.9 [1.887, 1.913], log-likelihood ratio vs normal 39.37. Here:
    // the crate's symmetric stable MLE on the gradient components of 5 walkers per landscape
    // (10,000 values), on 6 landscapes.
    let mut rows = Vec::new();
    for l in 0..6 {
        let land = Landscape::new(fractal(l)).unwrap();
        let runs = simulate_many(&land, &ToyConfig::default(), &SEEDS).unwrap();
        let g = pooled_gradients(&runs);
        let sf = Mle::new().symmetric().fit(&g).unwrap();
        let nf = fit_alternative(AltModel::Normal, &g).unwrap();
        let v = vuong(&sf.ln_pdfs(&g), &nf.ln_pdfs(&g)).unwrap();
        println!(
            "landscape {l}: alpha {:.4} ci95 {:?} converged {}, LLR vs normal {:.2} (z {:.2})",
            sf.alpha, sf.ci95.alpha, sf.converged, v.llr, v.statistic
        );
        rows.push((sf.alpha, v.llr));
    }
    let alphas: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let med = median(alphas.clone());
    println!("median alpha {med:.4}");
    // Measured (seeds of this file): alpha = 2.000, 2.000, 1.994, 1.962, 2.000, 1.993; LLR vs
    // normal 0, 0, 4.0, 49.5, 0, 4.1. So per landscape the gradients are at most mildly
    // heavy-tailed: the paper's "alpha_dist = 1.9, well below 2" is NOT reproduced as typical
    // (one landscape comes close). Pin that finding: every alpha in [1.9, 2], median >= 1.95,
    // and at least one landscape with alpha < 1.98 and LLR > 10 in favour of the stable law.
    assert!(alphas.iter().all(|a| (1.9..=2.0).contains(a)), "{alphas:?}");
    assert!(med >= 1.95, "median alpha {med}");
    assert!(rows.iter().any(|r| r.0 < 1.98 && r.1 > 10.0));
}

#[test]
fn gradient_tails_per_run_and_pooled() {
    let runs = runs_on(fractal, LANDSCAPES, &ToyConfig::default());
    let per_run: Vec<f64> = runs
        .iter()
        .map(|r| {
            let g: Vec<f64> = r
                .gradients_seen()
                .iter()
                .flat_map(|g| [g[0], g[1]])
                .collect();
            moments(&g).1
        })
        .collect();
    let pooled = pooled_gradients(&runs);
    let (sd, kurt) = moments(&pooled);
    let ratio = quantile_ratio(&pooled);
    let alpha_q = mcculloch_alpha_symmetric(ratio);
    let cone_runs = runs_on(|_| cone(SIZE, 0.5).unwrap(), 1, &ToyConfig::default());
    let sh_runs = runs_on(shuffled, 4, &ToyConfig::default());
    let abs_q = |v: &[f64], p: f64| {
        let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        a.sort_by(f64::total_cmp);
        a[((a.len() - 1) as f64 * p) as usize]
    };
    let (g_fr, g_cone, g_sh) = (
        pooled,
        pooled_gradients(&cone_runs),
        pooled_gradients(&sh_runs),
    );
    println!(
        "fractal gradients: n {}, sd {sd:.3}, pooled excess kurtosis {kurt:.3}, quantile ratio \
         {ratio:.3} (normal 2.439) -> McCulloch alpha {alpha_q:.3} (paper 1.9), median per-run excess kurtosis {:.3}; |g| 99.9%: fractal \
         {:.3}, cone {:.3}, shuffled {:.3}",
        g_fr.len(),
        median(per_run.clone()),
        abs_q(&g_fr, 0.999),
        abs_q(&g_cone, 0.999),
        abs_q(&g_sh, 0.999)
    );
    // Pooled over landscapes the tails are heavier than normal: excess kurtosis > 0.2 with
    // n = 120,000 (its sd under normality is sqrt(24/n) = 0.014) and quantile ratio > 2.439.
    assert!(kurt > 0.2 && ratio > 2.44, "kurtosis {kurt}, ratio {ratio}");
    // Quantile estimate of the stability index: the paper's 1.9 [1.887, 1.913] (its MLE on
    // one hand-picked run). Measured here ~1.93 on 60 pooled runs. McCulloch's sd at
    // alpha = 1.9 is 0.042 for 5000 iid values; these 120,000 values are serially dependent
    // (effective n of a few thousand), so require alpha in [1.8, 1.98]: below 2, as the paper
    // says, but not "well below".
    assert!((1.8..=1.98).contains(&alpha_q), "McCulloch alpha {alpha_q}");
    // Within a run they are close to Gaussian: median per-run excess kurtosis within 0.5 of 0
    // (per-run sd of the estimate ~0.1-0.2).
    assert!(median(per_run).abs() < 0.5);
    // Paper, Fig. 8(c): gradients on the convex and random landscapes have a far smaller range.
    // The cone's components are bounded by its slope 0.5.
    // And on the shuffled-smoothed one (measured 99.9% quantile of |g|: fractal 5.3, cone 0.5,
    // shuffled 0.8): require a factor of 4 and 3.
    assert!(abs_q(&g_fr, 0.999) > 4.0 * abs_q(&g_cone, 0.999));
    assert!(abs_q(&g_fr, 0.999) > 3.0 * abs_q(&g_sh, 0.999));
}
