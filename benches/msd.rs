//! MSD of one window, T = 1000 steps, all lags, from a memory-mapped f32 `.npy` of d
//! coordinates (weight-like: offset ~ N(0, 0.3) per coordinate, steps uniform in +-1e-3).
//!
//! The data files are created once in /tmp (never committed): /tmp/anodiff_msd_bench_T1000_d{d}.npy.
//! `ANODIFF_MSD_BENCH_D` picks the sizes (comma-separated; default 20000,200000). The peer
//! (tidynamics.msd, with its conversion to f64) is timed on the same files by
//! scripts/peer_msd.py.
//!
//! Run: cargo bench --bench msd -- --warm-up-time 1 --measurement-time 3

use anodiff_core::msd::{msd, Window};
use anodiff_core::trajectory::npy::write_npy_f32;
use anodiff_core::trajectory::NpyTrajectory;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::path::PathBuf;

const T: usize = 1000;

fn data(d: usize) -> PathBuf {
    let p = PathBuf::from(format!("/tmp/anodiff_msd_bench_T{T}_d{d}.npy"));
    if !p.exists() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
        let mut w = vec![0.0f32; T * d];
        let mut cur: Vec<f64> = (0..d)
            .map(|_| 0.3 * (rng.random::<f64>() - 0.5) * 3.4)
            .collect();
        for t in 0..T {
            for (c, x) in cur.iter_mut().enumerate() {
                if t > 0 {
                    *x += 1e-3 * (2.0 * rng.random::<f64>() - 1.0);
                }
                w[t * d + c] = *x as f32;
            }
        }
        let tmp = p.with_extension("tmp");
        write_npy_f32(&tmp, T, d, &w).expect("write bench data");
        std::fs::rename(&tmp, &p).expect("rename bench data");
    }
    p
}

fn bench(c: &mut Criterion) {
    let ds: Vec<usize> = std::env::var("ANODIFF_MSD_BENCH_D")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20_000, 200_000]);
    let mut g = c.benchmark_group("msd_T1000_all_lags");
    g.sample_size(10);
    let lags: Vec<usize> = (1..T).collect();
    for d in ds {
        let tr = NpyTrajectory::open(data(d)).expect("open bench data");
        let win = Window { start: 0, len: T };
        g.bench_function(format!("anodiff_fft_f32_mmap_d{d}"), |b| {
            b.iter(|| black_box(msd(&tr, win, &lags).expect("msd")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
