//! 2-D convolution for the networks, with a faster backward pass.
//!
//! [`conv2d`] computes exactly candle's `Tensor::conv2d` (same kernels, same result bits) but
//! records a custom autograd node. Its backward pass differs from candle's in one place: the
//! gradient with respect to the input of a stride-1 convolution is computed as a convolution of
//! the output gradient with the spatially flipped, channel-transposed kernel,
//! `dX = conv2d(dY, flip(W).transpose(0, 1), padding = k - 1 - p)`, instead of candle's CPU
//! `conv_transpose2d`, which is a direct loop about 4x slower than its im2col + GEMM `conv2d`
//! (measured: 3x3, 16 channels, 32x32, batch 128: 503 ms against 128 ms). The weight gradient is
//! candle's formula (a convolution of the input with the output gradient); strided convolutions
//! keep candle's `conv_transpose2d` for the input gradient, as do paddings larger than
//! `dilation * (k - 1)`.
//!
//! Every gradient is built from differentiable tensor operations (the backward convolutions go
//! through this same op), so second derivatives work: with `CANDLE_GRAD_DO_NOT_DETACH=1` a second
//! backward pass through the gradient gives exact Hessian-vector products (tested against
//! finite differences in f64).
//!
//! The op's forward pass runs candle's own convolution (CPU or CUDA) on the detached inputs and
//! hands its output to the autograd node, at the cost of one copy of the output (about 1% of a
//! ResNet forward pass): candle's `ParamsConv2D` cannot be built outside candle, so a
//! [`CustomOp2`]'s `cpu_fwd`/`cuda_fwd` cannot call the backend convolution directly.

use candle_core::{CpuStorage, CudaStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use std::sync::Mutex;

/// `x` (N, C_in, H, W) convolved with `w` (C_out, C_in, k_h, k_w), no bias, symmetric zero
/// `padding`, `stride` in both directions. Output (N, C_out, H_out, W_out) with
/// `H_out = (H + 2 padding - k_h) / stride + 1`.
///
/// Same values as `x.conv2d(w, padding, stride, 1, 1)`; the backward pass is faster on CPU for
/// stride 1 (see the [module docs](self)) and stays differentiable (double backprop).
///
/// # Errors
/// Candle's errors for mismatched shapes, devices or dtypes.
///
/// # Examples
/// ```
/// use anodiff_trainers::conv::conv2d;
/// use candle_core::{Device, Tensor, Var};
/// let dev = Device::Cpu;
/// let x = Var::from_tensor(&Tensor::ones((1, 1, 3, 3), candle_core::DType::F64, &dev)?)?;
/// let w = Tensor::ones((1, 1, 3, 3), candle_core::DType::F64, &dev)?;
/// let y = conv2d(x.as_tensor(), &w, 1, 1)?;
/// // Centre pixel sees all 9 inputs, corners see 4.
/// assert_eq!(y.flatten_all()?.to_vec1::<f64>()?, [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
/// // d(sum y)/dx[i] counts how many outputs each input reaches: the same 4/6/9 pattern.
/// let g = y.sum_all()?.backward()?;
/// assert_eq!(g.get(&x).unwrap().flatten_all()?.to_vec1::<f64>()?[4], 9.0);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    conv2d_general(
        x,
        w,
        Geometry {
            stride,
            padding,
            dilation: 1,
        },
    )
}

/// Stride, symmetric padding and dilation of a convolution (the same in both directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    stride: usize,
    padding: usize,
    dilation: usize,
}

/// The convolution with a custom backward; dilation is needed by the weight gradient of a
/// strided convolution (a convolution dilated by the stride).
fn conv2d_general(x: &Tensor, w: &Tensor, g: Geometry) -> Result<Tensor> {
    let y = x
        .detach()
        .conv2d(&w.detach(), g.padding, g.stride, g.dilation, 1)?;
    if !(x.track_op() || w.track_op()) {
        // Nothing to differentiate: skip the node and its copy.
        return Ok(y);
    }
    x.apply_op2(
        w,
        Conv2dOp {
            geometry: g,
            output: Mutex::new(Some(y)),
        },
    )
}

/// The autograd node. `output` holds candle's forward result until the forward hook takes it
/// (so the graph does not keep a second copy of every activation alive).
struct Conv2dOp {
    geometry: Geometry,
    output: Mutex<Option<Tensor>>,
}

impl Conv2dOp {
    fn take_output(&self) -> Result<(Storage, Shape)> {
        let y = self
            .output
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv2d: poisoned output lock".into()))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg("conv2d: forward ran twice".into()))?;
        let shape = y.shape().clone();
        let (storage, layout) = y.storage_and_layout();
        let copy = if layout.is_contiguous() && layout.start_offset() == 0 {
            storage.try_clone(layout)?
        } else {
            drop(storage);
            let y = y.contiguous()?;
            let (storage, layout) = y.storage_and_layout();
            storage.try_clone(layout)?
        };
        Ok((copy, shape))
    }
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "anodiff-conv2d"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        match self.take_output()? {
            (Storage::Cpu(s), shape) => Ok((s, shape)),
            _ => candle_core::bail!("conv2d: output not on the CPU"),
        }
    }

    // `CudaStorage` is candle's dummy type in builds without the `cuda` feature, where this is
    // never called.
    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        match self.take_output()? {
            (Storage::Cuda(s), shape) => Ok((s, shape)),
            _ => candle_core::bail!("conv2d: output not on the CUDA device"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self.geometry;
        let grad = grad.contiguous()?;
        // An argument that tracks nothing (the network input) needs no gradient: skipping it
        // saves the stem's input-gradient convolution that candle would compute and discard.
        let gx = if x.track_op() {
            Some(input_grad(x, w, &grad, g)?)
        } else {
            None
        };
        let gw = if w.track_op() {
            Some(weight_grad(x, w, &grad, g)?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// dL/dx for y = conv(x, w; g), from dL/dy.
fn input_grad(x: &Tensor, w: &Tensor, grad: &Tensor, g: Geometry) -> Result<Tensor> {
    let (_, _, h, wd) = x.dims4()?;
    let (_, _, kh, kw) = w.dims4()?;
    let reach_h = g.dilation * (kh - 1);
    let reach_w = g.dilation * (kw - 1);
    if g.stride != 1 || g.padding > reach_h || g.padding > reach_w {
        // candle's own formula (Op::Conv2D in candle-core's backprop.rs).
        let (_, _, gh, gw) = grad.dims4()?;
        let out_h = (gh - 1) * g.stride + reach_h + 1 - 2 * g.padding;
        let out_w = (gw - 1) * g.stride + reach_w + 1 - 2 * g.padding;
        let out_padding = h - out_h;
        if wd - out_w != out_padding {
            candle_core::bail!(
                "conv2d backward: output padding differs along H ({out_padding}) and W ({}); \
                 candle's conv_transpose2d takes one",
                wd - out_w
            );
        }
        return grad.conv_transpose2d(w, g.padding, out_padding, g.stride, g.dilation);
    }
    // dx[i] = sum_m dy[i + p - m d] w[m] = correlation of dy, padded by q = d (k - 1) - p on
    // each side, with the flipped kernel; channels swap roles, hence the transpose.
    let w_flip = w.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
    let (qh, qw) = (reach_h - g.padding, reach_w - g.padding);
    let back = Geometry {
        stride: 1,
        padding: 0,
        dilation: g.dilation,
    };
    if qh == qw {
        conv2d_general(
            grad,
            &w_flip,
            Geometry {
                padding: qh,
                ..back
            },
        )
    } else {
        let padded = grad.pad_with_zeros(2, qh, qh)?.pad_with_zeros(3, qw, qw)?;
        conv2d_general(&padded, &w_flip, back)
    }
}

/// dL/dw for y = conv(x, w; g), from dL/dy: candle's formula, a convolution of the input (batch
/// and channels swapped) with the output gradient dilated by the stride.
fn weight_grad(x: &Tensor, w: &Tensor, grad: &Tensor, g: Geometry) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    let gw = conv2d_general(
        &x.transpose(0, 1)?.contiguous()?,
        &grad.transpose(0, 1)?.contiguous()?,
        Geometry {
            stride: g.dilation,
            padding: g.padding,
            dilation: g.stride,
        },
    )?
    .transpose(0, 1)?;
    let (_, _, gh, gwd) = gw.dims4()?;
    // With a stride that does not divide the input, the correlation reaches past the kernel.
    if gh != kh || gwd != kw {
        gw.narrow(2, 0, kh)?.narrow(3, 0, kw)?.contiguous()
    } else {
        gw.contiguous()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var, D};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn rand_tensor(shape: &[usize], dtype: DType, rng: &mut ChaCha8Rng) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    fn max_abs(a: &Tensor) -> f64 {
        a.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    /// Gradients of sum(y * r) (r random) w.r.t. x and w, through `f`.
    fn grads(
        f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
        x: &Tensor,
        w: &Tensor,
        r: &Tensor,
    ) -> (Tensor, Tensor, Tensor) {
        let xv = Var::from_tensor(x).unwrap();
        let wv = Var::from_tensor(w).unwrap();
        let y = f(xv.as_tensor(), wv.as_tensor()).unwrap();
        let gs = (&y * r).unwrap().sum_all().unwrap().backward().unwrap();
        (
            y,
            gs.get(&xv).unwrap().clone(),
            gs.get(&wv).unwrap().clone(),
        )
    }

    /// Values and both gradients agree with candle's conv2d, for the shapes the networks use
    /// (3x3 stride 1 and 2, 1x1 stride 1 and 2) and odd sizes. f32: the same products summed in
    /// a different order, so the tolerance is a few ulps of the largest gradient entry (1e-5
    /// relative; each entry sums up to 9 * 8 * 64 = 4608 products of O(1) terms).
    #[test]
    fn matches_candle_conv2d_f32() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cases = [
            // (n, c_in, h, w, c_out, k, stride, padding)
            (4, 8, 8, 8, 16, 3, 1, 1),
            (4, 8, 9, 7, 16, 3, 2, 1),
            (4, 8, 8, 8, 16, 1, 2, 0),
            (4, 8, 8, 8, 16, 1, 1, 0),
            (2, 3, 6, 6, 4, 3, 1, 0),
            (2, 3, 5, 5, 4, 5, 1, 2),
        ];
        for (n, ci, h, wd, co, k, s, p) in cases {
            let x = rand_tensor(&[n, ci, h, wd], DType::F32, &mut rng);
            let w = rand_tensor(&[co, ci, k, k], DType::F32, &mut rng);
            let ho = (h + 2 * p - k) / s + 1;
            let wo = (wd + 2 * p - k) / s + 1;
            let r = rand_tensor(&[n, co, ho, wo], DType::F32, &mut rng);
            let (y0, gx0, gw0) = grads(|x, w| x.conv2d(w, p, s, 1, 1), &x, &w, &r);
            let (y1, gx1, gw1) = grads(|x, w| conv2d(x, w, s, p), &x, &w, &r);
            let case = format!("case {:?}", (n, ci, h, wd, co, k, s, p));
            assert_eq!(
                max_abs_diff(&y0, &y1),
                0.0,
                "{case}: forward must be candle's"
            );
            assert_eq!(gx0.dims(), gx1.dims(), "{case}");
            assert_eq!(gw0.dims(), gw1.dims(), "{case}");
            let ex = max_abs_diff(&gx0, &gx1) / max_abs(&gx0);
            let ew = max_abs_diff(&gw0, &gw1) / max_abs(&gw0);
            assert!(ex < 1e-5, "{case}: dX relative error {ex}");
            assert!(ew < 1e-5, "{case}: dW relative error {ew}");
        }
    }

    /// A small conv net, smooth (tanh) so that finite differences of the gradient are exact to
    /// O(eps^2): conv 3x3 s1 -> tanh -> conv 3x3 s2 -> tanh -> conv 1x1 -> mean.
    fn small_net(x: &Tensor, params: &[Tensor]) -> Result<Tensor> {
        let h = conv2d(x, &params[0], 1, 1)?.tanh()?;
        let h = conv2d(&h, &params[1], 2, 1)?.tanh()?;
        let h = conv2d(&h, &params[2], 1, 0)?;
        h.sqr()?.mean(D::Minus1)?.mean(D::Minus1)?.sum_all()? * 0.5
    }

    fn flat_grad(vars: &[Var], x: &Tensor) -> Vec<f64> {
        let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let loss = small_net(x, &params).unwrap();
        let gs = loss.backward().unwrap();
        vars.iter()
            .flat_map(|v| {
                gs.get(v)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
            })
            .collect()
    }

    /// Exact HVP (double backprop through the custom op) against central differences of the
    /// gradient, in f64. Needs CANDLE_GRAD_DO_NOT_DETACH=1, which candle reads once per thread:
    /// the check runs in a fresh thread with the variable set before its first backward pass.
    #[test]
    fn hessian_vector_product_matches_finite_differences_f64() {
        std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
        std::thread::spawn(hvp_check).join().unwrap();
    }

    fn hvp_check() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = rand_tensor(&[2, 2, 6, 6], DType::F64, &mut rng);
        let shapes: [&[usize]; 3] = [&[3, 2, 3, 3], &[4, 3, 3, 3], &[2, 4, 1, 1]];
        let vars: Vec<Var> = shapes
            .iter()
            .map(|s| Var::from_tensor(&rand_tensor(s, DType::F64, &mut rng)).unwrap())
            .collect();
        let v: Vec<Tensor> = shapes
            .iter()
            .map(|s| rand_tensor(s, DType::F64, &mut rng))
            .collect();

        // Exact: H v = d/dw (g(w) . v).
        let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let loss = small_net(&x, &params).unwrap();
        let g1 = loss.backward().unwrap();
        let mut gv = Tensor::zeros((), DType::F64, &Device::Cpu).unwrap();
        for (var, vi) in vars.iter().zip(&v) {
            let gi = g1.get(var).unwrap();
            gv = (gv + (gi * vi).unwrap().sum_all().unwrap()).unwrap();
        }
        let g2 = gv.backward().unwrap();
        let hv: Vec<f64> = vars
            .iter()
            .flat_map(|var| {
                g2.get(var)
                    .expect("second-order gradient missing: double backprop broke")
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
            })
            .collect();

        // Central differences of the gradient, eps 1e-5: error O(eps^2 |d3 L|) ~ 1e-10 plus
        // rounding O(1e-16 / eps) ~ 1e-11 on O(1) entries.
        let eps = 1e-5;
        let shifted = |sign: f64| -> Vec<f64> {
            let moved: Vec<Var> = vars
                .iter()
                .zip(&v)
                .map(|(var, vi)| {
                    Var::from_tensor(&(var.as_tensor() + (vi * (sign * eps)).unwrap()).unwrap())
                        .unwrap()
                })
                .collect();
            flat_grad(&moved, &x)
        };
        let (gp, gm) = (shifted(1.0), shifted(-1.0));
        let fd: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * eps))
            .collect();
        let scale = fd.iter().fold(0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "degenerate check: |Hv| = {scale}");
        let err = hv
            .iter()
            .zip(&fd)
            .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err < 1e-7 * scale.max(1.0),
            "HVP vs FD: max error {err}, scale {scale}"
        );
    }

    #[test]
    fn no_grad_inputs_give_plain_conv() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = rand_tensor(&[1, 2, 5, 5], DType::F32, &mut rng);
        let w = rand_tensor(&[3, 2, 3, 3], DType::F32, &mut rng);
        let y = conv2d(&x, &w, 1, 1).unwrap();
        assert!(!y.track_op());
        assert_eq!(y.dims(), &[1, 3, 5, 5]);
    }
}
