//! Pair statistics of windows against direct computations and analytic cases.

mod msd_common;

use anodiff_core::msd::Window;
use anodiff_core::pathstats::{
    contour, gradient_sample, loss_fluctuations, msl, Binning, PairDistances,
};
use anodiff_core::trajectory::InMemoryTrajectory;
use msd_common::*;

/// Gram-matrix distances against the direct sum over coordinates on weight-like f32 data
/// (offset 30, steps 1e-3), relative 1e-9 (the centred f64 Gram form loses ~T eps).
#[test]
fn pair_distances_match_direct_sums() {
    let tr = traj(&brownian(150, 700, 1e-3, &mut rng(3)), 30.0);
    let win = Window {
        start: 20,
        len: 120,
    };
    let pd = PairDistances::compute(&tr, win).unwrap();
    let w = tr.weights();
    for i in (0..120).step_by(7) {
        for j in (0..120).step_by(5) {
            let direct: f64 = (0..700)
                .map(|c| {
                    (f64::from(w[(20 + i) * 700 + c]) - f64::from(w[(20 + j) * 700 + c])).powi(2)
                })
                .sum();
            let got = pd.get(i, j);
            assert!(
                (got - direct).abs() <= 1e-9 * direct.max(1e-300),
                "{i},{j}: {got} vs {direct}"
            );
        }
    }
}

/// A straight path has dr = ds exactly: lambda = 2, D_f = 1 (to rounding). A Brownian path in
/// d = 60 dimensions has dr^2 ~ ds^1 (lambda = 1, D_f = 2) once ds spans many steps; tolerance
/// 0.05 on lambda over ds beyond 5 mean step lengths.
#[test]
fn contour_length_scaling() {
    let line: Vec<Vec<f64>> = (0..3)
        .map(|c| (0..200).map(|t| (c + 1) as f64 * 0.01 * t as f64).collect())
        .collect();
    let tr = traj(&line, 0.0);
    let pd = PairDistances::compute(&tr, Window { start: 0, len: 200 }).unwrap();
    let c = contour(&pd, 20, None).unwrap();
    assert!((c.lambda.exponent - 2.0).abs() < 1e-3, "{:?}", c.lambda);
    assert!((c.fractal_dim - 1.0).abs() < 1e-3);

    let tr = traj(&brownian(600, 60, 1.0, &mut rng(4)), 0.0);
    let pd = PairDistances::compute(&tr, Window { start: 0, len: 600 }).unwrap();
    let step = pd.step_lengths().iter().sum::<f64>() / 599.0;
    let c = contour(&pd, 30, Some((5.0 * step, 1e300))).unwrap();
    assert!((c.lambda.exponent - 1.0).abs() < 0.05, "{:?}", c.lambda);
    assert!((c.fractal_dim - 2.0).abs() < 0.1);
    assert!(c.fractal_dim_ci95[0] <= c.fractal_dim && c.fractal_dim <= c.fractal_dim_ci95[1]);
}

/// A loss linear in one coordinate of an isotropic 1-D walk: (dL)^2 = 9 dr^2 exactly, so every
/// bin's MSL is 9 times its mean dr^2, and MSL ~ dr^2 (H = 1) to within bin-averaging error.
#[test]
fn msl_of_a_linear_loss() {
    let paths = brownian(300, 1, 0.1, &mut rng(5));
    let losses: Vec<f64> = (0..300)
        .map(|t| 3.0 * f64::from((paths[0][t] + 2.0) as f32))
        .collect();
    let tr = traj(&paths, 2.0);
    let pd = PairDistances::compute(&tr, Window { start: 0, len: 300 }).unwrap();
    for b in [Binning::Linear(50), Binning::Log(25)] {
        let m = msl(&pd, &losses, b, None).unwrap();
        let f = m.fit.unwrap();
        assert!((f.exponent - 2.0).abs() < 0.05, "{b:?}: {f:?}");
        assert!((m.hurst.unwrap() - 1.0).abs() < 0.025);
    }
    let mut bad = losses.clone();
    bad[17] = f64::INFINITY;
    let e = msl(&pd, &bad, Binning::Log(10), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 17"), "{e}");
}

/// Moving variance against the two-pass variance of each trailing window.
#[test]
fn loss_fluctuations_match_direct() {
    let mut r = rng(6);
    let losses: Vec<f64> = (0..400)
        .map(|t| 2.3 + 1e-3 * t as f64 + 0.01 * normal(&mut r))
        .collect();
    let f = loss_fluctuations(&losses, 100).unwrap();
    assert_eq!(f.abs_diff.len(), 399);
    assert_eq!(f.moving_var.len(), 301);
    for (k, v) in f.moving_var.iter().enumerate() {
        let w = &losses[k..k + 100];
        let mu = w.iter().sum::<f64>() / 100.0;
        let var = w.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / 99.0;
        assert!((v - var).abs() <= 1e-9 * var, "{k}");
    }
}

/// Gradient samples: distinct components from the window only, all of them when k exceeds
/// the window, and unbiased: the mean of 2000 sampled component indices over 20 seeds lies
/// within 4 standard errors of the population mean.
#[test]
fn gradient_sample_is_uniform_over_the_window() {
    let (n, gd) = (50, 40);
    let w = vec![0.0f32; n * 2];
    let g: Vec<f32> = (0..n * gd).map(|i| i as f32).collect();
    let tr = InMemoryTrajectory::from_weights(2, w, None)
        .unwrap()
        .with_gradients(gd, g)
        .unwrap();
    let win = Window { start: 10, len: 30 };
    let all = gradient_sample(&tr, win, 10_000, 1).unwrap();
    assert_eq!(all.len(), 30 * gd);
    assert_eq!(all[0], (10 * gd) as f64);
    let mut total = 0.0;
    for seed in 0..20 {
        let s = gradient_sample(&tr, win, 100, seed).unwrap();
        let mut u = s.clone();
        u.dedup();
        assert_eq!(u.len(), 100);
        assert!(s
            .iter()
            .all(|&v| v >= (10 * gd) as f64 && v < (40 * gd) as f64));
        total += s.iter().sum::<f64>();
    }
    let mean = total / 2000.0;
    let pop_mean = (10 * gd) as f64 + (30 * gd - 1) as f64 / 2.0;
    let pop_sd = ((30 * gd) as f64).powi(2).sqrt() / 12f64.sqrt();
    assert!(
        (mean - pop_mean).abs() < 4.0 * pop_sd / 2000f64.sqrt(),
        "{mean} vs {pop_mean}"
    );
    let no_grad = traj(&brownian(20, 2, 1.0, &mut rng(1)), 0.0);
    assert!(gradient_sample(&no_grad, Window { start: 0, len: 10 }, 5, 0).is_err());
}
