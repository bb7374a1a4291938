//! Size and power of the verdict rules by simulation, and their values against scipy.
//!
//! Rates are counted over `N` simulated estimates; a rate `r` has binomial standard error
//! `sqrt(r (1 - r) / N)`, and the bands below are about 4.5 of those wide each side, so a
//! correct rule fails a test with probability below 1e-5.

use anodiff_core::verdict::{
    all_of, holm, not_tested, pool, test, trend, Estimate, Hypothesis, Trend, Verdict,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn rate(n: usize, mut verdict: impl FnMut(usize) -> Verdict, want: Verdict) -> f64 {
    (0..n).filter(|&i| verdict(i) == want).count() as f64 / n as f64
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

#[test]
fn one_sided_claims_have_their_size_and_power() {
    const N: usize = 20_000;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // At the boundary theta = c each direction is a rejection of a two-sided 5 % test: 2.5 %.
    let mut draws: Vec<f64> = (0..N).map(|_| normal(&mut rng)).collect();
    let v = |x: f64, h: Hypothesis| {
        test(&Estimate::normal(x, 1.0).unwrap(), h, 0.05, "x")
            .unwrap()
            .verdict
    };
    let up = rate(
        N,
        |i| v(draws[i], Hypothesis::Above(0.0)),
        Verdict::Reproduced,
    );
    let down = rate(
        N,
        |i| v(draws[i], Hypothesis::Above(0.0)),
        Verdict::Contradicted,
    );
    assert!((0.020..=0.030).contains(&up), "size, reproduced: {up}");
    assert!(
        (0.020..=0.030).contains(&down),
        "size, contradicted: {down}"
    );
    // Below(c) is Above(c) mirrored.
    let below = rate(
        N,
        |i| v(draws[i], Hypothesis::Below(0.0)),
        Verdict::Reproduced,
    );
    assert!((below - down).abs() < 1e-12);
    // Power at theta = c + 3 se: Phi(3 - 1.959964) = 0.85083 (scipy.stats.norm.cdf).
    for x in &mut draws {
        *x += 3.0;
    }
    let p = rate(
        N,
        |i| v(draws[i], Hypothesis::Above(0.0)),
        Verdict::Reproduced,
    );
    assert!((p - 0.85083).abs() < 0.012, "power: {p}");
    // The same data never reproduce the opposite hypothesis.
    let wrong = rate(
        N,
        |i| v(draws[i], Hypothesis::Below(0.0)),
        Verdict::Reproduced,
    );
    assert!(wrong < 1e-3, "{wrong}");
}

#[test]
fn student_reference_widens_the_interval() {
    // t with 2 df: the 97.5 % point is 4.302653 (scipy.stats.t.ppf(0.975, 2)).
    let e = Estimate::student(1.0, 0.1, 2.0).unwrap();
    let [lo, hi] = e.interval(0.95);
    assert!((hi - 1.0 - 0.4302653).abs() < 1e-6, "{hi}");
    assert!((1.0 - lo - 0.4302653).abs() < 1e-6, "{lo}");
    // z = 3 is significant with a normal reference, not with t(2): p = 0.095466 (scipy
    // 2 * stats.t.sf(3, 2)).
    let d = test(&e, Hypothesis::Above(0.7), 0.05, "x").unwrap();
    assert_eq!(d.verdict, Verdict::Inconclusive);
    assert!((d.test.p_value.unwrap() - 0.0954660).abs() < 1e-6);
}

#[test]
fn range_claims_have_their_size_and_power() {
    const N: usize = 20_000;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let draws: Vec<f64> = (0..N).map(|_| normal(&mut rng)).collect();
    let h = Hypothesis::Between(-3.0, 3.0);
    let v = |x: f64| {
        test(&Estimate::normal(x, 1.0).unwrap(), h, 0.05, "x")
            .unwrap()
            .verdict
    };
    // At theta on the margin the TOST rejects with probability 5 % (the other one-sided test
    // almost surely rejects with the margin 6 se away).
    let size = rate(N, |i| v(3.0 + draws[i]), Verdict::Reproduced);
    assert!((0.043..=0.057).contains(&size), "size: {size}");
    // At theta = 0: P(|Z| < 3 - 1.644854) = 2 Phi(1.355146) - 1 = 0.82463 (scipy).
    let power = rate(N, |i| v(draws[i]), Verdict::Reproduced);
    assert!((power - 0.82463).abs() < 0.012, "power: {power}");
    // Contradicted when the 95 % interval is wholly outside: at theta = 3 + 1.96 half the time.
    let c = rate(N, |i| v(3.0 + 1.959964 + draws[i]), Verdict::Contradicted);
    assert!((c - 0.5).abs() < 0.016, "contradiction rate: {c}");
    // Never contradicted inside the range.
    let c0 = rate(N, |i| v(draws[i]), Verdict::Contradicted);
    assert!(c0 < 1e-3);
}

#[test]
fn differences_use_both_errors() {
    // (1.3 +- 0.1) - (1.0 +- 0.1): z = 0.3 / sqrt(0.02) = 2.12132, p = 0.033895 (scipy
    // 2 * stats.norm.sf(2.12132034)).
    let a = Estimate::normal(1.3, 0.1).unwrap();
    let b = Estimate::normal(1.0, 0.1).unwrap();
    let d = test(&a.minus(&b).unwrap(), Hypothesis::Above(0.0), 0.05, "a - b").unwrap();
    assert_eq!(d.verdict, Verdict::Reproduced);
    assert!((d.test.p_value.unwrap() - 0.033895).abs() < 1e-6);
    // Welch-Satterthwaite: two t(4) terms of equal variance give 8 df.
    let x = Estimate::student(1.0, 0.1, 4.0).unwrap();
    let y = Estimate::student(0.0, 0.1, 4.0).unwrap();
    assert!((x.minus(&y).unwrap().df.unwrap() - 8.0).abs() < 1e-12);
}

#[test]
fn mann_kendall_matches_scipy_and_has_its_size_and_power() {
    // Normal approximation (n = 15 > 12): S = -95, Var S = 15 * 14 * 35 / 18 = 408.333;
    // z = (95 - 1) / sqrt(408.333) = 4.65176, p = 3.2906e-6 (2 * scipy.stats.norm.sf(z)).
    let y = [
        15.0, 14.0, 12.0, 13.0, 11.0, 9.0, 10.0, 8.0, 9.5, 7.0, 6.0, 6.5, 5.0, 4.0, 3.5,
    ];
    let t: Vec<f64> = (0..15).map(f64::from).collect();
    let d = trend(&t, &y, Trend::Decreasing, 0.05, "y").unwrap();
    assert_eq!(d.verdict, Verdict::Reproduced);
    let p = d.test.p_value.unwrap();
    assert!((p / 3.2906e-6 - 1.0).abs() < 1e-3, "{p}");
    // Sen's slope and its interval: scipy.stats.theilslopes(y, t, 0.95) gives -0.8 with
    // [-0.9, -0.666667].
    assert!((d.test.estimate.unwrap() + 0.8).abs() < 1e-12);
    let [lo, hi] = d.test.ci95.unwrap();
    assert!(
        (lo + 0.9).abs() < 1e-12 && (hi + 2.0 / 3.0).abs() < 1e-12,
        "{lo} {hi}"
    );
    // The opposite direction is contradicted by the same data.
    let d = trend(&t, &y, Trend::Increasing, 0.05, "y").unwrap();
    assert_eq!(d.verdict, Verdict::Contradicted);

    // Size on iid noise (exact for n = 8, normal for n = 20) and power on a linear fall.
    // Measured: size 0.037 (n = 8) and 0.042 (n = 20); power 0.75 at slope -0.6 sd a step
    // (n = 8) and 0.93 at -0.15 (n = 20).
    const N: usize = 4_000;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (n, slope) in [(8usize, 0.6), (20, 0.15)] {
        let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut decided = 0;
        let mut found = 0;
        for _ in 0..N {
            let e: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
            if trend(&t, &e, Trend::Decreasing, 0.05, "y").unwrap().verdict != Verdict::Inconclusive
            {
                decided += 1;
            }
            let y: Vec<f64> = e.iter().zip(&t).map(|(e, t)| e - slope * t).collect();
            if trend(&t, &y, Trend::Decreasing, 0.05, "y").unwrap().verdict == Verdict::Reproduced {
                found += 1;
            }
        }
        let size = decided as f64 / N as f64;
        let power = found as f64 / N as f64;
        // The exact test is conservative (its null distribution is discrete): size <= 5 %.
        assert!(size <= 0.05 + 0.015, "n = {n}: size {size}");
        assert!(size >= 0.03, "n = {n}: size {size}");
        eprintln!("n = {n}: size {size}, power {power}");
        assert!(power > 0.7, "n = {n}: power {power}");
    }
}

#[test]
fn pooled_seeds_cover_the_mean_with_heterogeneity() {
    // Three seeds whose true values scatter by tau around theta, each measured with error se.
    const N: usize = 5_000;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for (tau, se) in [(0.0, 0.05), (0.05, 0.05), (0.2, 0.02)] {
        let mut covered = 0;
        for _ in 0..N {
            let reps: Vec<Estimate> = (0..3)
                .map(|_| {
                    let v = 1.0 + tau * normal(&mut rng) + se * normal(&mut rng);
                    Estimate::normal(v, se).unwrap()
                })
                .collect();
            let p = pool(&reps).unwrap();
            let [lo, hi] = p.estimate.interval(0.95);
            if lo <= 1.0 && 1.0 <= hi {
                covered += 1;
            }
        }
        let c = covered as f64 / N as f64;
        // A fixed-effect pool would cover 0.155 at tau = 0.2, se = 0.02 (analytic:
        // 2 Phi(1.96 (0.02 / sqrt 3) / sqrt((0.2^2 + 0.02^2) / 3)) - 1, scipy.stats.norm).
        assert!(c >= 0.93, "tau {tau}, se {se}: coverage {c}");
    }
}

#[test]
fn combinations_and_adjustment() {
    let yes = test(
        &Estimate::normal(3.0, 1.0).unwrap(),
        Hypothesis::Above(0.0),
        0.05,
        "a",
    )
    .unwrap();
    let maybe = test(
        &Estimate::normal(1.0, 1.0).unwrap(),
        Hypothesis::Above(0.0),
        0.05,
        "b",
    )
    .unwrap();
    let no = test(
        &Estimate::normal(-3.0, 1.0).unwrap(),
        Hypothesis::Above(0.0),
        0.05,
        "c",
    )
    .unwrap();
    assert_eq!(
        all_of(&[yes.clone(), yes.clone()], "ab", 0.05).verdict,
        Verdict::Reproduced
    );
    assert_eq!(
        all_of(&[yes.clone(), maybe.clone()], "ab", 0.05).verdict,
        Verdict::Inconclusive
    );
    assert_eq!(
        all_of(&[yes.clone(), no], "ac", 0.05).verdict,
        Verdict::Contradicted
    );
    assert_eq!(
        all_of(&[yes.clone(), not_tested("x", 0.05)], "ax", 0.05).verdict,
        Verdict::NotTested
    );
    let combined = all_of(&[yes.clone(), maybe.clone()], "ab", 0.05);
    assert_eq!(combined.test.p_value, maybe.test.p_value);
    // Holm over four p-values (statsmodels.stats.multitest.multipletests(method="holm")):
    // [0.01, 0.02, 0.03, 0.5] -> [0.04, 0.06, 0.06, 0.5].
    let adj = holm(&[Some(0.5), Some(0.03), Some(0.01), Some(0.02)]);
    let want = [0.5, 0.06, 0.04, 0.06];
    for (a, w) in adj.iter().zip(want) {
        assert!((a.unwrap() - w).abs() < 1e-12, "{adj:?}");
    }
}
