//! Helpers for the ARPACK comparison (both `#[ignore]`d: they write files or only print).
//!
//! - `export`: writes the planted CIFAR-like operators (n = 3000 into fixtures/lanczos/, n = 20,000
//!   into target/lanczos-peer/) for scripts/peer_lanczos.py;
//! - `basis_sizes`: operator applications to relative residual 1e-8 on the top 20 for several
//!   basis sizes and start seeds (set `N=20000` for the large operator, `MS=41,60` for the sizes).
//!
//! ```text
//! cargo test --test lanczos_peer -- --ignored --nocapture
//! ```

use anodiff_core::lanczos::{
    cifar_like_spectrum, residual_norms, Lanczos, PlantedOperator, PowerIteration, Termination,
};
use anodiff_core::npy;

#[test]
#[ignore]
fn basis_sizes() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(3000);
    let lam = cifar_like_spectrum(n).unwrap();
    let op = PlantedOperator::random(lam.clone(), 4, 2021).unwrap();
    let ms: Vec<usize> = std::env::var("MS")
        .unwrap_or_else(|_| "41,60,80,100".into())
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    let p = PowerIteration::new(20).unwrap().run(&op).unwrap();
    let mut errs: Vec<f64> = p
        .eigenvalues
        .iter()
        .zip(&lam)
        .map(|(t, l)| ((t - l) / l).abs())
        .collect();
    errs.sort_by(f64::total_cmp);
    let rel_res = p
        .residuals
        .iter()
        .zip(&p.eigenvalues)
        .map(|(r, t)| r / t.abs())
        .fold(0.0f64, f64::max);
    println!(
        "n={n} power iteration (PyHessian defaults): matvecs {} median rel error {:.1e} max {:.1e} max rel residual {:.1e}",
        p.matvecs, errs[10], errs[19], rel_res
    );
    for m in ms {
        let mut counts = vec![];
        let (mut max_res, mut max_err) = (0.0f64, 0.0f64);
        for seed in 0..5 {
            let r = Lanczos::new(20)
                .unwrap()
                .with_basis_size(m)
                .unwrap()
                .with_seed(seed)
                .with_vectors(true)
                .run(&op)
                .unwrap();
            assert_eq!(r.termination, Termination::Converged);
            let res =
                residual_norms(&op, &r.eigenvalues, r.eigenvectors.as_ref().unwrap()).unwrap();
            for i in 0..20 {
                max_res = max_res.max(res[i] / r.eigenvalues[i].abs());
                max_err = max_err.max(((r.eigenvalues[i] - lam[i]) / lam[i]).abs());
            }
            counts.push(r.matvecs);
        }
        println!("n={n} basis={m} matvecs {counts:?} max rel residual {max_res:.1e} max rel error {max_err:.1e}");
    }
}

#[test]
#[ignore]
fn export() {
    for (n, dir) in [
        (3000usize, "../fixtures/lanczos"),
        (20000, "../target/lanczos-peer"),
    ] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let op = PlantedOperator::random(cifar_like_spectrum(n).unwrap(), 4, 2021).unwrap();
        let ev = op.eigenvalues();
        let r: Vec<f64> = op.reflectors().iter().flatten().copied().collect();
        npy::write_f64(dir.join(format!("cifar{n}_eigenvalues.npy")), &[n], ev).unwrap();
        npy::write_f64(dir.join(format!("cifar{n}_reflectors.npy")), &[4, n], &r).unwrap();
    }
}
