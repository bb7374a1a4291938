//! CPU forward + backward of a ResNet-20-sized stack of convolutions: candle's `conv2d` (its
//! backward uses the direct-loop `conv_transpose2d` for the input gradient) against
//! `anodiff_trainers::conv::conv2d` (stride-1 input gradient as a flipped-kernel convolution).
//!
//! The stack is ResNet-20's 18 residual-stage 3x3 convolutions and its two 1x1 projections,
//! with ReLUs between the 3x3 ones and no BN (the convolutions are what differs): 16 channels
//! at 32x32 (6 convs), 16->32 stride 2 + 1x1 projection, 32 channels at 16x16 (5), 32->64
//! stride 2 + projection, 64 channels at 8x8 (5); loss = sum of the output. Batch from
//! `ANODIFF_BENCH_CONV_BATCH` (default 32; the paper's 128 takes ~4x longer per iteration).
//!
//! ```text
//! ANODIFF_BENCH_CONV_BATCH=128 cargo bench --bench conv -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Measured 2026-11-27 on the shared 2-core build VM, criterion means [interval]:
//!
//! | profile, load | batch | forward | fwd+bwd candle | fwd+bwd anodiff | backward ratio |
//! |---|---|---|---|---|---|
//! | release (`--features cuda` build, CPU), load ~4 | 128 | 0.85 s | 3.85 s [3.77, 3.93] | 3.42 s [3.30, 3.55] | 3.00 / 2.58 s = 1.16x |
//! | `--profile test` (debug assertions), load ~13 | 32 | 1.98 s | 21.1 s | 4.50 s | 19.1 / 2.5 s = 7.6x |
//!
//! In release the custom input gradient saves ~15% of the backward pass, not the 2x the
//! per-op timings in the notes suggested: the remaining backward time (~3x the forward) is
//! mostly the weight gradient, a convolution with a 32x32 "kernel" (the output gradient) and a
//! 3x3 output, which candle's im2col turns into GEMMs of 9 rows. The test-profile figure shows
//! how much slower candle's `conv_transpose2d` loop is with debug assertions (the test suite's
//! profile), where the custom op matters most.

use anodiff_trainers::conv::conv2d;
use candle_core::{DType, Device, Result, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Conv = fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor>;

fn candle_conv(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    x.conv2d(w, padding, stride, 1, 1)
}

/// (c_in, c_out, k, stride) of each layer; a 1x1 projection is applied to its block's input.
struct Layer {
    w: Var,
    stride: usize,
    projection: Option<Var>,
}

fn randn(shape: &[usize], scale: f64, rng: &mut ChaCha8Rng) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.random_range(-1.0..1.0) * scale) as f32)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn stack(rng: &mut ChaCha8Rng) -> Vec<Layer> {
    let mut layers = Vec::new();
    let mut c_in = 16;
    for (width, stride) in [(16, 1), (32, 2), (64, 2)] {
        for i in 0..6 {
            let s = if i == 0 { stride } else { 1 };
            let scale = (3.0 / (9 * c_in) as f64).sqrt();
            let projection = (i == 0 && s != 1)
                .then(|| Var::from_tensor(&randn(&[width, c_in, 1, 1], scale, rng)).unwrap());
            layers.push(Layer {
                w: Var::from_tensor(&randn(&[width, c_in, 3, 3], scale, rng)).unwrap(),
                stride: s,
                projection,
            });
            c_in = width;
        }
    }
    layers
}

fn forward(conv: Conv, layers: &[Layer], x: &Tensor) -> Result<Tensor> {
    let mut h = x.clone();
    for l in layers {
        let y = conv(&h, l.w.as_tensor(), l.stride, 1)?.relu()?;
        h = match &l.projection {
            Some(p) => (y + conv(&h, p.as_tensor(), l.stride, 0)?)?,
            None => y,
        };
    }
    h.sum_all()
}

fn step(conv: Conv, layers: &[Layer], x: &Tensor) {
    let loss = forward(conv, layers, x).unwrap();
    let grads = loss.backward().unwrap();
    assert!(grads.get(&layers[0].w).is_some());
}

fn bench(c: &mut Criterion) {
    let batch: usize = std::env::var("ANODIFF_BENCH_CONV_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let layers = stack(&mut rng);
    let x = randn(&[batch, 16, 32, 32], 1.0, &mut rng)
        .to_dtype(DType::F32)
        .unwrap();
    let mut g = c.benchmark_group(format!("conv_stack_b{batch}"));
    g.sample_size(10);
    g.bench_function("forward", |b| {
        b.iter(|| forward(candle_conv, &layers, &x).unwrap())
    });
    g.bench_function("fwd_bwd_candle", |b| {
        b.iter(|| step(candle_conv, &layers, &x))
    });
    g.bench_function("fwd_bwd_anodiff", |b| b.iter(|| step(conv2d, &layers, &x)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
