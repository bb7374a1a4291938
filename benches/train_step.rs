//! One SGD step of ResNet-20 (projection shortcuts, 272,474 parameters) at batch 128 on
//! CIFAR-shaped input (3x32x32), CPU, with and without recording, and the recording alone.
//!
//! `cargo bench --bench train_step -- --warm-up-time 1 --measurement-time 20`
//!
//! - `step/no_record`: forward (train mode), cross-entropy, backward, SGD update;
//! - `step/no_record_autograd`: the same through candle's autograd for the whole network;
//! - `step/record_full`: the same plus what a recorded step adds: the flat `f32` weight readout
//!   before the update and one append to a trajectory store (no fdatasync, the default);
//! - `record/project_1000`: flat readout, random projection to 1000 coordinates, append;
//! - `record/full`, `record/full_sync`, `record/full_with_gradient`: the recording alone,
//!   whose ratio to `step/no_record` is the recording overhead (the step-to-step noise of a
//!   multi-second step on a shared machine is larger than the overhead itself).
//!
//! Measured 2026-11-27 ~14:40 UTC on the shared 2-core build VM (load average 13 from other
//! builds), `--profile test` (opt-level 2, dependencies 3: the release profile was not built
//! on this machine), criterion means:
//!
//! | what | time |
//! |---|---|
//! | `record/full` (flat readout of 272,474 f32 + store append) | 4.6 ms [2.8, 6.1] |
//! | `record/full_sync` (the same with fdatasync, `--sync`) | 32.7 ms [31.1, 34.2] |
//! | `record/full_with_gradient` (weights + full gradient) | 14.3 ms [12.9, 16.0] |
//! | `record/project_1000` (projection to 1000 coordinates, O(k d) per step) | 404 ms [381, 430] |
//! | a ResNet-20 batch-128 step (criterion's warm-up; 3 steps of `anodiff train`) | 46 s wall, 14 s CPU |
//!
//! So recording costs about 0.01 % of a CPU step under this load (0.07 % with `--sync`,
//! 0.03 % with the full gradient, 0.9 % for `project:1000`); against an idle-machine step of
//! ~5 s (both sides would shrink by about the same load factor) the same ratios hold.
//! The same figure from a real run: `anodiff train --model resnet20 --dataset cifar10:DIR
//! --batch-size 128 --steps 3` writes `timing.record_seconds / timing.step_seconds` to run.json
//! (measured: 0.009 s of 138.6 s, 0.006 %).
//!
//! With the gemm convolutions, fused batch norm and the hand-written ResNet backward pass
//! (`trainers/src/conv.rs`, `trainers/src/batchnorm.rs`, `trainers/src/model/resnet/cpu_step.rs`),
//! release build, `RAYON_NUM_THREADS=2`, quiet dev VM, 2026-11-27 20:56 UTC: `step/no_record`
//! 0.195 s (PyTorch 0.203 s in the same script, `scripts/compare-peers.sh --quick --with-torch`);
//! `record/full` 4.0 ms [3.3, 4.5] at load ~8 (17:19 UTC). PyTorch CPU on the same machine: see
//! BENCHMARKS.md.

use anodiff_core::trajectory::{Step, StoreOptions, StoreWriter, TrajectorySink};
use anodiff_trainers::candle_core::{DType, Device, Tensor};
use anodiff_trainers::init::InitOptions;
use anodiff_trainers::model::{LossKind, Network};
use anodiff_trainers::train::{loss_and_gradient, loss_and_gradient_autograd, sgd_update};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn setup() -> (Network, Tensor, Tensor) {
    let dev = Device::Cpu;
    let net = Network::new(
        &"resnet20".parse().unwrap(),
        [3, 32, 32],
        10,
        DType::F32,
        &dev,
        0,
        &InitOptions::default(),
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..128 * 3 * 32 * 32)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y: Vec<u32> = (0..128).map(|_| rng.random_range(0..10)).collect();
    let x = Tensor::from_vec(x, (128, 3, 32, 32), &dev).unwrap();
    let y = Tensor::from_vec(y, 128, &dev).unwrap();
    (net, x, y)
}

fn bench(c: &mut Criterion) {
    anodiff_trainers::runtime::tune_cpu_runtime();
    let (net, x, y) = setup();
    let d = net.num_params();
    let dir = tempfile::tempdir().unwrap();
    let mut n_store = 0;
    let mut store = |dim: usize, grad: bool, sync: bool| {
        n_store += 1;
        let mut o = StoreOptions::new(dim).with_sync(sync).with_chunk_steps(64);
        if grad {
            o = o.with_gradient_dim(d);
        }
        StoreWriter::create(dir.path().join(format!("s{n_store}")), o).unwrap()
    };

    let mut g = c.benchmark_group("step");
    g.sample_size(10);
    g.bench_function("no_record", |b| {
        b.iter(|| {
            let (l, grads) = loss_and_gradient(&net, &x, &y, LossKind::CrossEntropy).unwrap();
            sgd_update(&net, &grads, 1e-3).unwrap();
            black_box(l)
        })
    });
    // The same step through candle's autograd for the whole network (the path of the other
    // architectures and of GPUs).
    g.bench_function("no_record_autograd", |b| {
        b.iter(|| {
            let (l, grads) =
                loss_and_gradient_autograd(&net, &x, &y, LossKind::CrossEntropy).unwrap();
            sgd_update(&net, &grads, 1e-3).unwrap();
            black_box(l)
        })
    });
    let mut w = store(d, false, false);
    g.bench_function("record_full", |b| {
        b.iter(|| {
            let flat = net.flat_weights().unwrap();
            let (l, grads) = loss_and_gradient(&net, &x, &y, LossKind::CrossEntropy).unwrap();
            w.append(&Step {
                weights: &flat,
                loss: l,
                gradient: None,
            })
            .unwrap();
            sgd_update(&net, &grads, 1e-3).unwrap();
            black_box(l)
        })
    });
    g.finish();

    // The recording alone (on a fixed gradient).
    let (_, grads) = loss_and_gradient(&net, &x, &y, LossKind::CrossEntropy).unwrap();
    let mut g = c.benchmark_group("record");
    g.sample_size(20);
    for (name, grad, sync) in [
        ("full", false, false),
        ("full_sync", false, true),
        ("full_with_gradient", true, false),
    ] {
        let mut w = store(d, grad, sync);
        g.bench_function(name, |b| {
            b.iter(|| {
                let flat = net.flat_weights().unwrap();
                let gv = grad.then(|| net.flat_gradient::<f32>(&grads).unwrap());
                w.append(&Step {
                    weights: &flat,
                    loss: 1.0,
                    gradient: gv.as_deref(),
                })
                .unwrap();
            })
        });
    }
    let w0 = net.flat_weights().unwrap();
    let mut w = store(1000, false, false);
    g.bench_function("project_1000", |b| {
        b.iter(|| {
            let flat = net.flat_weights().unwrap();
            let y = anodiff_trainers::record::project(&flat, &w0, 1000, 7);
            w.append(&Step {
                weights: &y,
                loss: 1.0,
                gradient: None,
            })
            .unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
