//! The convolution built on candle's own kernels, used on CUDA devices (and for dtypes the CPU
//! kernels in [`super::cpu`] do not cover).
//!
//! It computes exactly candle's `Tensor::conv2d` (same kernels, same result bits) but records a
//! custom autograd node. Its backward pass differs from candle's in one place: the gradient with
//! respect to the input of a stride-1 convolution is computed as a convolution of the output
//! gradient with the spatially flipped, channel-transposed kernel,
//! `dX = conv2d(dY, flip(W).transpose(0, 1), padding = k - 1 - p)`, instead of candle's
//! `conv_transpose2d`. The weight gradient is candle's formula (a convolution of the input with
//! the output gradient); strided convolutions keep candle's `conv_transpose2d` for the input
//! gradient, as do paddings larger than `dilation * (k - 1)`.
//!
//! Every gradient is built from differentiable tensor operations (the backward convolutions go
//! through this same op), so second derivatives work.
//!
//! The op's forward pass runs candle's own convolution (CPU or CUDA) on the detached inputs and
//! hands its output to the autograd node, at the cost of one copy of the output: candle's
//! `ParamsConv2D` cannot be built outside candle, so a [`CustomOp2`]'s `cpu_fwd`/`cuda_fwd`
//! cannot call the backend convolution directly.

use candle_core::{CpuStorage, CudaStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use std::sync::Mutex;

/// `x.conv2d(w, padding, stride, 1, 1)` with the custom backward described above.
pub(crate) fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
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
