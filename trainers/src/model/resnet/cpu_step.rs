//! The training-mode loss and gradient of a ResNet on the CPU, with the body's backward pass
//! written out by hand.
//!
//! candle's autograd adds every gradient it propagates into a freshly zeroed tensor
//! (`zeros_like` then `add`), which for activation-sized tensors costs an allocation and two
//! extra passes over memory per node, and it runs those adds on a thread pool of its own beside
//! rayon's. On a ResNet-20 step at batch 128 that bookkeeping took about a quarter of the CPU
//! time. Here the body (stem and residual blocks) calls the same kernels as the custom ops of
//! [`crate::conv`] and [`crate::batchnorm`] directly, in the order candle's backward pass would
//! call them, and keeps each gradient in one buffer. The head (global average pooling, the
//! linear layer and the loss) still goes through candle on a leaf variable standing for the
//! body's output: it is small, and the losses stay defined in one place.
//!
//! The values are those of the autograd path: the same kernels see the same inputs, and the
//! only other arithmetic is the sum of a block's two input gradients (residual branch and
//! shortcut), which candle forms as `(0 + a) + b`, exactly `a + b`.

use super::{Block, ResNet, Skip};
use crate::batchnorm::{self, update_running, Stats};
use crate::conv::cpu::{self as conv, Dims};
use crate::model::layers::{ConvBn, BN_CONFIG};
use crate::model::{loss, LossKind};
use crate::simd::with_avx2;
use candle_core::backprop::GradStore;
use candle_core::{bail, Device, Result, Tensor, Var, WithDType, D};
use rayon::prelude::*;

/// The element types the kernels take (f32 and f64).
pub(crate) trait Float: conv::Elem + batchnorm::Elem + WithDType {}
impl Float for f32 {}
impl Float for f64 {}

fn zero<T: Float>() -> T {
    <T as conv::Elem>::ZERO
}

/// Elementwise passes over activations, split like the kernels' (fixed chunks, so the result
/// does not depend on the thread count; each element is computed on its own anyway).
const CHUNK: usize = 1 << 14;

/// `dst += src`.
fn par_add<T: Float>(dst: &mut [T], src: &[T]) {
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| {
            with_avx2(|| {
                for (d, &s) in d.iter_mut().zip(s) {
                    *d += s;
                }
            })
        });
}

/// `f(a[i], b[i])` for every i.
fn par_map2<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync) -> Vec<T> {
    let mut out = vec![zero::<T>(); a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(o, (a, b))| {
            with_avx2(|| {
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    *o = f(a, b);
                }
            })
        });
    out
}

/// A tensor's values in logical order.
fn values<T: Float>(t: &Tensor) -> Result<Vec<T>> {
    t.flatten_all()?.to_vec1::<T>()
}

/// What the forward pass of one conv + BN keeps for the backward pass.
struct ConvBnCache<T> {
    dims: Dims,
    weight: Vec<T>,
    gamma: Vec<T>,
    /// The convolution's output (the BN's input).
    z: Vec<T>,
    stats: Stats,
}

/// Convolution, training-mode batch norm (running statistics updated) and optionally a ReLU.
fn conv_bn_forward<T: Float>(
    layer: &ConvBn,
    x: &[T],
    x_shape: [usize; 4],
    relu: bool,
) -> Result<(Vec<T>, [usize; 4], ConvBnCache<T>)> {
    let weight = values::<T>(&layer.weight)?;
    let dims = Dims::new(&x_shape, layer.weight.dims(), layer.stride, layer.padding)?;
    let Some((gamma, beta)) = layer.bn.weight_and_bias() else {
        bail!("ResNet CPU step: batch norm without affine parameters");
    };
    let (gamma, beta) = (values::<T>(gamma)?, values::<T>(beta)?);
    let z = conv::forward(&dims, x, &weight);
    let y_shape = dims.y_shape();
    let [n, c, h, w] = y_shape;
    batchnorm::check_values_per_channel(n * h * w)?;
    let (y, stats) = batchnorm::forward(&z, &gamma, &beta, (n, c, h * w), BN_CONFIG.eps, relu);
    update_running(
        (&layer.running.0, &layer.running.1),
        &stats,
        n * h * w,
        BN_CONFIG.momentum,
    )?;
    let cache = ConvBnCache {
        dims,
        weight,
        gamma,
        z,
        stats,
    };
    Ok((y, y_shape, cache))
}

/// Gradients of one conv + BN.
struct ConvBnGrads<T> {
    /// The gradient of the layer's input, when asked for.
    dx: Option<Vec<T>>,
    dweight: Vec<T>,
    dgamma: Vec<T>,
    dbeta: Vec<T>,
}

/// The backward pass of one conv + BN from the gradient `g` of its output; `x` is the layer's
/// input, `relu_out` its output when a ReLU was fused (whose mask then gates `g`).
fn conv_bn_backward<T: Float>(
    cache: &ConvBnCache<T>,
    x: &[T],
    g: &[T],
    relu_out: Option<&[T]>,
    want_dx: bool,
) -> ConvBnGrads<T> {
    let [n, c, h, w] = cache.dims.y_shape();
    let (dz, dgamma, dbeta) = batchnorm::backward(
        &cache.z,
        &cache.gamma,
        g,
        relu_out,
        (n, c, h * w),
        &cache.stats,
    );
    let dweight = conv::weight_grad(&cache.dims, x, &dz);
    let dx = want_dx.then(|| conv::input_grad(&cache.dims, &dz, &cache.weight));
    ConvBnGrads {
        dx,
        dweight,
        dgamma,
        dbeta,
    }
}

/// One residual block's forward state.
struct BlockCache<T> {
    c1: ConvBnCache<T>,
    /// relu(bn1(conv1(x))), the input of conv2.
    a1: Vec<T>,
    a1_shape: [usize; 4],
    c2: ConvBnCache<T>,
    proj: Option<ConvBnCache<T>>,
    /// bn2's output, kept for `-noshort` blocks only: candle's ReLU passes the gradient where
    /// its input is >= 0.
    pre: Option<Vec<T>>,
    /// The block's output.
    out: Vec<T>,
}

/// `x[:, :, ::2, ::2]` zero-padded by `pad` channels on each side (option A's shortcut).
fn option_a<T: Float>(x: &[T], [n, c, h, w]: [usize; 4], pad: usize) -> (Vec<T>, [usize; 4]) {
    let (h2, w2, c2) = (h.div_ceil(2), w.div_ceil(2), c + 2 * pad);
    let mut out = vec![zero::<T>(); n * c2 * h2 * w2];
    for b in 0..n {
        for ch in 0..c {
            let src = &x[(b * c + ch) * h * w..][..h * w];
            let dst = &mut out[(b * c2 + ch + pad) * h2 * w2..][..h2 * w2];
            for i in 0..h2 {
                for j in 0..w2 {
                    dst[i * w2 + j] = src[2 * i * w + 2 * j];
                }
            }
        }
    }
    (out, [n, c2, h2, w2])
}

/// The adjoint of [`option_a`], added into `dx`.
fn option_a_adjoint_add<T: Float>(dx: &mut [T], [n, c, h, w]: [usize; 4], g: &[T], pad: usize) {
    let (h2, w2, c2) = (h.div_ceil(2), w.div_ceil(2), c + 2 * pad);
    for b in 0..n {
        for ch in 0..c {
            let src = &g[(b * c2 + ch + pad) * h2 * w2..][..h2 * w2];
            let dst = &mut dx[(b * c + ch) * h * w..][..h * w];
            for i in 0..h2 {
                for j in 0..w2 {
                    dst[2 * i * w + 2 * j] += src[i * w2 + j];
                }
            }
        }
    }
}

fn block_forward<T: Float>(
    blk: &Block,
    x: &[T],
    x_shape: [usize; 4],
) -> Result<(BlockCache<T>, [usize; 4])> {
    let (a1, a1_shape, c1) = conv_bn_forward(&blk.c1, x, x_shape, true)?;
    let (b2, out_shape, c2) = conv_bn_forward(&blk.c2, &a1, a1_shape, false)?;
    let (out, proj): (Vec<T>, _) = match &blk.skip {
        // candle's `relu` (what the autograd path calls here): max(v, 0), NaN to 0.
        Skip::None => (
            par_map2(&b2, &b2, |v, _| if v > zero::<T>() { v } else { zero() }),
            None,
        ),
        Skip::Identity => (batchnorm::add_relu_kernel(&b2, x), None),
        Skip::OptionA { pad } => {
            let (s, s_shape) = option_a(x, x_shape, *pad);
            if s_shape != out_shape {
                bail!("ResNet CPU step: shortcut shape {s_shape:?} against {out_shape:?}");
            }
            (batchnorm::add_relu_kernel(&b2, &s), None)
        }
        Skip::Projection(p) => {
            let (s, s_shape, cache) = conv_bn_forward(p, x, x_shape, false)?;
            if s_shape != out_shape {
                bail!("ResNet CPU step: shortcut shape {s_shape:?} against {out_shape:?}");
            }
            (batchnorm::add_relu_kernel(&b2, &s), Some(cache))
        }
    };
    let pre = matches!(blk.skip, Skip::None).then_some(b2);
    let cache = BlockCache {
        c1,
        a1,
        a1_shape,
        c2,
        proj,
        pre,
        out,
    };
    Ok((cache, out_shape))
}

/// Collects each parameter tensor with its gradient.
struct Sink<'a, T> {
    out: Vec<(&'a Tensor, Vec<T>)>,
}

impl<'a, T: Float> Sink<'a, T> {
    fn conv_bn(&mut self, layer: &'a ConvBn, g: ConvBnGrads<T>) -> Result<()> {
        let Some((gamma, beta)) = layer.bn.weight_and_bias() else {
            bail!("ResNet CPU step: batch norm without affine parameters");
        };
        self.out.push((&layer.weight, g.dweight));
        self.out.push((gamma, g.dgamma));
        self.out.push((beta, g.dbeta));
        Ok(())
    }
}

/// The input gradient of a block from the gradient `g_out` of its output; the parameters'
/// gradients go to `sink`.
fn block_backward<'a, T: Float>(
    blk: &'a Block,
    cache: &BlockCache<T>,
    x: &[T],
    x_shape: [usize; 4],
    g_out: &[T],
    sink: &mut Sink<'a, T>,
) -> Result<Vec<T>> {
    let g: Vec<T> = match &cache.pre {
        Some(pre) => par_map2(
            g_out,
            pre,
            |gv, p| if p >= zero::<T>() { gv } else { zero() },
        ),
        None => batchnorm::mask_kernel(g_out, &cache.out),
    };
    let g2 = conv_bn_backward(&cache.c2, &cache.a1, &g, None, true);
    let Some(da1) = g2.dx.as_deref() else {
        bail!("ResNet CPU step: missing input gradient");
    };
    debug_assert_eq!(da1.len(), cache.a1_shape.iter().product::<usize>());
    let mut g1 = conv_bn_backward(&cache.c1, x, da1, Some(&cache.a1), true);
    let Some(mut dx) = g1.dx.take() else {
        bail!("ResNet CPU step: missing input gradient");
    };
    let proj = match (&blk.skip, &cache.proj) {
        (Skip::Projection(p), Some(pc)) => Some((p, conv_bn_backward(pc, x, &g, None, true))),
        _ => None,
    };
    {
        let dx = &mut dx;
        match &blk.skip {
            Skip::None => {}
            Skip::Identity => {
                par_add(dx, &g);
            }
            Skip::OptionA { pad } => option_a_adjoint_add(dx, x_shape, &g, *pad),
            Skip::Projection(_) => {
                let Some(ds) = proj.as_ref().and_then(|(_, pg)| pg.dx.as_deref()) else {
                    bail!("ResNet CPU step: missing shortcut gradient");
                };
                par_add(dx, ds);
            }
        }
    }
    sink.conv_bn(&blk.c2, g2)?;
    sink.conv_bn(&blk.c1, g1)?;
    if let Some((p, pg)) = proj {
        sink.conv_bn(p, pg)?;
    }
    Ok(dx)
}

/// The minibatch loss at the current weights (training mode: batch statistics, running
/// statistics updated) and the gradient of every trainable parameter, as candle's
/// `loss.backward()` would give them.
pub(crate) fn loss_and_gradient<T: Float>(
    net: &ResNet,
    x: &Tensor,
    labels: &Tensor,
    kind: LossKind,
    num_classes: usize,
) -> Result<(f64, GradStore)> {
    let dev = Device::Cpu;
    let x_shape: [usize; 4] = x.dims4()?.into();
    let xv = values::<T>(x)?;

    if net.blocks.is_empty() {
        bail!("ResNet CPU step: a ResNet without residual blocks");
    }
    let (stem_out, stem_shape, stem) = conv_bn_forward(&net.stem, &xv, x_shape, true)?;
    // Each block's cache with its output shape; block i reads block i - 1's output.
    let mut caches: Vec<(BlockCache<T>, [usize; 4])> = Vec::with_capacity(net.blocks.len());
    for blk in &net.blocks {
        let (x_in, in_shape) = match caches.last() {
            Some((c, s)) => (c.out.as_slice(), *s),
            None => (stem_out.as_slice(), stem_shape),
        };
        let cache = block_forward(blk, x_in, in_shape)?;
        caches.push(cache);
    }
    let (h, shape) = match caches.last() {
        Some((c, s)) => (c.out.clone(), *s),
        None => bail!("ResNet CPU step: a ResNet without residual blocks"),
    };

    // The head through candle, on a leaf standing for the body's output.
    let body_out = Var::from_tensor(&Tensor::from_vec(h, shape.as_slice(), &dev)?)?;
    let pooled = body_out.as_tensor().mean(D::Minus1)?.mean(D::Minus1)?;
    let logits = net.fc.forward(&pooled)?;
    let l = loss(&logits, labels, kind, num_classes)?;
    let lv = l.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
    let mut grads = l.backward()?;
    let Some(g_body) = grads.remove(body_out.as_tensor()) else {
        bail!("ResNet CPU step: no gradient reached the body");
    };
    let mut g = values::<T>(&g_body)?;

    let mut sink = Sink { out: Vec::new() };
    for i in (0..net.blocks.len()).rev() {
        let (x_in, in_shape) = if i == 0 {
            (stem_out.as_slice(), stem_shape)
        } else {
            (caches[i - 1].0.out.as_slice(), caches[i - 1].1)
        };
        g = block_backward(&net.blocks[i], &caches[i].0, x_in, in_shape, &g, &mut sink)?;
    }
    let gs = conv_bn_backward(&stem, &xv, &g, Some(&stem_out), false);
    sink.conv_bn(&net.stem, gs)?;

    for (param, gv) in sink.out {
        let t = Tensor::from_vec(gv, param.shape(), &dev)?;
        grads.insert(param, t);
    }
    Ok((lv, grads))
}

#[cfg(test)]
mod tests {
    use crate::init::InitOptions;
    use crate::model::{LossKind, Network};
    use crate::test_util::to_f64;
    use crate::train::loss_and_gradient_autograd;
    use candle_core::{DType, Device, Tensor};
    use rand::{Rng, SeedableRng};

    /// The hand-written pass against candle's autograd through the same layers, for every
    /// shortcut kind (projection, option A, none), both losses and both dtypes: the loss, every
    /// parameter's gradient and every running statistic after the step. Two networks built from
    /// one seed take one step each (a step updates the running statistics).
    ///
    /// Tolerance: the same kernels see the same inputs, so the values agree to the last bit in
    /// practice; the bound (1e-12 relative to the largest gradient entry in f64, 1e-5 in f32)
    /// only leaves room for a different but equally valid summation order, and is far below a
    /// wrong term (a missing shortcut or mask changes entries at O(1) relative).
    #[test]
    fn matches_candle_autograd() {
        let dev = Device::Cpu;
        for (arch, dtype, kind, tol) in [
            ("resnet8", DType::F64, LossKind::CrossEntropy, 1e-12),
            ("resnet8-a", DType::F64, LossKind::Mse, 1e-12),
            ("resnet8-noshort", DType::F64, LossKind::CrossEntropy, 1e-12),
            ("resnet8", DType::F32, LossKind::Mse, 1e-5),
            ("resnet8-a", DType::F32, LossKind::CrossEntropy, 1e-5),
        ] {
            let build = || {
                Network::new(
                    &arch.parse().unwrap(),
                    [3, 10, 10],
                    5,
                    dtype,
                    &dev,
                    7,
                    &InitOptions::default(),
                )
                .unwrap()
            };
            let (a, b) = (build(), build());
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
            let n = 6;
            let x: Vec<f64> = (0..n * 300).map(|_| rng.random_range(-2.0..2.0)).collect();
            let x = Tensor::from_vec(x, (n, 3, 10, 10), &dev)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let y: Vec<u32> = (0..n).map(|_| rng.random_range(0..5)).collect();
            let y = Tensor::from_vec(y, n, &dev).unwrap();
            let (la, ga) = loss_and_gradient_autograd(&a, &x, &y, kind).unwrap();
            let (lb, gb) = b.cpu_loss_and_gradient(&x, &y, kind).unwrap().unwrap();
            assert!(
                (la - lb).abs() <= tol * la.abs(),
                "{arch}: loss {la} vs {lb}"
            );
            for ((name, va), (_, vb)) in a.trainable().iter().zip(b.trainable()) {
                let (p, q) = (
                    to_f64(
                        ga.get(va.as_tensor())
                            .unwrap_or_else(|| panic!("{name}: autograd")),
                    ),
                    to_f64(
                        gb.get(vb.as_tensor())
                            .unwrap_or_else(|| panic!("{name}: missing")),
                    ),
                );
                let scale = p.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
                let err = p
                    .iter()
                    .zip(&q)
                    .fold(0f64, |m, (u, v)| m.max((u - v).abs()));
                assert!(
                    err <= tol * scale,
                    "{arch} {dtype:?} {name}: {err} vs scale {scale}"
                );
            }
            for ((name, va), (_, vb)) in a.buffers().iter().zip(b.buffers()) {
                let (p, q) = (to_f64(va.as_tensor()), to_f64(vb.as_tensor()));
                let err = p
                    .iter()
                    .zip(&q)
                    .fold(0f64, |m, (u, v)| m.max((u - v).abs()));
                assert!(
                    err <= tol,
                    "{arch} {name}: running statistic differs by {err}"
                );
            }
        }
    }
}
