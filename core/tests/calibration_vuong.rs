//! Size and power, by simulation, of the decisions `anodiff vuong` prints: the boundary
//! likelihood-ratio test for stable against normal (nested), Vuong's test for stable against
//! Student-t and Laplace (non-nested), and the Hill-against-stable agreement test.
//!
//! The default tests are CI-sized (a few hundred fits, about 15 s); the ignored `study_*`
//! tests print the markdown tables recorded in `CALIBRATION.md`, section "Model comparison":
//!
//! ```text
//! cargo test -p anodiff-core --test calibration_vuong -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Rates are judged with the exact (Clopper-Pearson) 95 % binomial interval: "size at most 5 %"
//! means the interval's lower end is at most 0.05, i.e. the observed rate is not significantly
//! above the level.

use anodiff_core::fit::alternatives::{fit as alt_fit, AltModel};
use anodiff_core::fit::{Estimator, Mle};
use anodiff_core::stable::{Param, Stable};
use anodiff_core::tails::{alpha_agreement, hill, HillK, Tail};
use anodiff_core::vuong::{boundary_chibar2, vuong, ModelComparison, Preferred};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;
use rayon::prelude::*;
use statrs::distribution::{Beta, ContinuousCDF};

const LEVEL: f64 = 0.05;

/// Exact (Clopper-Pearson) two-sided 95 % interval for a binomial proportion `x / n`.
fn clopper_pearson(x: usize, n: usize) -> [f64; 2] {
    let (xf, nf) = (x as f64, n as f64);
    let lo = if x == 0 {
        0.0
    } else {
        Beta::new(xf, nf - xf + 1.0).unwrap().inverse_cdf(0.025)
    };
    let hi = if x == n {
        1.0
    } else {
        Beta::new(xf + 1.0, nf - xf).unwrap().inverse_cdf(0.975)
    };
    [lo, hi]
}

#[test]
fn clopper_pearson_matches_scipy() {
    // scipy.stats.binomtest(3, 100).proportion_ci(method="exact")
    //   = (0.006229971538306227, 0.08517605297428028)
    let [lo, hi] = clopper_pearson(3, 100);
    assert!((lo - 0.006229971538306227).abs() < 1e-9, "{lo}");
    assert!((hi - 0.08517605297428028).abs() < 1e-9, "{hi}");
}

#[derive(Clone, Copy, Debug)]
enum Law {
    /// N(0, 3^2), the user's example.
    Normal,
    /// Symmetric stable S(alpha, 0, 1, 0) in S0.
    Stable(f64),
    /// Student-t with `df` degrees of freedom.
    StudentT(f64),
    /// Standard Laplace.
    Laplace,
}

impl Law {
    fn name(self) -> String {
        match self {
            Law::Normal => "normal(0, 3)".into(),
            Law::Stable(a) => format!("stable(alpha {a})"),
            Law::StudentT(df) => format!("student-t(df {df})"),
            Law::Laplace => "laplace(0, 1)".into(),
        }
    }

    fn sample(self, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match self {
            Law::Normal => (0..n)
                .map(|_| {
                    let z: f64 = rand_distr::StandardNormal.sample(&mut rng);
                    3.0 * z
                })
                .collect(),
            Law::Stable(a) => {
                let s = Stable::new(a, 0.0, 1.0, 0.0, Param::S0).unwrap();
                (0..n).map(|_| s.sample(&mut rng)).collect()
            }
            Law::StudentT(df) => {
                let t = rand_distr::StudentT::new(df).unwrap();
                (0..n).map(|_| t.sample(&mut rng)).collect()
            }
            Law::Laplace => (0..n)
                .map(|_| {
                    let e: f64 = rand_distr::Exp1.sample(&mut rng);
                    if rand::Rng::random::<bool>(&mut rng) {
                        e
                    } else {
                        -e
                    }
                })
                .collect(),
        }
    }
}

/// One replicate of stable against normal: the LR of the symmetric fit (the decision), and
/// for comparison the LR of the four-parameter fit and Vuong's test on it (the statistics the
/// command also prints).
#[derive(Clone, Copy, Debug)]
struct NestedRep {
    llr_sym: f64,
    llr_free: f64,
    vuong_stable: bool,
}

fn nested_rep(x: &[f64], with_free: bool) -> Option<NestedRep> {
    let normal = alt_fit(AltModel::Normal, x).ok()?;
    let sym = Mle::new().symmetric().fit(x).ok()?;
    if !sym.converged {
        return None;
    }
    let (llr_free, vuong_stable) = if with_free {
        let free = Mle::new().fit(x).ok()?;
        if !free.converged {
            return None;
        }
        let t = vuong(&free.ln_pdfs(x), &normal.ln_pdfs(x)).ok()?;
        (
            free.loglik - normal.loglik,
            t.preferred(LEVEL) == Preferred::First,
        )
    } else {
        (f64::NAN, false)
    };
    Some(NestedRep {
        llr_sym: sym.loglik - normal.loglik,
        llr_free,
        vuong_stable,
    })
}

/// Rates of a false or true "stable" over `reps` samples of `law` at size `n`.
#[derive(Debug)]
struct NestedRow {
    law: Law,
    n: usize,
    reps: usize,
    failed: usize,
    /// Decision: boundary test on the symmetric fit.
    decided_stable: usize,
    /// Chi-bar-2 applied to the four-parameter fit's LR.
    free_chibar_stable: usize,
    /// Vuong's two-sided z on the four-parameter fit.
    vuong_stable: usize,
    /// Symmetric fit at the boundary (LR <= 0 up to the spline's rounding).
    at_boundary: usize,
}

fn nested_study(law: Law, n: usize, reps: usize, seed: u64, with_free: bool) -> NestedRow {
    let out: Vec<Option<NestedRep>> = (0..reps)
        .into_par_iter()
        .map(|r| {
            nested_rep(
                &law.sample(n, seed.wrapping_mul(1_000_003) + r as u64),
                with_free,
            )
        })
        .collect();
    let ok: Vec<NestedRep> = out.iter().flatten().copied().collect();
    let decide =
        |llr: f64| ModelComparison::boundary_lr(llr, LEVEL).unwrap().preferred == Preferred::First;
    NestedRow {
        law,
        n,
        reps: ok.len(),
        failed: reps - ok.len(),
        decided_stable: ok.iter().filter(|r| decide(r.llr_sym)).count(),
        free_chibar_stable: ok
            .iter()
            .filter(|r| r.llr_free.is_finite() && boundary_chibar2(r.llr_free).unwrap().0 < LEVEL)
            .count(),
        vuong_stable: ok.iter().filter(|r| r.vuong_stable).count(),
        at_boundary: ok.iter().filter(|r| r.llr_sym <= 1e-3).count(),
    }
}

fn rate(x: usize, n: usize) -> String {
    let [lo, hi] = clopper_pearson(x, n);
    format!("{:.3} [{lo:.3}, {hi:.3}]", x as f64 / n as f64)
}

/// Non-nested replicate: which model Vuong's test prefers.
fn non_nested_counts(law: Law, alt: AltModel, n: usize, reps: usize, seed: u64) -> [usize; 4] {
    let out: Vec<Option<Preferred>> = (0..reps)
        .into_par_iter()
        .map(|r| {
            let x = law.sample(n, seed.wrapping_mul(1_000_003) + r as u64);
            let a = alt_fit(alt, &x).ok()?;
            let s = Mle::new().symmetric().fit(&x).ok()?;
            if !(s.converged && a.converged) {
                return None;
            }
            let t = vuong(&s.ln_pdfs(&x), &a.ln_pdfs(&x)).ok()?;
            Some(ModelComparison::vuong(&t, LEVEL).unwrap().preferred)
        })
        .collect();
    let count = |p: Preferred| out.iter().filter(|o| **o == Some(p)).count();
    [
        count(Preferred::First),
        count(Preferred::Second),
        count(Preferred::Neither),
        out.iter().filter(|o| o.is_none()).count(),
    ]
}

/// Hill (on |x|, automatic k, as `anodiff vuong` runs it) against the symmetric stable MLE:
/// how often the agreement test rejects at LEVEL on stable data, where both estimate alpha.
fn hill_rejections(alpha: f64, n: usize, reps: usize, seed: u64) -> (usize, usize, f64) {
    let out: Vec<Option<(bool, f64)>> = (0..reps)
        .into_par_iter()
        .map(|r| {
            let x = Law::Stable(alpha).sample(n, seed.wrapping_mul(1_000_003) + r as u64);
            let h = hill(&x, Tail::Abs, HillK::Auto).ok()?;
            let s = Mle::new().symmetric().fit(&x).ok()?;
            let a = alpha_agreement(&h, s.alpha, s.se.alpha, LEVEL).ok()?;
            Some((a.disagree, h.alpha))
        })
        .collect();
    let ok: Vec<(bool, f64)> = out.into_iter().flatten().collect();
    let mean_hill = ok.iter().map(|o| o.1).sum::<f64>() / ok.len() as f64;
    (ok.iter().filter(|o| o.0).count(), ok.len(), mean_hill)
}

#[test]
fn boundary_test_size_on_normal_data() {
    // CI-sized: 300 + 150 + 40 samples. The decision's false "stable" rate must not be
    // significantly above 5 % (Clopper-Pearson lower end <= 0.05) at each n.
    for (n, reps) in [(200, 300), (1000, 150), (5000, 40)] {
        let row = nested_study(Law::Normal, n, reps, 11, false);
        assert!(row.failed <= reps / 50, "{row:?}");
        let [lo, _] = clopper_pearson(row.decided_stable, row.reps);
        assert!(lo <= LEVEL, "n {n}: false stable {row:?}");
        assert_eq!(row.n, n);
    }
}

#[test]
fn boundary_test_power_on_stable_data() {
    // n = 1000: alpha = 1.5 and 1.8 are told from the normal in every one of 300 samples of
    // the full study (CALIBRATION.md); asserted here through the interval's lower end.
    for (alpha, reps, min_power) in [(1.5, 40, 0.9), (1.8, 80, 0.9)] {
        let row = nested_study(Law::Stable(alpha), 1000, reps, 12, false);
        let [lo, _] = clopper_pearson(row.decided_stable, row.reps);
        assert!(lo >= min_power, "alpha {alpha}: {row:?}");
        assert!(matches!(row.law, Law::Stable(a) if a == alpha));
    }
}

#[test]
fn vuong_prefers_the_true_non_nested_model() {
    // n = 1000, 30 samples each. Stable(1.5) against Laplace and Laplace against stable: the
    // true model is preferred in most samples. Student-t(3) against stable: a stable law with
    // alpha ~ 1.7 is close to t(3) in the body, so the test often cannot tell them apart, but
    // it must (almost) never prefer the wrong model.
    let cases = [
        (Law::Stable(1.5), AltModel::Laplace, true, 20),
        (Law::Laplace, AltModel::Laplace, false, 20),
        (Law::StudentT(3.0), AltModel::StudentT, false, 5),
    ];
    for (law, alt, stable_true, min_right) in cases {
        let [s, a, _, failed] = non_nested_counts(law, alt, 1000, 30, 13);
        assert!(failed <= 1, "{law:?} {alt}: {failed} failed fits");
        let (right, wrong) = if stable_true { (s, a) } else { (a, s) };
        assert!(
            right >= min_right && wrong <= 2,
            "{law:?} vs {alt}: right {right} wrong {wrong}"
        );
    }
}

#[test]
fn hill_agreement_size_where_hill_is_consistent() {
    // Cauchy (alpha = 1): the stable tail is Pareto up to a relative x^-2 term, Hill at the
    // automatic k is nearly unbiased, and the agreement test must hold its level.
    let (rej, reps, _) = hill_rejections(1.0, 5000, 120, 14);
    let [lo, _] = clopper_pearson(rej, reps);
    assert!(lo <= LEVEL, "alpha 1: {rej}/{reps} disagreements");
}

// The full study: ignored tests that each print one part of the tables in CALIBRATION.md.
// Run them all, in order, with
//   cargo test -p anodiff-core --test calibration_vuong -- --ignored --nocapture --test-threads 1

const NESTED_HEADER: &str = "| data | n | samples | decision: boundary LR, symmetric fit | chi-bar-2 on the 4-parameter fit's LR | Vuong z on the 4-parameter fit | symmetric fit at alpha = 2 | failed fits |\n|---|---|---|---|---|---|---|---|";

fn print_nested(law: Law, n: usize, reps: usize, seed: u64, free: bool) {
    let r = nested_study(law, n, reps, seed, free);
    let other = |x: usize| if free { rate(x, r.reps) } else { "-".into() };
    println!(
        "| {} | {n} | {} | {} | {} | {} | {:.3} | {} |",
        law.name(),
        r.reps,
        rate(r.decided_stable, r.reps),
        other(r.free_chibar_stable),
        other(r.vuong_stable),
        r.at_boundary as f64 / r.reps as f64,
        r.failed
    );
}

// On normal data the 4-parameter fit wanders in the unidentified beta and takes many times
// the symmetric fit's iterations: its two comparison columns are measured at n = 200 and 1000.
#[test]
#[ignore = "full study, size at n = 200 (minutes)"]
fn study_1_size_n200() {
    println!("{NESTED_HEADER}");
    print_nested(Law::Normal, 200, 1000, 100, true);
}

#[test]
#[ignore = "full study, size at n = 1000 (about 15 CPU-minutes)"]
fn study_2_size_n1000() {
    print_nested(Law::Normal, 1000, 1000, 101, true);
}

#[test]
#[ignore = "full study, size at n = 5000 (minutes)"]
fn study_3_size_n5000() {
    print_nested(Law::Normal, 5000, 400, 102, false);
}

#[test]
#[ignore = "full study, power (minutes)"]
fn study_4_power() {
    let rows = [
        (1.5, 1000),
        (1.8, 1000),
        (1.9, 1000),
        (1.95, 1000),
        (1.8, 200),
        (1.9, 5000),
    ];
    for (i, (alpha, n)) in rows.into_iter().enumerate() {
        print_nested(Law::Stable(alpha), n, 300, 110 + i as u64, false);
    }
}

#[test]
#[ignore = "full study, non-nested pairs (minutes)"]
fn study_5_non_nested() {
    let reps = 200;
    println!(
        "\n| data | alternative | prefers stable | prefers alternative | neither | failed fits |"
    );
    println!("|---|---|---|---|---|---|");
    let cases = [
        (Law::Stable(1.5), AltModel::StudentT),
        (Law::Stable(1.8), AltModel::StudentT),
        (Law::StudentT(3.0), AltModel::StudentT),
        (Law::StudentT(1.0), AltModel::StudentT),
        (Law::Stable(1.5), AltModel::Laplace),
        (Law::Laplace, AltModel::Laplace),
    ];
    for (i, (law, alt)) in cases.into_iter().enumerate() {
        let [s, a, ne, f] = non_nested_counts(law, alt, 1000, reps, 200 + i as u64);
        let m = s + a + ne;
        println!(
            "| {} | {alt} | {} | {} | {} | {f} |",
            law.name(),
            rate(s, m),
            rate(a, m),
            rate(ne, m)
        );
    }
}

#[test]
#[ignore = "full study, Hill agreement test (minutes)"]
fn study_6_hill() {
    let reps = 200;
    println!("\n| alpha | n | disagreement rate | mean Hill alpha |");
    println!("|---|---|---|---|");
    let rows = [
        (1.0, 10_000),
        (1.2, 10_000),
        (1.5, 10_000),
        (1.8, 10_000),
        (1.0, 2000),
        (1.5, 2000),
    ];
    for (i, (alpha, n)) in rows.into_iter().enumerate() {
        let (rej, m, mean) = hill_rejections(alpha, n, reps, 300 + i as u64);
        println!("| {alpha} | {n} | {} | {mean:.3} |", rate(rej, m));
    }
}
