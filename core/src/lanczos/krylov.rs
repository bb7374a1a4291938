//! An orthonormal Krylov basis stored column after column, with full reorthogonalisation.
//!
//! Plain three-term Lanczos loses orthogonality as Ritz values converge (Paige) and produces
//! spurious "ghost" copies of converged eigenvalues; orthogonalising every new vector against the
//! whole basis with classical Gram-Schmidt applied twice ("twice is enough", Giraud et al. 2005)
//! keeps the basis orthonormal to working precision at O(m n) flops per step.

use super::operator::{dot, norm};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

pub(crate) struct Basis {
    n: usize,
    len: usize,
    data: Vec<f64>,
}

impl Basis {
    pub(crate) fn new(n: usize, capacity: usize) -> Self {
        Basis {
            n,
            len: 0,
            data: vec![0.0; n * capacity],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.n..(j + 1) * self.n]
    }

    /// Appends `v` (assumed orthonormal to the basis already).
    pub(crate) fn push(&mut self, v: &[f64]) {
        let (n, j) = (self.n, self.len);
        self.data[j * n..(j + 1) * n].copy_from_slice(v);
        self.len += 1;
    }

    /// Orthogonalises `w` against columns `0..upto` by classical Gram-Schmidt twice and returns the
    /// summed projection coefficients (the entries of the projected matrix's column).
    pub(crate) fn orthogonalize(&self, w: &mut [f64], upto: usize) -> Vec<f64> {
        let mut total = vec![0.0; upto];
        for _ in 0..2 {
            let h: Vec<f64> = (0..upto).map(|i| dot(self.col(i), w)).collect();
            for (i, hi) in h.iter().enumerate() {
                axpy(-hi, self.col(i), w);
            }
            for (t, hi) in total.iter_mut().zip(&h) {
                *t += hi;
            }
        }
        total
    }

    /// A seeded Gaussian vector orthonormal to the whole basis, or `None` when the basis already
    /// spans (numerically) the whole space.
    pub(crate) fn random_orthogonal<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Vec<f64>> {
        for _ in 0..3 {
            let mut v: Vec<f64> = (0..self.n).map(|_| StandardNormal.sample(rng)).collect();
            let before = norm(&v);
            self.orthogonalize(&mut v, self.len);
            let after = norm(&v);
            // A random vector keeps a fraction ~ sqrt((n - len) / n) of its norm; much less means
            // the complement is (numerically) empty.
            if after > 1e-8 * before {
                v.iter_mut().for_each(|x| *x /= after);
                return Some(v);
            }
        }
        None
    }

    /// Replaces the basis by `V[:, ..cols] * Y[:, sel]` followed by the old column `cols`
    /// (the thick restart), where `y` is column-major with `cols` rows.
    pub(crate) fn restart(&mut self, cols: usize, y: &nalgebra::DMatrix<f64>, sel: &[usize]) {
        let n = self.n;
        let mut fresh = vec![0.0; n * sel.len()];
        for (i, &s) in sel.iter().enumerate() {
            let out = &mut fresh[i * n..(i + 1) * n];
            for j in 0..cols {
                axpy(y[(j, s)], &self.data[j * n..(j + 1) * n], out);
            }
        }
        let l = sel.len();
        // Move the residual vector first: column l may be overwritten by a Ritz vector otherwise.
        self.data.copy_within(cols * n..(cols + 1) * n, l * n);
        self.data[..l * n].copy_from_slice(&fresh);
        self.len = l + 1;
    }

    /// `V[:, ..cols] * y` for a coefficient vector `y` of length `cols`.
    pub(crate) fn combine(&self, y: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n];
        for (j, yj) in y.iter().enumerate() {
            axpy(*yj, self.col(j), &mut out);
        }
        out
    }
}

pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
