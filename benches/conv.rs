//! CPU forward + backward of a ResNet-20-sized stack of convolutions: candle's `conv2d` (im2col
//! plus a gemm and a layout copy; backward through its direct-loop `conv_transpose2d` and a
//! weight gradient computed as a convolution with a 32x32 "kernel") against
//! `anodiff_trainers::conv::conv2d` (our gemm + rayon kernels, see `trainers/src/conv.rs`).
//!
//! The stack is ResNet-20's 18 residual-stage 3x3 convolutions and its two 1x1 projections,
//! with ReLUs between the 3x3 ones and no BN (the convolutions are what differs): 16 channels
//! at 32x32 (6 convs), 16->32 stride 2 + 1x1 projection, 32 channels at 16x16 (5), 32->64
//! stride 2 + projection, 64 channels at 8x8 (5); loss = sum of the output. Batch from
//! `ANODIFF_BENCH_CONV_BATCH` (default 32; the paper's 128 takes ~4x longer per iteration).
//!
//! ```text
//! ANODIFF_BENCH_CONV_BATCH=128 RAYON_NUM_THREADS=2 cargo bench --bench conv -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Measured figures are in BENCHMARKS.md ("Training").

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
    g.bench_function("forward_candle", |b| {
        b.iter(|| forward(candle_conv, &layers, &x).unwrap())
    });
    g.bench_function("forward_anodiff", |b| {
        b.iter(|| forward(conv2d, &layers, &x).unwrap())
    });
    g.bench_function("fwd_bwd_candle", |b| {
        b.iter(|| step(candle_conv, &layers, &x))
    });
    g.bench_function("fwd_bwd_anodiff", |b| b.iter(|| step(conv2d, &layers, &x)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
