//! Spectral density by stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017).

use super::krylov::Basis;
use super::operator::{check_finite, norm, LinearOperator};
use crate::{Error, Result};
use nalgebra::{DMatrix, SymmetricEigen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Stochastic Lanczos quadrature: an estimate of the eigenvalue density
/// `phi(t) = (1/n) sum_i delta(t - lambda_i)` of a symmetric operator.
///
/// # Algorithm
///
/// For each of `probes` Rademacher vectors `v` (entries +-1/sqrt(n)), `steps` Lanczos steps with
/// full reorthogonalisation from `v` give a tridiagonal `T`; its eigenvalues `theta_j` (nodes) and
/// squared first eigenvector components `tau_j` (weights, summing to 1) form the Gauss quadrature
/// rule with `sum_j tau_j f(theta_j) = v^T f(A) v` exactly for polynomials `f` of degree up to
/// `2 steps - 1`. Since `E[v^T f(A) v] = tr f(A) / n`, averaging the rules over probes estimates
/// the density; each node is broadened into a Gaussian of **standard deviation** `sigma` (not a
/// variance, unlike PyHessian's `sigma`) to give a smooth curve on a grid.
///
/// Cost: `probes * steps` operator applications (fewer if a Krylov space is exhausted early).
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DiagonalOperator, Slq};
///
/// let d: Vec<f64> = (0..500).map(|i| i as f64 / 500.0).collect();
/// let op = DiagonalOperator::new(d).unwrap();
/// let dens = Slq::new().with_probes(4).unwrap().with_steps(30).unwrap().run(&op).unwrap();
/// // Every probe sees the diagonal exactly (Rademacher entries square to 1/n):
/// assert!((dens.moment(1) - 0.499).abs() < 1e-12);
/// let mass: f64 = dens.density.windows(2).zip(dens.grid.windows(2))
///     .map(|(d, g)| 0.5 * (d[0] + d[1]) * (g[1] - g[0])).sum();
/// assert!((mass - 1.0).abs() < 1e-4);
/// ```
///
/// # References
///
/// S. Ubaru, J. Chen and Y. Saad, "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature",
/// SIAM J. Matrix Anal. Appl. 38 (2017) 1075-1099; B. Ghorbani, S. Krishnan and Y. Xiao, "An
/// investigation into neural net optimization via Hessian eigenvalue density", ICML 2019.
#[derive(Debug, Clone)]
pub struct Slq {
    probes: usize,
    steps: usize,
    sigma: Option<f64>,
    grid_points: usize,
    seed: u64,
}

impl Default for Slq {
    fn default() -> Self {
        Slq::new()
    }
}

impl Slq {
    /// Defaults: 10 probes, 80 Lanczos steps, `sigma` = 1 % of the node range, 1000 grid points,
    /// seed 0.
    pub fn new() -> Self {
        Slq {
            probes: 10,
            steps: 80,
            sigma: None,
            grid_points: 1000,
            seed: 0,
        }
    }

    /// Number of random probe vectors (>= 1; default 10).
    ///
    /// # Errors
    ///
    /// Zero.
    pub fn with_probes(mut self, probes: usize) -> Result<Self> {
        if probes == 0 {
            return Err(Error::param("probes", "need at least one probe"));
        }
        self.probes = probes;
        Ok(self)
    }

    /// Lanczos steps per probe (>= 1; default 80; capped at the dimension).
    ///
    /// # Errors
    ///
    /// Zero.
    pub fn with_steps(mut self, steps: usize) -> Result<Self> {
        if steps == 0 {
            return Err(Error::param("steps", "need at least one Lanczos step"));
        }
        self.steps = steps;
        Ok(self)
    }

    /// Standard deviation of the Gaussian broadening (> 0). Default: 1 % of the span of the nodes
    /// (or 1e-3 max(1, |node|) for a one-point spectrum). The grid must resolve it: keep
    /// `sigma` above a few grid spacings, `(span + 10 sigma) / (grid_points - 1)`.
    ///
    /// # Errors
    ///
    /// Non-positive or non-finite.
    pub fn with_sigma(mut self, sigma: f64) -> Result<Self> {
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(Error::param(
                "sigma",
                format!("must be positive, got {sigma}"),
            ));
        }
        self.sigma = Some(sigma);
        Ok(self)
    }

    /// Number of grid points (>= 2; default 1000), spread evenly from `5 sigma` below the smallest
    /// node to `5 sigma` above the largest.
    ///
    /// # Errors
    ///
    /// Fewer than 2.
    pub fn with_grid_points(mut self, grid_points: usize) -> Result<Self> {
        if grid_points < 2 {
            return Err(Error::param("grid_points", "need at least 2"));
        }
        self.grid_points = grid_points;
        Ok(self)
    }

    /// Seed of the probe vectors (`ChaCha8Rng`); default 0.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the quadrature.
    ///
    /// # Errors
    ///
    /// A zero-dimensional, failing or non-finite operator.
    pub fn run<O: LinearOperator + ?Sized>(&self, op: &O) -> Result<SpectralDensity> {
        let n = op.dim();
        if n == 0 {
            return Err(Error::InvalidData("the operator has dimension 0".into()));
        }
        let steps = self.steps.min(n);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut nodes = Vec::with_capacity(self.probes);
        let mut weights = Vec::with_capacity(self.probes);
        let mut matvecs = 0usize;
        let mut w = vec![0.0; n];
        let scale = 1.0 / (n as f64).sqrt();
        for _ in 0..self.probes {
            let v: Vec<f64> = (0..n)
                .map(|_| if rng.random::<bool>() { scale } else { -scale })
                .collect();
            let mut basis = Basis::new(n, steps + 1);
            basis.push(&v);
            let mut t = DMatrix::<f64>::zeros(steps, steps);
            let mut size = 0;
            let mut anorm = 0.0f64;
            for j in 0..steps {
                op.apply(basis.col(j), &mut w)?;
                matvecs += 1;
                check_finite(&w, matvecs)?;
                let h = basis.orthogonalize(&mut w, j + 1);
                t[(j, j)] = h[j];
                size = j + 1;
                let beta = norm(&w);
                anorm = anorm.max(h[j].abs() + beta);
                // An invariant Krylov space makes the quadrature exact: stop there.
                if j + 1 == steps || beta <= 64.0 * f64::EPSILON * anorm {
                    break;
                }
                w.iter_mut().for_each(|x| *x /= beta);
                basis.push(&w);
                t[(j, j + 1)] = beta;
                t[(j + 1, j)] = beta;
            }
            let eig = SymmetricEigen::new(t.view((0, 0), (size, size)).into_owned());
            nodes.push(eig.eigenvalues.iter().copied().collect::<Vec<f64>>());
            weights.push(
                (0..size)
                    .map(|i| eig.eigenvectors[(0, i)].powi(2))
                    .collect::<Vec<f64>>(),
            );
        }
        let lo = nodes.iter().flatten().fold(f64::INFINITY, |a, &b| a.min(b));
        let hi = nodes
            .iter()
            .flatten()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let sigma = self.sigma.unwrap_or(if hi > lo {
            0.01 * (hi - lo)
        } else {
            1e-3 * hi.abs().max(1.0)
        });
        let (g0, g1) = (lo - 5.0 * sigma, hi + 5.0 * sigma);
        let step = (g1 - g0) / (self.grid_points - 1) as f64;
        let grid: Vec<f64> = (0..self.grid_points)
            .map(|i| g0 + i as f64 * step)
            .collect();
        let mut out = SpectralDensity {
            nodes,
            weights,
            grid,
            density: vec![],
            sigma,
            matvecs,
            dim: n,
        };
        out.density = out.grid.iter().map(|&x| out.density_at(x)).collect();
        Ok(out)
    }
}

/// The output of [`Slq::run`]: raw quadrature rules and the broadened density on a grid.
#[derive(Debug, Clone, Serialize)]
pub struct SpectralDensity {
    /// Quadrature nodes (Ritz values), one list per probe.
    pub nodes: Vec<Vec<f64>>,
    /// Quadrature weights (each list sums to 1), one list per probe.
    pub weights: Vec<Vec<f64>>,
    /// Evaluation grid.
    pub grid: Vec<f64>,
    /// Broadened density on `grid`; integrates to 1 over the real line.
    pub density: Vec<f64>,
    /// Standard deviation of the Gaussian broadening.
    pub sigma: f64,
    /// Operator applications spent.
    pub matvecs: usize,
    /// Dimension of the operator.
    pub dim: usize,
}

impl SpectralDensity {
    /// The broadened density `(1/probes) sum_probes sum_j tau_j N(x; theta_j, sigma^2)` at `x`.
    pub fn density_at(&self, x: f64) -> f64 {
        let c = 1.0 / (self.sigma * (2.0 * std::f64::consts::PI).sqrt());
        let total: f64 = self
            .nodes
            .iter()
            .zip(&self.weights)
            .map(|(th, ta)| {
                th.iter()
                    .zip(ta)
                    .map(|(t, w)| w * (-0.5 * ((x - t) / self.sigma).powi(2)).exp())
                    .sum::<f64>()
            })
            .sum();
        c * total / self.nodes.len() as f64
    }

    /// The estimate of the normalised spectral moment `tr(A^p) / n` from the raw quadrature
    /// (no broadening); exact per probe for `p <= 2 steps - 1`.
    pub fn moment(&self, p: i32) -> f64 {
        let total: f64 = self
            .nodes
            .iter()
            .zip(&self.weights)
            .map(|(th, ta)| th.iter().zip(ta).map(|(t, w)| w * t.powi(p)).sum::<f64>())
            .sum();
        total / self.nodes.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanczos::{DiagonalOperator, FnOperator};

    #[test]
    fn parameters_and_failures() {
        assert!(Slq::new().with_probes(0).is_err());
        assert!(Slq::new().with_steps(0).is_err());
        assert!(Slq::new().with_sigma(-1.0).is_err());
        assert!(Slq::new().with_grid_points(1).is_err());
        let op = FnOperator::new(5, |_: &[f64], _: &mut [f64]| {
            Err(Error::InvalidData("x".into()))
        });
        assert!(Slq::new().run(&op).is_err());
    }

    #[test]
    fn weights_sum_to_one_and_small_spaces_are_exact() {
        // 3 distinct eigenvalues: the Krylov space closes after 3 steps and the rule is exact.
        let op = DiagonalOperator::new(vec![1.0, 1.0, 2.0, 2.0, 4.0, 4.0]).unwrap();
        let d = Slq::new().with_probes(3).unwrap().run(&op).unwrap();
        for (nodes, w) in d.nodes.iter().zip(&d.weights) {
            assert!(nodes.len() <= 3);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!((d.moment(2) - 7.0).abs() < 1e-12);
    }
}
