//! Vuong test conventions and underflow-safe p-values against mpmath (50 digits).
//! Golden values: fixtures/vuong/vuong_golden.txt, produced by fixtures/vuong/make_vuong_golden.py
//! (mpmath 1.4.1). The worked example is the one of notes/stable-methods.md s.7.

// Golden values are pasted with all the digits the reference tool printed.
#![allow(clippy::excessive_precision)]

use anodiff_core::vuong::{boundary_chibar2, ln_erfc, vuong, vuong_fn, vuong_grouped, Preferred};

const D: [f64; 5] = [0.5, 1.0, -0.2, 0.8, 0.3];

#[test]
fn worked_example() {
    // l_a - l_b = D, split between the two models in an arbitrary way: only the difference counts.
    let lb = [-1.3, -0.2, -2.0, -0.7, -1.1];
    let la: Vec<f64> = D.iter().zip(&lb).map(|(d, b)| d + b).collect();
    let t = vuong(&la, &lb).unwrap();
    // Tolerances: a few ulps of rounding in la = d + b (inputs of size ~2) propagate to ~1e-15
    // in the differences; the statistic and p-values are well conditioned there.
    assert!((t.llr - 2.4).abs() < 1e-14, "{}", t.llr);
    assert!((t.omega2 - 0.1736).abs() < 1e-14, "{}", t.omega2);
    assert!((t.statistic - 2.5760327444465509925).abs() < 1e-13);
    assert!((t.p_two_sided / 0.0099941181351067676039 - 1.0).abs() < 1e-12);
    assert!((t.p_one_sided / 0.0049970590675533838019 - 1.0).abs() < 1e-12);
    assert!((t.log10_p_two_sided - 0.0099941181351067676039f64.log10()).abs() < 1e-12);
    assert_eq!(t.n, 5.0);
    assert_eq!(t.preferred(0.05), Preferred::First);
    // Swapping the models flips the sign and the one-sided p.
    let s = vuong(&lb, &la).unwrap();
    assert!((s.statistic + t.statistic).abs() < 1e-13);
    assert!((s.p_one_sided - (1.0 - t.p_one_sided)).abs() < 1e-14);
    assert_eq!(s.preferred(0.05), Preferred::Second);
    // powerlaw's "nested" p = chi2_1.sf(2 LR) = 0.028459736916310577; the boundary mixture halves it.
    let (p, lp) = boundary_chibar2(t.llr).unwrap();
    assert!((p / (0.5 * 0.028459736916310577034) - 1.0).abs() < 1e-12);
    assert!((lp - p.log10()).abs() < 1e-13);
}

#[test]
fn ln_erfc_against_mpmath() {
    let cases = [
        (0.5, -0.7350111298370844030258793),
        (1.0, -1.849605509933248248576018),
        (5.0, -27.20088954553743442244204),
        (20.0, -403.5693433341042349629688),
        (25.0, -628.7920391740716853686961),
        (25.5, -654.0618108575379988175929),
        (30.0, -903.9741171106438780796002),
        (100.0, -10005.17758512266433257047),
        (1e3, -1000007.480120721906212141),
        (7071.0678118654752440, -50000009.43613173462079051),
    ];
    for (x, want) in cases {
        let got = ln_erfc(x);
        // 1e-13 relative (libm erfc is good to ~1 ulp, i.e. ~1e-15 absolute in ln,
        // and the asymptotic series to <1e-17 beyond x = 25; f64 rounding of -x^2 dominates).
        assert!(
            (got - want).abs() <= 1e-13 * want.abs().max(1.0),
            "x={x}: {got} vs {want}"
        );
    }
}

#[test]
fn log10_p_does_not_underflow() {
    // (z, log10 two-sided, log10 one-sided) from mpmath.
    let cases = [
        (
            2.0,
            -1.341986084476955852770627,
            -1.643016080140937047984366,
        ),
        (8.0, -14.9051125553531733630436, -15.20614255101715455825734),
        (
            37.0,
            -298.941151182945940476313,
            -299.2421811786099216715267,
        ),
        (
            40.0,
            -349.1359764636818608908372,
            -349.4370064593458420860509,
        ),
        (
            100.0,
            -2173.570512873370395332317,
            -2173.871542869034376527531,
        ),
        (
            1e4,
            -21714728.19322253424057749,
            -21714728.49425252990455868,
        ),
        (
            -3.0,
            -2.568669040265387882009444,
            -0.0005866493137900666910232816,
        ),
        (-40.0, -349.1359764636818608908372, 0.0),
    ];
    for (z, l2, l1) in cases {
        // Build data with exactly this z: d = [z + s, z - s] / sqrt(2)... simpler: two-point
        // differences a +- b give LR = 2a, omega = |b|, z = 2a / (sqrt 2 |b|).
        let b = 1.0;
        let a = z * std::f64::consts::SQRT_2 * b / 2.0;
        let t = vuong(&[a + b, a - b], &[0.0, 0.0]).unwrap();
        assert!(
            (t.statistic / z - 1.0).abs() < 1e-14,
            "z {z}: {}",
            t.statistic
        );
        // Relative 1e-12: z itself carries ~1e-15 relative error, which moves log10 p by
        // ~2 z^2 * 1e-15 / ln 10 relative to z^2 / (2 ln 10): ~1e-14 relative.
        assert!(
            (t.log10_p_two_sided - l2).abs() <= 1e-12 * l2.abs().max(1.0),
            "z {z}: {} vs {l2}",
            t.log10_p_two_sided
        );
        assert!(
            (t.log10_p_one_sided - l1).abs() <= 1e-12 * l1.abs().max(1e-3),
            "z {z}: {} vs {l1}",
            t.log10_p_one_sided
        );
    }
    // The value quoted in the notes: log10 p = -21,714,728.19 at z = 1e4.
    let t = vuong(
        &[1e4 / 2f64.sqrt() + 1.0, 1e4 / 2f64.sqrt() - 1.0],
        &[0.0, 0.0],
    )
    .unwrap();
    assert!((t.log10_p_two_sided - (-21_714_728.19)).abs() < 0.005);
    assert_eq!(t.p_two_sided, 0.0);
    assert_eq!(t.preferred(1e-300), Preferred::First);
}

#[test]
fn grouped_equals_ungrouped() {
    // Repeated values grouped into bins give identical LR, omega^2 and z (brute force).
    let bins = [
        (3.0, 0.25),
        (1.0, -1.5),
        (7.0, 0.75),
        (2.0, 0.0),
        (0.0, f64::NAN),
    ];
    let counts: Vec<f64> = bins.iter().map(|b| b.0).collect();
    let diffs: Vec<f64> = bins.iter().map(|b| b.1).collect();
    let g = vuong_grouped(&counts, &diffs).unwrap();
    let flat: Vec<f64> = bins
        .iter()
        .flat_map(|&(c, d)| std::iter::repeat_n(d, c as usize))
        .collect();
    let u = vuong(&flat, &vec![0.0; flat.len()]).unwrap();
    assert_eq!(g.n, 13.0);
    assert!((g.llr - u.llr).abs() < 1e-14);
    assert!((g.omega2 - u.omega2).abs() < 1e-14);
    assert!((g.statistic - u.statistic).abs() < 1e-13);
    assert!((g.log10_p_two_sided - u.log10_p_two_sided).abs() < 1e-12);
}

#[test]
fn large_offset_variance_is_accurate() {
    // d_i = 1e8 + small: a naive sum-of-squares variance loses every digit; the two-pass
    // compensated one keeps them. Exact: omega^2 of [0, 1, 2, 3] * 1e-3 = 1.25e-6.
    let d: Vec<f64> = (0..4).map(|i| 1e8 + i as f64 * 1e-3).collect();
    let t = vuong(&d, &[0.0; 4]).unwrap();
    // Tolerance: the inputs themselves are rounded to ulp(1e8) = 1.5e-8, i.e. ~1e-5 relative
    // error in deviations of 1e-3.
    assert!((t.omega2 / 1.25e-6 - 1.0).abs() < 1e-4, "{}", t.omega2);
}

#[test]
fn closure_form_matches_slices() {
    let x = [-1.0, -0.5, 0.0, 0.4, 0.9, 12.0];
    let la: Vec<f64> = x.iter().map(|v: &f64| -v.abs() - 2f64.ln()).collect();
    let lb: Vec<f64> = x
        .iter()
        .map(|v| -0.5 * v * v - 0.5 * (2.0 * std::f64::consts::PI).ln())
        .collect();
    let a = vuong_fn(
        &x,
        |v| -v.abs() - 2f64.ln(),
        |v| -0.5 * v * v - 0.5 * (2.0 * std::f64::consts::PI).ln(),
    )
    .unwrap();
    assert_eq!(a, vuong(&la, &lb).unwrap());
}

#[test]
fn null_distribution_is_calibrated() {
    // Two fixed models equally close to N(0, 1) in KL: N(0.5, 1) and N(-0.5, 1). Their pointwise
    // log-density difference is exactly x, so H0 holds and z must be ~N(0, 1): the two-sided test
    // at 5% rejects in 5% of replicates (binomial sd 0.49% at 2000 replicates; allow 3 sd).
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let (reps, n) = (2000, 200);
    let (mut rej2, mut rej1) = (0, 0);
    for _ in 0..reps {
        let x: Vec<f64> = (0..n)
            .map(|_| rand_distr::StandardNormal.sample(&mut rng))
            .collect();
        let t = vuong_fn(
            &x,
            |v| -0.5 * (v - 0.5) * (v - 0.5),
            |v| -0.5 * (v + 0.5) * (v + 0.5),
        )
        .unwrap();
        rej2 += usize::from(t.p_two_sided < 0.05);
        rej1 += usize::from(t.p_one_sided < 0.05);
    }
    let (r2, r1) = (rej2 as f64 / reps as f64, rej1 as f64 / reps as f64);
    assert!((r2 - 0.05).abs() < 0.015, "two-sided size {r2}");
    assert!((r1 - 0.05).abs() < 0.015, "one-sided size {r1}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Swapping the models negates z and LR; shifting both by a constant changes nothing;
    /// p-values stay in [0, 1] and log10 p matches p wherever p is representable.
    #[test]
    fn vuong_symmetries(
        pairs in proptest::collection::vec((-50.0f64..50.0, -50.0f64..50.0), 2..100),
        shift in -100.0f64..100.0,
    ) {
        let a: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let b: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let t = vuong(&a, &b).unwrap();
        let s = vuong(&b, &a).unwrap();
        proptest::prop_assert!((t.statistic + s.statistic).abs() <= 1e-9 * t.statistic.abs().max(1.0));
        proptest::prop_assert!((t.llr + s.llr).abs() <= 1e-9 * t.llr.abs().max(1.0));
        let a2: Vec<f64> = a.iter().map(|v| v + shift).collect();
        let b2: Vec<f64> = b.iter().map(|v| v + shift).collect();
        let u = vuong(&a2, &b2).unwrap();
        // The differences change by rounding only (|values| <= 150: ~3e-14 absolute each).
        proptest::prop_assert!((u.llr - t.llr).abs() <= 1e-11 * (pairs.len() as f64));
        for p in [t.p_two_sided, t.p_one_sided] {
            proptest::prop_assert!((0.0..=1.0).contains(&p));
        }
        if t.p_two_sided > 1e-300 {
            proptest::prop_assert!((t.log10_p_two_sided - t.p_two_sided.log10()).abs() < 1e-10);
        }
    }
}
