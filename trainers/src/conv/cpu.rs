//! CPU convolution kernels (f32 and f64) on the `gemm` crate, with rayon over images, as three
//! mutually-differentiating candle [`CustomOp2`]s.
//!
//! For one image `n`, with `K = C_in k_h k_w` and `P = H_out W_out`:
//!
//! - forward: `cols_n = im2col(x_n)` (K x P), `y_n = W cols_n` (C_out x P), written in place in
//!   the NCHW output (no transposing copy); a 1x1 stride-1 unpadded convolution uses `x_n` as
//!   `cols_n` directly;
//! - input gradient: `dcols_n = W^T dy_n`, then `dx_n = col2im(dcols_n)`;
//! - weight gradient: `dW = sum_n dy_n cols_n^T`.
//!
//! **Determinism.** Every matrix product runs single-threaded (`Parallelism::None`) inside our
//! own rayon loop over images, so no reduction is ever split by thread. The forward pass and the
//! input gradient have no reduction across images. The weight gradient sums over images in fixed
//! chunks of [`WEIGHT_GRAD_CHUNK`] consecutive images (one partial sum per chunk, the images of a
//! chunk accumulated in order), then adds the partial sums in chunk order: the result depends on
//! the batch size only, never on the number of threads.
//!
//! **Second derivatives.** The three maps `F(x, W) = y`, `Gx(dy, W) = dx` and `Gw(x, dy) = dW`
//! are bilinear and adjoint to each other: `<dy, F(x, W)> = <Gx(dy, W), x> = <Gw(x, dy), W>`. So
//! each one's backward pass is made of the other two (or itself), applied to tracked tensors,
//! and the graph can be differentiated again (double backprop for Hessian-vector products):
//!
//! | op | gradient w.r.t. first argument | gradient w.r.t. second argument |
//! |---|---|---|
//! | `F(x, W)`, upstream `g` | `Gx(g, W)` | `Gw(x, g)` |
//! | `Gx(dy, W)`, upstream `g` | `F(g, W)` | `Gw(g, dy)` |
//! | `Gw(x, dy)`, upstream `g` | `Gx(dy, g)` | `F(x, g)` |

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

/// Images per partial sum of the weight gradient. Fixed (not derived from the thread count) so
/// that the summation order, hence every bit of the result, is the same on any number of threads;
/// 8 gives 16 independent chunks at batch 128, enough to keep a few cores busy.
pub(crate) const WEIGHT_GRAD_CHUNK: usize = 8;

/// Geometry of one convolution: input (n, c, h, w), kernel (o, c, kh, kw), output (n, o, ho, wo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    padding: usize,
    ho: usize,
    wo: usize,
}

impl Dims {
    /// Checks the shapes of `x` (n, c, h, w) and `w` (o, c, kh, kw) against `stride`/`padding`.
    pub(crate) fn new(x: &[usize], w: &[usize], stride: usize, padding: usize) -> Result<Self> {
        let (&[n, c, h, wd], &[o, cw, kh, kw]) = (x, w) else {
            bail!("conv2d: expected 4-D input and kernel, got {x:?} and {w:?}");
        };
        if c != cw {
            bail!("conv2d: input has {c} channels, kernel expects {cw} ({x:?} vs {w:?})");
        }
        if stride == 0 {
            bail!("conv2d: stride must be at least 1");
        }
        if kh == 0 || kw == 0 || kh > h + 2 * padding || kw > wd + 2 * padding {
            bail!("conv2d: kernel {kh}x{kw} does not fit the padded input {h}x{wd} (padding {padding})");
        }
        Ok(Self {
            n,
            c,
            h,
            w: wd,
            o,
            kh,
            kw,
            stride,
            padding,
            ho: (h + 2 * padding - kh) / stride + 1,
            wo: (wd + 2 * padding - kw) / stride + 1,
        })
    }

    pub(crate) fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    pub(crate) fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c, self.kh, self.kw]
    }

    pub(crate) fn y_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.ho, self.wo]
    }

    /// Rows of the unfolded input: `c kh kw`.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output pixels per image.
    fn p(&self) -> usize {
        self.ho * self.wo
    }

    fn x_image(&self) -> usize {
        self.c * self.h * self.w
    }

    fn y_image(&self) -> usize {
        self.o * self.p()
    }

    /// A 1x1, stride-1, unpadded convolution: the unfolded input is the input itself.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.padding == 0
    }

    /// Output positions `o` along one axis whose input index `o s + j - p` lies in `[0, n_in)`,
    /// as a half-open range.
    fn valid(&self, n_out: usize, n_in: usize, j: usize) -> (usize, usize) {
        let (s, p) = (self.stride, self.padding);
        let lo = if p > j { (p - j).div_ceil(s) } else { 0 };
        let hi = if n_in + p > j {
            ((n_in + p - j - 1) / s + 1).min(n_out)
        } else {
            0
        };
        (lo.min(hi), hi)
    }
}

/// The element types the kernels run on.
pub(crate) trait Elem: Copy + Send + Sync + 'static + std::ops::AddAssign {
    const ZERO: Self;
    const ONE: Self;
}

impl Elem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Elem for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// A read-only strided matrix view: element (i, j) at `data[i rs + j cs]`.
#[derive(Clone, Copy)]
struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T> Mat<'a, T> {
    fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Index one past the last element the view reaches.
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
        }
    }
}

/// `dst (row-major, a.rows x b.cols) = a b`, or `+= a b` when `accumulate`; single-threaded.
fn matmul<T: Elem>(dst: &mut [T], a: Mat<'_, T>, b: Mat<'_, T>, accumulate: bool) {
    let n = b.cols;
    gemm_into(dst, (n, 1), a, b, accumulate);
}

/// `dst (column-major, a.rows x b.cols: element (i, j) at dst[j a.rows + i]) = a b`, or `+=`.
///
/// For the weight gradient `dW = dy cols^T` both operands are contiguous along the reduction,
/// and with a row-major destination gemm would transpose the problem and then repack all of
/// `cols` (K x P, read with stride P) for every image: about 9 % of a ResNet CPU step with
/// 8-lane kernels and 29 % with AVX-512's 64-row panels. With a column-major destination `cols`
/// is read in place as the right-hand side and only the small `dy` is packed.
fn matmul_col_major_dst<T: Elem>(dst: &mut [T], a: Mat<'_, T>, b: Mat<'_, T>, accumulate: bool) {
    let m = a.rows;
    gemm_into(dst, (1, m), a, b, accumulate);
}

/// `dst = a b` (or `+=`), single-threaded, with the destination's element (i, j) at
/// `dst[i rs + j cs]` for `(rs, cs) = dst_strides`.
fn gemm_into<T: Elem>(
    dst: &mut [T],
    (dst_rs, dst_cs): (usize, usize),
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k, "matmul: inner dimensions {k} and {}", b.rows);
    assert!(dst.len() >= m * n && a.data.len() >= a.extent() && b.data.len() >= b.extent());
    // Both callers pass a dense layout (row- or column-major), so m n entries cover every index.
    assert!((dst_rs, dst_cs) == (n, 1) || (dst_rs, dst_cs) == (1, m));
    if m == 0 || n == 0 {
        return;
    }
    let alpha = if accumulate { T::ONE } else { T::ZERO };
    // SAFETY: the asserts above keep every index gemm touches, (i rs + j cs) for i < rows and
    // j < cols of each operand and of the dense destination, inside its slice; `dst` is
    // exclusively borrowed and does not alias the shared operands. gemm computes
    // dst = alpha dst + beta lhs rhs (dst read only when `read_dst`), and supports f32 and f64,
    // the only `Elem` types.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            alpha,
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Unfolds one image `x` (c, h, w) into `cols` (c kh kw, ho wo); out-of-image taps are zero.
fn im2col<T: Elem>(d: &Dims, x: &[T], cols: &mut [T]) {
    if d.stride == 1 && d.ho == d.h && d.wo == d.w {
        im2col_same(d, x, cols)
    } else {
        im2col_rows(d, x, cols)
    }
}

/// [`im2col`] one image row at a time: any stride and padding.
fn im2col_rows<T: Elem>(d: &Dims, x: &[T], cols: &mut [T]) {
    let p = d.p();
    for ci in 0..d.c {
        let xc = &x[ci * d.h * d.w..(ci + 1) * d.h * d.w];
        for i in 0..d.kh {
            let (oy0, oy1) = d.valid(d.ho, d.h, i);
            for j in 0..d.kw {
                let row = &mut cols[((ci * d.kh + i) * d.kw + j) * p..][..p];
                let (ox0, ox1) = d.valid(d.wo, d.w, j);
                row[..oy0 * d.wo].fill(T::ZERO);
                row[oy1 * d.wo..].fill(T::ZERO);
                for oy in oy0..oy1 {
                    let iy = oy * d.stride + i - d.padding;
                    let xr = &xc[iy * d.w..(iy + 1) * d.w];
                    let out = &mut row[oy * d.wo..(oy + 1) * d.wo];
                    out[..ox0].fill(T::ZERO);
                    out[ox1..].fill(T::ZERO);
                    if d.stride == 1 {
                        let ix0 = ox0 + j - d.padding;
                        out[ox0..ox1].copy_from_slice(&xr[ix0..ix0 + (ox1 - ox0)]);
                    } else {
                        for (ox, v) in out[ox0..ox1].iter_mut().enumerate() {
                            *v = xr[(ox + ox0) * d.stride + j - d.padding];
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col`] for a stride-1 "same" convolution (output as large as the input). Then every row
/// of `cols` is the channel image shifted by one offset, `cols[q] = x[q + (i - pad) w + (j -
/// pad)]`, except in the columns (and rows) where the tap falls outside the image: one long copy
/// per row and a few zeroed edge entries, instead of one short copy per image row (which spent
/// most of its time in `memmove` call overhead for 32-float rows).
fn im2col_same<T: Elem>(d: &Dims, x: &[T], cols: &mut [T]) {
    let (p, hw, w) = (d.p(), d.h * d.w, d.w as isize);
    for ci in 0..d.c {
        let xc = &x[ci * hw..(ci + 1) * hw];
        for i in 0..d.kh {
            let (oy0, oy1) = d.valid(d.ho, d.h, i);
            for j in 0..d.kw {
                let row = &mut cols[((ci * d.kh + i) * d.kw + j) * p..][..p];
                let (ox0, ox1) = d.valid(d.wo, d.w, j);
                let off = (i as isize - d.padding as isize) * w + j as isize - d.padding as isize;
                let (q0, q1) = (oy0 * d.wo, oy1 * d.wo);
                // Clamp to the image's storage; the entries cut off lie in invalid columns,
                // which are zeroed below anyway.
                let lo = q0.max((-off).max(0) as usize).min(q1);
                let hi = q1.min((hw as isize - off).max(0) as usize).max(lo);
                row[..lo].fill(T::ZERO);
                row[hi..].fill(T::ZERO);
                if hi > lo {
                    let src = (lo as isize + off) as usize;
                    row[lo..hi].copy_from_slice(&xc[src..src + (hi - lo)]);
                }
                if ox0 > 0 || ox1 < d.wo {
                    for oy in oy0..oy1 {
                        row[oy * d.wo..oy * d.wo + ox0].fill(T::ZERO);
                        row[oy * d.wo + ox1..(oy + 1) * d.wo].fill(T::ZERO);
                    }
                }
            }
        }
    }
}

/// Adds the unfolded `cols` (c kh kw, ho wo) back into one image `x` (c, h, w): the adjoint of
/// [`im2col`]. The order of the additions is fixed.
/// [`col2im`] compiled with AVX2 and FMA where the CPU has them (see `crate::simd`).
fn col2im_fast<T: Elem>(d: &Dims, cols: &[T], x: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn run<T: Elem>(d: &Dims, cols: &[T], x: &mut [T]) {
            col2im(d, cols, x)
        }
        if crate::simd::has_avx2() {
            // SAFETY: the CPU supports the features `run` is compiled with.
            return unsafe { run(d, cols, x) };
        }
    }
    col2im(d, cols, x)
}

#[inline(always)]
fn col2im<T: Elem>(d: &Dims, cols: &[T], x: &mut [T]) {
    let p = d.p();
    for ci in 0..d.c {
        let xc = &mut x[ci * d.h * d.w..(ci + 1) * d.h * d.w];
        for i in 0..d.kh {
            let (oy0, oy1) = d.valid(d.ho, d.h, i);
            for j in 0..d.kw {
                let row = &cols[((ci * d.kh + i) * d.kw + j) * p..][..p];
                let (ox0, ox1) = d.valid(d.wo, d.w, j);
                for oy in oy0..oy1 {
                    let iy = oy * d.stride + i - d.padding;
                    let xr = &mut xc[iy * d.w..(iy + 1) * d.w];
                    let src = &row[oy * d.wo + ox0..oy * d.wo + ox1];
                    if d.stride == 1 {
                        let ix0 = ox0 + j - d.padding;
                        for (v, s) in xr[ix0..ix0 + src.len()].iter_mut().zip(src) {
                            *v += *s;
                        }
                    } else {
                        for (ox, s) in src.iter().enumerate() {
                            xr[(ox + ox0) * d.stride + j - d.padding] += *s;
                        }
                    }
                }
            }
        }
    }
}

/// `y = conv(x, w)`: x (n, c, h, w), w (o, c, kh, kw), y (n, o, ho, wo), all contiguous.
pub(crate) fn forward<T: Elem>(d: &Dims, x: &[T], w: &[T]) -> Vec<T> {
    let (k, p) = (d.k(), d.p());
    let wm = Mat::row_major(w, d.o, k);
    let mut y = vec![T::ZERO; d.n * d.y_image()];
    let scratch = if d.pointwise() { 0 } else { k * p };
    y.par_chunks_mut(d.y_image().max(1))
        .zip(x.par_chunks(d.x_image().max(1)))
        .for_each_init(
            || vec![T::ZERO; scratch],
            |cols, (yn, xn)| {
                let rhs = if d.pointwise() {
                    xn
                } else {
                    im2col(d, xn, cols);
                    cols
                };
                matmul(yn, wm, Mat::row_major(rhs, k, p), false);
            },
        );
    y
}

/// `dx = Gx(dy, w)`, the input gradient: dy (n, o, ho, wo), w (o, c, kh, kw), dx (n, c, h, w).
pub(crate) fn input_grad<T: Elem>(d: &Dims, dy: &[T], w: &[T]) -> Vec<T> {
    let (k, p) = (d.k(), d.p());
    let wt = Mat::row_major(w, d.o, k).t();
    let mut dx = vec![T::ZERO; d.n * d.x_image()];
    let scratch = if d.pointwise() { 0 } else { k * p };
    dx.par_chunks_mut(d.x_image().max(1))
        .zip(dy.par_chunks(d.y_image().max(1)))
        .for_each_init(
            || vec![T::ZERO; scratch],
            |cols, (dxn, dyn_)| {
                let dyn_ = Mat::row_major(dyn_, d.o, p);
                if d.pointwise() {
                    matmul(dxn, wt, dyn_, false);
                } else {
                    matmul(cols, wt, dyn_, false);
                    col2im_fast(d, cols, dxn);
                }
            },
        );
    dx
}

/// `dw = Gw(x, dy) = sum_n dy_n cols_n^T`, the weight gradient: x (n, c, h, w),
/// dy (n, o, ho, wo), dw (o, c, kh, kw). See the module docs for the fixed summation order.
pub(crate) fn weight_grad<T: Elem>(d: &Dims, x: &[T], dy: &[T]) -> Vec<T> {
    let (k, p) = (d.k(), d.p());
    let (xi, yi) = (d.x_image().max(1), d.y_image().max(1));
    let partials: Vec<Vec<T>> = x
        .par_chunks(xi * WEIGHT_GRAD_CHUNK)
        .zip(dy.par_chunks(yi * WEIGHT_GRAD_CHUNK))
        .map(|(xs, dys)| {
            let mut dw = vec![T::ZERO; d.o * k];
            let mut cols = vec![T::ZERO; if d.pointwise() { 0 } else { k * p }];
            for (m, (xn, dyn_)) in xs.chunks(xi).zip(dys.chunks(yi)).enumerate() {
                let rhs = if d.pointwise() {
                    xn
                } else {
                    im2col(d, xn, &mut cols);
                    &cols
                };
                matmul_col_major_dst(
                    &mut dw,
                    Mat::row_major(dyn_, d.o, p),
                    Mat::row_major(rhs, k, p).t(),
                    m > 0,
                );
            }
            // `dw` holds dW^T (k x o, row-major); one small transpose per chunk.
            let mut out = vec![T::ZERO; d.o * k];
            for (r, row) in dw.chunks_exact(d.o).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    out[i * k + r] = v;
                }
            }
            out
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut dw = parts.next().unwrap_or_else(|| vec![T::ZERO; d.o * k]);
    for part in parts {
        for (a, b) in dw.iter_mut().zip(&part) {
            *a += *b;
        }
    }
    dw
}

/// Which of the three bilinear maps an op node computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `F(x, w) = y`.
    Forward,
    /// `Gx(dy, w) = dx`.
    InputGrad,
    /// `Gw(x, dy) = dw`.
    WeightGrad,
}

struct ConvOp {
    kind: Kind,
    dims: Dims,
}

impl ConvOp {
    /// Expected shapes of the two arguments and of the result.
    fn shapes(&self) -> ([usize; 4], [usize; 4], [usize; 4]) {
        let d = &self.dims;
        match self.kind {
            Kind::Forward => (d.x_shape(), d.w_shape(), d.y_shape()),
            Kind::InputGrad => (d.y_shape(), d.w_shape(), d.x_shape()),
            Kind::WeightGrad => (d.x_shape(), d.y_shape(), d.w_shape()),
        }
    }

    fn run<T: Elem>(&self, a: &[T], b: &[T]) -> Vec<T> {
        let d = &self.dims;
        match self.kind {
            Kind::Forward => forward(d, a, b),
            Kind::InputGrad => input_grad(d, a, b),
            Kind::WeightGrad => weight_grad(d, a, b),
        }
    }
}

/// Applies one of the maps to (contiguous copies of) `a` and `b`, recording the node for
/// autograd when either tracks gradients.
fn apply(kind: Kind, dims: Dims, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.contiguous()?
        .apply_op2(&b.contiguous()?, ConvOp { kind, dims })
}

fn slice<'a, T>(v: &'a [T], l: &Layout, what: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("conv2d: {what} is not contiguous"),
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Forward => "anodiff-conv2d",
            Kind::InputGrad => "anodiff-conv2d-input-grad",
            Kind::WeightGrad => "anodiff-conv2d-weight-grad",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (e1, e2, out) = self.shapes();
        if l1.dims() != e1 || l2.dims() != e2 {
            bail!(
                "{}: argument shapes {:?} and {:?}, expected {e1:?} and {e2:?}",
                self.name(),
                l1.dims(),
                l2.dims()
            );
        }
        let storage = match (s1, s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.run(slice(a, l1, "lhs")?, slice(b, l2, "rhs")?))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.run(slice(a, l1, "lhs")?, slice(b, l2, "rhs")?))
            }
            _ => bail!(
                "{}: needs two f32 or two f64 tensors, got {:?} and {:?}",
                self.name(),
                s1.dtype(),
                s2.dtype()
            ),
        };
        Ok((storage, Shape::from(out.to_vec())))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let d = self.dims;
        // An argument that tracks nothing (the network input) needs no gradient.
        let (ka, kb) = match self.kind {
            // y = F(x, w): dx = Gx(g, w), dw = Gw(x, g).
            Kind::Forward => ((Kind::InputGrad, g, b), (Kind::WeightGrad, a, g)),
            // dx = Gx(dy, w): d(dy) = F(g, w), dw = Gw(g, dy).
            Kind::InputGrad => ((Kind::Forward, g, b), (Kind::WeightGrad, g, a)),
            // dw = Gw(x, dy): dx = Gx(dy, g), d(dy) = F(x, g).
            Kind::WeightGrad => ((Kind::InputGrad, b, g), (Kind::Forward, a, g)),
        };
        let ga = if a.track_op() {
            Some(apply(ka.0, d, ka.1, ka.2)?)
        } else {
            None
        };
        let gb = if b.track_op() {
            Some(apply(kb.0, d, kb.1, kb.2)?)
        } else {
            None
        };
        Ok((ga, gb))
    }
}

/// `x.conv2d(w, padding, stride, 1, 1)` on the CPU kernels above (f32 or f64, CPU tensors).
pub(crate) fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let dims = Dims::new(x.dims(), w.dims(), stride, padding)?;
    apply(Kind::Forward, dims, x, w)
}

/// The input gradient `Gx(dy, w)` of `conv2d` for an input of shape `x_dims` (for tests).
#[cfg(test)]
pub(crate) fn conv2d_input_grad(
    dy: &Tensor,
    w: &Tensor,
    x_dims: &[usize],
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let dims = Dims::new(x_dims, w.dims(), stride, padding)?;
    apply(Kind::InputGrad, dims, dy, w)
}

/// The weight gradient `Gw(x, dy)` of `conv2d` for a kernel of shape `w_dims` (for tests).
#[cfg(test)]
pub(crate) fn conv2d_weight_grad(
    x: &Tensor,
    dy: &Tensor,
    w_dims: &[usize],
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let dims = Dims::new(x.dims(), w_dims, stride, padding)?;
    apply(Kind::WeightGrad, dims, x, dy)
}

#[cfg(test)]
mod im2col_tests {
    use super::*;

    /// The shifted-copy unfolding against the row-by-row one (exact: both only move values),
    /// for "same" convolutions of several kernel sizes on square, wide, tall and tiny images.
    #[test]
    fn same_padding_shortcut_matches_rows() {
        for &(c, h, w, k) in &[
            (2, 5, 5, 3),
            (3, 4, 7, 3),
            (1, 7, 3, 3),
            (2, 6, 6, 5),
            (1, 1, 1, 3),
            (2, 2, 3, 5),
            (3, 4, 4, 1),
        ] {
            let d = Dims::new(&[1, c, h, w], &[2, c, k, k], 1, k / 2).unwrap();
            assert!(d.ho == h && d.wo == w);
            let x: Vec<f64> = (0..c * h * w).map(|v| v as f64 + 1.0).collect();
            let mut a = vec![f64::NAN; d.k() * d.p()];
            let mut b = vec![f64::NAN; d.k() * d.p()];
            im2col_same(&d, &x, &mut a);
            im2col_rows(&d, &x, &mut b);
            assert_eq!(a, b, "c {c} h {h} w {w} k {k}");
        }
    }
}
