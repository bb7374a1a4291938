//! Streaming throughput of trajectory sources against `cat FILE > /dev/null` on the same file
//! (target: within 2x of cat).
//!
//! Writes a steps x d `.npy` (d = 175,258, ResNet-14's parameter count; size from
//! `ANODIFF_BENCH_TRAJ_MB`, default 1024) and the same steps as a chunked store, in
//! `ANODIFF_BENCH_DIR` (default the system temp dir), then measures per pass over all values:
//!
//! - `cat`: `cat FILE > /dev/null` (the reference);
//! - `npy_rows`: `NpyTrajectory::read_weights` over each step in pieces of 32768 coordinates
//!   (128 KB, the size of cat's buffer), summed in f64;
//! - `npy_coord_blocks`: blocks of 4096 coordinates over all steps read straight from the file
//!   (strided access, for comparison);
//! - `npy_panels`: what the MSD and pair distances do, over consecutive windows of 1000
//!   steps (`anodiff msd --window 1000`): `for_each_panel` with
//!   `panel_width(1000, d, STREAM_BUDGET_BYTES)` (a window that fits the 1 GiB budget is read
//!   as whole steps, front to back; otherwise panels of per-step runs, the next read while the
//!   current one is used), each panel split in memory into the MSD kernel's tasks (about 1 MiB:
//!   262144 / T coordinates, copied out) and summed (`ANODIFF_BENCH_BUDGET_MB` overrides the
//!   budget, e.g. 256 to measure the panel path);
//! - `store_panels`: the same through `StoreReader`;
//! - `store_rows`: `StoreReader`, read like `npy_rows`.
//!
//! Each is measured twice: `warm` (file in the page cache) and `cold` (the file's pages dropped
//! before every pass with `dd iflag=nocache count=0`, i.e. `posix_fadvise(DONTNEED)`, so every
//! byte comes from the disk as for a trajectory larger than RAM; skipped if `dd` fails).
//! The `append` group times `StoreWriter::append` of one such step with and without `fdatasync`
//! (same VM: 1.9 ms without, 32 ms with: five syncs per step on a shared virtual disk).
//! `ANODIFF_BENCH_MODES=warm` runs only the warm half. Criterion reports bytes/s; compare lines
//! within one run.
//!
//! ```text
//! ANODIFF_BENCH_TRAJ_MB=1024 cargo bench --bench trajectory -- --warm-up-time 2 --measurement-time 10
//! ```
//!
//! Measured 2026-11-27 14:55 UTC on the shared 2-core build VM (load average ~13 from other
//! builds; 23 GB RAM, so the 1 GB file is not larger than RAM: "cold" stands in for that),
//! built with `cargo bench --profile test` (no release build of the workspace here), mean of
//! 10 samples, criterion's interval in brackets where wide; ratio = this pass / `cat`:
//!
//! | pass | warm | cold |
//! |---|---|---|
//! | `cat` | 103 ms | 638 ms [399, 927] |
//! | `npy_rows` | 240 ms (2.3x) | 1.31 s [0.82, 1.83] (2.1x) |
//! | `npy_coord_blocks` (strided blocks) | 416 ms (4.0x) | 2.06 s (3.2x) |
//! | `npy_panels` (the MSD's pattern) | 601 ms (5.8x) | 1.19 s [0.88, 1.65] (1.9x) |
//!
//! Cold, the MSD pattern streams within 2x of `cat`; warm it is memory-bound (the window is
//! copied out of the page cache once and split into tasks once) and slower than the strided
//! reads. Panel buffers are reused between calls: fresh window-sized buffers would cost page
//! faults. With a file larger than RAM the coordinate-block pattern re-reads the file once per
//! block, which this VM cannot show.

use anodiff_core::trajectory::npy::write_npy_f32;
use anodiff_core::trajectory::store::{StoreOptions, StoreReader, StoreWriter};
use anodiff_core::trajectory::{
    for_each_block, for_each_panel, panel_width, NpyTrajectory, Step, TrajectorySink,
    TrajectorySource, STREAM_BUDGET_BYTES,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIM: usize = 175_258;

struct Data {
    _dir: tempfile::TempDir,
    npy: PathBuf,
    store: PathBuf,
    steps: usize,
}

fn make_data() -> Data {
    let mb: usize = std::env::var("ANODIFF_BENCH_TRAJ_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let steps = (mb << 20) / (DIM * 4);
    let base = std::env::var_os("ANODIFF_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    // A slow random walk: values vary, no NaN.
    let mut w = vec![0.0f32; steps * DIM];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for t in 0..steps {
        for c in 0..DIM {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let prev = if t == 0 { 0.0 } else { w[(t - 1) * DIM + c] };
            w[t * DIM + c] = prev + 1e-3 * u;
        }
    }
    let npy = dir.path().join("traj.npy");
    write_npy_f32(&npy, steps, DIM, &w).expect("write npy");
    let store = dir.path().join("store");
    let mut s = StoreWriter::create(
        &store,
        StoreOptions::new(DIM)
            .with_chunk_steps(256)
            .with_sync(false),
    )
    .expect("store");
    for t in 0..steps {
        s.append(&Step {
            weights: &w[t * DIM..(t + 1) * DIM],
            loss: 1.0,
            gradient: None,
        })
        .expect("append");
    }
    s.finish().expect("finish");
    Data {
        _dir: dir,
        npy,
        store,
        steps,
    }
}

fn cat(path: &Path) {
    let ok = Command::new("cat")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("cat")
        .success();
    assert!(ok);
}

/// Drops the file's pages from the page cache (after writing back dirty ones, which could not be
/// dropped); false if that is not possible here.
fn drop_cache(path: &Path) -> bool {
    if path.is_file() {
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.sync_all();
        }
    }
    let mut ok = path.is_dir()
        || Command::new("dd")
            .arg(format!("if={}", path.display()))
            .args(["iflag=nocache", "count=0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if path.is_dir() {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            ok &= drop_cache(&e.path());
        }
    }
    ok
}

/// Sum in f64 with 8 independent accumulators (a single running sum is a latency chain that
/// would make the consumer, not the source, the bottleneck).
fn sum_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rem: f64 = chunks.remainder().iter().map(|&x| x as f64).sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += *x as f64;
        }
    }
    acc.iter().sum::<f64>() + rem
}

/// Streams whole steps in cache-sized pieces (one step, 32768 coordinates = 128 KB at a time,
/// like cat's 128 KB buffer) and sums them.
fn sum_rows(src: &dyn TrajectorySource, buf: &mut [f32]) -> f64 {
    let mut total = 0.0f64;
    for_each_block(src, 0..src.n_steps(), 1, 32_768, buf, |_, _, block| {
        total += sum_f64(block);
        Ok(())
    })
    .expect("read");
    total
}

fn sum_coord_blocks(src: &dyn TrajectorySource, width: usize) -> f64 {
    let (n, d) = (src.n_steps(), src.dim());
    let mut buf = vec![0.0f32; n * width];
    let mut total = 0.0f64;
    let mut c = 0;
    while c < d {
        let e = (c + width).min(d);
        let out = &mut buf[..n * (e - c)];
        src.read_weights(0..n, c..e, out).expect("read");
        total += sum_f64(out);
        c = e;
    }
    total
}

/// The MSD's access pattern: panels of whole-step runs within the streaming budget, split into
/// `width`-coordinate blocks in memory (copied into a block buffer, as the MSD kernel does).
fn sum_panels(src: &dyn TrajectorySource) -> f64 {
    let n = src.n_steps();
    let budget = std::env::var("ANODIFF_BENCH_BUDGET_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(STREAM_BUDGET_BYTES, |mb| mb << 20);
    // Consecutive windows of 1000 steps (the paper's MSD window), the last one shorter, so that
    // every byte of the file is read once, as `anodiff msd --window 1000` reads it.
    (0..n)
        .step_by(WINDOW)
        .map(|w0| sum_window(src, w0..(w0 + WINDOW).min(n), budget))
        .sum()
}

const WINDOW: usize = 1000;

/// One window read as the MSD reads it: `for_each_panel` within the budget, each panel split
/// into the MSD kernel's tasks (about 1 MiB of f32: 262144 / T coordinates) copied out.
fn sum_window(src: &dyn TrajectorySource, steps: std::ops::Range<usize>, budget: usize) -> f64 {
    let (n, d) = (steps.len(), src.dim());
    let width = ((1usize << 18) / n.max(1)).clamp(8, 4096).min(d);
    let mut block = vec![0.0f32; n * width];
    let mut total = 0.0f64;
    for_each_panel(src, steps, panel_width(n, d, budget), |pc, panel| {
        let pw = pc.len();
        let mut c = 0;
        while c < pw {
            let e = (c + width).min(pw);
            let nc = e - c;
            for (dst, row) in block.chunks_exact_mut(nc).zip(panel.chunks_exact(pw)) {
                dst.copy_from_slice(&row[c..e]);
            }
            total += sum_f64(&block[..n * nc]);
            c = e;
        }
        Ok(())
    })
    .expect("read");
    total
}

fn bench(c: &mut Criterion) {
    let data = make_data();
    let bytes = std::fs::metadata(&data.npy).expect("size").len();
    eprintln!(
        "trajectory bench: {} steps x {DIM} f32 = {:.0} MB ({})",
        data.steps,
        bytes as f64 / 1e6,
        data.npy.display()
    );
    let cold_ok = drop_cache(&data.npy) && drop_cache(&data.store);
    // Sources are opened inside each pass: a mapped page cannot be dropped from the cache, and
    // opening (header and manifest checks, mmap) is part of the cost of a pass anyway.
    let open_npy = || NpyTrajectory::open(&data.npy).expect("open npy");
    let open_store = || StoreReader::open(&data.store).expect("open store");
    let mut buf = vec![0.0f32; 32_768];
    let expect = sum_rows(&open_npy(), &mut buf);

    let modes = std::env::var("ANODIFF_BENCH_MODES").unwrap_or_else(|_| "warm,cold".into());
    for mode in ["warm", "cold"] {
        if !modes.split(',').any(|m| m == mode) {
            continue;
        }
        if mode == "cold" && !cold_ok {
            eprintln!("trajectory bench: cannot drop the page cache here; cold runs skipped");
            continue;
        }
        let mut g = c.benchmark_group(format!("stream_{mode}"));
        g.throughput(Throughput::Bytes(bytes));
        g.sample_size(10);
        let cold = mode == "cold";
        let mut timed = |name: &str, path: &Path, f: &mut dyn FnMut()| {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        if cold {
                            drop_cache(path);
                        }
                        let start = Instant::now();
                        f();
                        total += start.elapsed();
                    }
                    total
                })
            });
        };
        timed("cat", &data.npy, &mut || cat(&data.npy));
        timed("npy_rows", &data.npy, &mut || {
            let s = sum_rows(&open_npy(), &mut buf);
            assert_eq!(s, expect);
        });
        timed("npy_coord_blocks", &data.npy, &mut || {
            std::hint::black_box(sum_coord_blocks(&open_npy(), 4096));
        });
        timed("npy_panels", &data.npy, &mut || {
            std::hint::black_box(sum_panels(&open_npy()));
        });
        timed("store_panels", &data.store, &mut || {
            std::hint::black_box(sum_panels(&open_store()));
        });
        timed("store_rows", &data.store, &mut || {
            let s = sum_rows(&open_store(), &mut buf);
            assert_eq!(s, expect);
        });
        g.finish();
    }
}

/// Cost of one `StoreWriter::append` of a ResNet-14-sized step, with and without `fdatasync`
/// (the store grows by one step per iteration; a fresh store per benchmark).
fn bench_append(c: &mut Criterion) {
    let base = std::env::var_os("ANODIFF_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let w: Vec<f32> = (0..DIM).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Bytes((DIM * 4) as u64));
    g.sample_size(10);
    for sync in [false, true] {
        let dir = tempfile::tempdir_in(&base).expect("temp dir");
        let mut s = StoreWriter::create(
            dir.path().join("run"),
            StoreOptions::new(DIM).with_chunk_steps(64).with_sync(sync),
        )
        .expect("store");
        g.bench_function(if sync { "fsync" } else { "no_sync" }, |b| {
            b.iter(|| {
                s.append(&Step {
                    weights: &w,
                    loss: 1.0,
                    gradient: None,
                })
                .expect("append")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_append);
criterion_main!(benches);
