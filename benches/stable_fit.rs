//! Criterion benchmarks of the stable fits.
//!
//! - `mle_4param/10000` and `mle_4param/1000000`: four-parameter MLE with standard errors on
//!   seeded S0(1.5, 0.3, 1, 0) samples (targets: < 1 s and < 20 s on 2 cores);
//! - `mcculloch/10000`, `binned_mle/1000000`: the quick estimator and the grouped MLE;
//! - `binned_npy_1e8`: the binned fit of 10^8 float32 values streamed from a .npy file (target
//!   < 60 s on 2 cores, bounded memory). It runs only with `ANODIFF_BENCH_1E8=1`, and writes the
//!   400 MB file to /tmp/anodiff_bench_1e8.npy on first use (never commit it):
//!
//! ```text
//! ANODIFF_BENCH_1E8=1 cargo bench --bench stable_fit -- binned_npy_1e8 --warm-up-time 1 --measurement-time 3
//! cargo bench --bench stable_fit -- --warm-up-time 1 --measurement-time 3
//! ```

use anodiff_core::fit::{BinnedMle, Estimator, McCulloch, Mle};
use anodiff_core::stable::{Param, Stable};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::io::Write;

fn sample(n: usize, seed: u64) -> Vec<f64> {
    let law = Stable::new(1.5, 0.3, 1.0, 0.0, Param::S0).expect("valid parameters");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.sample(law)).collect()
}

fn mle(c: &mut Criterion) {
    let mut g = c.benchmark_group("mle_4param");
    g.sample_size(10);
    for n in [10_000usize, 1_000_000] {
        let x = sample(n, 1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| {
                let f = Mle::new().fit(black_box(x)).expect("fit");
                assert!(f.converged && f.se.alpha.is_some());
                f
            })
        });
    }
    g.finish();
    let x = sample(10_000, 2);
    c.bench_function("mcculloch/10000", |b| {
        b.iter(|| McCulloch::default().fit(black_box(&x)))
    });
    let x = sample(1_000_000, 3);
    let mut g = c.benchmark_group("binned_mle");
    g.sample_size(10);
    g.bench_function("1000000", |b| {
        b.iter(|| BinnedMle::new().fit(black_box(&x)).expect("fit"))
    });
    g.finish();
}

/// Writes 10^8 float32 draws to a .npy file in chunks (never all in memory).
fn big_npy(path: &std::path::Path, n: usize) {
    let law = Stable::new(1.5, 0.0, 1.0, 0.0, Param::S0).expect("valid parameters");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let file = std::fs::File::create(path).expect("create /tmp file");
    let mut w = std::io::BufWriter::with_capacity(1 << 22, file);
    let mut hdr = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n},), }}");
    while (10 + hdr.len() + 1) % 64 != 0 {
        hdr.push(' ');
    }
    hdr.push('\n');
    w.write_all(b"\x93NUMPY\x01\x00").expect("write");
    w.write_all(&(hdr.len() as u16).to_le_bytes())
        .expect("write");
    w.write_all(hdr.as_bytes()).expect("write");
    for _ in 0..n {
        let v: f64 = rng.sample(law);
        w.write_all(&(v as f32).to_le_bytes()).expect("write");
    }
    w.flush().expect("flush");
}

fn binned_1e8(c: &mut Criterion) {
    if std::env::var("ANODIFF_BENCH_1E8").as_deref() != Ok("1") {
        return;
    }
    let n = 100_000_000;
    let path = std::path::Path::new("/tmp/anodiff_bench_1e8.npy");
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < (4 * n) as u64 {
        big_npy(path, n);
    }
    let mut g = c.benchmark_group("binned_npy_1e8");
    g.sample_size(10);
    g.bench_function("symmetric", |b| {
        b.iter(|| {
            let f = BinnedMle::new()
                .with_mle(Mle::new().symmetric())
                .fit_npy(path)
                .expect("fit");
            assert!(f.converged);
            f
        })
    });
    g.bench_function("4param", |b| {
        b.iter(|| BinnedMle::new().fit_npy(path).expect("fit"))
    });
    g.finish();
}

criterion_group!(benches, mle, binned_1e8);
criterion_main!(benches);
