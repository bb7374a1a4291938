//! Maximum-likelihood fits: recovery, agreement of the fast and exact paths, standard errors
//! against the asymptotic table, interval coverage, efficiency against McCulloch, failures.

mod fit_support;

use anodiff_core::fit::{Estimator, Evaluation, McCulloch, Mle, Param};
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
    eprintln!("fast {fast:?}\nexact {exact:?}");
    assert!(fast.converged && exact.converged);
    assert!((fast.alpha - exact.alpha).abs() < 1e-5);
    assert!((fast.beta - exact.beta).abs() < 1e-5);
    assert!((fast.scale / exact.scale - 1.0).abs() < 1e-5);
    assert!((fast.loc - exact.loc).abs() < 1e-5);
    assert!((fast.loglik - exact.loglik).abs() < 1e-6 * exact.loglik.abs());
    let (sf, se) = (fast.se.alpha.unwrap(), exact.se.alpha.unwrap());
    assert!((sf / se - 1.0).abs() < 1e-3, "{sf} {se}");
}
