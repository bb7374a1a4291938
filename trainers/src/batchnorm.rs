//! Batch normalisation in training mode as one fused CPU op, differentiable twice.
//!
//! [`batch_norm_train`] computes what `candle_nn::BatchNorm::forward_train` computes for an
//! NCHW input (per-channel batch mean and biased variance over N, H, W; `y = gamma (x - mean) /
//! sqrt(var + eps) + beta`; running statistics updated with momentum, the running variance with
//! the unbiased variance) in two passes over the data instead of candle's dozen tensor
//! operations, two transposing copies and a non-contiguous output. The statistics are
//! accumulated in f64, channel by channel in a fixed order, so the result does not depend on the
//! number of threads.
//!
//! **Backward.** In ordinary training candle detaches every gradient it passes to an op's
//! backward pass, so the gradient need not be differentiable: it is computed by a fused kernel,
//! `dbeta = sum g`, `dgamma = sum g x_hat`,
//! `dx = gamma / sigma (g - dbeta / m - x_hat dgamma / m)` (m = N H W). When candle keeps
//! gradient graphs (`CANDLE_GRAD_DO_NOT_DETACH=1`, needed for Hessian-vector products, see
//! [`crate::hvp`]) the same formulas are built from differentiable tensor operations on the
//! tracked input instead, so a second backward pass sees how the gradient depends on `x`, `gamma`
//! and the upstream gradient. Which of the two candle does is probed once per thread (candle
//! itself reads its variable once per thread).
//!
//! Other devices and dtypes use candle's `BatchNorm`.

use crate::simd::with_avx2;
use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor, Var};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Training-mode batch norm of `x` (N, C, H, W) with affine `weight` and `bias` (C), updating
/// `running_mean` and `running_var` (C) in place like `candle_nn::BatchNorm::forward_train`:
/// `r <- (1 - momentum) r + momentum s`, with the unbiased variance (factor m / (m - 1),
/// m = N H W) for the running variance.
///
/// # Errors
/// Shapes that do not match (`x` not 4-D, parameters not of length C), a batch with a single
/// value per channel (m = 1: the unbiased variance is undefined), and candle's errors.
///
/// # Examples
/// ```
/// use anodiff_trainers::batchnorm::batch_norm_train;
/// use candle_core::{Device, Tensor, Var};
/// let dev = Device::Cpu;
/// // One channel holding 1, 2, 3, 4: mean 2.5, biased variance 1.25.
/// let x = Tensor::new(&[1f64, 2., 3., 4.], &dev)?.reshape((1, 1, 2, 2))?;
/// let (g, b) = (Tensor::new(&[1f64], &dev)?, Tensor::new(&[0f64], &dev)?);
/// let (rm, rv) = (Var::new(&[0f64], &dev)?, Var::new(&[1f64], &dev)?);
/// let y = batch_norm_train(&x, &g, &b, &rm, &rv, 0.0, 0.1)?;
/// let y = y.flatten_all()?.to_vec1::<f64>()?;
/// assert!((y[0] + 1.5 / 1.25f64.sqrt()).abs() < 1e-12);
/// // Running mean 0.9 * 0 + 0.1 * 2.5; running variance 0.9 * 1 + 0.1 * 5/3 (unbiased).
/// assert!((rm.to_vec1::<f64>()?[0] - 0.25).abs() < 1e-12);
/// assert!((rv.to_vec1::<f64>()?[0] - (0.9 + 0.5 / 3.0)).abs() < 1e-12);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn batch_norm_train(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Var,
    running_var: &Var,
    eps: f64,
    momentum: f64,
) -> Result<Tensor> {
    bn_train(
        x,
        weight,
        bias,
        (running_mean, running_var),
        eps,
        momentum,
        false,
    )
}

/// `relu(batch_norm_train(..))` in one pass (the ReLU's mask is applied inside the fused
/// backward pass).
///
/// # Errors
/// As [`batch_norm_train`].
///
/// # Examples
/// ```
/// use anodiff_trainers::batchnorm::batch_norm_relu_train;
/// use candle_core::{Device, Tensor, Var};
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[1f32, 2., 3., 4.], &dev)?.reshape((1, 1, 2, 2))?;
/// let (g, b) = (Tensor::new(&[1f32], &dev)?, Tensor::new(&[0f32], &dev)?);
/// let (rm, rv) = (Var::new(&[0f32], &dev)?, Var::new(&[1f32], &dev)?);
/// let y = batch_norm_relu_train(&x, &g, &b, &rm, &rv, 1e-5, 0.1)?;
/// let y = y.flatten_all()?.to_vec1::<f32>()?;
/// assert_eq!(&y[..2], &[0.0, 0.0]); // the two values below the mean
/// assert!(y[2] > 0.0 && y[3] > y[2]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn batch_norm_relu_train(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Var,
    running_var: &Var,
    eps: f64,
    momentum: f64,
) -> Result<Tensor> {
    bn_train(
        x,
        weight,
        bias,
        (running_mean, running_var),
        eps,
        momentum,
        true,
    )
}

fn bn_train(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    (running_mean, running_var): (&Var, &Var),
    eps: f64,
    momentum: f64,
    relu: bool,
) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    for (name, t) in [
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean.as_tensor()),
        ("running_var", running_var.as_tensor()),
    ] {
        if t.dims() != [c] {
            bail!(
                "batch norm: {name} has shape {:?}, expected [{c}]",
                t.dims()
            );
        }
    }
    let m = n * h * w;
    check_values_per_channel(m)?;
    let stats = Arc::new(Mutex::new(None));
    let y = x.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        BatchNormOp {
            eps,
            relu,
            stats: stats.clone(),
        },
    )?;
    let Some(s) = stats
        .lock()
        .map_err(|_| candle_core::Error::Msg("batch norm: poisoned lock".into()))?
        .clone()
    else {
        bail!("batch norm: the forward pass left no statistics");
    };
    update_running((running_mean, running_var), &s, m, momentum)?;
    Ok(y)
}

/// `r <- (1 - momentum) r + momentum s` for the running mean and variance, the variance from the
/// batch's unbiased variance (`m` values per channel).
pub(crate) fn update_running(
    (running_mean, running_var): (&Var, &Var),
    s: &Stats,
    m: usize,
    momentum: f64,
) -> Result<()> {
    let unbias = m as f64 / (m as f64 - 1.0);
    let update = |r: &Var, batch: &[f64], factor: f64| -> Result<()> {
        let old = r.as_tensor().to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let new: Vec<f64> = old
            .iter()
            .zip(batch)
            .map(|(o, b)| (1.0 - momentum) * o + momentum * factor * b)
            .collect();
        r.set(&Tensor::from_vec(new, batch.len(), &Device::Cpu)?.to_dtype(r.dtype())?)
    };
    update(running_mean, &s.mean, 1.0)?;
    update(running_var, &s.var, unbias)
}

/// Training mode needs m >= 2 values per channel: the running variance uses the unbiased
/// variance, m / (m - 1) times the batch's.
pub(crate) fn check_values_per_channel(m: usize) -> Result<()> {
    if m < 2 {
        bail!("batch norm in training mode needs more than one value per channel, got {m}");
    }
    Ok(())
}

/// Per-channel batch statistics, in f64.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    mean: Vec<f64>,
    /// Biased variance.
    var: Vec<f64>,
    /// `1 / sqrt(var + eps)`.
    inv_std: Vec<f64>,
}

struct BatchNormOp {
    eps: f64,
    /// Whether a ReLU follows (fused).
    relu: bool,
    /// Written by the forward pass, read by the caller (running statistics) and by the
    /// backward pass.
    stats: Arc<Mutex<Option<Stats>>>,
}

/// The element types of the kernels.
pub(crate) trait Elem:
    Copy
    + Send
    + Sync
    + 'static
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
{
    const ZERO: Self;
    fn f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Elem for f32 {
    const ZERO: Self = 0.0;
    fn f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Elem for f64 {
    const ZERO: Self = 0.0;
    fn f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// `sum f(v)` over `xs` with 8 interleaved f64 accumulators combined in a fixed order: the same
/// bits on any thread count, and independent chains, so the loop vectorises instead of waiting
/// on one accumulator.
#[inline(always)]
fn lane_sum<T: Elem>(xs: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|v| f(v.f64())).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += f(v.f64());
        }
    }
    combine(&acc) + tail
}

#[inline(always)]
fn combine(a: &[f64; 8]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// Per-channel statistics of `x` (n, c, hw), two passes in f64, one channel per task.
fn statistics<T: Elem>(x: &[T], n: usize, c: usize, hw: usize, eps: f64) -> Stats {
    let m = (n * hw) as f64;
    let per: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            with_avx2(|| {
                let block = |b: usize| &x[(b * c + ch) * hw..(b * c + ch + 1) * hw];
                let mean = (0..n).map(|b| lane_sum(block(b), |v| v)).sum::<f64>() / m;
                let var = (0..n)
                    .map(|b| lane_sum(block(b), |v| (v - mean) * (v - mean)))
                    .sum::<f64>()
                    / m;
                (mean, var)
            })
        })
        .collect();
    let (mean, var): (Vec<f64>, Vec<f64>) = per.into_iter().unzip();
    let inv_std = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    Stats { mean, var, inv_std }
}

/// `out[b, ch, :] = x[b, ch, :] * a[ch] + d[ch]`, then the ReLU if `relu`, in parallel over
/// (image, channel) blocks.
fn affine<T: Elem>(x: &[T], c: usize, hw: usize, a: &[f64], d: &[f64], relu: bool) -> Vec<T> {
    let mut out = vec![T::from_f64(0.0); x.len()];
    out.par_chunks_mut(hw.max(1))
        .zip(x.par_chunks(hw.max(1)))
        .enumerate()
        .for_each(|(i, (o, xi))| {
            // Element-wise work in T (statistics stay f64): twice the SIMD lanes for f32.
            let (ai, di) = (T::from_f64(a[i % c]), T::from_f64(d[i % c]));
            with_avx2(|| {
                for (o, &v) in o.iter_mut().zip(xi) {
                    let y = v * ai + di;
                    // `y < 0`, not `!(y > 0)`: a NaN passes through, so divergence stays visible.
                    *o = if relu && y < T::ZERO { T::ZERO } else { y };
                }
            })
        });
    out
}

pub(crate) fn forward<T: Elem>(
    x: &[T],
    gamma: &[T],
    beta: &[T],
    (n, c, hw): (usize, usize, usize),
    eps: f64,
    relu: bool,
) -> (Vec<T>, Stats) {
    let s = statistics(x, n, c, hw, eps);
    // y = gamma (x - mean) inv_std + beta = x a + d.
    let a: Vec<f64> = (0..c).map(|ch| gamma[ch].f64() * s.inv_std[ch]).collect();
    let d: Vec<f64> = (0..c)
        .map(|ch| beta[ch].f64() - s.mean[ch] * a[ch])
        .collect();
    (affine(x, c, hw, &a, &d, relu), s)
}

/// `(sum g', sum g' (x - mean))` over one (image, channel) block, where `g' = g`, or with `RELU`
/// `g' = g [y > 0]` (`y` is ignored without `RELU`); lane sums as in [`lane_sum`].
#[inline(always)]
fn block_sums<T: Elem, const RELU: bool>(g: &[T], x: &[T], y: &[T], mean: f64) -> (f64, f64) {
    let keep = |gv: T, yv: T| {
        if RELU && yv.f64() <= 0.0 {
            0.0
        } else {
            gv.f64()
        }
    };
    let (mut ag, mut agx) = ([0f64; 8], [0f64; 8]);
    // Fixed-size chunks: no bounds checks in the lane loop.
    let ((gc, gr), (xc, xr), (yc, yr)) =
        (g.as_chunks::<8>(), x.as_chunks::<8>(), y.as_chunks::<8>());
    let (mut tg, mut tgx) = (0.0, 0.0);
    for ((gv, xv), yv) in gr.iter().zip(xr).zip(yr) {
        let gv = keep(*gv, *yv);
        tg += gv;
        tgx += gv * (xv.f64() - mean);
    }
    for ((g8, x8), y8) in gc.iter().zip(xc).zip(yc) {
        for l in 0..8 {
            let gv = keep(g8[l], y8[l]);
            ag[l] += gv;
            agx[l] += gv * (x8[l].f64() - mean);
        }
    }
    (combine(&ag) + tg, combine(&agx) + tgx)
}

/// [`block_sums`] compiled with AVX2 and FMA where the CPU has them (see [`crate::simd`]; a
/// closure handed to `with_avx2` is not reliably inlined, a `#[inline(always)]` function is).
fn block_sums_fast<T: Elem, const RELU: bool>(g: &[T], x: &[T], y: &[T], mean: f64) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn run<T: Elem, const RELU: bool>(g: &[T], x: &[T], y: &[T], mean: f64) -> (f64, f64) {
            block_sums::<T, RELU>(g, x, y, mean)
        }
        if crate::simd::has_avx2() {
            // SAFETY: the CPU supports the features `run` is compiled with.
            return unsafe { run::<T, RELU>(g, x, y, mean) };
        }
    }
    block_sums::<T, RELU>(g, x, y, mean)
}

/// [`dx_block`] compiled with AVX2 and FMA where the CPU has them.
fn dx_block_fast<T: Elem, const RELU: bool>(
    o: &mut [T],
    x: &[T],
    g: &[T],
    y: &[T],
    k: (f64, f64, f64),
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn run<T: Elem, const RELU: bool>(
            o: &mut [T],
            x: &[T],
            g: &[T],
            y: &[T],
            k: (f64, f64, f64),
        ) {
            dx_block::<T, RELU>(o, x, g, y, k)
        }
        if crate::simd::has_avx2() {
            // SAFETY: the CPU supports the features `run` is compiled with.
            return unsafe { run::<T, RELU>(o, x, g, y, k) };
        }
    }
    dx_block::<T, RELU>(o, x, g, y, k)
}

/// `o = k g' + kx x + k0` over one block (`g'` as in [`block_sums`]).
#[inline(always)]
fn dx_block<T: Elem, const RELU: bool>(
    o: &mut [T],
    x: &[T],
    g: &[T],
    y: &[T],
    (k, kx, k0): (f64, f64, f64),
) {
    let (k, kx, k0) = (T::from_f64(k), T::from_f64(kx), T::from_f64(k0));
    for (((o, &xv), &gv), &yv) in o.iter_mut().zip(x).zip(g).zip(y) {
        let gv = if !RELU || yv > T::ZERO { gv } else { T::ZERO };
        *o = k * gv + (kx * xv + k0);
    }
}

/// The fused first-order backward pass: (dx, dgamma, dbeta). With `relu_out` (the output of a
/// fused ReLU) the upstream gradient counts only where that output is positive.
pub(crate) fn backward<T: Elem>(
    x: &[T],
    gamma: &[T],
    g: &[T],
    relu_out: Option<&[T]>,
    (n, c, hw): (usize, usize, usize),
    s: &Stats,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let m = (n * hw) as f64;
    // Without the ReLU, `y` is a placeholder of the right length that is never read.
    let y = relu_out.unwrap_or(g);
    let relu = relu_out.is_some();
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let mean = s.mean[ch];
            let (mut sg, mut sgx) = (0.0, 0.0);
            for b in 0..n {
                let r = (b * c + ch) * hw..(b * c + ch + 1) * hw;
                let (bg, bgx) = if relu {
                    block_sums_fast::<T, true>(&g[r.clone()], &x[r.clone()], &y[r], mean)
                } else {
                    block_sums_fast::<T, false>(&g[r.clone()], &x[r.clone()], &y[r], mean)
                };
                sg += bg;
                sgx += bgx;
            }
            // sum g' x_hat = inv_std sum g' (x - mean).
            (sg, sgx * s.inv_std[ch])
        })
        .collect();
    // dx = k (g' - sg/m - x_hat sgx/m), k = gamma inv_std, x_hat = (x - mean) inv_std:
    // dx = k g' + x (-k inv_std sgx/m) + k (mean inv_std sgx/m - sg/m).
    let mut dx = vec![T::from_f64(0.0); x.len()];
    let hw1 = hw.max(1);
    dx.par_chunks_mut(hw1)
        .zip(
            x.par_chunks(hw1)
                .zip(g.par_chunks(hw1).zip(y.par_chunks(hw1))),
        )
        .enumerate()
        .for_each(|(i, (o, (xi, (gi, yi))))| {
            let ch = i % c;
            let (sg, sgx) = sums[ch];
            let inv = s.inv_std[ch];
            let k = gamma[ch].f64() * inv;
            let kx = -k * inv * sgx / m;
            let k0 = k * (s.mean[ch] * inv * sgx / m - sg / m);
            if relu {
                dx_block_fast::<T, true>(o, xi, gi, yi, (k, kx, k0));
            } else {
                dx_block_fast::<T, false>(o, xi, gi, yi, (k, kx, k0));
            }
        });
    let dgamma = sums.iter().map(|&(_, sgx)| T::from_f64(sgx)).collect();
    let dbeta = sums.iter().map(|&(sg, _)| T::from_f64(sg)).collect();
    (dx, dgamma, dbeta)
}

fn slice<'a, T>(v: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("batch norm: non-contiguous argument"),
    }
}

impl CustomOp3 for BatchNormOp {
    fn name(&self) -> &'static str {
        "anodiff-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let &[n, c, h, w] = l1.dims() else {
            bail!("batch norm: input must be 4-D, got {:?}", l1.dims());
        };
        if l2.dims() != [c] || l3.dims() != [c] {
            bail!("batch norm: weight and bias must have shape [{c}]");
        }
        let dims = (n, c, h * w);
        let (out, stats) = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                let (y, s) = forward(
                    slice(x, l1)?,
                    slice(g, l2)?,
                    slice(b, l3)?,
                    dims,
                    self.eps,
                    self.relu,
                );
                (CpuStorage::F32(y), s)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                let (y, s) = forward(
                    slice(x, l1)?,
                    slice(g, l2)?,
                    slice(b, l3)?,
                    dims,
                    self.eps,
                    self.relu,
                );
                (CpuStorage::F64(y), s)
            }
            _ => bail!(
                "batch norm: needs f32 or f64 tensors of one dtype, got {:?}, {:?}, {:?}",
                s1.dtype(),
                s2.dtype(),
                s3.dtype()
            ),
        };
        *self
            .stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch norm: poisoned lock".into()))? =
            Some(stats);
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if keeps_gradient_graph() {
            // The ReLU's mask is piecewise constant: it only selects which upstream entries
            // count, and has no derivative of its own.
            let g = if self.relu {
                g.mul(&positive_mask(res)?)?
            } else {
                g.clone()
            };
            let (dx, dgamma, dbeta) = differentiable_backward(x, gamma, &g, self.eps)?;
            return Ok((Some(dx), Some(dgamma), Some(dbeta)));
        }
        let res = res.contiguous()?;
        let (rs, rl) = res.storage_and_layout();
        let stats = self
            .stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch norm: poisoned lock".into()))?
            .clone();
        let Some(s) = stats else {
            bail!("batch norm: backward before forward");
        };
        let (n, c, h, w) = x.dims4()?;
        let dims = (n, c, h * w);
        let g = g.contiguous()?;
        let (xs, xl) = x.storage_and_layout();
        let (gs, gl) = g.storage_and_layout();
        let (ws, wl) = gamma.storage_and_layout();
        let dev = x.device();
        // One body for both dtypes: the ReLU mask comes from the saved output of the same dtype.
        macro_rules! fused_backward {
            ($dt:ident, $xv:ident, $gv:ident, $wv:ident) => {{
                let y = match &*rs {
                    candle_core::Storage::Cpu(CpuStorage::$dt(y)) if self.relu => {
                        Some(slice(y, rl)?)
                    }
                    _ => None,
                };
                let (dx, dg, db) = backward(
                    slice($xv, xl)?,
                    slice($wv, wl)?,
                    slice($gv, gl)?,
                    y,
                    dims,
                    &s,
                );
                (
                    Tensor::from_vec(dx, x.shape(), dev)?,
                    Tensor::from_vec(dg, c, dev)?,
                    Tensor::from_vec(db, c, dev)?,
                )
            }};
        }
        let (dx, dgamma, dbeta) = match (&*xs, &*gs, &*ws) {
            (
                candle_core::Storage::Cpu(CpuStorage::F32(xv)),
                candle_core::Storage::Cpu(CpuStorage::F32(gv)),
                candle_core::Storage::Cpu(CpuStorage::F32(wv)),
            ) => fused_backward!(F32, xv, gv, wv),
            (
                candle_core::Storage::Cpu(CpuStorage::F64(xv)),
                candle_core::Storage::Cpu(CpuStorage::F64(gv)),
                candle_core::Storage::Cpu(CpuStorage::F64(wv)),
            ) => fused_backward!(F64, xv, gv, wv),
            _ => bail!("batch norm backward: needs CPU f32 or f64 tensors of one dtype"),
        };
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// The backward pass as tracked tensor operations (for double backprop): batch statistics
/// recomputed from `x`, then the same formulas as the fused kernel.
fn differentiable_backward(
    x: &Tensor,
    gamma: &Tensor,
    g: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = x.dim(1)?;
    let per_channel = |t: &Tensor| -> Result<Tensor> {
        // Sum over N, H, W, keeping (1, C, 1, 1).
        t.sum_keepdim(0)?.sum_keepdim(2)?.sum_keepdim(3)
    };
    let (n, _, h, w) = x.dims4()?;
    let m = (n * h * w) as f64;
    let mean = (per_channel(x)? / m)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = (per_channel(&xc.sqr()?)? / m)?;
    let inv_std = (var + eps)?.sqrt()?.recip()?;
    let x_hat = xc.broadcast_mul(&inv_std)?;
    let sg = per_channel(g)?;
    let sgx = per_channel(&(g * &x_hat)?)?;
    let k = gamma.reshape((1, c, 1, 1))?.broadcast_mul(&inv_std)?;
    let inner = g
        .broadcast_sub(&(&sg / m)?)?
        .sub(&x_hat.broadcast_mul(&(&sgx / m)?)?)?;
    let dx = inner.broadcast_mul(&k)?;
    Ok((dx, sgx.flatten_all()?, sg.flatten_all()?))
}

/// `1` where `y > 0`, else `0`, in `y`'s dtype, untracked.
fn positive_mask(y: &Tensor) -> Result<Tensor> {
    y.detach().gt(0.0)?.to_dtype(y.dtype())
}

/// `relu(a + b)` for two tensors of one shape (a residual block's output), fused on the CPU for
/// f32 and f64 (one pass forward, one backward); elsewhere candle's `(a + b).relu()`.
///
/// # Errors
/// Shapes, dtypes or devices that differ.
///
/// # Examples
/// ```
/// use anodiff_trainers::batchnorm::add_relu;
/// use candle_core::{Device, Tensor};
/// let a = Tensor::new(&[1f32, -2., 3.], &Device::Cpu)?;
/// let b = Tensor::new(&[1f32, 1., -4.], &Device::Cpu)?;
/// assert_eq!(add_relu(&a, &b)?.to_vec1::<f32>()?, [2.0, 0.0, 0.0]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let fused = a.device().is_cpu()
        && matches!(a.dtype(), DType::F32 | DType::F64)
        && a.dtype() == b.dtype()
        && a.dims() == b.dims();
    if !fused {
        return (a + b)?.relu();
    }
    a.contiguous()?.apply_op2(&b.contiguous()?, AddReluOp)
}

struct AddReluOp;

pub(crate) fn add_relu_kernel<T: Elem>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = vec![T::from_f64(0.0); a.len()];
    out.par_chunks_mut(1 << 14)
        .zip(a.par_chunks(1 << 14).zip(b.par_chunks(1 << 14)))
        .for_each(|(o, (a, b))| {
            with_avx2(|| {
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    let y = a + b;
                    *o = if y < T::ZERO { T::ZERO } else { y };
                }
            })
        });
    out
}

/// `g` where `y > 0`, else 0.
pub(crate) fn mask_kernel<T: Elem>(g: &[T], y: &[T]) -> Vec<T> {
    let mut out = vec![T::from_f64(0.0); g.len()];
    out.par_chunks_mut(1 << 14)
        .zip(g.par_chunks(1 << 14).zip(y.par_chunks(1 << 14)))
        .for_each(|(o, (g, y))| {
            with_avx2(|| {
                for ((o, &g), &y) in o.iter_mut().zip(g).zip(y) {
                    *o = if y > T::ZERO { g } else { T::ZERO };
                }
            })
        });
    out
}

impl candle_core::CustomOp2 for AddReluOp {
    fn name(&self) -> &'static str {
        "anodiff-add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!(
                "add_relu: shapes {:?} and {:?} differ",
                l1.dims(),
                l2.dims()
            );
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                CpuStorage::F32(add_relu_kernel(slice(a, l1)?, slice(b, l2)?))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                CpuStorage::F64(add_relu_kernel(slice(a, l1)?, slice(b, l2)?))
            }
            _ => bail!("add_relu: needs two f32 or two f64 tensors"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gm = if keeps_gradient_graph() {
            g.mul(&positive_mask(res)?)?
        } else {
            let g = g.contiguous()?;
            let res = res.contiguous()?;
            let (gs, gl) = g.storage_and_layout();
            let (ys, yl) = res.storage_and_layout();
            let (shape, dev) = (res.shape(), res.device());
            match (&*gs, &*ys) {
                (
                    candle_core::Storage::Cpu(CpuStorage::F32(g)),
                    candle_core::Storage::Cpu(CpuStorage::F32(y)),
                ) => Tensor::from_vec(mask_kernel(slice(g, gl)?, slice(y, yl)?), shape, dev)?,
                (
                    candle_core::Storage::Cpu(CpuStorage::F64(g)),
                    candle_core::Storage::Cpu(CpuStorage::F64(y)),
                ) => Tensor::from_vec(mask_kernel(slice(g, gl)?, slice(y, yl)?), shape, dev)?,
                _ => bail!("add_relu backward: needs CPU f32 or f64 tensors"),
            }
        };
        Ok((Some(gm.clone()), Some(gm)))
    }
}

thread_local! {
    static KEEPS_GRAPH: bool = probe_keeps_graph();
}

/// Whether candle, on this thread, keeps the graph of the gradients it hands to backward
/// passes (`CANDLE_GRAD_DO_NOT_DETACH`): probed with a second derivative whose value is known,
/// so the answer is candle's own (cached per thread, like candle's).
fn keeps_gradient_graph() -> bool {
    KEEPS_GRAPH.with(|k| *k)
}

fn probe_keeps_graph() -> bool {
    let probe = || -> Result<bool> {
        // L = exp(2 w) at w = 0: dL/dw = 2 exp(2w); its derivative 4 exists only if candle
        // kept the graph of the first gradient.
        let w = Var::new(&[0.0f64], &Device::Cpu)?;
        let grads = w.affine(2.0, 0.0)?.exp()?.sum_all()?.backward()?;
        let Some(g) = grads.get(&w) else {
            return Ok(false);
        };
        let second = g.sum_all()?.backward()?;
        Ok(match second.get(&w) {
            Some(h) => (h.sum_all()?.to_scalar::<f64>()? - 4.0).abs() < 1e-12,
            None => false,
        })
    };
    // A failing probe answers "keeps the graph": the differentiable path is always correct.
    probe().unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{check_hvp, to_f64};
    use candle_nn::{BatchNorm, ModuleT};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn rand_tensor(
        shape: &[usize],
        dtype: DType,
        lo: f64,
        hi: f64,
        rng: &mut ChaCha8Rng,
    ) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    fn max_err(a: &Tensor, b: &Tensor) -> (f64, f64) {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (to_f64(a), to_f64(b));
        let err = a
            .iter()
            .zip(&b)
            .fold(0f64, |m, (x, y)| m.max((x - y).abs()));
        (err, a.iter().fold(0f64, |m, x| m.max(x.abs())))
    }

    /// The fused kernels called directly (the autograd path taken depends on
    /// `CANDLE_GRAD_DO_NOT_DETACH`, which other tests set process-wide): output and the
    /// first-order gradients (dx, dgamma, dbeta) of sum(y * r).
    fn direct<T: Elem + candle_core::WithDType>(
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        r: &Tensor,
        relu: bool,
    ) -> [Tensor; 4] {
        let (n, c, h, w) = x.dims4().unwrap();
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<T>().unwrap();
        let (xv, gv, bv, rv) = (v(x), v(gamma), v(beta), v(r));
        let dims = (n, c, h * w);
        let (y, s) = forward(&xv, &gv, &bv, dims, 1e-5, relu);
        let (dx, dg, db) = backward(&xv, &gv, &rv, relu.then_some(&y[..]), dims, &s);
        let t = |v: Vec<T>, shape: &[usize]| Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        [t(y, x.dims()), t(dx, x.dims()), t(dg, &[c]), t(db, &[c])]
    }

    /// Output, running statistics and the three gradients of sum(y * r), with and without the
    /// fused ReLU, against candle's `BatchNorm::forward_train` (then `relu`) and its autograd:
    /// through [`batch_norm_train`] / [`batch_norm_relu_train`], and through the fused kernels
    /// and the differentiable backward called directly. f64: the same formulas with sums over
    /// at most 2 * 7 * 5 = 70 terms in different orders (ours in f64 throughout), so 1e-12
    /// absolute on O(1) values. f32: candle accumulates in f32, we in f64; 1e-5 relative to the
    /// largest entry covers sums of 70 f32 roundings.
    #[test]
    fn matches_candle_batch_norm() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for (dtype, rel, abs) in [(DType::F64, 0.0, 1e-12), (DType::F32, 1e-5, 0.0)] {
            for relu in [false, true] {
                let (n, c, h, w) = (2, 3, 7, 5);
                // An offset mean, so that centring matters.
                let x = rand_tensor(&[n, c, h, w], dtype, 0.5, 3.0, &mut rng);
                let gamma = rand_tensor(&[c], dtype, 0.5, 2.0, &mut rng);
                let beta = rand_tensor(&[c], dtype, -1.0, 1.0, &mut rng);
                let rm0 = rand_tensor(&[c], dtype, -1.0, 1.0, &mut rng);
                let rv0 = rand_tensor(&[c], dtype, 0.5, 2.0, &mut rng);
                let r = rand_tensor(&[n, c, h, w], dtype, -1.0, 1.0, &mut rng);
                let run = |fused: bool| {
                    let xv = Var::from_tensor(&x).unwrap();
                    let gv = Var::from_tensor(&gamma).unwrap();
                    let bv = Var::from_tensor(&beta).unwrap();
                    let rm = Var::from_tensor(&rm0).unwrap();
                    let rv = Var::from_tensor(&rv0).unwrap();
                    let (y, running) = if fused {
                        let f = if relu {
                            batch_norm_relu_train
                        } else {
                            batch_norm_train
                        };
                        let y = f(xv.as_tensor(), &gv, &bv, &rm, &rv, 1e-5, 0.1).unwrap();
                        (y, [rm, rv].map(|v| v.as_tensor().copy().unwrap()))
                    } else {
                        let bn = BatchNorm::new_with_momentum(
                            c,
                            rm.as_tensor().clone(),
                            rv.as_tensor().clone(),
                            gv.as_tensor().clone(),
                            bv.as_tensor().clone(),
                            1e-5,
                            0.1,
                        )
                        .unwrap();
                        let y = bn.forward_t(xv.as_tensor(), true).unwrap();
                        let y = if relu { y.relu().unwrap() } else { y };
                        // candle's BatchNorm updates its own running-statistic variables.
                        let running =
                            [bn.running_mean(), bn.running_var()].map(|t| t.copy().unwrap());
                        (y, running)
                    };
                    let gs = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
                    let grads = [&xv, &gv, &bv].map(|v| gs.get(v).unwrap().clone());
                    (y, grads, running)
                };
                let (y0, g0, r0) = run(false);
                let (y1, g1, r1) = run(true);
                let kernels = match dtype {
                    DType::F64 => direct::<f64>(&x, &gamma, &beta, &r, relu),
                    _ => direct::<f32>(&x, &gamma, &beta, &r, relu),
                };
                let masked = if relu {
                    (&r * positive_mask(&y0).unwrap()).unwrap()
                } else {
                    r.clone()
                };
                let (ddx, ddg, ddb) = differentiable_backward(&x, &gamma, &masked, 1e-5).unwrap();
                let pairs = [
                    ("y", &y0, &y1),
                    ("dx", &g0[0], &g1[0]),
                    ("dgamma", &g0[1], &g1[1]),
                    ("dbeta", &g0[2], &g1[2]),
                    ("running_mean", &r0[0], &r1[0]),
                    ("running_var", &r0[1], &r1[1]),
                    ("kernel y", &y0, &kernels[0]),
                    ("kernel dx", &g0[0], &kernels[1]),
                    ("kernel dgamma", &g0[1], &kernels[2]),
                    ("kernel dbeta", &g0[2], &kernels[3]),
                    ("differentiable dx", &g0[0], &ddx),
                    ("differentiable dgamma", &g0[1], &ddg),
                    ("differentiable dbeta", &g0[2], &ddb),
                ];
                for (what, a, b) in pairs {
                    let (err, scale) = max_err(a, b);
                    let tol = abs + rel * scale;
                    assert!(
                        err <= tol,
                        "{dtype:?} relu {relu} {what}: error {err} > {tol}"
                    );
                }
            }
        }
    }

    /// `add_relu` against candle's `(a + b).relu()`: values exactly (the f32 sum is rounded
    /// once either way), gradients exactly (a mask of the upstream gradient), also through the
    /// fused backward kernel called directly.
    #[test]
    fn add_relu_matches_candle() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let a = rand_tensor(&[3, 4, 5, 5], DType::F32, -1.0, 1.0, &mut rng);
        let b = rand_tensor(&[3, 4, 5, 5], DType::F32, -1.0, 1.0, &mut rng);
        let r = rand_tensor(&[3, 4, 5, 5], DType::F32, -1.0, 1.0, &mut rng);
        let run = |fused: bool| {
            let (av, bv) = (Var::from_tensor(&a).unwrap(), Var::from_tensor(&b).unwrap());
            let y = if fused {
                add_relu(&av, &bv).unwrap()
            } else {
                (av.as_tensor() + bv.as_tensor()).unwrap().relu().unwrap()
            };
            let gs = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            [
                y,
                gs.get(&av).unwrap().clone(),
                gs.get(&bv).unwrap().clone(),
            ]
        };
        let (want, got) = (run(false), run(true));
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(max_err(w, g).0, 0.0);
        }
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let direct = mask_kernel(&v(&r), &v(&want[0]));
        assert_eq!(direct, v(&want[1]));
    }

    /// The f32 kernels (output, statistics, the fused backward) give the same bits on 1 and 3
    /// threads. (Called directly: through autograd the backward path depends on
    /// `CANDLE_GRAD_DO_NOT_DETACH`, which other tests set process-wide.)
    #[test]
    fn bit_identical_across_thread_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = to_f64(&rand_tensor(&[5, 6, 9, 9], DType::F32, -1.0, 2.0, &mut rng));
        let r = to_f64(&rand_tensor(&[5, 6, 9, 9], DType::F32, -1.0, 1.0, &mut rng));
        let (x, r): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|&v| v as f32).collect(),
            r.iter().map(|&v| v as f32).collect(),
        );
        let gamma: Vec<f32> = (0..6).map(|i| 0.5 + i as f32 / 4.0).collect();
        let beta: Vec<f32> = (0..6).map(|i| i as f32 / 8.0).collect();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let dims = (5, 6, 81);
                    let (y, s) = forward(&x, &gamma, &beta, dims, 1e-5, true);
                    let (dx, dg, db) = backward(&x, &gamma, &r, Some(&y), dims, &s);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    (
                        [bits(&y), bits(&dx), bits(&dg), bits(&db)],
                        [bits64(&s.mean), bits64(&s.var)],
                    )
                })
        };
        assert_eq!(run(1), run(3));
    }

    /// conv -> BN -> tanh -> conv -> BN -> tanh -> mean of squares, smooth, so central
    /// differences of the gradient match the exact HVP to O(eps^2).
    fn net(params: &[Tensor], x: &Tensor) -> Result<Tensor> {
        let stat = |c: usize| -> Result<(Var, Var)> {
            Ok((
                Var::zeros(c, DType::F64, &Device::Cpu)?,
                Var::ones(c, DType::F64, &Device::Cpu)?,
            ))
        };
        let (rm, rv) = stat(params[1].dim(0)?)?;
        let h = crate::conv::conv2d(x, &params[0], 1, 1)?;
        let h = batch_norm_train(&h, &params[1], &params[2], &rm, &rv, 1e-5, 0.1)?.tanh()?;
        let h = crate::conv::conv2d(&h, &params[3], 2, 1)?;
        let (rm, rv) = stat(params[4].dim(0)?)?;
        let h = batch_norm_train(&h, &params[4], &params[5], &rm, &rv, 1e-5, 0.1)?.tanh()?;
        (h.sqr()?.mean_all()? + h.narrow(1, 0, 1)?.mean_all()?)? * 0.5
    }

    /// The exact HVP (double backprop through the fused op's differentiable backward) against
    /// central differences of the gradient in f64, in a fresh thread where candle keeps the
    /// gradient graph. Tolerance as for the convolution: eps 1e-5 gives O(eps^2) ~ 1e-10
    /// truncation and ~1e-11 rounding; 1e-7 of the HVP's scale.
    #[test]
    fn hessian_vector_product_matches_finite_differences_f64() {
        std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
        std::thread::spawn(|| {
            assert!(keeps_gradient_graph());
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let x = rand_tensor(&[3, 2, 6, 6], DType::F64, -1.0, 1.0, &mut rng);
            let shapes: [&[usize]; 6] = [&[3, 2, 3, 3], &[3], &[3], &[4, 3, 3, 3], &[4], &[4]];
            let init = |i: usize, s: &[usize], rng: &mut ChaCha8Rng| match i {
                1 | 4 => rand_tensor(s, DType::F64, 0.5, 1.5, rng),
                _ => rand_tensor(s, DType::F64, -1.0, 1.0, rng),
            };
            let vars: Vec<Var> = shapes
                .iter()
                .enumerate()
                .map(|(i, s)| Var::from_tensor(&init(i, s, &mut rng)).unwrap())
                .collect();
            let v: Vec<Tensor> = shapes
                .iter()
                .map(|s| rand_tensor(s, DType::F64, -1.0, 1.0, &mut rng))
                .collect();
            check_hvp(&vars, &v, |p| net(p, &x).unwrap());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bad_input_is_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 3, 4, 4), DType::F32, &dev).unwrap();
        let ok = Tensor::ones(3, DType::F32, &dev).unwrap();
        let bad = Tensor::ones(4, DType::F32, &dev).unwrap();
        let rm = Var::zeros(3, DType::F32, &dev).unwrap();
        let rv = Var::ones(3, DType::F32, &dev).unwrap();
        assert!(batch_norm_train(&x, &bad, &ok, &rm, &rv, 1e-5, 0.1).is_err());
        let one = Tensor::zeros((1, 3, 1, 1), DType::F32, &dev).unwrap();
        assert!(batch_norm_train(&one, &ok, &ok, &rm, &rv, 1e-5, 0.1).is_err());
        let x3 = Tensor::zeros((2, 3, 4), DType::F32, &dev).unwrap();
        assert!(batch_norm_train(&x3, &ok, &ok, &rm, &rv, 1e-5, 0.1).is_err());
    }
}
