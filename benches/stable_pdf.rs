//! Speed of the stable density: 1000 points over the body and tails of S0(alpha = 1.5,
//! beta = 0.5), x_i = sinh(-7 + 14 i / 999) (|x| up to ~548). The same points are timed for
//! scipy by `scripts/peer_stable_pdf.py`; evaluations/s = 1000 / (time per iteration).
//!
//! - `pdf_s0_std`: the exact per-point path (Nolan integral, Bergström tail series and the
//!   convergent power series near zeta where they have converged);
//! - `ln_pdf_s0_std_many`: the batch path for many points with the same parameters, which
//!   builds a certified Chebyshev interpolant per call (construction included in the time);
//! - the same two at other parameters: alpha = 0.8; alpha near 2 with beta = +-1 (1.9, 1.99,
//!   1.95 with beta = -1), where the thin side needs extra split levels; alpha within 1e-3 of 1
//!   (1.0005, 0.9999, 1 + 1e-6), where the integrand's 1/(alpha - 1) terms nearly cancel.
use anodiff_core::stable::{ln_pdf_s0_std_many, pdf_s0_std, Param, Stable};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn points(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (-7.0 + 14.0 * i as f64 / (n - 1) as f64).sinh())
        .collect()
}

fn bench_pdf(c: &mut Criterion) {
    let xs = points(1000);
    let mut g = c.benchmark_group("stable_pdf");
    g.throughput(Throughput::Elements(xs.len() as u64));
    for &(a, b) in &[
        (1.5, 0.5),
        (0.8, -0.3),
        (1.9, 1.0),
        (1.99, 1.0),
        (1.95, -1.0),
        (1.0005, 0.5),
        (0.9999, -0.7),
        (1.000001, 0.3),
    ] {
        g.bench_function(format!("pdf_s0_std a{a} b{b} x1000"), |bch| {
            bch.iter(|| {
                xs.iter()
                    .map(|&x| pdf_s0_std(black_box(x), a, b))
                    .sum::<f64>()
            })
        });
        g.bench_function(format!("ln_pdf_s0_std_many a{a} b{b} x1000"), |bch| {
            bch.iter(|| ln_pdf_s0_std_many(black_box(&xs), a, b).iter().sum::<f64>())
        });
    }
    let s = Stable::new(1.5, 0.5, 1.0, 0.0, Param::S0).expect("valid");
    g.bench_function("sf a1.5 b0.5 x1000", |b| {
        b.iter(|| xs.iter().map(|&x| s.sf(black_box(x))).sum::<f64>())
    });
    g.finish();

    // a likelihood-sized batch: the table's construction is amortised over 1e5 points
    let big = points(100_000);
    let mut g = c.benchmark_group("stable_pdf_batch");
    g.throughput(Throughput::Elements(big.len() as u64));
    g.sample_size(10);
    g.bench_function("ln_pdf_many a1.5 b0.5 x100000", |b| {
        b.iter(|| s.ln_pdf_many(black_box(&big)).iter().sum::<f64>())
    });
    g.finish();
}

criterion_group!(benches, bench_pdf);
criterion_main!(benches);
