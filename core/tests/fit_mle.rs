//! Maximum-likelihood fits: recovery, agreement of the fast and exact paths, standard errors
//! against the asymptotic table, interval coverage, efficiency against McCulloch, failures.

#![allow(clippy::needless_range_loop)]

mod fit_support;

use anodiff_core::fit::{Estimator, Evaluation, McCulloch, Mle, Param};
use anodiff_core::stable::Stable;
use fit_support::sample;

#[test]
fn recovers_parameters_within_four_standard_errors() {
    // |estimate - truth| > 4 se has probability 6e-5 per parameter for a correct fit.
    let cases = [
        [1.5, 0.0, 1.0, 0.0],
        [1.8, 0.6, 2.0, 5.0],
        [1.2, -0.4, 0.3, -1.0],
        [0.8, 0.2, 1.0, 0.0],
    ];
    for (i, p) in cases.iter().enumerate() {
        let x = sample(2000, 10 + i as u64, *p);
        let f = Mle::new().fit(&x).unwrap();
        assert!(f.converged, "{p:?}: {f:?}");
        let est = [f.alpha, f.beta, f.scale, f.loc];
        let se = f.se.to_array();
        for k in 0..4 {
            let s = se[k].unwrap();
            assert!(
                (est[k] - p[k]).abs() < 4.0 * s,
                "{p:?} param {k}: {} +- {s}",
                est[k]
            );
        }
        // the log-likelihood at the MLE beats the one at the truth
        let at_truth = Mle::new()
            .with_start(*p)
            .with_max_iter(1)
            .unwrap()
            .fit(&x)
            .unwrap();
        assert!(f.loglik >= at_truth.loglik - 1e-9 * f.loglik.abs());
    }
}

#[test]
fn spline_path_agrees_with_exact_path() {
    // The exact path evaluates the quadrature at every point (27 per point per iteration);
    // started from the spline MLE it must stay within the spline's interpolation error
    // (~1e-8 in log-density, i.e. far below 1e-5 in the parameters at n = 300).
    let p = [1.6, 0.3, 1.0, 0.5];
    let x = sample(300, 7, p);
    let fast = Mle::new().fit(&x).unwrap();
    let exact = Mle::new()
        .with_evaluation(Evaluation::Exact)
        .with_start([fast.alpha, fast.beta, fast.scale, fast.loc])
        .fit(&x)
        .unwrap();
    assert!(fast.converged && exact.converged);
    assert!((fast.alpha - exact.alpha).abs() < 1e-5);
    assert!((fast.beta - exact.beta).abs() < 1e-5);
    assert!((fast.scale / exact.scale - 1.0).abs() < 1e-5);
    assert!((fast.loc - exact.loc).abs() < 1e-5);
    assert!((fast.loglik - exact.loglik).abs() < 1e-6 * exact.loglik.abs());
    let (sf, se) = (fast.se.alpha.unwrap(), exact.se.alpha.unwrap());
    assert!((sf / se - 1.0).abs() < 1e-3, "{sf} {se}");
}

#[test]
fn observed_information_matches_asymptotic_table() {
    // sqrt(n) x asymptotic sd at alpha = 1.5, beta = 0, scale 1 (S0), from the expected Fisher
    // information (shared/notes/stable-methods.md s.5, after Nolan 2001): alpha 1.535,
    // beta 3.037, scale 1.081, loc 1.747. The observed information of one sample of
    // n = 40000 differs from the expected one by O(n^-1/2) sampling noise (~1-2 % here, from the
    // spread of the per-point second derivatives) plus the estimate's own error: tolerance 6 %.
    let n = 40_000;
    let want = [1.535, 3.037, 1.081, 1.747];
    let x = sample(n, 2024, [1.5, 0.0, 1.0, 0.0]);
    let f = Mle::new().fit(&x).unwrap();
    assert!(f.converged);
    let se = f.se.to_array();
    for k in 0..4 {
        let got = se[k].unwrap() * (n as f64).sqrt();
        assert!(
            (got / want[k] - 1.0).abs() < 0.06,
            "param {k}: sqrt(n) se = {got}, table {}",
            want[k]
        );
    }
}

/// Counts, over `seeds` samples of size n, how often each 95 % interval covers the truth, and
/// how many fits did not converge. A fit that did not converge, or whose estimate sits on a
/// bound (no interval), counts as a miss for every parameter it lacks an interval for.
fn coverage(p: [f64; 4], n: usize, seeds: u64) -> ([u32; 4], u32) {
    let mut hits = [0u32; 4];
    let mut failed = 0;
    for seed in 0..seeds {
        let x = sample(n, 5000 + seed, p);
        let f = Mle::new().fit(&x).unwrap();
        if !f.converged {
            failed += 1;
            continue;
        }
        let ci = f.ci95.to_array();
        for k in 0..4 {
            if let Some([lo, hi]) = ci[k] {
                if lo <= p[k] && p[k] <= hi {
                    hits[k] += 1;
                }
            }
        }
    }
    (hits, failed)
}

#[test]
fn wald_intervals_cover_at_the_nominal_rate() {
    // 150 samples of n = 400: coverage count ~ Binomial(150, 0.95), sd 2.67 (mean 142.5).
    // Accept 133..=150, i.e. down to 3.5 sd below nominal (false-alarm probability < 1e-3 per
    // parameter for exact 95 % intervals; Wald intervals at n = 400 run a little low).
    let (hits, failed) = coverage([1.5, 0.3, 1.0, 0.0], 400, 150);
    eprintln!("coverage of 150: {hits:?}, not converged {failed}");
    assert_eq!(failed, 0);
    for k in 0..4 {
        assert!(hits[k] >= 133, "param {k}: {} of 150", hits[k]);
    }
}

#[test]
#[ignore = "slow (1000 fits); the default test above runs 150"]
fn wald_intervals_cover_at_the_nominal_rate_1000() {
    // Binomial(1000, 0.95): sd 6.9; accept >= 929 (3 sd). Every fit must converge (seed 5616,
    // next to the beta = 1 bound, is `fit_next_to_the_beta_bound_converges`). Measured
    // [934, 933, 944, 948], 0 failed (`cargo test -p anodiff-core --test fit_mle -- --ignored`).
    let (hits, failed) = coverage([1.5, 0.3, 1.0, 0.0], 400, 1000);
    eprintln!("coverage of 1000: {hits:?}, not converged {failed}");
    assert_eq!(failed, 0);
    for k in 0..4 {
        assert!(hits[k] >= 929, "param {k}: {} of 1000", hits[k]);
    }
}

#[test]
fn mle_beats_mcculloch_in_mean_squared_error() {
    // Asymptotic relative efficiency of McCulloch for alpha is ~0.5-0.7 near alpha = 1.5;
    // over 40 samples the MSE ratio's sampling spread is ~25 %, so require MLE < McCulloch.
    let p = [1.5, 0.3, 1.0, 0.0];
    let (mut m_mle, mut m_mc) = ([0.0; 4], [0.0; 4]);
    for seed in 0..40 {
        let x = sample(500, 900 + seed, p);
        let f = Mle::new().fit(&x).unwrap();
        let q = McCulloch::default().fit(&x).unwrap();
        let (e1, e2) = (
            [f.alpha, f.beta, f.scale, f.loc],
            [q.alpha, q.beta, q.scale, q.loc],
        );
        for k in 0..4 {
            m_mle[k] += (e1[k] - p[k]).powi(2);
            m_mc[k] += (e2[k] - p[k]).powi(2);
        }
    }
    eprintln!("MSE mle {m_mle:?} mcculloch {m_mc:?}");
    for k in 0..4 {
        assert!(
            m_mle[k] < m_mc[k],
            "param {k}: MLE {} McCulloch {}",
            m_mle[k],
            m_mc[k]
        );
    }
}

#[test]
fn symmetric_fit_fixes_beta_and_optionally_loc() {
    let x = sample(1500, 3, [1.7, 0.0, 1.0, 0.0]);
    let f = Mle::new().symmetric().fit(&x).unwrap();
    assert!(f.converged);
    assert_eq!(f.beta, 0.0);
    assert!(f.se.beta.is_none() && f.ci95.beta.is_none());
    assert!(f.se.loc.is_some());
    let g = Mle::new()
        .symmetric()
        .with_loc(0.0)
        .unwrap()
        .fit(&x)
        .unwrap();
    assert_eq!(g.loc, 0.0);
    assert!(g.se.loc.is_none() && g.se.alpha.is_some());
    // Nested models: each restriction can only lower the maximum.
    let full = Mle::new().fit(&x).unwrap();
    assert!(full.loglik >= f.loglik - 1e-9 && f.loglik >= g.loglik - 1e-9);
}

#[test]
fn s1_output_is_the_same_law() {
    let x = sample(1000, 4, [1.3, 0.5, 2.0, 1.0]);
    let s0 = Mle::new().fit(&x).unwrap();
    let s1 = Mle::new().with_param(Param::S1).fit(&x).unwrap();
    assert_eq!(s1.param, Param::S1);
    // delta1 = delta0 - beta scale tan(pi alpha / 2) (Nolan 2020, eq. 1.7)
    let t = (std::f64::consts::PI * s0.alpha / 2.0).tan();
    assert!((s1.loc - (s0.loc - s0.beta * s0.scale * t)).abs() < 1e-12 * (1.0 + s1.loc.abs()));
    assert_eq!(s1.loglik, s0.loglik);
    assert_eq!(s1.se.alpha, s0.se.alpha);
    // S1's loc carries the uncertainty of beta tan(pi alpha / 2): larger than S0's here
    assert!(s1.se.loc.unwrap() > s0.se.loc.unwrap());
}

#[test]
fn sandwich_and_profile_agree_with_wald_on_stable_data() {
    // For exactly stable data H^-1 J H^-1 -> H^-1, and the profile interval -> Wald as n grows;
    // at n = 3000 both agree within ~15 % (sampling noise of J and of the likelihood's skew).
    let x = sample(3000, 8, [1.6, 0.2, 1.0, 0.0]);
    let f = Mle::new()
        .with_sandwich(true)
        .with_profile(true)
        .fit(&x)
        .unwrap();
    let sw = f.sandwich_se.unwrap().to_array();
    let pr = f.profile_ci95.unwrap().to_array();
    let se = f.se.to_array();
    let wald = f.ci95.to_array();
    let est = [f.alpha, f.beta, f.scale, f.loc];
    for k in 0..4 {
        let r = sw[k].unwrap() / se[k].unwrap();
        assert!((r - 1.0).abs() < 0.15, "param {k}: sandwich/observed = {r}");
        let [plo, phi] = pr[k].unwrap();
        let [wlo, whi] = wald[k].unwrap();
        assert!(
            plo < est[k] && est[k] < phi,
            "param {k}: profile [{plo}, {phi}]"
        );
        assert!(
            ((phi - plo) / (whi - wlo) - 1.0).abs() < 0.15,
            "param {k}: profile [{plo}, {phi}] wald [{wlo}, {whi}]"
        );
    }
}

#[test]
fn non_convergence_is_reported() {
    let x = sample(500, 9, [1.5, 0.0, 1.0, 0.0]);
    let f = Mle::new().with_max_iter(1).unwrap().fit(&x).unwrap();
    assert!(!f.converged);
    assert_eq!(f.iterations, 1);
}

#[test]
fn bad_input_and_settings_are_rejected() {
    let m = Mle::new();
    assert!(m.fit(&[]).unwrap_err().to_string().contains("no values"));
    assert!(m
        .fit(&[1.0, 2.0, 3.0, 4.0])
        .unwrap_err()
        .to_string()
        .contains("too few"));
    assert!(m
        .fit(&[1.0, 2.0, 3.0, f64::NAN, 5.0])
        .unwrap_err()
        .to_string()
        .contains("not finite"));
    assert!(m
        .fit(&[1.0, 2.0, f64::NEG_INFINITY, 4.0, 5.0])
        .unwrap_err()
        .to_string()
        .contains("not finite"));
    assert!(m.fit(&[3.0; 20]).unwrap_err().to_string().contains("equal"));
    assert!(Mle::new().with_tol(0.0).is_err());
    assert!(Mle::new().with_max_iter(0).is_err());
    assert!(Mle::new().with_loc(f64::NAN).is_err());
    // a spline spacing out of range is clamped to [0.005, 0.5]
    assert_eq!(
        Mle::new()
            .with_evaluation(Evaluation::Spline { h: 0.0 })
            .evaluation(),
        Evaluation::Spline { h: 0.005 }
    );
}

/// A fit next to the beta = +-1 bound: seed 5616 of the coverage run (n = 400 from
/// S(1.5, 0.3, 1, 0)) has its likelihood maximum at beta ~ 0.9997. A fixed 1e-3
/// finite-difference step in beta gets the derivatives wrong by O(1) there (the left tail's
/// weight vanishes like 1 - beta, so d/dbeta ln f ~ -1/(1 - beta)) and Newton creeps for 100
/// iterations without converging. With the step shrinking next to the bound the fit must
/// converge, and no point of a grid around the estimate (exact per-point densities, an
/// evaluation independent of the fit's spline tables and stencil) may beat its log-likelihood
/// by more than 1e-6 (the spline path's error is far below that).
#[test]
fn fit_next_to_the_beta_bound_converges() {
    let p = [1.5, 0.3, 1.0, 0.0];
    let x = sample(400, 5616, p);
    let f = Mle::new().fit(&x).unwrap();
    assert!(f.converged, "{f:?}");
    assert!(f.iterations < 60, "{}", f.iterations);
    assert!(f.beta > 0.99 && f.beta <= 1.0, "{}", f.beta);
    let ll = |a: f64, b: f64, g: f64, d: f64| -> f64 {
        let s = Stable::new(a, b, g, d, Param::S0).unwrap();
        x.iter().map(|&v| s.ln_pdf(v)).sum()
    };
    let best = ll(f.alpha, f.beta, f.scale, f.loc);
    assert!(
        (best - f.loglik).abs() < 1e-6 * best.abs(),
        "{best} vs {}",
        f.loglik
    );
    for da in [-2e-3, 0.0, 2e-3] {
        for db in [-2e-4, 0.0, 2e-4] {
            for ds in [-2e-3, 0.0, 2e-3] {
                for dl in [-2e-3, 0.0, 2e-3] {
                    let b = (f.beta + db).min(1.0);
                    let v = ll(f.alpha + da, b, f.scale * (1.0 + ds), f.loc + dl * f.scale);
                    assert!(v <= best + 1e-6, "({da}, {db}, {ds}, {dl}): {v} > {best}");
                }
            }
        }
    }
}
