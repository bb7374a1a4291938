//! Top-20 eigenvalues of a 20,000 x 20,000 implicit operator with a CIFAR-like spectrum.
//!
//! The operator is `Q diag(lambda) Q^T`, `Q` a product of 4 seeded Householder reflectors
//! (`PlantedOperator::random(cifar_like_spectrum(20000), 4, 2021)`, O(n) per reflector per
//! product). Before timing, the bench prints for start-vector seeds 0-4 the operator applications
//! Lanczos needs to reach relative residual 1e-8 on all 20 pairs (checked explicitly), the
//! largest relative eigenvalue error against the planted spectrum, and the same for PyHessian-style
//! power iteration. It writes the operator to `target/lanczos-peer/` so that ARPACK can be run on
//! exactly the same matrix:
//!
//! ```text
//! cargo bench --bench lanczos -- --warm-up-time 1 --measurement-time 3
//! /work/venv-peers/bin/python scripts/peer_lanczos.py \
//!     target/lanczos-peer/cifar20000_eigenvalues.npy target/lanczos-peer/cifar20000_reflectors.npy
//! ```
use anodiff_core::lanczos::{
    cifar_like_spectrum, residual_norms, Lanczos, PlantedOperator, PowerIteration,
};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;

const N: usize = 20_000;
const K: usize = 20;

fn operator() -> PlantedOperator {
    PlantedOperator::random(cifar_like_spectrum(N).expect("n >= 30"), 4, 2021).expect("valid")
}

fn export(op: &PlantedOperator) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lanczos-peer");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let ev = ndarray::Array1::from(op.eigenvalues().to_vec());
    let r =
        ndarray::Array2::from_shape_fn((op.reflectors().len(), N), |(i, j)| op.reflectors()[i][j]);
    let _ = ndarray_npy::write_npy(dir.join("cifar20000_eigenvalues.npy"), &ev);
    let _ = ndarray_npy::write_npy(dir.join("cifar20000_reflectors.npy"), &r);
}

fn report(op: &PlantedOperator) {
    let lambda = op.eigenvalues();
    for seed in 0..5 {
        let t0 = std::time::Instant::now();
        let res = Lanczos::new(K)
            .expect("k > 0")
            .with_seed(seed)
            .with_vectors(true)
            .run(op)
            .expect("runs");
        let wall = t0.elapsed().as_secs_f64();
        let vecs = res.eigenvectors.as_ref().expect("requested");
        let explicit = residual_norms(op, &res.eigenvalues, vecs).expect("runs");
        let max_rel_res = explicit
            .iter()
            .zip(&res.eigenvalues)
            .map(|(r, t)| r / t.abs())
            .fold(0.0f64, f64::max);
        let max_err = res
            .eigenvalues
            .iter()
            .zip(lambda)
            .map(|(t, l)| ((t - l) / l).abs())
            .fold(0.0f64, f64::max);
        eprintln!(
            "lanczos n={N} k={K} seed={seed}: matvecs {} restarts {} {:?}, max rel residual {:.1e}, \
             max rel eigenvalue error {:.1e}, wall {:.2} s",
            res.matvecs, res.iterations, res.termination, max_rel_res, max_err, wall
        );
    }
    let res = PowerIteration::new(K)
        .expect("k > 0")
        .run(op)
        .expect("runs");
    let errs: Vec<f64> = res
        .eigenvalues
        .iter()
        .zip(lambda)
        .map(|(t, l)| ((t - l) / l).abs())
        .collect();
    let mut sorted = errs.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "power iteration (PyHessian defaults maxIter 100, tol 1e-3) n={N} k={K}: matvecs {}, \
         median rel error {:.1e}, max {:.1e}",
        res.matvecs,
        sorted[K / 2],
        sorted[K - 1]
    );
}

fn bench(c: &mut Criterion) {
    let op = operator();
    export(&op);
    report(&op);
    let mut g = c.benchmark_group("lanczos");
    g.sample_size(10);
    g.bench_function("top20_n20000_tol1e-8", |b| {
        b.iter(|| {
            Lanczos::new(K)
                .expect("k > 0")
                .run(black_box(&op))
                .expect("runs")
        })
    });
    g.bench_function("power_pyhessian_top20_n20000", |b| {
        b.iter(|| {
            PowerIteration::new(K)
                .expect("k > 0")
                .run(black_box(&op))
                .expect("runs")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
