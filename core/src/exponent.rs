//! Diffusion exponents: power-law fits of the MSD with honest errors, segmented regression for
//! the crossover `tau0` (Muggeo's method with bootstrap restarts), Davies' test of one segment
//! against two, a smooth two-power-law alternative, local slopes and a regime classification.
//!
//! The paper's authors read every exponent and `tau0` off log-log plots by hand; everything here
//! is automatic and comes with an uncertainty.
//!
//! MSD values at neighbouring lags share most of their increments, so their errors are strongly
//! and positively correlated and the classical OLS standard error of a log-log slope is far too
//! small (typically 5-20x). [`fit_msd`] therefore weights lags by their effective number of
//! independent displacements, takes the exponent's error from the covariance of the MSD across
//! lags under an fBm model (by simulation) or a block bootstrap over time origins (from the
//! [`OriginBlocks`] kept by [`crate::msd::msd_with_blocks`], or over coordinate groups when
//! there are enough), whichever is larger, takes the `tau0` interval from the bootstrap, and calibrates the one-vs-two-segment test by simulation under an fBm null. The generic [`Segmented`] and [`davies_test`] assume independent residuals, as
//! the R package `segmented` and the Python package `piecewise-regression` do.
//!
//! # References
//! - V. M. R. Muggeo, "Estimating regression models with unknown break-points", Stat. Med. 22
//!   (2003) 3055.
//! - R. B. Davies, "Hypothesis testing when a nuisance parameter is present only under the
//!   alternative", Biometrika 74 (1987) 33.
//! - C. Pilgrim, "piecewise-regression", J. Open Source Softw. 6 (2021) 3859.
//! - H. Qian, M. P. Sheetz, E. L. Elson, "Single particle tracking", Biophys. J. 60 (1991) 910.

// Checks are written `!(x > 0.0)` (the style guide's form) so that NaN fails them too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{Error, Result};
use crate::msd::{Msd, OriginBlocks};
use crate::regress::{t_quantile, LineFit};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// Ordinary least squares on explicit columns: coefficients, their covariance and the RSS.
struct Ols {
    beta: Vec<f64>,
    cov: DMatrix<f64>,
    rss: f64,
}

/// Weighted least squares (weights are relative precisions; the residual variance is estimated).
fn ols(cols: &[Vec<f64>], y: &[f64], w: Option<&[f64]>) -> Option<Ols> {
    let n = y.len();
    let p = cols.len();
    if n <= p {
        return None;
    }
    let sw = |i: usize| w.map_or(1.0, |w| w[i].sqrt());
    let x = DMatrix::from_fn(n, p, |i, j| cols[j][i] * sw(i));
    let yv = DVector::from_iterator(n, (0..n).map(|i| y[i] * sw(i)));
    let xtx = x.transpose() * &x;
    let inv = xtx.try_inverse()?;
    let beta = &inv * (x.transpose() * &yv);
    let resid = &yv - &x * &beta;
    let rss = resid.norm_squared();
    let s2 = rss / (n - p) as f64;
    let beta: Vec<f64> = beta.iter().copied().collect();
    if beta.iter().any(|b| !b.is_finite()) {
        return None;
    }
    Some(Ols {
        beta,
        cov: inv * s2,
        rss,
    })
}

fn check_xy(x: &[f64], y: &[f64], min: usize) -> Result<()> {
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

fn check_weights(w: Option<&[f64]>, n: usize) -> Result<()> {
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

fn quantile_sorted(v: &[f64], p: f64) -> f64 {
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
/// use anodiff_core::exponent::Segmented;
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

struct Muggeo {
    psi: f64,
    ols: Ols,
}

impl Segmented {
    fn bounds(&self, x: &[f64]) -> (f64, f64) {
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
    fn muggeo(
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
fn slope_change_at(x: &[f64], y: &[f64], w: Option<&[f64]>, theta: f64) -> Option<(f64, f64)> {
    let u: Vec<f64> = x.iter().map(|&v| (v - theta).max(0.0)).collect();
    let f = ols(&[vec![1.0; x.len()], x.to_vec(), u], y, w)?;
    Some((f.beta[2], f.cov[(2, 2)].max(0.0).sqrt()))
}

/// Davies' grid: `k` points evenly spaced from the third to the third-last `x` (as R's
/// `segmented::davies.test` and `piecewise-regression`).
fn davies_grid(x: &[f64], k: usize) -> Vec<f64> {
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
/// use anodiff_core::exponent::davies_test;
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

/// A power law `y = A tau^alpha` fitted on log-log axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    /// The exponent `alpha`.
    pub alpha: f64,
    /// Standard error of `alpha`: the larger of the fBm-model (parametric bootstrap) and the
    /// block-bootstrap errors when available, else OLS (see [`fit_msd`]).
    pub alpha_se: f64,
    /// The classical OLS standard error, for comparison (too small for correlated MSDs).
    pub alpha_se_ols: f64,
    /// `ln A`.
    pub log_prefactor: f64,
    /// Smallest and largest lag used.
    pub lag_range: [f64; 2],
    /// Number of lags used.
    pub n_lags: usize,
    /// How `alpha_se` was obtained: `"fbm-model"`, `"block-bootstrap"` or `"ols"`.
    pub se_method: String,
}

/// The two-regime description of an MSD curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoRegime {
    /// Exponent below `tau0`.
    pub alpha_short: f64,
    /// Exponent above `tau0`.
    pub alpha_long: f64,
    /// Crossover lag (the breakpoint of the broken line in log-log space).
    pub tau0: f64,
    /// 95 % interval of `tau0` (bootstrap percentiles when available, else delta method).
    pub tau0_ci95: [f64; 2],
    /// p-value of one segment against two (slope changes calibrated under an fBm null; see
    /// [`fit_msd`]).
    pub p_one_vs_two: f64,
}

/// A smooth sum of two power laws `A tau^a1 + B tau^a2`, fitted by Levenberg-Marquardt on
/// `ln MSD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoPowerFit {
    /// The smaller exponent (dominant at short lags when `a1 < a2`).
    pub a1: f64,
    /// The larger exponent.
    pub a2: f64,
    /// `ln A`.
    pub log_a: f64,
    /// `ln B`.
    pub log_b: f64,
    /// Lag at which the two terms are equal, `(A/B)^(1/(a2 - a1))`.
    pub tau_equal: f64,
    /// Residual sum of squares of `ln MSD`.
    pub rss: f64,
    /// Whether the iteration met its tolerance.
    pub converged: bool,
}

/// The local exponent `alpha(tau) = d ln MSD / d ln tau` from a straight line through the
/// points within a log-lag window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalSlope {
    /// Centre lag.
    pub tau: f64,
    /// Local slope.
    pub alpha: f64,
}

/// Diffusion regime of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// `alpha` clearly below 1.
    Subdiffusive,
    /// `alpha` consistent with 1.
    Normal,
    /// `alpha` clearly above 1 and clearly below 2.
    Superdiffusive,
    /// `alpha` consistent with 2 (or above).
    Ballistic,
}

/// Half-width of the "consistent with" band when the standard error is tiny: differences below
/// 0.05 in `alpha` are not physically meaningful for MSD exponents.
pub const REGIME_MIN_BAND: f64 = 0.05;

/// Classifies an exponent with standard error `se`: with `m = max(0.05, 1.96 se)`,
/// ballistic if `alpha >= 2 - m`, normal if `|alpha - 1| <= m`, subdiffusive if
/// `alpha < 1 - m`, superdiffusive otherwise.
///
/// # Examples
/// ```
/// use anodiff_core::exponent::{classify, Regime};
/// assert_eq!(classify(0.7, 0.05), Regime::Subdiffusive);
/// assert_eq!(classify(0.9, 0.1), Regime::Normal); // 0.9 is within 1.96 se of 1
/// assert_eq!(classify(1.97, 0.01), Regime::Ballistic);
/// ```
pub fn classify(alpha: f64, se: f64) -> Regime {
    let m = REGIME_MIN_BAND.max(1.96 * if se.is_finite() { se } else { 0.0 });
    if alpha >= 2.0 - m {
        Regime::Ballistic
    } else if (alpha - 1.0).abs() <= m {
        Regime::Normal
    } else if alpha < 1.0 {
        Regime::Subdiffusive
    } else {
        Regime::Superdiffusive
    }
}

/// Local slopes of `ln y` against `ln x` over windows of `±half_width` in `ln x` (at least 3
/// points each; lags whose window has fewer are skipped).
///
/// # Errors
/// Mismatched lengths, a non-positive value, or a non-positive `half_width`.
pub fn local_slopes(x: &[f64], y: &[f64], half_width: f64) -> Result<Vec<LocalSlope>> {
    if x.len() != y.len() {
        return Err(Error::Shape(
            "local slopes: x and y differ in length".into(),
        ));
    }
    if !(half_width > 0.0) {
        return Err(Error::param("half_width", "must be > 0"));
    }
    if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && y[i] > 0.0)) {
        return Err(Error::InvalidData(format!(
            "local slopes need positive values, point {i} is ({}, {})",
            x[i], y[i]
        )));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mut out = Vec::new();
    for i in 0..x.len() {
        let sel: Vec<usize> = (0..x.len())
            .filter(|&j| (lx[j] - lx[i]).abs() <= half_width)
            .collect();
        if sel.len() < 3 {
            continue;
        }
        let xs: Vec<f64> = sel.iter().map(|&j| lx[j]).collect();
        let ys: Vec<f64> = sel.iter().map(|&j| ly[j]).collect();
        if let Ok(f) = LineFit::ols(&xs, &ys) {
            out.push(LocalSlope {
                tau: x[i],
                alpha: f.slope,
            });
        }
    }
    Ok(out)
}

/// Fits `y = A x^a1 + B x^a2` by Levenberg-Marquardt on `ln y`, from the broken line `seg`
/// (fitted to `ln y` vs `ln x`) as a start.
///
/// # Errors
/// Mismatched lengths, fewer than 5 points, or non-positive values.
pub fn fit_two_power(x: &[f64], y: &[f64], seg: &SegmentedFit) -> Result<TwoPowerFit> {
    if x.len() != y.len() || x.len() < 5 {
        return Err(Error::InvalidData(
            "two-power-law fit needs at least 5 points of equal-length x and y".into(),
        ));
    }
    if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && y[i] > 0.0)) {
        return Err(Error::InvalidData(format!(
            "two-power-law fit needs positive values, point {i} is ({}, {})",
            x[i], y[i]
        )));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    // p = [ln A, a1, ln B, a2]; the right segment's line is c - b psi + (a + b) x.
    let mut p = [
        seg.intercept,
        seg.slope_left,
        seg.intercept - seg.slope_change * seg.breakpoint,
        seg.slope_right,
    ];
    let eval = |p: &[f64; 4], jac: Option<&mut Vec<[f64; 4]>>| -> (Vec<f64>, f64) {
        let mut r = Vec::with_capacity(lx.len());
        let mut rss = 0.0;
        let mut rows = Vec::with_capacity(lx.len());
        for (&xi, &yi) in lx.iter().zip(&ly) {
            let (e1, e2) = (p[0] + p[1] * xi, p[2] + p[3] * xi);
            let m = e1.max(e2);
            let f = m + ((e1 - m).exp() + (e2 - m).exp()).ln();
            let w1 = (e1 - f).exp();
            let w2 = (e2 - f).exp();
            rows.push([w1, w1 * xi, w2, w2 * xi]);
            let ri = yi - f;
            rss += ri * ri;
            r.push(ri);
        }
        if let Some(j) = jac {
            *j = rows;
        }
        (r, rss)
    };
    let mut lambda = 1e-3;
    let mut jac = Vec::new();
    let (mut r, mut rss) = eval(&p, Some(&mut jac));
    let mut converged = false;
    for _ in 0..500 {
        let mut jtj = DMatrix::<f64>::zeros(4, 4);
        let mut jtr = DVector::<f64>::zeros(4);
        for (row, ri) in jac.iter().zip(&r) {
            for a in 0..4 {
                jtr[a] += row[a] * ri;
                for b in 0..4 {
                    jtj[(a, b)] += row[a] * row[b];
                }
            }
        }
        let mut a = jtj.clone();
        for k in 0..4 {
            a[(k, k)] += lambda * jtj[(k, k)].max(1e-12);
        }
        let Some(step) = a.lu().solve(&jtr) else {
            break;
        };
        let trial = [
            p[0] + step[0],
            p[1] + step[1],
            p[2] + step[2],
            p[3] + step[3],
        ];
        let mut jt = Vec::new();
        let (rt, rsst) = eval(&trial, Some(&mut jt));
        if rsst.is_finite() && rsst <= rss {
            let small = (rss - rsst) <= 1e-12 * rss.max(1e-300) && step.norm() < 1e-8;
            p = trial;
            r = rt;
            jac = jt;
            rss = rsst;
            lambda = (lambda / 3.0).max(1e-12);
            if small {
                converged = true;
                break;
            }
        } else {
            lambda *= 4.0;
            if lambda > 1e12 {
                converged = true; // no downhill step left: at a minimum to rounding
                break;
            }
        }
    }
    let (mut la, mut a1, mut lb, mut a2) = (p[0], p[1], p[2], p[3]);
    if a1 > a2 {
        std::mem::swap(&mut la, &mut lb);
        std::mem::swap(&mut a1, &mut a2);
    }
    let tau_equal = ((la - lb) / (a2 - a1)).exp();
    Ok(TwoPowerFit {
        a1,
        a2,
        log_a: la,
        log_b: lb,
        tau_equal,
        rss,
        converged,
    })
}

/// Options of [`fit_msd`].
#[derive(Debug, Clone, PartialEq)]
pub struct MsdFitOptions {
    /// Only lags in `[lo, hi]` are fitted (default: all computed lags).
    pub fit_range: Option<(f64, f64)>,
    /// Bootstrap replicates over origin blocks (default 200).
    pub n_boot: usize,
    /// Restarts of the segmented regression on the data itself (default 20).
    pub restarts: usize,
    /// Significance level at which one segment is rejected in favour of two (default 0.05).
    pub test_level: f64,
    /// Half-width in decades of lag of the local-slope windows (default 0.15).
    pub local_half_width_decades: f64,
    /// Seed of the bootstrap and restarts (default 0).
    pub seed: u64,
    /// Weight each lag by its effective number of independent displacements `(T - tau) / tau`
    /// (default `true`); `false` gives ordinary least squares on log-log axes.
    pub weighted: bool,
    /// Simulations of the fBm null that calibrate the one-vs-two-segment test (default 199;
    /// 0 uses Davies' analytic bound with bootstrap standard errors instead).
    pub null_sims: usize,
    /// Statistic of the simulated one-vs-two-segment test (default
    /// [`SegmentTest::Standardised`]).
    pub segment_test: SegmentTest,
}

/// The statistic of [`fit_msd`]'s one-vs-two-segment test; both are calibrated by simulating
/// exact fBm under the null of one power law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentTest {
    /// The slope changes at 10 candidate breakpoints, each standardised by its spread over the
    /// null simulations in `min(round(d_eff), 16)` coordinates scaled to the data's `d_eff`;
    /// the maximum is calibrated against the same simulations.
    #[default]
    Standardised,
    /// Davies' Wald statistic `max |b / se|` with classical (residual) standard errors, nulls
    /// simulated in 4 coordinates whatever `d` is: the session-1 test, kept for comparison. It
    /// is weaker (82 / 100 planted crossovers found at d = 16 against 100 / 100; see
    /// [`fit_msd`]).
    DaviesWald,
}

impl Default for MsdFitOptions {
    fn default() -> Self {
        MsdFitOptions {
            fit_range: None,
            n_boot: 200,
            restarts: 20,
            test_level: 0.05,
            local_half_width_decades: 0.15,
            seed: 0,
            weighted: true,
            null_sims: 199,
            segment_test: SegmentTest::Standardised,
        }
    }
}

/// Everything [`fit_msd`] finds about one MSD curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsdFit {
    /// The single power law over the fitted lags.
    pub power_law: PowerLawFit,
    /// The broken line in log-log space (when there are at least 8 lags).
    pub segmented: Option<SegmentedFit>,
    /// p-value of one segment against two (Davies' test; bootstrap standard errors when
    /// available).
    pub p_one_vs_two: Option<f64>,
    /// The two regimes, present when one segment is rejected at `test_level`.
    pub two_regime: Option<TwoRegime>,
    /// The smooth two-power-law alternative (when the broken line exists).
    pub two_power: Option<TwoPowerFit>,
    /// Local slopes `alpha(tau)`.
    pub local: Vec<LocalSlope>,
    /// Regime of the single power law.
    pub regime: Regime,
}

/// Fits exponents, the two-regime shape and the regime of one window's MSD.
///
/// Lines are fitted to `ln MSD` against `ln tau`, by default weighted by the effective number
/// of independent displacements at each lag, `(T - tau) / tau` (Qian, Sheetz & Elson 1991):
/// long lags, few and strongly correlated, would otherwise dominate a fit over all lags.
///
/// `alpha_se` is the larger of two errors:
/// - **fBm model** (parametric bootstrap): the spread of the same weighted fit over `n_boot`
///   exact fractional Brownian motions with `H = alpha / 2`, the window's length and
///   `k = min(round(d_eff), 4)` coordinates, analysed at the same lags and scaled by
///   `sqrt(k / d_eff)` ([`Msd::d_eff`](crate::msd::Msd::d_eff), the participation ratio of the
///   coordinates' step variances). This carries the full covariance of the time-averaged MSD
///   across lags, which for Brownian motion Qian et al. (1991) give in closed form, including
///   the window-scale fluctuations a resampling of origins inside one window cannot see; it is
///   exact for Gaussian fBm-like motion and cheaper than a formula-based GLS for general `H`.
/// - **bootstrap**: the standard deviation of the slope over `n_boot` resampled curves. With
///   at least 8 coordinate groups ([`Msd::coord_groups`](crate::msd::Msd::coord_groups)) the
///   groups are resampled (`"coordinate-bootstrap"`; independent replicates of the whole window
///   when coordinates are independent); otherwise blocks of time origins
///   (`"block-bootstrap"`, from [`crate::msd::msd_with_blocks`]). It sees non-Gaussian and
///   non-stationary noise the model ignores; the origin-block version is optimistic for fits
///   reaching into the window (true sd / bootstrap SE = 1.4 for lags up to T/10, 1.8 up to
///   T/4, 2.9 up to T/2), since resampling origins inside one window cannot see fluctuations on
///   the window's scale.
///
/// The larger is reported (`se_method` says which); without either, the classical OLS error.
/// The `tau0` interval is the 2.5 and 97.5 % percentiles of the breakpoint over the same
/// bootstrap replicates (else the delta method); each replicate's breakpoint is found by a
/// global profile search (200 candidates) refined by Muggeo's iteration, since the broken
/// line's RSS has a local minimum between every pair of lags. Measured coverage on a planted
/// crossover (fBm H = 0.3 plus drift, T = 1000): 93 / 100 with d = 16 (coordinate groups),
/// 97 / 100 with d = 4 (origin blocks).
///
/// The one-vs-two-segment p-value ([`SegmentTest::Standardised`], the default) looks at the
/// weighted slope change `b(theta)` of the broken line at 10 candidate breakpoints and
/// calibrates it by Monte Carlo under the null of a single power law: `null_sims` exact
/// fractional Brownian motions with `H = alpha / 2` in `k = min(round(d_eff), 16)` coordinates,
/// analysed at the same lags, give each `b(theta)`'s null mean and spread, scaled to the data's
/// `d_eff` (variance by `k / d_eff`); the statistic is the largest standardised `|b(theta)|`
/// and `p = (1 + #exceed) / (1 + sims)` over the simulations' own maxima. Measured by
/// simulation (tests/exponent_segment_test.rs, ignored full version; T = 1000, 30 log lags up
/// to 250, 199 null simulations, 100 walks each): one segment is rejected in 8 / 100 exact fBm
/// walks (H = 0.3) at d = 16 and 7 / 100 at d = 4 (nominal 5 %; binomial sd 2.2), and a planted
/// smooth crossover (fBm H = 0.3 plus drift) is found in 100 / 100 at both d, where the
/// session-1 test (Davies' Wald statistic with residual errors, nulls in 4 coordinates,
/// [`SegmentTest::DaviesWald`]) found 82 / 100 (d = 16) and 78 / 100 (d = 4), with sizes
/// 6 / 100 and 4 / 100. Davies' analytic bound assumes independent
/// residuals and rejects almost every Brownian MSD curve; with `null_sims = 0` it is used with
/// bootstrap standard errors instead.
///
/// Error-model assumptions (both the fBm-model `alpha_se` and the segment test): increments
/// are Gaussian and stationary like fBm's (a single exponent `H = alpha / 2`), and coordinates
/// are independent, so that `d_eff` coordinates average their noise; heavy-tailed or strongly
/// coupled coordinates make the model errors optimistic, which the bootstrap branch of
/// `alpha_se` partly guards against.
///
/// # Calibration
/// Measured over 200 walks each (T = 1000, d = 2, 20 log lags up to T/10,
/// tests/exponent_processes.rs): true sd / mean reported SE = 1.03 (Brownian), 0.93 (fBm,
/// H = 0.3), 0.90 (fBm, H = 0.7); with lags up to T/2: 1.04, 0.93, 0.92. The OLS error is
/// 5-7x too small.
///
/// # Errors
/// Fewer than 3 positive MSD values in the fit range, or an invalid option.
pub fn fit_msd(m: &Msd, opts: &MsdFitOptions) -> Result<MsdFit> {
    if let Some((lo, hi)) = opts.fit_range {
        if !(lo > 0.0 && hi > lo) {
            return Err(Error::param(
                "fit-range",
                format!("needs 0 < LO < HI, got {lo},{hi}"),
            ));
        }
    }
    if !(opts.test_level > 0.0 && opts.test_level < 1.0) {
        return Err(Error::param("test_level", "must be in (0, 1)"));
    }
    let sel: Vec<usize> = (0..m.lags.len())
        .filter(|&i| {
            let t = m.lags[i] as f64;
            opts.fit_range.is_none_or(|(lo, hi)| t >= lo && t <= hi) && m.msd[i] > 0.0
        })
        .collect();
    if sel.len() < 3 {
        return Err(Error::InvalidData(format!(
            "exponent fit needs at least 3 lags with positive MSD in the fit range, got {}",
            sel.len()
        )));
    }
    let lx: Vec<f64> = sel.iter().map(|&i| (m.lags[i] as f64).ln()).collect();
    let ly: Vec<f64> = sel.iter().map(|&i| m.msd[i].ln()).collect();
    // Relative precision of ln MSD(tau): the effective number of independent displacements,
    // about (T - tau) / tau (Qian et al. 1991), as trackpy and msdanalyzer weight.
    let wts: Option<Vec<f64>> = opts.weighted.then(|| {
        sel.iter()
            .map(|&i| (m.window.len - m.lags[i]) as f64 / m.lags[i] as f64)
            .collect()
    });
    let line = LineFit::weighted(&lx, &ly, wts.as_deref())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);

    let seg = if sel.len() >= 8 {
        Segmented {
            n_boot: opts.restarts,
            ..Segmented::default()
        }
        .fit_weighted(&lx, &ly, wts.as_deref(), &mut rng)
        .ok()
    } else {
        None
    };
    let thetas = (sel.len() >= 8).then(|| davies_grid(&lx, 10));

    // Bootstrap replicates of the curve at the selected lags.
    // Over coordinate groups when there are enough (independent replicates of the whole
    // window, so window-scale fluctuations are seen), else over blocks of time origins.
    let (reps, boot_method): (Vec<Vec<f64>>, &str) = match (&m.coord_groups, &m.blocks) {
        (Some(g), _) if g.len() >= crate::msd::MIN_COORD_GROUPS && opts.n_boot >= 2 => (
            coord_replicates(g, &sel, opts.n_boot, &mut rng),
            "coordinate-bootstrap",
        ),
        (_, Some(b)) if b.n_blocks() >= 2 && opts.n_boot >= 2 => (
            replicates(b, &sel, opts.n_boot, &mut rng),
            "block-bootstrap",
        ),
        _ => (Vec::new(), "ols"),
    };
    let boot = !reps.is_empty();
    let mut slopes = Vec::new();
    let mut psis = Vec::new();
    let mut bz: Vec<Vec<f64>> = vec![Vec::new(); thetas.as_ref().map_or(0, Vec::len)];
    for rep in &reps {
        let keep: Vec<usize> = (0..rep.len())
            .filter(|&k| rep[k] > 0.0 && rep[k].is_finite())
            .collect();
        let xs: Vec<f64> = keep.iter().map(|&k| lx[k]).collect();
        let ys: Vec<f64> = keep.iter().map(|&k| rep[k].ln()).collect();
        let ws: Option<Vec<f64>> = wts.as_ref().map(|w| keep.iter().map(|&k| w[k]).collect());
        if xs.len() < 3 {
            continue;
        }
        if let Ok(f) = LineFit::weighted(&xs, &ys, ws.as_deref()) {
            slopes.push(f.slope);
        }
        if xs.len() >= 8 {
            if let Some(s) = &seg {
                let sf = Segmented {
                    n_boot: 0,
                    start: Some(s.breakpoint),
                    ..Segmented::default()
                };
                let (lo, hi) = sf.bounds(&lx);
                // A global profile search first: the broken line's RSS has a local minimum
                // between every pair of lags, and a Muggeo run from the data's breakpoint
                // stays in its basin, which made the interval far too narrow.
                let start = profile_breakpoint(&xs, &ys, ws.as_deref(), lo, hi, 200)
                    .unwrap_or(s.breakpoint);
                if let Some(mg) = sf.muggeo(&xs, &ys, ws.as_deref(), start, lo, hi) {
                    psis.push(mg.psi);
                }
            }
            if let Some(th) = thetas.as_ref().filter(|_| opts.null_sims == 0) {
                for (k, &t) in th.iter().enumerate() {
                    if let Some((b, _)) = slope_change_at(&xs, &ys, ws.as_deref(), t) {
                        bz[k].push(b);
                    }
                }
            }
        }
    }
    let sd = |v: &[f64]| -> f64 {
        let n = v.len() as f64;
        let mu = v.iter().sum::<f64>() / n;
        (v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let lags_sel: Vec<usize> = sel.iter().map(|&i| m.lags[i]).collect();
    let model_se = fbm_model_se(
        line.slope,
        m.window.len,
        &lags_sel,
        &lx,
        wts.as_deref(),
        m.d_eff,
        opts.n_boot,
        opts.seed,
    );
    let boot_se = (slopes.len() >= 10).then(|| sd(&slopes));
    // The larger of the two: the model sees the window-scale fluctuations the block bootstrap
    // misses, the bootstrap sees non-Gaussian or non-fBm noise the model ignores.
    let (alpha_se, se_method) = match (model_se, boot_se) {
        (Some(a), Some(b)) if b > a => (b, boot_method),
        (Some(a), _) => (a, "fbm-model"),
        (None, Some(b)) => (b, boot_method),
        (None, None) => (line.slope_se, "ols"),
    };
    let power_law = PowerLawFit {
        alpha: line.slope,
        alpha_se,
        alpha_se_ols: line.slope_se,
        log_prefactor: line.intercept,
        lag_range: [m.lags[sel[0]] as f64, m.lags[sel[sel.len() - 1]] as f64],
        n_lags: sel.len(),
        se_method: se_method.into(),
    };

    let p_one_vs_two = thetas.as_ref().map(|th| {
        if opts.null_sims > 0 && opts.segment_test == SegmentTest::DaviesWald {
            let stat = |ly: &[f64]| davies_statistic(&lx, ly, wts.as_deref(), th);
            let m_obs = stat(&ly);
            return wald_null_p(
                line.slope,
                m.window.len,
                &lags_sel,
                m_obs,
                opts.null_sims,
                &mut rng,
                stat,
            );
        }
        if opts.null_sims > 0 {
            // The slope changes at the grid, standardised by their spread under a simulated
            // fBm null at the data's effective number of coordinates, and the maximum
            // calibrated against the same simulations.
            let changes = |ly: &[f64]| -> Vec<f64> {
                th.iter()
                    .map(|&t| slope_change_at(&lx, ly, wts.as_deref(), t).map_or(0.0, |r| r.0))
                    .collect()
            };
            return fbm_null_p(
                line.slope,
                m.window.len,
                &lags_sel,
                m.d_eff,
                &changes(&ly),
                opts.null_sims,
                &mut rng,
                changes,
            );
        }
        let z: Vec<f64> = th
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let Some((b, se_ols)) = slope_change_at(&lx, &ly, wts.as_deref(), t) else {
                    return 0.0;
                };
                let se = if boot && bz[k].len() >= 10 {
                    sd(&bz[k])
                } else {
                    se_ols
                };
                if se > 0.0 {
                    b / se
                } else {
                    0.0
                }
            })
            .collect();
        davies_bound(&z)
    });

    let two_regime = match (&seg, p_one_vs_two) {
        (Some(s), Some(p)) if p < opts.test_level => {
            let ci = if boot && psis.len() >= 20 {
                psis.sort_by(f64::total_cmp);
                [
                    quantile_sorted(&psis, 0.025).min(s.breakpoint),
                    quantile_sorted(&psis, 0.975).max(s.breakpoint),
                ]
            } else {
                s.breakpoint_ci95
            };
            Some(TwoRegime {
                alpha_short: s.slope_left,
                alpha_long: s.slope_right,
                tau0: s.breakpoint.exp(),
                tau0_ci95: [ci[0].exp(), ci[1].exp()],
                p_one_vs_two: p,
            })
        }
        _ => None,
    };
    let taus: Vec<f64> = sel.iter().map(|&i| m.lags[i] as f64).collect();
    let vals: Vec<f64> = sel.iter().map(|&i| m.msd[i]).collect();
    let two_power = seg
        .as_ref()
        .and_then(|s| fit_two_power(&taus, &vals, s).ok());
    let local = local_slopes(
        &taus,
        &vals,
        opts.local_half_width_decades * std::f64::consts::LN_10,
    )?;
    Ok(MsdFit {
        regime: classify(power_law.alpha, power_law.alpha_se),
        power_law,
        segmented: seg,
        p_one_vs_two,
        two_regime,
        two_power,
        local,
    })
}

/// The breakpoint in `[lo, hi]` of least residual sum of squares over a grid of `n + 1`
/// candidates (each a linear fit with columns 1, x, (x - psi)+).
fn profile_breakpoint(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    lo: f64,
    hi: f64,
    n: usize,
) -> Option<f64> {
    let ones = vec![1.0; x.len()];
    (0..=n)
        .map(|k| lo + (hi - lo) * k as f64 / n as f64)
        .filter_map(|psi| {
            let cols = [
                ones.clone(),
                x.to_vec(),
                x.iter().map(|&v| (v - psi).max(0.0)).collect(),
            ];
            ols(&cols, y, w).map(|f| (f.rss, psi))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, psi)| psi)
}

/// Davies' statistic `max |b(theta) / se(theta)|` over the grid, with classical (weighted)
/// standard errors.
fn davies_statistic(x: &[f64], y: &[f64], w: Option<&[f64]>, thetas: &[f64]) -> f64 {
    thetas
        .iter()
        .filter_map(|&t| slope_change_at(x, y, w, t))
        .map(|(b, se)| if se > 0.0 { (b / se).abs() } else { 0.0 })
        .fold(0.0, f64::max)
}

/// Most independent coordinates in each null simulation of [`fbm_null_p`]; data with more
/// effective coordinates are matched by scaling (the spread of a slope change goes as
/// `1 / sqrt(d_eff)`, exactly so once `ln MSD` is close to linear in its noise, as it is here).
const NULL_DIM_MAX: usize = 16;

/// Monte Carlo p-value of one power law against a change of slope. `b_obs[k]` is the data's
/// weighted slope change at the `k`-th grid breakpoint; `changes` computes the same from a
/// simulated `ln MSD`. Under the null, `null_sims` exact fractional Brownian motions with
/// `H = alpha / 2` (clamped to [0.02, 0.98]) over `len` steps in `k = min(round(d_eff), 16)`
/// independent coordinates give the null mean `mu_k` and spread `sd_k` of each slope change;
/// scaled to the data's `d_eff` (variance by `k / d_eff`), the statistic is
/// `max_k |b_obs - mu| / sd`, and the p-value is the share of simulations whose own maximum is
/// at least as large, `(1 + #exceed) / (1 + sims)`. Standardising by the simulated spread
/// rather than by the residuals (Davies' Wald statistic) is what gives the test its power:
/// the residuals of a time-averaged MSD are strongly correlated across lags, and their
/// classical error says nothing about how far a slope change can wander.
#[allow(clippy::too_many_arguments)]
fn fbm_null_p<R: Rng + ?Sized>(
    alpha: f64,
    len: usize,
    lags: &[usize],
    d_eff: f64,
    b_obs: &[f64],
    n_sims: usize,
    rng: &mut R,
    changes: impl Fn(&[f64]) -> Vec<f64>,
) -> f64 {
    let h = (alpha / 2.0).clamp(0.02, 0.98);
    let gen = FgnGenerator::new(len.saturating_sub(1).max(1), h);
    let d_eff = if d_eff.is_finite() && d_eff >= 1.0 {
        d_eff
    } else {
        1.0
    };
    let k = (d_eff.round() as usize).clamp(1, NULL_DIM_MAX);
    let sims: Vec<Vec<f64>> = (0..n_sims)
        .filter_map(|_| fbm_log_msd(&gen, len, k, lags, rng))
        .map(|ly| changes(&ly))
        .collect();
    if sims.len() < 10 {
        // Too few usable simulations to calibrate anything: do not reject.
        return 1.0;
    }
    let ns = sims.len() as f64;
    let nk = b_obs.len();
    let mu: Vec<f64> = (0..nk)
        .map(|j| sims.iter().map(|s| s[j]).sum::<f64>() / ns)
        .collect();
    let sd: Vec<f64> = (0..nk)
        .map(|j| (sims.iter().map(|s| (s[j] - mu[j]).powi(2)).sum::<f64>() / (ns - 1.0)).sqrt())
        .collect();
    let stat = |b: &[f64], var_scale: f64| -> f64 {
        (0..nk)
            .filter(|&j| sd[j] > 0.0)
            .map(|j| ((b[j] - mu[j] * var_scale) / (sd[j] * var_scale.sqrt())).abs())
            .fold(0.0, f64::max)
    };
    let m_obs = stat(b_obs, k as f64 / d_eff);
    let exceed = sims.iter().filter(|s| stat(s, 1.0) >= m_obs).count();
    (1 + exceed) as f64 / (1.0 + ns)
}

/// Coordinates of each null simulation of [`wald_null_p`].
const WALD_NULL_DIM: usize = 4;

/// Monte Carlo p-value of Davies' statistic `m_obs` under the null of one power law: exact fBm
/// with `H = alpha / 2` (clamped to [0.02, 0.98]) in [`WALD_NULL_DIM`] coordinates over a
/// window of `len` steps, analysed at the same lags ([`SegmentTest::DaviesWald`]).
fn wald_null_p<R: Rng + ?Sized>(
    alpha: f64,
    len: usize,
    lags: &[usize],
    m_obs: f64,
    n_sims: usize,
    rng: &mut R,
    stat: impl Fn(&[f64]) -> f64,
) -> f64 {
    let h = (alpha / 2.0).clamp(0.02, 0.98);
    let gen = FgnGenerator::new(len.saturating_sub(1).max(1), h);
    let mut exceed = 0usize;
    let mut done = 0usize;
    for _ in 0..n_sims {
        let Some(ly) = fbm_log_msd(&gen, len, WALD_NULL_DIM, lags, rng) else {
            continue;
        };
        done += 1;
        if stat(&ly) >= m_obs {
            exceed += 1;
        }
    }
    (1 + exceed) as f64 / (1 + done) as f64
}

/// `ln MSD` at `lags` of one exact fBm path (increments from `gen`) of `len` steps in `dim`
/// independent coordinates; `None` when some MSD value is not positive.
fn fbm_log_msd<R: Rng + ?Sized>(
    gen: &FgnGenerator,
    len: usize,
    dim: usize,
    lags: &[usize],
    rng: &mut R,
) -> Option<Vec<f64>> {
    let mut w = vec![0.0f32; len * dim];
    for pair in 0..dim.div_ceil(2) {
        let (a, b) = gen.sample(rng);
        for (k, noise) in [a, b].into_iter().enumerate() {
            let c = 2 * pair + k;
            if c >= dim {
                break;
            }
            let mut x = 0.0f64;
            for t in 1..len {
                x += noise[t - 1];
                w[t * dim + c] = x as f32;
            }
        }
    }
    let src = Paths { w, dim };
    let sim = crate::msd::msd(&src, crate::msd::Window { start: 0, len }, lags).ok()?;
    if sim.msd.iter().any(|v| !(*v > 0.0)) {
        return None;
    }
    Some(sim.msd.iter().map(|v| v.ln()).collect())
}

/// Largest number of coordinates simulated by [`fbm_model_se`]; beyond it the slope's spread
/// is scaled by `sqrt(MODEL_DIM / d_eff)`.
const MODEL_DIM: usize = 4;

/// Model-based (parametric-bootstrap) standard error of the fitted slope: the spread of the
/// same weighted fit over `n_sims` exact fBm paths with `H = alpha / 2` (clamped to
/// [0.02, 0.98]), `len` steps and `k = min(round(d_eff), MODEL_DIM)` coordinates, analysed at
/// the same lags, scaled by `sqrt(k / d_eff)` (independent coordinates average, so the slope's
/// variance goes as `1 / d_eff`). This is the full covariance of the time-averaged MSD across
/// lags (Qian et al. 1991 for Brownian motion) by simulation instead of by formula.
#[allow(clippy::too_many_arguments)]
fn fbm_model_se(
    alpha: f64,
    len: usize,
    lags: &[usize],
    lx: &[f64],
    w: Option<&[f64]>,
    d_eff: f64,
    n_sims: usize,
    seed: u64,
) -> Option<f64> {
    if !(d_eff >= 1.0) || n_sims < 10 || len < 3 {
        return None;
    }
    let k = (d_eff.round() as usize).clamp(1, MODEL_DIM);
    let h = (alpha / 2.0).clamp(0.02, 0.98);
    let gen = FgnGenerator::new(len - 1, h);
    // A stream of its own, so that the bootstrap and restarts are unchanged by this step.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f0b5_0de1_5e00);
    let slopes: Vec<f64> = (0..n_sims)
        .filter_map(|_| fbm_log_msd(&gen, len, k, lags, &mut rng))
        .filter_map(|ly| LineFit::weighted(lx, &ly, w).ok())
        .map(|f| f.slope)
        .collect();
    if slopes.len() < 10 {
        return None;
    }
    let n = slopes.len() as f64;
    let mu = slopes.iter().sum::<f64>() / n;
    let var = slopes.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0);
    Some((var * k as f64 / d_eff).sqrt())
}

/// Simulated paths for the null distribution (row-major steps x dim).
struct Paths {
    w: Vec<f32>,
    dim: usize,
}

impl crate::trajectory::TrajectorySource for Paths {
    fn n_steps(&self) -> usize {
        self.w.len() / self.dim
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn read_weights(
        &self,
        steps: std::ops::Range<usize>,
        coords: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let nc = coords.len();
        for (i, t) in steps.enumerate() {
            out[i * nc..(i + 1) * nc]
                .copy_from_slice(&self.w[t * self.dim + coords.start..t * self.dim + coords.end]);
        }
        Ok(())
    }
    fn losses(&self, _steps: std::ops::Range<usize>) -> Result<Option<Vec<f64>>> {
        Ok(None)
    }
}

/// Exact fractional Gaussian noise by circulant embedding (Davies & Harte 1987): two
/// independent unit-variance series of length `m` per FFT of length `2m`.
struct FgnGenerator {
    m: usize,
    sqrt_eig: Vec<f64>,
    fft: std::sync::Arc<dyn rustfft::Fft<f64>>,
}

impl FgnGenerator {
    fn new(m: usize, h: f64) -> Self {
        use rustfft::num_complex::Complex;
        let g = |k: usize| {
            let k = k as f64;
            0.5 * ((k + 1.0).powf(2.0 * h) - 2.0 * k.powf(2.0 * h) + (k - 1.0).abs().powf(2.0 * h))
        };
        let n = 2 * m;
        let mut row: Vec<Complex<f64>> = (0..n)
            .map(|j| Complex::new(g(if j <= m { j } else { n - j }), 0.0))
            .collect();
        let fft = rustfft::FftPlanner::new().plan_fft_forward(n);
        fft.process(&mut row);
        // The embedding is nonnegative definite for fGn; clamp rounding-level negatives.
        let sqrt_eig = row
            .iter()
            .map(|c| (c.re.max(0.0) / n as f64).sqrt())
            .collect();
        FgnGenerator { m, sqrt_eig, fft }
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> (Vec<f64>, Vec<f64>) {
        use rustfft::num_complex::Complex;
        let normal = |rng: &mut R| -> f64 {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let mut z: Vec<Complex<f64>> = self
            .sqrt_eig
            .iter()
            .map(|&s| Complex::new(s * normal(rng), s * normal(rng)))
            .collect();
        self.fft.process(&mut z);
        (
            z[..self.m].iter().map(|c| c.re).collect(),
            z[..self.m].iter().map(|c| c.im).collect(),
        )
    }
}

/// `n_boot` resampled MSD curves at the lag indices `sel`: each picks as many coordinate groups
/// as there are, with replacement, and sums their MSDs.
fn coord_replicates<R: Rng + ?Sized>(
    groups: &[Vec<f64>],
    sel: &[usize],
    n_boot: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    let ng = groups.len();
    (0..n_boot)
        .map(|_| {
            let mut rep = vec![0.0; sel.len()];
            for _ in 0..ng {
                let g = &groups[rng.random_range(0..ng)];
                for (r, &i) in rep.iter_mut().zip(sel) {
                    *r += g[i];
                }
            }
            rep
        })
        .collect()
}

/// `n_boot` resampled MSD curves at the lag indices `sel`: each picks as many origin blocks as
/// there are, with replacement.
fn replicates<R: Rng + ?Sized>(
    b: &OriginBlocks,
    sel: &[usize],
    n_boot: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    let nb = b.n_blocks();
    let mut picks = vec![0usize; nb];
    (0..n_boot)
        .map(|_| {
            for p in picks.iter_mut() {
                *p = rng.random_range(0..nb);
            }
            let full = b.resample(&picks);
            sel.iter().map(|&i| full[i]).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_thresholds() {
        assert_eq!(classify(1.0, 0.0), Regime::Normal);
        assert_eq!(classify(1.04, 0.0), Regime::Normal);
        assert_eq!(classify(1.06, 0.0), Regime::Superdiffusive);
        assert_eq!(classify(1.3, 0.2), Regime::Normal);
        assert_eq!(classify(1.9, 0.1), Regime::Ballistic);
        assert_eq!(classify(0.5, f64::NAN), Regime::Subdiffusive);
    }

    #[test]
    fn davies_bound_limits() {
        assert_eq!(davies_bound(&[0.0, 0.0]), 1.0);
        assert!(davies_bound(&[8.0, 8.0]) < 1e-14);
    }

    #[test]
    fn two_power_recovers_an_exact_sum() {
        let x: Vec<f64> = (0..40).map(|i| 10f64.powf(i as f64 * 3.0 / 39.0)).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&t| 2.0 * t.powf(0.6) + 0.01 * t.powi(2))
            .collect();
        let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let seg = Segmented::default().fit(&lx, &ly, &mut rng).unwrap();
        let f = fit_two_power(&x, &y, &seg).unwrap();
        assert!(
            (f.a1 - 0.6).abs() < 1e-6 && (f.a2 - 2.0).abs() < 1e-6,
            "{f:?}"
        );
        // Term equality: 2 t^0.6 = 0.01 t^2  =>  t = 200^(1/1.4).
        assert!((f.tau_equal / 200f64.powf(1.0 / 1.4) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn bad_input() {
        assert!(Segmented::default()
            .fit(&[1.0, 2.0], &[1.0, 2.0], &mut rand::rng())
            .is_err());
        assert!(davies_test(&[3.0, 2.0, 1.0, 4.0, 5.0, 6.0], &[0.0; 6], 10).is_err());
        assert!(local_slopes(&[1.0, 2.0], &[0.0, 1.0], 1.0).is_err());
    }
}
