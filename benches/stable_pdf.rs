//! Speed of the stable density: 1000 points over the body and tails of S0(alpha = 1.5,
//! beta = 0.5), x_i = sinh(-7 + 14 i / 999) (|x| up to ~548). The same points are timed for
//! scipy by `scripts/peer_stable_pdf.py`; evaluations/s = 1000 / (time per iteration).
use anodiff_core::stable::{pdf_s0_std, Param, Stable};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn points() -> Vec<f64> {
    (0..1000)
        .map(|i| (-7.0 + 14.0 * i as f64 / 999.0).sinh())
        .collect()
}

fn bench_pdf(c: &mut Criterion) {
    let xs = points();
    let mut g = c.benchmark_group("stable_pdf");
    g.throughput(Throughput::Elements(xs.len() as u64));
    g.bench_function("pdf_s0_std a1.5 b0.5 x1000", |b| {
        b.iter(|| {
            xs.iter()
                .map(|&x| pdf_s0_std(black_box(x), 1.5, 0.5))
                .sum::<f64>()
        })
    });
    let s = Stable::new(1.5, 0.5, 1.0, 0.0, Param::S0).expect("valid");
    g.bench_function("sf a1.5 b0.5 x1000", |b| {
        b.iter(|| xs.iter().map(|&x| s.sf(black_box(x))).sum::<f64>())
    });
    // alpha close to 1: the bridged path (five integrals per value)
    g.bench_function("pdf_s0_std a1.0005 b0.5 x1000", |b| {
        b.iter(|| {
            xs.iter()
                .map(|&x| pdf_s0_std(black_box(x), 1.0005, 0.5))
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_pdf);
criterion_main!(benches);
