//! Stochastic Lanczos quadrature and trace estimators against exact spectra and traces.

use anodiff_core::lanczos::{
    cifar_like_spectrum, DenseOperator, DiagonalOperator, HutchPlusPlus, Hutchinson,
    PlantedOperator, Slq,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Trapezoidal integral of the density on its grid.
fn mass(grid: &[f64], dens: &[f64]) -> f64 {
    grid.windows(2)
        .zip(dens.windows(2))
        .map(|(g, d)| 0.5 * (d[0] + d[1]) * (g[1] - g[0]))
        .sum()
}

#[test]
fn slq_on_a_diagonal_reproduces_every_moment_exactly() {
    // Rademacher probes have z_i^2 = 1, so v^T D^p v = tr(D^p) / n for every probe, and Gauss
    // quadrature with 40 nodes is exact up to degree 79: the moments are exact to rounding.
    let d = cifar_like_spectrum(1000).unwrap();
    let op = DiagonalOperator::new(d.clone()).unwrap();
    let dens = Slq::new()
        .with_probes(3)
        .unwrap()
        .with_steps(40)
        .unwrap()
        .run(&op)
        .unwrap();
    for p in 1..=6 {
        let exact = d.iter().map(|x| x.powi(p)).sum::<f64>() / d.len() as f64;
        let got = dens.moment(p);
        assert!(
            (got - exact).abs() <= 1e-10 * exact.abs().max(1.0),
            "p = {p}: {got} vs {exact}"
        );
    }
    for w in &dens.weights {
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert_eq!(dens.matvecs, 3 * 40);
    // Integrates to 1: the grid spans 5 sigma beyond the extreme nodes (tail mass 6e-7) with
    // spacing ~0.1 sigma, where the trapezoidal error of a Gaussian is negligible.
    assert!((mass(&dens.grid, &dens.density) - 1.0).abs() < 1e-5);
}

#[test]
fn slq_density_matches_the_broadened_true_spectrum() {
    // Haar-random eigenvectors (QR of a Gaussian matrix): a few Householder reflectors would
    // leave the operator nearly diagonal, which Rademacher probes see almost exactly.
    let n = 600;
    let lambda = cifar_like_spectrum(n).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let q = DMatrix::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng))
        .qr()
        .q();
    let a =
        &q * DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(&lambda)) * q.transpose();
    let op = DenseOperator::from_dmatrix(&((&a + a.transpose()) * 0.5)).unwrap();
    let sigma = 0.5;
    let dens = Slq::new()
        .with_probes(20)
        .unwrap()
        .with_steps(60)
        .unwrap()
        .with_sigma(sigma)
        .unwrap()
        .with_grid_points(2000)
        .unwrap()
        .run(&op)
        .unwrap();
    assert!((mass(&dens.grid, &dens.density) - 1.0).abs() < 1e-4);
    // The same Gaussian broadening applied to the exact eigenvalues.
    let c = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt() * lambda.len() as f64);
    let truth: Vec<f64> = dens
        .grid
        .iter()
        .map(|&x| {
            c * lambda
                .iter()
                .map(|l| (-0.5 * ((x - l) / sigma).powi(2)).exp())
                .sum::<f64>()
        })
        .collect();
    let l1: f64 = dens
        .grid
        .windows(2)
        .zip(dens.density.windows(2).zip(truth.windows(2)))
        .map(|(g, (d, t))| 0.5 * ((d[0] - t[0]).abs() + (d[1] - t[1]).abs()) * (g[1] - g[0]))
        .sum();
    // Probe noise in SLQ densities is O(1/sqrt(probes n)) ~ 5e-3 per unit mass; 60 nodes at
    // sigma = 0.5 resolve the bulk (width 5). An L1 distance of 0.05 (5 % of the mass) is a
    // loose but failing-capable bound (a wrong bulk edge or a lost outlier costs far more).
    eprintln!("SLQ vs broadened truth: L1 {l1}");
    assert!(l1 < 0.05, "L1 distance {l1}");
    // Mass of the 9 outliers (x > 20) is 9/600.
    let out: f64 = dens
        .nodes
        .iter()
        .zip(&dens.weights)
        .map(|(t, w)| {
            t.iter()
                .zip(w)
                .filter(|(x, _)| **x > 20.0)
                .map(|(_, w)| w)
                .sum::<f64>()
        })
        .sum::<f64>()
        / dens.nodes.len() as f64;
    eprintln!("outlier mass {out} vs {}", 9.0 / 600.0);
    assert!((out - 9.0 / 600.0).abs() < 5e-3, "outlier mass {out}");
}

fn random_symmetric(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = DMatrix::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let mut a = (&g + g.transpose()) * 0.5;
    for i in 0..n {
        a[(i, i)] += 1.0;
    }
    a
}

#[test]
fn slq_moments_match_traces_of_powers_within_their_standard_error() {
    let n = 300;
    let a = random_symmetric(n, 4);
    let op = DenseOperator::from_dmatrix(&a).unwrap();
    let probes = 30;
    let dens = Slq::new()
        .with_probes(probes)
        .unwrap()
        .with_steps(20)
        .unwrap()
        .run(&op)
        .unwrap();
    for p in 1..=3 {
        let ap = (0..p - 1).fold(a.clone(), |m, _| &m * &a);
        let exact = ap.trace() / n as f64;
        // Var(z^T B z) = 2 (||B||_F^2 - sum b_ii^2) for Rademacher z (Hutchinson 1990).
        let off: f64 = ap.iter().map(|x| x * x).sum::<f64>()
            - ap.diagonal().iter().map(|x| x * x).sum::<f64>();
        let se = (2.0 * off).sqrt() / n as f64 / (probes as f64).sqrt();
        let got = dens.moment(p);
        assert!(
            (got - exact).abs() < 4.0 * se,
            "p = {p}: {got} vs {exact} (se {se})"
        );
    }
}

#[test]
fn hutchinson_interval_covers_the_trace_at_its_level() {
    let n = 120;
    let a = random_symmetric(n, 9);
    let op = DenseOperator::from_dmatrix(&a).unwrap();
    let truth = a.trace();
    let reps = 300;
    let level = 0.9;
    let mut hit = 0;
    let mut hpp_hit = 0;
    for seed in 0..reps {
        let t = Hutchinson::new(20)
            .unwrap()
            .with_level(level)
            .unwrap()
            .with_seed(seed)
            .run(&op)
            .unwrap();
        if t.ci[0] <= truth && truth <= t.ci[1] {
            hit += 1;
        }
        let h = HutchPlusPlus::new(30)
            .unwrap()
            .with_level(level)
            .unwrap()
            .with_seed(seed)
            .run(&op)
            .unwrap();
        assert_eq!(h.matvecs, 30);
        if h.ci[0] <= truth && truth <= h.ci[1] {
            hpp_hit += 1;
        }
    }
    // Binomial(300, 0.9) has sd 0.017: +-0.055 is 3.2 sd either side.
    for (name, h) in [("Hutchinson", hit), ("Hutch++", hpp_hit)] {
        let cov = h as f64 / reps as f64;
        eprintln!("{name} coverage {cov} at level {level}");
        assert!((cov - level).abs() < 0.055, "{name} coverage {cov}");
    }
}

#[test]
fn hutch_pp_beats_hutchinson_when_outliers_dominate() {
    // Trace dominated by 9 outliers (sum ~ 900) over a small bulk: Hutch++ removes them exactly.
    let mut lambda: Vec<f64> = (0..500).map(|i| 0.01 * (i % 7) as f64).collect();
    for (i, l) in lambda.iter_mut().take(9).enumerate() {
        *l = 200.0 - 15.0 * i as f64;
    }
    let truth: f64 = lambda.iter().sum();
    let op = PlantedOperator::random(lambda, 4, 1).unwrap();
    let (mut e1, mut e2) = (0.0, 0.0);
    for seed in 0..20 {
        e1 += (Hutchinson::new(60)
            .unwrap()
            .with_seed(seed)
            .run(&op)
            .unwrap()
            .estimate
            - truth)
            .powi(2);
        e2 += (HutchPlusPlus::new(60)
            .unwrap()
            .with_seed(seed)
            .run(&op)
            .unwrap()
            .estimate
            - truth)
            .powi(2);
    }
    // Meyer et al. (2021): error O(1/m) vs O(1/sqrt m); with the outliers inside the sketch the
    // remaining variance is that of the tiny bulk, orders of magnitude below Hutchinson's.
    eprintln!("MSE Hutch++ {e2} Hutchinson {e1}");
    assert!(e2 < 0.01 * e1, "Hutch++ MSE {e2} vs Hutchinson {e1}");
}
