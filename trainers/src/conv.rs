//! 2-D convolution for the networks, fast on the CPU and differentiable twice.
//!
//! [`conv2d`] computes `x.conv2d(w, padding, stride, 1, 1)`. On the CPU, for f32 and f64, it runs
//! our own kernels (module `cpu`): per image an im2col unfolding and one single-threaded `gemm`
//! product written straight into the NCHW output, with rayon across images. The input gradient
//! is `W^T dY` folded back with col2im, the weight gradient `sum_n dY_n cols_n^T` summed over
//! fixed chunks of images in a fixed order, so results are bit-identical for any number of
//! threads. candle 0.11's CPU convolution instead runs its im2col and a layout copy largely on
//! one thread, computes the weight gradient as a convolution whose matrix products are only
//! `k_h k_w` rows tall, and the input gradient with a direct-loop `conv_transpose2d`.
//!
//! The forward map, the input gradient and the weight gradient are three bilinear ops, each
//! differentiated by the other two, so a second backward pass through a gradient (the exact
//! Hessian-vector products of [`crate::hvp`], with `CANDLE_GRAD_DO_NOT_DETACH=1`) works.
//!
//! On CUDA devices (and other dtypes) the op runs candle's own convolution kernels, with a
//! custom backward that replaces the stride-1 input gradient by a flipped-kernel convolution
//! (module `candle_backed`).

mod candle_backed;
pub(crate) mod cpu;

use candle_core::{DType, Result, Tensor};

/// `x` (N, C_in, H, W) convolved with `w` (C_out, C_in, k_h, k_w), no bias, symmetric zero
/// `padding`, `stride` in both directions. Output (N, C_out, H_out, W_out) with
/// `H_out = (H + 2 padding - k_h) / stride + 1`.
///
/// The values are those of `x.conv2d(w, padding, stride, 1, 1)` up to the summation order; the
/// op stays differentiable twice (see the [module docs](self)).
///
/// # Errors
/// Mismatched shapes (channels, a kernel larger than the padded input, stride 0), devices or
/// dtypes.
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
    let cpu_kernel = matches!(x.dtype(), DType::F32 | DType::F64)
        && x.dtype() == w.dtype()
        && x.device().is_cpu()
        && w.device().is_cpu();
    if cpu_kernel {
        cpu::conv2d(x, w, stride, padding)
    } else {
        candle_backed::conv2d(x, w, stride, padding)
    }
}

#[cfg(test)]
mod tests;
