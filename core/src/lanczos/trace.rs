//! Trace estimates from operator applications: Hutchinson and Hutch++.

use super::krylov::Basis;
use super::operator::{check_finite, dot, nonempty_dim, norm, LinearOperator};
use crate::regress::t_quantile;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A trace estimate with a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceEstimate {
    /// The estimate of `tr(A)`.
    pub estimate: f64,
    /// Its standard error (from the spread of the random-probe terms).
    pub std_error: f64,
    /// The two-sided confidence interval at `level` (Student's t on the probe terms).
    pub ci: [f64; 2],
    /// Confidence level of `ci`.
    pub level: f64,
    /// Operator applications spent.
    pub matvecs: usize,
}

fn rademacher<R: Rng>(rng: &mut R, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

fn check_level(level: f64) -> Result<()> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param(
            "level",
            format!("must be in (0, 1), got {level}"),
        ));
    }
    Ok(())
}

/// Mean, standard error and t-interval of i.i.d. terms.
fn summarise(terms: &[f64], level: f64) -> (f64, f64, [f64; 2]) {
    let p = terms.len() as f64;
    let mean = terms.iter().sum::<f64>() / p;
    let var = terms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (p - 1.0);
    let se = (var / p).sqrt();
    let q = t_quantile(0.5 + level / 2.0, p - 1.0);
    (mean, se, [mean - q * se, mean + q * se])
}

/// Hutchinson's estimator `tr(A) ~ (1/p) sum z^T A z` with Rademacher probes `z`.
///
/// Unbiased, with variance `2 (||A||_F^2 - sum a_ii^2) / p`; the interval is a Student-t interval
/// on the `p` probe terms, so its coverage is nominal once `p` is moderate (tens). Prefer
/// [`HutchPlusPlus`] when a few eigenvalues dominate (Hessians): it removes them exactly.
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DiagonalOperator, Hutchinson};
///
/// // Rademacher probes see a diagonal exactly.
/// let op = DiagonalOperator::new(vec![1.0, 2.0, 3.0]).unwrap();
/// let t = Hutchinson::new(5).unwrap().run(&op).unwrap();
/// assert!((t.estimate - 6.0).abs() < 1e-12 && t.std_error < 1e-12);
/// ```
///
/// # References
///
/// M. Hutchinson, "A stochastic estimator of the trace of the influence matrix for Laplacian
/// smoothing splines", Commun. Stat. Simul. Comput. 19 (1990) 433-450.
#[derive(Debug, Clone)]
pub struct Hutchinson {
    probes: usize,
    level: f64,
    seed: u64,
}

impl Hutchinson {
    /// An estimator with `probes` probes (>= 2, needed for an interval), level 0.95, seed 0.
    ///
    /// # Errors
    ///
    /// `probes < 2`.
    pub fn new(probes: usize) -> Result<Self> {
        if probes < 2 {
            return Err(Error::param(
                "probes",
                format!("need at least 2 probes for an interval, got {probes}"),
            ));
        }
        Ok(Hutchinson {
            probes,
            level: 0.95,
            seed: 0,
        })
    }

    /// Confidence level in (0, 1); default 0.95.
    ///
    /// # Errors
    ///
    /// Outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        check_level(level)?;
        self.level = level;
        Ok(self)
    }

    /// Seed of the probes (`ChaCha8Rng`); default 0.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the estimator (`probes` applications).
    ///
    /// # Errors
    ///
    /// A zero-dimensional, failing or non-finite operator.
    pub fn run<O: LinearOperator + ?Sized>(&self, op: &O) -> Result<TraceEstimate> {
        let n = nonempty_dim(op)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut az = vec![0.0; n];
        let mut terms = Vec::with_capacity(self.probes);
        for i in 0..self.probes {
            let z = rademacher(&mut rng, n);
            op.apply(&z, &mut az)?;
            check_finite(&az, i + 1)?;
            terms.push(dot(&z, &az));
        }
        let (estimate, std_error, ci) = summarise(&terms, self.level);
        Ok(TraceEstimate {
            estimate,
            std_error,
            ci,
            level: self.level,
            matvecs: self.probes,
        })
    }
}

/// Hutch++ (Meyer, Musco, Musco & Woodruff 2021): the trace of `A` on a sketched dominant
/// subspace exactly, plus Hutchinson on the rest.
///
/// With `m` applications split in three thirds of `s = m / 3`: `Q = orth(A S)` for a Rademacher
/// `n x s` sketch `S`; `tr(Q^T A Q)` exactly; and Hutchinson with `s` probes on the deflated
/// `(I - Q Q^T) A (I - Q Q^T)`. Error `O(1/m)` relative to `tr |A|` instead of Hutchinson's
/// `O(1/sqrt m)`, which matters for Hessians whose trace is dominated by a few outliers. The
/// interval is the t-interval of the deflated Hutchinson part (the first part is exact given Q).
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{DiagonalOperator, HutchPlusPlus};
///
/// let mut d = vec![0.01; 200];
/// d[0] = 100.0;
/// let op = DiagonalOperator::new(d).unwrap();
/// let t = HutchPlusPlus::new(30).unwrap().run(&op).unwrap();
/// assert!((t.estimate - 101.99).abs() < 0.1);
/// assert_eq!(t.matvecs, 30);
/// ```
///
/// # References
///
/// R. Meyer, C. Musco, C. Musco and D. Woodruff, "Hutch++: optimal stochastic trace estimation",
/// SOSA 2021, 142-155.
#[derive(Debug, Clone)]
pub struct HutchPlusPlus {
    matvecs: usize,
    level: f64,
    seed: u64,
}

impl HutchPlusPlus {
    /// An estimator with a budget of `matvecs` applications (>= 6; used in three equal parts,
    /// rounded down to a multiple of 3), level 0.95, seed 0.
    ///
    /// # Errors
    ///
    /// `matvecs < 6`.
    pub fn new(matvecs: usize) -> Result<Self> {
        if matvecs < 6 {
            return Err(Error::param(
                "matvecs",
                format!("Hutch++ needs at least 6 applications, got {matvecs}"),
            ));
        }
        Ok(HutchPlusPlus {
            matvecs,
            level: 0.95,
            seed: 0,
        })
    }

    /// Confidence level in (0, 1); default 0.95.
    ///
    /// # Errors
    ///
    /// Outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        check_level(level)?;
        self.level = level;
        Ok(self)
    }

    /// Seed of the sketch and probes (`ChaCha8Rng`); default 0.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the estimator.
    ///
    /// # Errors
    ///
    /// A zero-dimensional, failing or non-finite operator.
    pub fn run<O: LinearOperator + ?Sized>(&self, op: &O) -> Result<TraceEstimate> {
        let n = nonempty_dim(op)?;
        let s = self.matvecs / 3;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut count = 0usize;
        let mut apply = |v: &[f64], out: &mut [f64]| -> Result<()> {
            op.apply(v, out)?;
            count += 1;
            check_finite(out, count)
        };
        // Q = orth(A S), dropping directions that are numerically dependent.
        let mut q = Basis::new(n, s);
        let mut y = vec![0.0; n];
        for _ in 0..s {
            let z = rademacher(&mut rng, n);
            apply(&z, &mut y)?;
            let before = norm(&y);
            q.orthogonalize(&mut y, q.len());
            let after = norm(&y);
            if after > 1e-10 * before && after > 0.0 && q.len() < n {
                y.iter_mut().for_each(|x| *x /= after);
                q.push(&y);
            }
        }
        let mut exact = 0.0;
        for j in 0..q.len() {
            apply(q.col(j), &mut y)?;
            exact += dot(q.col(j), &y);
        }
        // Deflated Hutchinson: g' = (I - Q Q^T) g, term g'^T A g'.
        let mut terms = Vec::with_capacity(s);
        for _ in 0..s {
            let mut g = rademacher(&mut rng, n);
            q.orthogonalize(&mut g, q.len());
            apply(&g, &mut y)?;
            terms.push(dot(&g, &y));
        }
        let (rest, std_error, ci) = summarise(&terms, self.level);
        Ok(TraceEstimate {
            estimate: exact + rest,
            std_error,
            ci: [exact + ci[0], exact + ci[1]],
            level: self.level,
            matvecs: count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanczos::FnOperator;

    #[test]
    fn parameters() {
        assert!(Hutchinson::new(1).is_err());
        assert!(Hutchinson::new(2).unwrap().with_level(1.0).is_err());
        assert!(HutchPlusPlus::new(5).is_err());
        assert!(HutchPlusPlus::new(6).unwrap().with_level(f64::NAN).is_err());
        let bad = FnOperator::new(4, |_: &[f64], o: &mut [f64]| {
            o.fill(f64::INFINITY);
            Ok(())
        });
        assert!(Hutchinson::new(3).unwrap().run(&bad).is_err());
        assert!(HutchPlusPlus::new(9).unwrap().run(&bad).is_err());
    }
}
