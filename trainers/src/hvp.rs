//! Exact Hessian-vector products of a network's loss by double backpropagation.
//!
//! [`HessianOperator`] turns a list of candle [`Var`]s (the trainable parameters, in a fixed
//! order) and a loss closure over a **fixed** set of batches into an
//! [`anodiff_core::lanczos::LinearOperator`] on the flat parameter vector, so that
//! [`anodiff_core::lanczos::Lanczos`], [`anodiff_core::lanczos::PowerIteration`] and the trace
//! estimators can run on a network exactly as on a dense matrix.
//!
//! # Double backpropagation in candle needs an environment variable
//!
//! candle 0.11 detaches every intermediate gradient during `backward()` unless the environment
//! variable `CANDLE_GRAD_DO_NOT_DETACH` is set to a non-empty value other than `0`. Without it a
//! second backward pass through a gradient **silently** returns wrong (typically partial or zero)
//! second derivatives. candle reads the variable **once per thread**, at that thread's first
//! backward pass, and caches it.
//!
//! This module never sets the variable itself: changing the environment of a running,
//! multi-threaded process is unsound (`std::env::set_var` is `unsafe` in edition 2024). Instead
//! [`HessianOperator::new`] and every product **refuse to run** with a clear error when double
//! backpropagation is not in effect on the calling thread ([`check_double_backward`] evaluates a
//! tiny probe whose second derivative is known). Set the variable before the process starts
//! (`CANDLE_GRAD_DO_NOT_DETACH=1 my-program`) or at the very start of `main`, before any thread
//! runs candle code; `anodiff hessian` sets it first thing in its subcommand, while the process
//! is still single-threaded and before any candle work. (The variable also makes ordinary
//! training keep gradient graphs alive, so other subcommands leave it alone.)

use crate::data::{make_batch, Dataset};
use crate::model::{loss, LossKind, Network};
use crate::{Error, Result};
use anodiff_core::lanczos::LinearOperator;
use candle_core::{DType, Device, Tensor, Var};

/// The environment variable that makes candle keep the graph of gradients (see the module docs).
pub const DOUBLE_BACKWARD_ENV: &str = "CANDLE_GRAD_DO_NOT_DETACH";

/// Whether [`DOUBLE_BACKWARD_ENV`] is set the way candle reads it: non-empty and not `0`.
///
/// This only says what a thread *starting now* would cache; [`check_double_backward`] tests the
/// calling thread itself.
pub fn double_backward_env_set() -> bool {
    matches!(std::env::var(DOUBLE_BACKWARD_ENV), Ok(s) if !s.is_empty() && s != "0")
}

/// Checks that exact second derivatives work on the calling thread.
///
/// Differentiates `L(w) = exp(2 w)` twice at `w = 0` (exact `L'' = 4`): with gradients detached
/// the second backward pass sees no path to `w` and the probe fails.
///
/// # Errors
///
/// [`Error::InvalidParameter`] naming `CANDLE_GRAD_DO_NOT_DETACH` when the variable is unset, or
/// when this thread ran a backward pass before it was set (candle cached "detach").
///
/// # Examples
///
/// ```
/// // Whether it succeeds depends on the environment the doctest runs in; it never panics.
/// let ok = anodiff_trainers::hvp::check_double_backward().is_ok();
/// assert_eq!(ok, ok);
/// ```
pub fn check_double_backward() -> Result<()> {
    if !double_backward_env_set() {
        return Err(Error::param(
            "CANDLE_GRAD_DO_NOT_DETACH",
            "exact Hessian-vector products need the environment variable \
             CANDLE_GRAD_DO_NOT_DETACH=1, set before the process's first backward pass \
             (without it candle silently returns wrong second derivatives)",
        ));
    }
    let second = probe_second_derivative()?;
    if (second - 4.0).abs() > 1e-12 {
        return Err(Error::param(
            "CANDLE_GRAD_DO_NOT_DETACH",
            format!(
                "the variable is set but this thread ran a backward pass before it was \
                 (candle reads it once per thread): a probe second derivative came out {second} \
                 instead of 4; set CANDLE_GRAD_DO_NOT_DETACH=1 before the process starts"
            ),
        ));
    }
    Ok(())
}

fn probe_second_derivative() -> Result<f64> {
    let w = Var::new(&[0.0f64], &Device::Cpu)?;
    let loss = w.affine(2.0, 0.0)?.exp()?.sum_all()?;
    let grads = loss.backward()?;
    let Some(g) = grads.get(&w) else {
        return Ok(0.0);
    };
    let second = g.sum_all()?.backward()?;
    match second.get(&w) {
        Some(h) => Ok(h.sum_all()?.to_scalar::<f64>()?),
        None => Ok(0.0),
    }
}

/// The Hessian of `L(theta) = sum_b c_b L_b(theta)` over a fixed set of batches, applied to vectors
/// of the flat parameter space by exact double backpropagation.
///
/// `theta` is the concatenation of the flattened [`Var`]s in the order given to
/// [`HessianOperator::new`]; `L_b` is what the loss closure returns for batch `b` (a scalar
/// tensor); the weights `c_b` default to `1 / n_batches` (the mean over equal batches) and can
/// be set with [`HessianOperator::with_batch_weights`] (e.g. `n_b / N` for unequal batches). The
/// closure must be deterministic (same batches, eval-mode batch norm, no dropout), so that the
/// operator is the same on every product, as Krylov solvers require.
///
/// Each product costs a backward pass per batch and a second one through the gradient graph of
/// `g . v`: measured about 3.3 gradient evaluations (forward + backward) on the small CNN and a
/// ResNet-8 on 8x8 digits at batch 128 in f64, and 1.9-2.6 with
/// [`HessianOperator::with_cached_gradients`], which skips the first pass after the first product.
/// Products are computed in the parameters' dtype and accumulated in f64. Without the cache the
/// operator reads the [`Var`]s' current values on every product, so it
/// follows [`Var::set`] calls made between products.
///
/// # Examples
///
/// ```
/// // Each doctest is its own single-threaded process, so setting the variable here, before any
/// // backward pass, is sound; a real program sets it at the start of `main` or outside.
/// std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
/// use anodiff_core::lanczos::{Lanczos, LinearOperator};
/// use anodiff_trainers::hvp::HessianOperator;
/// use candle_core::{Device, Tensor, Var};
///
/// // L(w) = sum_i a_i w_i^2 / 2 + w_0 w_1 has the Hessian [[a_0, 1, 0], [1, a_1, 0], [0, 0, a_2]].
/// let w = Var::new(&[1.0f64, -1.0, 0.5], &Device::Cpu).unwrap();
/// let a = Tensor::new(&[2.0f64, 3.0, 5.0], &Device::Cpu).unwrap();
/// let op = HessianOperator::new(vec![w.clone()], 1, |_| {
///     let quad = ((w.sqr()? * &a)?.sum_all()? * 0.5)?;
///     quad + (w.narrow(0, 0, 1)? * w.narrow(0, 1, 1)?)?.sum_all()?
/// })
/// .unwrap();
/// let mut out = [0.0; 3];
/// op.apply(&[1.0, 0.0, 0.0], &mut out).unwrap();
/// assert_eq!(out, [2.0, 1.0, 0.0]);
/// let top = Lanczos::new(1).unwrap().run(&op).unwrap();
/// assert!((top.eigenvalues[0] - 5.0).abs() < 1e-8);
/// ```
pub struct HessianOperator<F> {
    params: Vec<Var>,
    offsets: Vec<usize>,
    dim: usize,
    weights: Vec<f64>,
    loss: F,
    /// Per batch, the parameters' gradients with their graphs, when caching is on.
    cache: Option<std::sync::Mutex<Vec<Option<BatchGrads>>>>,
}

/// One batch's gradient per parameter (`None`: not reached by the loss), graphs attached.
type BatchGrads = Vec<Option<Tensor>>;

impl<F> std::fmt::Debug for HessianOperator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HessianOperator")
            .field("dim", &self.dim)
            .field("params", &self.params.len())
            .field("weights", &self.weights)
            .finish()
    }
}

impl<F> HessianOperator<F>
where
    F: Fn(usize) -> candle_core::Result<Tensor> + Sync,
{
    /// The Hessian with respect to `params` of the mean of `loss(b)` over `b = 0..n_batches`.
    ///
    /// # Errors
    ///
    /// No parameters, a parameter that is not a floating-point tensor, `n_batches = 0`, or double
    /// backpropagation not in effect on this thread (see [`check_double_backward`]).
    pub fn new(params: Vec<Var>, n_batches: usize, loss: F) -> Result<Self> {
        check_double_backward()?;
        if params.is_empty() {
            return Err(Error::param("params", "need at least one parameter tensor"));
        }
        if n_batches == 0 {
            return Err(Error::param("batches", "need at least one batch"));
        }
        let mut offsets = Vec::with_capacity(params.len());
        let mut dim = 0;
        for (i, p) in params.iter().enumerate() {
            if !p.dtype().is_float() {
                return Err(Error::param(
                    "params",
                    format!("parameter {i} has dtype {:?}; only floats", p.dtype()),
                ));
            }
            offsets.push(dim);
            dim += p.elem_count();
        }
        if dim == 0 {
            return Err(Error::param("params", "the parameters have no elements"));
        }
        Ok(HessianOperator {
            params,
            offsets,
            dim,
            weights: vec![1.0 / n_batches as f64; n_batches],
            loss,
            cache: None,
        })
    }

    /// Replaces the batch weights `c_b` (one per batch, finite and >= 0, not all zero; they are
    /// used as given, not normalised).
    ///
    /// # Errors
    ///
    /// A length other than the number of batches, or a negative, NaN or infinite weight, or all
    /// zero.
    pub fn with_batch_weights(mut self, weights: Vec<f64>) -> Result<Self> {
        if weights.len() != self.weights.len() {
            return Err(Error::param(
                "batch_weights",
                format!(
                    "need one weight per batch ({}), got {}",
                    self.weights.len(),
                    weights.len()
                ),
            ));
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().all(|w| *w == 0.0) {
            return Err(Error::param(
                "batch_weights",
                "weights must be finite, >= 0 and not all zero",
            ));
        }
        self.weights = weights;
        Ok(self)
    }

    /// Keeps each batch's gradient graph after its first product, so that later products need
    /// only the second backward pass (about 40 % fewer operations per product), at the cost of
    /// holding one training step's worth of activations per batch in memory.
    ///
    /// The cached graphs belong to the parameter values at the first product: after changing the
    /// parameters (e.g. [`Var::set`]), call [`HessianOperator::clear_cache`].
    pub fn with_cached_gradients(mut self) -> Self {
        self.cache = Some(std::sync::Mutex::new(vec![None; self.weights.len()]));
        self
    }

    /// Drops the cached gradient graphs (see [`HessianOperator::with_cached_gradients`]).
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.cache {
            let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
            guard.iter_mut().for_each(|g| *g = None);
        }
    }

    /// Batch `b`'s gradients with their graphs, from the cache when there is one.
    fn batch_grads(&self, b: usize) -> Result<BatchGrads> {
        if let Some(cache) = &self.cache {
            let guard = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(g) = &guard[b] {
                return Ok(g.clone());
            }
        }
        let grads = self.batch_loss(b)?.backward()?;
        let per_param: BatchGrads = self.params.iter().map(|p| grads.get(p).cloned()).collect();
        if let Some(cache) = &self.cache {
            cache.lock().unwrap_or_else(|e| e.into_inner())[b] = Some(per_param.clone());
        }
        Ok(per_param)
    }

    /// The number of batches.
    pub fn n_batches(&self) -> usize {
        self.weights.len()
    }

    /// The parameters, in flat-vector order.
    pub fn params(&self) -> &[Var] {
        &self.params
    }

    /// `L(theta) = sum_b c_b L_b(theta)` at the current parameters.
    ///
    /// # Errors
    ///
    /// A failing or non-scalar loss closure, or a NaN/infinite loss.
    pub fn loss(&self) -> Result<f64> {
        let mut total = 0.0;
        for (b, c) in self.weights.iter().enumerate() {
            if *c == 0.0 {
                continue;
            }
            total += c * self
                .batch_loss(b)?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
        check_finite_value(total, "loss")?;
        Ok(total)
    }

    /// The gradient `sum_b c_b grad L_b` as a flat f64 vector (parameters without a gradient,
    /// i.e. not reached by the loss, give zeros).
    ///
    /// # Errors
    ///
    /// As [`HessianOperator::loss`].
    pub fn gradient(&self) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.dim];
        for (b, c) in self.weights.iter().enumerate() {
            if *c == 0.0 {
                continue;
            }
            let grads = self.batch_loss(b)?.backward()?;
            self.accumulate(&grads, *c, &mut out)?;
        }
        check_finite_slice(&out, "gradient")?;
        Ok(out)
    }

    /// Writes `H v` into `out` (both of length [`LinearOperator::dim`]).
    ///
    /// # Errors
    ///
    /// Wrong lengths, a NaN/infinite entry of `v`, double backpropagation not in effect on this
    /// thread, a failing loss closure, or a NaN/infinite product.
    pub fn hvp(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        if v.len() != self.dim || out.len() != self.dim {
            return Err(Error::param(
                "v",
                format!(
                    "the operator has dimension {}, got vectors of length {} and {}",
                    self.dim,
                    v.len(),
                    out.len()
                ),
            ));
        }
        check_finite_slice(v, "input vector")?;
        // The thread may differ from the constructor's, and candle caches the flag per thread.
        check_double_backward()?;
        out.fill(0.0);
        let vs = self.split(v)?;
        for (b, c) in self.weights.iter().enumerate() {
            if *c == 0.0 {
                continue;
            }
            let grads = self.batch_grads(b)?;
            let mut gv: Option<Tensor> = None;
            for (g, vp) in grads.iter().zip(&vs) {
                if let Some(g) = g {
                    let term = (g * vp)?.sum_all()?;
                    gv = Some(match gv {
                        Some(acc) => (acc + term)?,
                        None => term,
                    });
                }
            }
            // No parameter reached by the loss: this batch's Hessian is zero.
            let Some(gv) = gv else { continue };
            let second = gv.backward()?;
            self.accumulate(&second, *c, out)?;
        }
        check_finite_slice(out, "Hessian-vector product")?;
        Ok(())
    }

    fn batch_loss(&self, b: usize) -> Result<Tensor> {
        let loss = (self.loss)(b)?;
        if loss.elem_count() != 1 {
            return Err(Error::param(
                "loss",
                format!(
                    "the loss closure must return a scalar, got shape {:?} for batch {b}",
                    loss.dims()
                ),
            ));
        }
        Ok(loss.flatten_all()?.sum_all()?)
    }

    /// `v` cut into one constant tensor per parameter (shape and dtype of the parameter).
    fn split(&self, v: &[f64]) -> Result<Vec<Tensor>> {
        self.params
            .iter()
            .zip(&self.offsets)
            .map(|(p, &off)| {
                let t = Tensor::from_slice(&v[off..off + p.elem_count()], p.shape(), p.device())?;
                Ok(t.to_dtype(p.dtype())?)
            })
            .collect()
    }

    fn accumulate(
        &self,
        grads: &candle_core::backprop::GradStore,
        c: f64,
        out: &mut [f64],
    ) -> Result<()> {
        for (p, &off) in self.params.iter().zip(&self.offsets) {
            if let Some(g) = grads.get(p) {
                let g = g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
                for (o, x) in out[off..off + g.len()].iter_mut().zip(&g) {
                    *o += c * x;
                }
            }
        }
        Ok(())
    }
}

impl<F> LinearOperator for HessianOperator<F>
where
    F: Fn(usize) -> candle_core::Result<Tensor> + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }

    fn apply(&self, v: &[f64], out: &mut [f64]) -> anodiff_core::Result<()> {
        self.hvp(v, out).map_err(|e| match e {
            Error::Core(inner) => inner,
            other => anodiff_core::Error::InvalidData(format!("Hessian-vector product: {other}")),
        })
    }
}

/// Fixed labelled batches held as tensors, for operators and surfaces whose data must not change
/// between evaluations.
#[derive(Debug, Clone)]
pub struct FixedBatches {
    batches: Vec<(Tensor, Tensor)>,
    sizes: Vec<usize>,
}

impl FixedBatches {
    /// The images of `ds` at `indices`, in that order, cut into batches of at most `batch_size`
    /// (the last one may be smaller), without augmentation: images as `dtype` NCHW tensors,
    /// labels as `U32`.
    ///
    /// # Errors
    ///
    /// No indices, `batch_size = 0`, an index out of range, or a candle error.
    pub fn from_dataset(
        ds: &Dataset,
        indices: &[usize],
        batch_size: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::param("examples", "need at least one example"));
        }
        if batch_size == 0 {
            return Err(Error::param("batch-size", "must be at least 1"));
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= ds.len()) {
            return Err(Error::param(
                "examples",
                format!("index {i} is out of range for {} examples", ds.len()),
            ));
        }
        let mut batches = Vec::new();
        let mut sizes = Vec::new();
        for chunk in indices.chunks(batch_size) {
            let b = make_batch(ds, chunk, None, 0, 0);
            let x = Tensor::from_vec(b.images, b.shape.to_vec(), device)?.to_dtype(dtype)?;
            let labels: Vec<u32> = b.labels.iter().map(|&l| u32::from(l)).collect();
            let y = Tensor::from_vec(labels, chunk.len(), device)?;
            batches.push((x, y));
            sizes.push(chunk.len());
        }
        Ok(FixedBatches { batches, sizes })
    }

    /// Number of batches.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether there are no batches (never true for a constructed value).
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Total number of examples.
    pub fn examples(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// Examples per batch.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Batch `b` as `(images, labels)`.
    ///
    /// # Panics
    ///
    /// When `b >= len()`.
    pub fn get(&self, b: usize) -> &(Tensor, Tensor) {
        &self.batches[b]
    }

    /// The weight `n_b / N` of each batch, so that weighted means are means over all examples.
    pub fn weights(&self) -> Vec<f64> {
        let n = self.examples() as f64;
        self.sizes.iter().map(|&s| s as f64 / n).collect()
    }
}

/// The Hessian of `net`'s mean loss over every example of `data` with respect to
/// [`Network::trainable`] (in its flat order), in **eval mode**: batch norm uses its running
/// statistics, so the loss of each example does not depend on the others and the operator is
/// fixed.
///
/// # Errors
///
/// As [`HessianOperator::new`].
pub fn network_hessian<'a>(
    net: &'a Network,
    data: &'a FixedBatches,
    kind: LossKind,
) -> Result<HessianOperator<impl Fn(usize) -> candle_core::Result<Tensor> + Sync + 'a>> {
    let params = net.trainable().iter().map(|(_, v)| v.clone()).collect();
    let classes = net.num_classes();
    let op = HessianOperator::new(params, data.len(), move |b| {
        let (x, y) = data.get(b);
        loss(&net.forward(x, false)?, y, kind, classes)
    })?;
    op.with_batch_weights(data.weights())
}

fn check_finite_value(x: f64, what: &str) -> Result<()> {
    if !x.is_finite() {
        return Err(Error::param("loss", format!("the {what} is {x}")));
    }
    Ok(())
}

fn check_finite_slice(xs: &[f64], what: &str) -> Result<()> {
    if let Some(i) = xs.iter().position(|x| !x.is_finite()) {
        let name = if what == "input vector" { "v" } else { "loss" };
        return Err(Error::param(
            name,
            format!("the {what} has a non-finite entry {} at index {i}", xs[i]),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_without_double_backward() {
        // The unit-test binary never sets the variable (trainers/tests/hessian.rs does, in its own
        // process), so construction must fail with a message naming it.
        if double_backward_env_set() {
            return;
        }
        let w = Var::new(&[1.0f64], &Device::Cpu).unwrap();
        let err = HessianOperator::new(vec![w.clone()], 1, |_| w.sqr()?.sum_all()).unwrap_err();
        assert!(
            err.to_string().contains("CANDLE_GRAD_DO_NOT_DETACH=1"),
            "{err}"
        );
    }
}
