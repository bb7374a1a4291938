//! MSD of one window, T = 1000 steps, from a memory-mapped f32 `.npy` of d coordinates
//! (weight-like: offset ~ N(0, 0.3) per coordinate, steps uniform in +-1e-3): the bare FFT MSD
//! at all lags and at the default lags, and the default analysis of `anodiff msd` (the MSD with
//! coordinate groups for the bootstrap, then `fit_msd` with its defaults: 199 fBm null
//! simulations, 200 bootstrap replicates), whose cost is compared with the bare MSD's.
//!
//! The data files are created once in /tmp (never committed): /tmp/anodiff_msd_bench_T1000_d{d}.npy.
//! `ANODIFF_MSD_BENCH_D` picks the sizes (comma-separated; default 20000,200000). The peer
//! (tidynamics.msd, with its conversion to f64) is timed on the same files by
//! scripts/peer_msd.py.
//!
//! Run: cargo bench --bench msd -- --warm-up-time 1 --measurement-time 3
//! (only the default path: `cargo bench --bench msd -- msd_T1000_default`)

use anodiff_core::exponent::{fit_msd, MsdFitOptions};
use anodiff_core::msd::{msd, msd_for_bootstrap, Lags, Window};
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
    let mut g = c.benchmark_group("msd_T1000_default");
    g.sample_size(10);
    let lags = Lags::default().resolve(T, None).expect("lags");
    for d in ds_default() {
        let tr = NpyTrajectory::open(data(d)).expect("open bench data");
        let win = Window { start: 0, len: T };
        g.bench_function(format!("bare_msd_d{d}"), |b| {
            b.iter(|| black_box(msd(&tr, win, &lags).expect("msd")))
        });
        g.bench_function(format!("msd_for_bootstrap_d{d}"), |b| {
            b.iter(|| black_box(msd_for_bootstrap(&tr, win, &lags, 20).expect("msd")))
        });
        let m = msd_for_bootstrap(&tr, win, &lags, 20).expect("msd");
        g.bench_function(format!("fit_msd_d{d}"), |b| {
            b.iter(|| black_box(fit_msd(&m, &MsdFitOptions::default()).expect("fit")))
        });
        g.bench_function(format!("default_path_d{d}"), |b| {
            b.iter(|| {
                let m = msd_for_bootstrap(&tr, win, &lags, 20).expect("msd");
                black_box(fit_msd(&m, &MsdFitOptions::default()).expect("fit"))
            })
        });
    }
    g.finish();
}

/// Sizes of the default-path group (`ANODIFF_MSD_BENCH_D`, default 20000).
fn ds_default() -> Vec<usize> {
    std::env::var("ANODIFF_MSD_BENCH_D")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20_000])
}

criterion_group!(benches, bench);
criterion_main!(benches);
