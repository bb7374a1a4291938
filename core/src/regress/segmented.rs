//! Broken-line (segmented) regression with one unknown breakpoint, by Muggeo's method with
//! bootstrap restarts, and Davies' test of one segment against two.
//!
//! [`Segmented`] and [`davies_test`] assume independent residuals, as the R package
//! `segmented` and the Python package `piecewise-regression` do; the MSD fit in
//! [`crate::exponent`] replaces their error model for correlated MSD curves.
//!
//! # References
//! - V. M. R. Muggeo, "Estimating regression models with unknown break-points", Stat. Med. 22
//!   (2003) 3055.
//! - R. B. Davies, "Hypothesis testing when a nuisance parameter is present only under the
//!   alternative", Biometrika 74 (1987) 33.
//! - C. Pilgrim, "piecewise-regression", J. Open Source Softw. 6 (2021) 3859.

// Checks are written `!(x > 0.0)` (the style guide's form) so that NaN fails them too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::{broken_line_at, ols, t_quantile, LineFit, Ols};
use crate::error::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

pub(crate) fn check_xy(x: &[f64], y: &[f64], min: usize) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::Shape(format!(
            "x has {} values, y has {}",
            x.len(),
            y.len()
        )));
    }
    if x.len() < min {
        return Err(Error::InvalidData(format!(
            "needs at least {min} points, got {}",
            x.len()
        )));
    }
    if let Some(i) = (0..x.len()).find(|&i| !x[i].is_finite() || !y[i].is_finite()) {
        return Err(Error::InvalidData(format!(
            "point {i} is not finite (x = {}, y = {})",
            x[i], y[i]
        )));
    }
    if x.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::InvalidData("x must be sorted increasingly".into()));
    }
    Ok(())
}

pub(crate) fn check_weights(w: Option<&[f64]>, n: usize) -> Result<()> {
    if let Some(w) = w {
        if w.len() != n {
            return Err(Error::Shape(format!("{} weights for {n} points", w.len())));
        }
        if let Some(i) = w.iter().position(|v| !(*v > 0.0 && v.is_finite())) {
            return Err(Error::InvalidData(format!(
                "weight {i} is {} (must be finite and > 0)",
                w[i]
            )));
        }
    }
    Ok(())
}

pub(crate) fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    // Linear interpolation between order statistics (numpy's default).
    let h = p * (v.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// A two-segment broken line `y = c + a x + b (x - psi)_+` fitted by [`Segmented`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentedFit {
    /// Intercept `c`.
    pub intercept: f64,
    /// Slope left of the breakpoint, `a`.
    pub slope_left: f64,
    /// Slope right of the breakpoint, `a + b`.
    pub slope_right: f64,
    /// Change of slope `b`.
    pub slope_change: f64,
    /// Classical standard error of `b`.
    pub slope_change_se: f64,
    /// Breakpoint `psi`.
    pub breakpoint: f64,
    /// Delta-method standard error of `psi` (Muggeo 2003), assuming independent residuals.
    pub breakpoint_se: f64,
    /// 95 % interval `psi -/+ t_{0.975, n-4} se`.
    pub breakpoint_ci95: [f64; 2],
    /// Residual sum of squares.
    pub rss: f64,
    /// Bayesian information criterion of the broken line (4 parameters, Gaussian likelihood).
    pub bic: f64,
    /// BIC of the single straight line (2 parameters), for comparison.
    pub bic_line: f64,
    /// Number of points.
    pub n: usize,
}

/// Muggeo's iterative segmented regression with one breakpoint and bootstrap restarts, as in
/// the Python package `piecewise-regression` (whose defaults these are).
///
/// # Examples
/// ```
/// use anodiff_core::regress::segmented::Segmented;
/// use rand::SeedableRng;
/// let x: Vec<f64> = (0..50).map(|i| i as f64 / 49.0 * 10.0).collect();
/// let y: Vec<f64> = x.iter().map(|&v| 1.0 + 0.5 * v + 2.0 * (v - 4.0).max(0.0)).collect();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let f = Segmented::default().fit(&x, &y, &mut rng).unwrap();
/// assert!((f.breakpoint - 4.0).abs() < 1e-6 && (f.slope_right - 2.5).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Segmented {
    /// Maximum Muggeo iterations per start (default 30).
    pub max_iter: usize,
    /// Convergence tolerance on the breakpoint (default 1e-5).
    pub tol: f64,
    /// Number of bootstrap restarts (default 100; 0 runs Muggeo once).
    pub n_boot: usize,
    /// Breakpoints are kept between these quantiles of x from each edge (default 0.02).
    pub min_edge: f64,
    /// Starting breakpoint (default: a random point in the allowed range).
    pub start: Option<f64>,
}

impl Default for Segmented {
    fn default() -> Self {
        Segmented {
            max_iter: 30,
            tol: 1e-5,
            n_boot: 100,
            min_edge: 0.02,
            start: None,
        }
    }
}

pub(crate) struct Muggeo {
    pub(crate) psi: f64,
    ols: Ols,
}

impl Segmented {
    pub(crate) fn bounds(&self, x: &[f64]) -> (f64, f64) {
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        (
            quantile_sorted(&s, self.min_edge),
            quantile_sorted(&s, 1.0 - self.min_edge),
        )
    }

    /// One Muggeo run from `psi`: linearise `(x - psi)_+` around the current breakpoint with the
    /// extra regressor `-1[x > psi]`, whose coefficient `g` moves it by `g / b`. Steps that
    /// raise the residual sum of squares are halved (as R's `segmented` does): without that,
    /// the iteration can oscillate between two sides of a data point forever. When even a
    /// 1/64 step goes uphill the current breakpoint is a local minimum and the run stops there.
    pub(crate) fn muggeo(
        &self,
        x: &[f64],
        y: &[f64],
        w: Option<&[f64]>,
        mut psi: f64,
        lo: f64,
        hi: f64,
    ) -> Option<Muggeo> {
        let n = x.len();
        let design = |psi: f64, with_v: bool| {
            let mut cols = vec![
                vec![1.0; n],
                x.to_vec(),
                x.iter().map(|&v| (v - psi).max(0.0)).collect(),
            ];
            if with_v {
                cols.push(
                    x.iter()
                        .map(|&v| if v > psi { -1.0 } else { 0.0 })
                        .collect(),
                );
            }
            cols
        };
        let rss_at = |psi: f64| ols(&design(psi, false), y, w).map_or(f64::INFINITY, |f| f.rss);
        let mut rss = rss_at(psi);
        for _ in 0..self.max_iter {
            let fit = ols(&design(psi, true), y, w)?;
            let (b, g) = (fit.beta[2], fit.beta[3]);
            if b == 0.0 {
                return None;
            }
            let mut h = 1.0;
            let mut next = psi + g / b;
            let mut rss_next = if next > lo && next < hi {
                rss_at(next)
            } else {
                f64::INFINITY
            };
            while rss_next > rss && h > 1.0 / 64.0 {
                h /= 2.0;
                next = psi + h * g / b;
                rss_next = if next > lo && next < hi {
                    rss_at(next)
                } else {
                    f64::INFINITY
                };
            }
            if !(next > lo && next < hi) {
                return None;
            }
            // No downhill step at all: psi is a local minimum to within the smallest step
            // (typically a kink of the RSS where psi sits on a data point).
            let stuck = rss_next > rss;
            if stuck {
                next = psi;
            }
            let done = stuck || (next - psi).abs() < self.tol;
            psi = next;
            rss = rss_next.min(rss);
            if done {
                let ols = ols(&design(psi, true), y, w)?;
                return Some(Muggeo { psi, ols });
            }
        }
        None
    }

    /// Fits the broken line to points sorted by `x`.
    ///
    /// # Errors
    /// Fewer than 6 points, unsorted or non-finite data, a `min_edge` outside `[0, 0.5)`, or
    /// [`Error::NotConverged`] when no start converged.
    pub fn fit<R: Rng + ?Sized>(&self, x: &[f64], y: &[f64], rng: &mut R) -> Result<SegmentedFit> {
        self.fit_weighted(x, y, None, rng)
    }

    /// As [`Segmented::fit`], by weighted least squares with relative precisions `w` (the
    /// residual variance is still estimated; BIC uses the weighted RSS).
    ///
    /// # Errors
    /// As [`Segmented::fit`], plus weights of the wrong length or not finite and positive.
    pub fn fit_weighted<R: Rng + ?Sized>(
        &self,
        x: &[f64],
        y: &[f64],
        w: Option<&[f64]>,
        rng: &mut R,
    ) -> Result<SegmentedFit> {
        check_xy(x, y, 6)?;
        check_weights(w, x.len())?;
        if !(self.min_edge >= 0.0 && self.min_edge < 0.5) {
            return Err(Error::param("min_edge", "must be in [0, 0.5)"));
        }
        let (lo, hi) = self.bounds(x);
        if !(hi > lo) {
            return Err(Error::InvalidData("x values do not spread".into()));
        }
        let start = |rng: &mut R| self.start.unwrap_or_else(|| rng.random_range(lo..hi));
        let mut best = self.muggeo(x, y, w, start(rng), lo, hi);
        let n = x.len();
        let mut xb = vec![0.0; n];
        let mut yb = vec![0.0; n];
        let mut wb = vec![1.0; n];
        let mut idx = vec![0usize; n];
        for _ in 0..self.n_boot {
            let from = match &best {
                Some(b) if rng.random::<f64>() < 0.5 => b.psi,
                _ => start(rng),
            };
            for i in idx.iter_mut() {
                *i = rng.random_range(0..n);
            }
            idx.sort_unstable();
            for (k, &i) in idx.iter().enumerate() {
                xb[k] = x[i];
                yb[k] = y[i];
                wb[k] = w.map_or(1.0, |w| w[i]);
            }
            let psi_b = self
                .muggeo(&xb, &yb, w.map(|_| &wb[..]), from, lo, hi)
                .map_or(from, |m| m.psi);
            if let Some(m) = self.muggeo(x, y, w, psi_b, lo, hi) {
                if best.as_ref().is_none_or(|b| m.ols.rss < b.ols.rss) {
                    best = Some(m);
                }
            }
        }
        let m = best.ok_or_else(|| {
            Error::NotConverged("segmented regression: no start converged".into())
        })?;
        let (b, g) = (m.ols.beta[2], m.ols.beta[3]);
        // Delta method on psi = psi0 + g / b (g ~ 0 at convergence).
        let c = &m.ols.cov;
        let var =
            c[(3, 3)] / (b * b) + g * g * c[(2, 2)] / b.powi(4) - 2.0 * g * c[(2, 3)] / b.powi(3);
        let se = var.max(0.0).sqrt();
        let q = t_quantile(0.975, (n - 4) as f64);
        // Coefficients of the broken line itself, at the converged breakpoint.
        let u: Vec<f64> = x.iter().map(|&v| (v - m.psi).max(0.0)).collect();
        let line = ols(&[vec![1.0; n], x.to_vec(), u], y, w).ok_or_else(|| {
            Error::NotConverged("segmented regression: singular final fit".into())
        })?;
        let straight = LineFit::weighted(x, y, w)?;
        let nf = n as f64;
        let bic = |rss: f64, k: f64| nf * (rss.max(f64::MIN_POSITIVE) / nf).ln() + k * nf.ln();
        Ok(SegmentedFit {
            intercept: line.beta[0],
            slope_left: line.beta[1],
            slope_right: line.beta[1] + line.beta[2],
            slope_change: line.beta[2],
            slope_change_se: line.cov[(2, 2)].max(0.0).sqrt(),
            breakpoint: m.psi,
            breakpoint_se: se,
            breakpoint_ci95: [m.psi - q * se, m.psi + q * se],
            rss: line.rss,
            bic: bic(line.rss, 4.0),
            bic_line: bic(straight.rss, 2.0),
            n,
        })
    }
}

/// Davies' (1987) upper bound on the p-value of `max |z(theta)|` over a grid of `thetas`:
/// `p = 2 [Phi(-M) + V exp(-M^2 / 2) / sqrt(8 pi)]` with `M = max |z|` and `V` the total
/// variation of `z` along the grid, capped at 1.
pub fn davies_bound(z: &[f64]) -> f64 {
    let m = z.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let v: f64 = z.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    let phi = Normal::standard().cdf(-m);
    (2.0 * (phi + v * (-0.5 * m * m).exp() / (8.0 * std::f64::consts::PI).sqrt())).min(1.0)
}

/// The slope change `b(theta)` of `y = c + a x + b (x - theta)_+` with `theta` fixed, and its
/// classical standard error.
pub(crate) fn slope_change_at(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    theta: f64,
) -> Option<(f64, f64)> {
    let (beta, rss, inv) = broken_line_at(x, y, w, theta)?;
    let s2 = rss / (x.len() - 3) as f64;
    Some((beta[2], (inv[(2, 2)] * s2).max(0.0).sqrt()))
}

/// Davies' grid: `k` points evenly spaced from the third to the third-last `x` (as R's
/// `segmented::davies.test` and `piecewise-regression`).
pub(crate) fn davies_grid(x: &[f64], k: usize) -> Vec<f64> {
    let (lo, hi) = (x[2], x[x.len() - 3]);
    (0..k)
        .map(|i| lo + (hi - lo) * i as f64 / (k - 1).max(1) as f64)
        .collect()
}

/// Davies' test for a change of slope: p-value of "no breakpoint" against "one breakpoint
/// somewhere", from the Wald statistics of the slope change at `k` breakpoints (10 is the
/// customary choice) between the third and third-last of the sorted `x`. Two-sided. Assumes
/// independent residuals.
///
/// # Errors
/// Fewer than 6 points, unsorted or non-finite data, or `k < 2`.
///
/// # Examples
/// ```
/// use anodiff_core::regress::segmented::davies_test;
/// let x: Vec<f64> = (0..40).map(f64::from).collect();
/// // A clear kink at 20 on top of a small deterministic wiggle.
/// let y: Vec<f64> = x.iter().map(|&v| (v - 20.0).max(0.0) + 0.1 * (3.0 * v).sin()).collect();
/// assert!(davies_test(&x, &y, 10).unwrap() < 1e-6);
/// ```
pub fn davies_test(x: &[f64], y: &[f64], k: usize) -> Result<f64> {
    check_xy(x, y, 6)?;
    if k < 2 {
        return Err(Error::param(
            "k",
            "Davies' test needs at least 2 grid points",
        ));
    }
    let z: Vec<f64> = davies_grid(x, k)
        .into_iter()
        .map(|t| {
            slope_change_at(x, y, None, t)
                .map(|(b, se)| if se > 0.0 { b / se } else { 0.0 })
                .unwrap_or(0.0)
        })
        .collect();
    Ok(davies_bound(&z))
}

/// The breakpoint in `[lo, hi]` of least residual sum of squares over a grid of `n + 1`
/// candidates (each a linear fit with columns 1, x, (x - psi)+).
pub(crate) fn profile_breakpoint(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    lo: f64,
    hi: f64,
    n: usize,
) -> Option<f64> {
    (0..=n)
        .map(|k| lo + (hi - lo) * k as f64 / n.max(1) as f64)
        .filter_map(|psi| broken_line_at(x, y, w, psi).map(|(_, rss, _)| (rss, psi)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, psi)| psi)
}

/// Davies' statistic `max |b(theta) / se(theta)|` over the grid, with classical (weighted)
/// standard errors.
pub(crate) fn davies_statistic(x: &[f64], y: &[f64], w: Option<&[f64]>, thetas: &[f64]) -> f64 {
    thetas
        .iter()
        .filter_map(|&t| slope_change_at(x, y, w, t))
        .map(|(b, se)| if se > 0.0 { (b / se).abs() } else { 0.0 })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn davies_bound_limits() {
        assert_eq!(davies_bound(&[0.0, 0.0]), 1.0);
        assert!(davies_bound(&[8.0, 8.0]) < 1e-14);
    }

    #[test]
    fn fast_broken_line_matches_general_least_squares() {
        let x: Vec<f64> = (0..20).map(|i| i as f64 * 0.3).collect();
        let y: Vec<f64> = x.iter().map(|&v| (3.0 * v).sin() + 0.2 * v).collect();
        let w: Vec<f64> = (0..20).map(|i| 1.0 + i as f64).collect();
        let u: Vec<f64> = x.iter().map(|&v| (v - 2.5).max(0.0)).collect();
        let g = ols(&[vec![1.0; 20], x.clone(), u], &y, Some(&w)).unwrap();
        let (b, rss, _) = broken_line_at(&x, &y, Some(&w), 2.5).unwrap();
        for k in 0..3 {
            assert!((b[k] - g.beta[k]).abs() < 1e-10, "{b:?} {:?}", g.beta);
        }
        assert!((rss - g.rss).abs() < 1e-10 * g.rss);
        let (_, se) = slope_change_at(&x, &y, Some(&w), 2.5).unwrap();
        assert!((se - g.cov[(2, 2)].sqrt()).abs() < 1e-10);
    }

    #[test]
    fn bad_input() {
        assert!(Segmented::default()
            .fit(
                &[1.0, 2.0],
                &[1.0, 2.0],
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(1)
            )
            .is_err());
        assert!(davies_test(&[3.0, 2.0, 1.0, 4.0, 5.0, 6.0], &[0.0; 6], 10).is_err());
    }
}
