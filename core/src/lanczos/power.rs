//! Power iteration with deflation, as PyHessian computes top Hessian eigenvalues: the baseline.

use super::operator::{check_finite, dot, norm, LinearOperator};
use super::thick_restart::{EigenResult, Termination};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Deflated power iteration, PyHessian's `hessian.eigenvalues(maxIter, tol, top_n)`.
///
/// For each of the `k` eigenvalues in turn: start from a seeded Gaussian unit vector, and repeat
/// `v <- orthonormalise v against the eigenvectors found so far; w = A v; theta = v . w;
/// v = w / |w|` until the relative change of `theta`, `|theta - theta_prev| / (|theta_prev| +
/// 1e-6)`, is below `tol` or `max_iter` products were spent. It finds eigenvalues of largest
/// **magnitude**, and its error is governed by the ratio of consecutive eigenvalues: on clustered
/// spectra (a Hessian bulk edge) the eigenvalue-change criterion stops long before the residual
/// is small. It is here as the baseline the paper's tooling used; prefer [`super::Lanczos`].
///
/// The reported residual `||A v - theta v||` uses the last product, so it costs nothing extra;
/// `converged` is PyHessian's criterion (relative change below `tol`), not a residual test.
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DiagonalOperator, PowerIteration};
///
/// let op = DiagonalOperator::new(vec![10.0, 5.0, 1.0, 0.5]).unwrap();
/// let res = PowerIteration::new(2).unwrap().with_tol(1e-10).unwrap().run(&op).unwrap();
/// assert!((res.eigenvalues[0] - 10.0).abs() < 1e-8);
/// assert!((res.eigenvalues[1] - 5.0).abs() < 1e-8);
/// ```
///
/// # References
///
/// Z. Yao, A. Gholami, K. Keutzer and M. Mahoney, "PyHessian: neural networks through the lens
/// of the Hessian", IEEE BigData 2020 (defaults `maxIter = 100`, `tol = 1e-3`).
#[derive(Debug, Clone)]
pub struct PowerIteration {
    k: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    vectors: bool,
}

impl PowerIteration {
    /// Power iteration for the top `k` eigenvalues (by magnitude), PyHessian's defaults
    /// (`max_iter` 100, `tol` 1e-3).
    ///
    /// # Errors
    ///
    /// `k = 0`.
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::param("k", "need at least one eigenvalue (k >= 1)"));
        }
        Ok(PowerIteration {
            k,
            max_iter: 100,
            tol: 1e-3,
            seed: 0,
            vectors: false,
        })
    }

    /// Products per eigenvalue at most; default 100.
    ///
    /// # Errors
    ///
    /// Zero.
    pub fn with_max_iter(mut self, max_iter: usize) -> Result<Self> {
        if max_iter == 0 {
            return Err(Error::param("max_iter", "must be at least 1"));
        }
        self.max_iter = max_iter;
        Ok(self)
    }

    /// Relative-change tolerance, in (0, 1); default 1e-3.
    ///
    /// # Errors
    ///
    /// A value outside (0, 1) or NaN.
    pub fn with_tol(mut self, tol: f64) -> Result<Self> {
        if !(tol > 0.0 && tol < 1.0) {
            return Err(Error::param("tol", format!("must be in (0, 1), got {tol}")));
        }
        self.tol = tol;
        Ok(self)
    }

    /// Seed of the start vectors (`ChaCha8Rng`); default 0.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Also return the eigenvectors; default false.
    pub fn with_vectors(mut self, vectors: bool) -> Self {
        self.vectors = vectors;
        self
    }

    /// Runs the deflated power method.
    ///
    /// # Errors
    ///
    /// `k` larger than the dimension, a failing or non-finite operator.
    pub fn run<O: LinearOperator + ?Sized>(&self, op: &O) -> Result<EigenResult> {
        let n = op.dim();
        if n == 0 {
            return Err(Error::InvalidData("the operator has dimension 0".into()));
        }
        if self.k > n {
            return Err(Error::param(
                "k",
                format!(
                    "asked for {} eigenvalues of an operator of dimension {n}",
                    self.k
                ),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut found: Vec<Vec<f64>> = Vec::with_capacity(self.k);
        let (mut values, mut residuals, mut converged) = (vec![], vec![], vec![]);
        let mut matvecs = 0usize;
        let mut w = vec![0.0; n];
        for _ in 0..self.k {
            let mut v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            let mut theta_prev: Option<f64> = None;
            let (mut theta, mut resid, mut conv) = (0.0, f64::INFINITY, false);
            for _ in 0..self.max_iter {
                for u in &found {
                    let c = dot(u, &v);
                    v.iter_mut().zip(u).for_each(|(vi, ui)| *vi -= c * ui);
                }
                let nv = norm(&v);
                if nv.is_nan() || nv <= 0.0 {
                    return Err(Error::InvalidData(
                        "power iteration collapsed to the zero vector (the operator's range is \
                         exhausted by the eigenvectors found)"
                            .into(),
                    ));
                }
                v.iter_mut().for_each(|x| *x /= nv);
                op.apply(&v, &mut w)?;
                matvecs += 1;
                check_finite(&w, matvecs)?;
                theta = dot(&v, &w);
                resid = w
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a - theta * b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                std::mem::swap(&mut v, &mut w);
                if let Some(prev) = theta_prev {
                    if (theta - prev).abs() / (prev.abs() + 1e-6) < self.tol {
                        conv = true;
                        // v holds A v_old; its direction is the next iterate, as in PyHessian.
                        break;
                    }
                }
                theta_prev = Some(theta);
            }
            let nv = norm(&v);
            if nv > 0.0 {
                v.iter_mut().for_each(|x| *x /= nv);
            }
            // Keep the found vectors orthonormal for the deflation of later ones.
            for u in &found {
                let c = dot(u, &v);
                v.iter_mut().zip(u).for_each(|(vi, ui)| *vi -= c * ui);
            }
            let nv = norm(&v);
            if nv > 0.0 {
                v.iter_mut().for_each(|x| *x /= nv);
            }
            found.push(v);
            values.push(theta);
            residuals.push(resid);
            converged.push(conv);
        }
        let termination = if converged.iter().all(|&c| c) {
            Termination::Converged
        } else {
            Termination::MaxOperatorApplications
        };
        Ok(EigenResult {
            eigenvalues: values,
            eigenvectors: self.vectors.then_some(found),
            residuals,
            converged,
            matvecs,
            iterations: matvecs,
            termination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanczos::FnOperator;

    #[test]
    fn bad_input() {
        assert!(PowerIteration::new(0).is_err());
        assert!(PowerIteration::new(1).unwrap().with_tol(0.0).is_err());
        assert!(PowerIteration::new(1).unwrap().with_max_iter(0).is_err());
        let op = FnOperator::new(3, |_: &[f64], _: &mut [f64]| {
            Err(Error::InvalidData("boom".into()))
        });
        assert!(PowerIteration::new(1)
            .unwrap()
            .run(&op)
            .unwrap_err()
            .to_string()
            .contains("boom"));
        assert!(PowerIteration::new(4).unwrap().run(&op).is_err());
    }
}
