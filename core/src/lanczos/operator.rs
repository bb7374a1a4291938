//! The [`LinearOperator`] trait and a few operators: dense matrices, diagonals and closures.

use crate::{Error, Result};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A real linear operator `x -> A x` on `R^n`, known only through its action on vectors.
///
/// This is the one thing the Lanczos solvers, [`crate::lanczos::PowerIteration`],
/// [`crate::lanczos::Slq`] and the trace estimators need, so that a Hessian-vector product of a
/// network (double backprop or finite differences) plugs in exactly as a dense matrix does. The
/// eigensolvers assume the operator is **symmetric** and **fixed** (the same `A` on every call:
/// a full dataset or one fixed batch, never a fresh minibatch per product); a Hessian-vector
/// product that draws new data per call makes every Krylov method meaningless.
///
/// `apply` may fail (a device error, a data loader error); the error is passed through unchanged
/// by every solver, which then stops.
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::LinearOperator;
///
/// /// The 1-D discrete Laplacian tridiag(-1, 2, -1), never stored.
/// struct Laplacian(usize);
///
/// impl LinearOperator for Laplacian {
///     fn dim(&self) -> usize {
///         self.0
///     }
///     fn apply(&self, v: &[f64], out: &mut [f64]) -> anodiff_core::Result<()> {
///         let n = self.0;
///         for i in 0..n {
///             let left = if i > 0 { v[i - 1] } else { 0.0 };
///             let right = if i + 1 < n { v[i + 1] } else { 0.0 };
///             out[i] = 2.0 * v[i] - left - right;
///         }
///         Ok(())
///     }
/// }
///
/// let op = Laplacian(50);
/// let check = op.check_symmetric(4, 1).unwrap();
/// assert!(check.relative_asymmetry < 1e-14);
/// ```
pub trait LinearOperator: Sync {
    /// The dimension `n` of the space the operator acts on.
    fn dim(&self) -> usize;

    /// Writes `A v` into `out`. Both slices have length [`LinearOperator::dim`].
    ///
    /// # Errors
    ///
    /// Whatever the underlying computation reports; solvers pass it through.
    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()>;

    /// Tests symmetry with `probes` pairs of seeded Gaussian vectors: for each pair `(x, y)` it
    /// compares `y^T A x` with `x^T A y`, which agree for every pair if and only if `A` is
    /// symmetric. Costs `2 * probes` applications.
    ///
    /// The returned [`SymmetryCheck::relative_asymmetry`] is
    /// `max |y^T A x - x^T A y| / (|x| |A x| + |y| |A y|)`: about 1e-16 for a symmetric operator in
    /// exact-arithmetic terms, around 1e-8 or larger for finite-difference Hessian products, and
    /// of order 1 for a genuinely non-symmetric one.
    ///
    /// # Errors
    ///
    /// `probes = 0`, an empty operator, a failing `apply` or a non-finite product.
    fn check_symmetric(&self, probes: usize, seed: u64) -> Result<SymmetryCheck> {
        let n = self.dim();
        if n == 0 {
            return Err(Error::InvalidData("the operator has dimension 0".into()));
        }
        if probes == 0 {
            return Err(Error::param("probes", "need at least one probe pair"));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut worst: f64 = 0.0;
        let mut x = vec![0.0; n];
        let mut y = vec![0.0; n];
        let mut ax = vec![0.0; n];
        let mut ay = vec![0.0; n];
        for _ in 0..probes {
            for (a, b) in x.iter_mut().zip(y.iter_mut()) {
                *a = StandardNormal.sample(&mut rng);
                *b = StandardNormal.sample(&mut rng);
            }
            self.apply(&x, &mut ax)?;
            self.apply(&y, &mut ay)?;
            check_finite(&ax, 0)?;
            check_finite(&ay, 0)?;
            let yax = dot(&y, &ax);
            let xay = dot(&x, &ay);
            let scale = norm(&x) * norm(&ax) + norm(&y) * norm(&ay);
            let rel = if scale > 0.0 {
                (yax - xay).abs() / scale
            } else {
                0.0
            };
            worst = worst.max(rel);
        }
        Ok(SymmetryCheck {
            relative_asymmetry: worst,
            probes,
        })
    }
}

impl<T: LinearOperator + ?Sized> LinearOperator for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        (**self).apply(v, out)
    }
}

/// The outcome of [`LinearOperator::check_symmetric`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymmetryCheck {
    /// Largest `|y^T A x - x^T A y| / (|x| |A x| + |y| |A y|)` over the probe pairs.
    pub relative_asymmetry: f64,
    /// Number of probe pairs used.
    pub probes: usize,
}

impl SymmetryCheck {
    /// Whether the measured asymmetry is at most `tol`.
    pub fn is_symmetric(&self, tol: f64) -> bool {
        self.relative_asymmetry <= tol
    }
}

/// A dense `n x n` matrix stored row-major, validated to be finite.
///
/// Symmetry is checked separately ([`DenseOperator::asymmetry`], [`DenseOperator::new_symmetric`])
/// because a general dense operator is also useful (for example to show that a solver rejects it).
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DenseOperator, LinearOperator};
///
/// let a = DenseOperator::new_symmetric(2, vec![2.0, 1.0, 1.0, 2.0], 1e-12).unwrap();
/// let mut out = [0.0; 2];
/// a.apply(&[1.0, 1.0], &mut out).unwrap();
/// assert_eq!(out, [3.0, 3.0]);
/// assert!(DenseOperator::new_symmetric(2, vec![2.0, 1.0, 0.0, 2.0], 1e-12).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct DenseOperator {
    n: usize,
    data: Vec<f64>,
}

impl DenseOperator {
    /// Wraps `data` (row-major, length `n * n`).
    ///
    /// # Errors
    ///
    /// `n = 0`, a length other than `n * n`, or a NaN/infinite entry (named by row and column).
    pub fn new(n: usize, data: Vec<f64>) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidData("the matrix is empty (0 x 0)".into()));
        }
        if data.len() != n * n {
            return Err(Error::Shape(format!(
                "a {n} x {n} matrix needs {} entries, got {}",
                n * n,
                data.len()
            )));
        }
        if let Some(pos) = data.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidData(format!(
                "matrix entry ({}, {}) is {} (entries must be finite)",
                pos / n,
                pos % n,
                data[pos]
            )));
        }
        Ok(DenseOperator { n, data })
    }

    /// Like [`DenseOperator::new`], and also requires symmetry:
    /// `max |a_ij - a_ji| <= tol * max |a_ij|` (see [`DenseOperator::asymmetry`]).
    ///
    /// # Errors
    ///
    /// Those of [`DenseOperator::new`], a `tol` that is negative or NaN, and a non-symmetric
    /// matrix (the message names the worst pair of entries and the tolerance).
    pub fn new_symmetric(n: usize, data: Vec<f64>, tol: f64) -> Result<Self> {
        if tol.is_nan() || tol < 0.0 {
            return Err(Error::param(
                "tol",
                format!("symmetry tolerance must be >= 0, got {tol}"),
            ));
        }
        let op = DenseOperator::new(n, data)?;
        let (rel, i, j) = op.asymmetry();
        if rel > tol {
            return Err(Error::InvalidData(format!(
                "the matrix is not symmetric: a[{i}][{j}] = {} but a[{j}][{i}] = {}, a relative \
                 difference of {rel:.3e} (max |a_ij - a_ji| / max |a_ij| must be <= {tol:.1e})",
                op.data[i * n + j],
                op.data[j * n + i]
            )));
        }
        Ok(op)
    }

    /// Copies an nalgebra matrix (which must be square and finite).
    ///
    /// # Errors
    ///
    /// As [`DenseOperator::new`], plus a non-square matrix.
    pub fn from_dmatrix(m: &DMatrix<f64>) -> Result<Self> {
        if m.nrows() != m.ncols() {
            return Err(Error::Shape(format!(
                "the matrix must be square, got {} x {}",
                m.nrows(),
                m.ncols()
            )));
        }
        // nalgebra is column-major; the transpose's storage is our row-major order.
        DenseOperator::new(m.nrows(), m.transpose().as_slice().to_vec())
    }

    /// The largest relative asymmetry `max |a_ij - a_ji| / max |a_ij|` and the `(i, j)` where it
    /// occurs (0 for the zero matrix).
    pub fn asymmetry(&self) -> (f64, usize, usize) {
        let n = self.n;
        let scale = self.data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let (mut worst, mut wi, mut wj) = (0.0f64, 0, 0);
        for i in 0..n {
            for j in (i + 1)..n {
                let d = (self.data[i * n + j] - self.data[j * n + i]).abs();
                if d > worst {
                    (worst, wi, wj) = (d, i, j);
                }
            }
        }
        let rel = if scale > 0.0 { worst / scale } else { 0.0 };
        (rel, wi, wj)
    }

    /// The entries, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The matrix as an nalgebra value (for a dense reference solve).
    pub fn to_dmatrix(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.n, self.n, &self.data)
    }
}

impl LinearOperator for DenseOperator {
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        check_len(self.n, v, out)?;
        for (o, row) in out.iter_mut().zip(self.data.chunks_exact(self.n)) {
            *o = dot(row, v);
        }
        Ok(())
    }
}

/// The diagonal operator `diag(d)`, the simplest implicit operator (its eigenvalues are `d`).
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DiagonalOperator, Lanczos};
///
/// let op = DiagonalOperator::new((1..=100).map(f64::from).collect()).unwrap();
/// let res = Lanczos::new(3).unwrap().run(&op).unwrap();
/// assert!((res.eigenvalues[0] - 100.0).abs() < 1e-8);
/// ```
#[derive(Debug, Clone)]
pub struct DiagonalOperator {
    diag: Vec<f64>,
}

impl DiagonalOperator {
    /// # Errors
    ///
    /// An empty or non-finite diagonal.
    pub fn new(diag: Vec<f64>) -> Result<Self> {
        if diag.is_empty() {
            return Err(Error::InvalidData("the diagonal is empty".into()));
        }
        check_finite(&diag, 0)
            .map_err(|_| Error::InvalidData("the diagonal has a NaN or infinite entry".into()))?;
        Ok(DiagonalOperator { diag })
    }
}

impl LinearOperator for DiagonalOperator {
    fn dim(&self) -> usize {
        self.diag.len()
    }

    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        check_len(self.diag.len(), v, out)?;
        for ((o, d), x) in out.iter_mut().zip(&self.diag).zip(v) {
            *o = d * x;
        }
        Ok(())
    }
}

/// An operator defined by a closure `(v, out) -> Result<()>`, for quick experiments and tests.
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{FnOperator, LinearOperator};
///
/// let twice = FnOperator::new(3, |v: &[f64], out: &mut [f64]| {
///     for (o, x) in out.iter_mut().zip(v) {
///         *o = 2.0 * x;
///     }
///     Ok(())
/// });
/// let mut out = [0.0; 3];
/// twice.apply(&[1.0, 2.0, 3.0], &mut out).unwrap();
/// assert_eq!(out, [2.0, 4.0, 6.0]);
/// ```
pub struct FnOperator<F> {
    n: usize,
    f: F,
}

impl<F> FnOperator<F>
where
    F: Fn(&[f64], &mut [f64]) -> Result<()> + Sync,
{
    /// An operator of dimension `n` applying `f`.
    pub fn new(n: usize, f: F) -> Self {
        FnOperator { n, f }
    }
}

impl<F> LinearOperator for FnOperator<F>
where
    F: Fn(&[f64], &mut [f64]) -> Result<()> + Sync,
{
    fn dim(&self) -> usize {
        self.n
    }

    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        (self.f)(v, out)
    }
}

pub(crate) fn check_len(n: usize, v: &[f64], out: &[f64]) -> Result<()> {
    if v.len() != n || out.len() != n {
        return Err(Error::Shape(format!(
            "operator of dimension {n} applied to a vector of length {} (output length {})",
            v.len(),
            out.len()
        )));
    }
    Ok(())
}

/// The operator's dimension, or an error for an empty operator.
pub(crate) fn nonempty_dim<O: LinearOperator + ?Sized>(op: &O) -> Result<usize> {
    match op.dim() {
        0 => Err(Error::InvalidData("the operator has dimension 0".into())),
        n => Ok(n),
    }
}

/// Fails on the first non-finite entry of an operator's output; `count` is the application number
/// reported in the message.
pub(crate) fn check_finite(out: &[f64], count: usize) -> Result<()> {
    if let Some(i) = out.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidData(format!(
            "the operator returned {} at entry {i} (application {count}); a NaN or infinite \
             operator output cannot be analysed",
            out[i]
        )));
    }
    Ok(())
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four accumulators: independent chains vectorise and cut rounding drift on long vectors.
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_rejects_bad_shapes_and_values() {
        assert!(matches!(
            DenseOperator::new(0, vec![]),
            Err(Error::InvalidData(_))
        ));
        assert!(matches!(
            DenseOperator::new(2, vec![1.0; 3]),
            Err(Error::Shape(_))
        ));
        let err = DenseOperator::new(2, vec![1.0, f64::NAN, 0.0, 1.0]).unwrap_err();
        assert!(err.to_string().contains("(0, 1)"), "{err}");
        let err = DenseOperator::new_symmetric(2, vec![1.0, 2.0, 3.0, 1.0], 1e-12).unwrap_err();
        assert!(err.to_string().contains("not symmetric"), "{err}");
        assert!(DenseOperator::new_symmetric(2, vec![1.0; 4], f64::NAN).is_err());
    }

    #[test]
    fn symmetry_probe_separates_symmetric_from_not() {
        let sym = DenseOperator::new(3, vec![1.0, 2.0, 3.0, 2.0, 5.0, 6.0, 3.0, 6.0, 9.0]).unwrap();
        let asym =
            DenseOperator::new(3, vec![1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 3.0, 6.0, 9.0]).unwrap();
        assert!(sym.check_symmetric(3, 7).unwrap().relative_asymmetry < 1e-15);
        assert!(asym.check_symmetric(3, 7).unwrap().relative_asymmetry > 1e-3);
        assert!(sym.check_symmetric(0, 7).is_err());
    }

    #[test]
    fn apply_checks_lengths() {
        let d = DiagonalOperator::new(vec![1.0, 2.0]).unwrap();
        let mut out = [0.0; 3];
        assert!(matches!(
            d.apply(&[1.0, 2.0, 3.0], &mut out),
            Err(Error::Shape(_))
        ));
        assert!(DiagonalOperator::new(vec![]).is_err());
        assert!(DiagonalOperator::new(vec![f64::INFINITY]).is_err());
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..11).map(|i| 1.0 - i as f64).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
    }
}
