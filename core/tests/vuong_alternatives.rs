//! Alternative-model MLEs (normal, Laplace, Student-t) against scipy and Fisher information.
//! Reference values: fixtures/vuong/alt_golden.txt from fixtures/vuong/make_alt_golden.py
//! (scipy 1.17.1), on fixtures/vuong/t_sample.txt.

// Golden values are pasted with all the digits the reference tool printed.
#![allow(clippy::excessive_precision)]

use anodiff_core::fit::alternatives::{fit, AltModel};
use anodiff_core::io::read_values;
use rand::SeedableRng;
use rand_distr::Distribution;
use std::path::Path;

fn sample() -> Vec<f64> {
    read_values(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vuong/t_sample.txt"))
        .unwrap()
}

fn golden(model: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vuong/alt_golden.txt"),
    )
    .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{model} ")))
        .unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn normal_matches_scipy() {
    let x = sample();
    let g = golden("normal");
    let f = fit(AltModel::Normal, &x).unwrap();
    // Closed forms: both sides differ only by summation rounding (~1e-15 relative).
    assert!(rel(f.loc, g[0]) < 1e-13 && rel(f.scale, g[1]) < 1e-13);
    assert!(rel(f.loglik, g[2]) < 1e-13);
    let pointwise: f64 = f.ln_pdfs(&x).iter().sum();
    assert!(rel(pointwise, f.loglik) < 1e-12);
    assert_eq!(f.n, 400);
}

#[test]
fn laplace_matches_scipy() {
    let x = sample();
    let g = golden("laplace");
    let f = fit(AltModel::Laplace, &x).unwrap();
    assert!(rel(f.loc, g[0]) < 1e-14 && rel(f.scale, g[1]) < 1e-13);
    assert!(rel(f.loglik, g[2]) < 1e-13);
}

#[test]
fn student_t_matches_polished_scipy_optimum() {
    let x = sample();
    let g = golden("student-t");
    let f = fit(AltModel::StudentT, &x).unwrap();
    assert!(f.converged);
    let df = f.df.unwrap();
    // The reference is a numerical optimum (BFGS + Nelder-Mead, fatol 1e-14): its parameters are
    // good to ~1e-6 relative on this flat-ish likelihood; its log-likelihood to ~1e-11.
    assert!(rel(f.loc, g[0]) < 2e-6, "loc {} vs {}", f.loc, g[0]);
    assert!(rel(f.scale, g[1]) < 2e-6, "scale {} vs {}", f.scale, g[1]);
    assert!(rel(df, g[2]) < 2e-5, "df {df} vs {}", g[2]);
    // Ours must be at least as high (it is the maximum) and not meaningfully different.
    assert!(f.loglik >= g[3] - 1e-9, "{} vs {}", f.loglik, g[3]);
    assert!((f.loglik - g[3]).abs() < 1e-8);
    let pointwise: f64 = f.ln_pdfs(&x).iter().sum();
    assert!(rel(pointwise, f.loglik) < 1e-12);
}

#[test]
fn student_t_standard_errors_match_fisher_information() {
    // Expected information per observation of the location-scale t (Lange, Little & Taylor 1989):
    // I_mu = (nu + 1) / ((nu + 3) sigma^2), and mu is orthogonal to (sigma, nu).
    let (nu, sigma, n) = (5.0, 2.0, 20_000usize);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let t = rand_distr::StudentT::new(nu).unwrap();
    let x: Vec<f64> = (0..n).map(|_| 1.0 + sigma * t.sample(&mut rng)).collect();
    let f = fit(AltModel::StudentT, &x).unwrap();
    assert!(f.converged);
    let want = (1.0 / (n as f64 * (nu + 1.0) / ((nu + 3.0) * sigma * sigma))).sqrt();
    // Observed vs expected information differ by O(1/sqrt n) sampling noise plus the plug-in
    // of estimated (sigma, nu): 10% is several standard deviations of that at n = 2e4.
    let se = f.se.loc.unwrap();
    assert!(rel(se, want) < 0.10, "se(loc) {se} vs {want}");
    // Estimates within 4 standard errors of the truth.
    assert!((f.loc - 1.0).abs() < 4.0 * se);
    assert!((f.scale - sigma).abs() < 4.0 * f.se.scale.unwrap());
    assert!((f.df.unwrap() - nu).abs() < 4.0 * f.se.df.unwrap());
}

#[test]
fn student_t_on_normal_data_tends_to_the_normal() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let x: Vec<f64> = (0..2000)
        .map(|_| rand_distr::StandardNormal.sample(&mut rng))
        .collect();
    let t = fit(AltModel::StudentT, &x).unwrap();
    let n = fit(AltModel::Normal, &x).unwrap();
    // The t family contains the normal as df -> inf: its maximum cannot be lower (up to the
    // df cap of 1e6, where the two log-likelihoods differ by ~n/df^2 ~ 1e-9).
    assert!(t.loglik >= n.loglik - 1e-6, "{} vs {}", t.loglik, n.loglik);
    assert!(t.converged);
    assert!(t.df.unwrap() > 20.0);
}

#[test]
fn weighted_fits_equal_repeated_data() {
    // Grouped data (value, count) against the same data written out: brute-force reference.
    let x = sample();
    let vals: Vec<f64> = x[..60].to_vec();
    let counts: Vec<f64> = (0..60).map(|i| ((i * 7) % 5) as f64).collect(); // includes zeros
    let flat: Vec<f64> = vals
        .iter()
        .zip(&counts)
        .flat_map(|(&v, &c)| std::iter::repeat_n(v, c as usize))
        .collect();
    for m in [AltModel::Normal, AltModel::Laplace, AltModel::StudentT] {
        let g = anodiff_core::fit::alternatives::fit_weighted(m, &vals, &counts).unwrap();
        let u = fit(m, &flat).unwrap();
        assert_eq!(g.n, flat.len());
        // Closed forms agree to rounding; Student-t to the Newton tolerance (1e-10 steps).
        let tol = if m == AltModel::StudentT { 1e-7 } else { 1e-12 };
        assert!(rel(g.loc, u.loc) < tol, "{m}: loc {} vs {}", g.loc, u.loc);
        assert!(
            rel(g.scale, u.scale) < tol,
            "{m}: scale {} vs {}",
            g.scale,
            u.scale
        );
        assert!(
            rel(g.loglik, u.loglik) < 1e-12,
            "{m}: {} vs {}",
            g.loglik,
            u.loglik
        );
    }
    let e =
        anodiff_core::fit::alternatives::fit_weighted(AltModel::Normal, &[1.0, 2.0], &[1.0, -1.0]);
    assert!(e.unwrap_err().to_string().contains("weight at index 1"));
    let e = anodiff_core::fit::alternatives::fit_weighted(AltModel::Normal, &[1.0, 2.0], &[1.0]);
    assert!(e.is_err());
}

#[test]
fn normal_from_streaming_moments() {
    let x = sample();
    let s: f64 = x.iter().sum();
    let ss: f64 = x.iter().map(|v| v * v).sum();
    let a = anodiff_core::fit::alternatives::normal_from_moments(x.len() as u64, s, ss).unwrap();
    let g = golden("normal");
    // sum of squares minus n mean^2: cancellation of ~(mean/sd)^2 ~ 2% of the digits only.
    assert!(rel(a.loc, g[0]) < 1e-13 && rel(a.scale, g[1]) < 1e-12);
    assert!(anodiff_core::fit::alternatives::normal_from_moments(5, 10.0, 20.0).is_err());
}
