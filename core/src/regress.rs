//! Least squares, the building block of every log-log exponent in the crate: straight lines
//! ([`LineFit`]), weighted least squares on explicit columns, and in [`segmented`] broken lines
//! with an unknown breakpoint and Davies' test of one segment against two.
//!
//! Box-counting dimensions, MSD exponents, MSL and contour-length scaling are all slopes of a
//! line through points `(x_i, y_i)`. [`LineFit`] holds the ordinary least-squares answer with
//! its classical standard errors; callers whose residuals are correlated (MSD at neighbouring
//! lags) must replace `slope_se` by a bootstrap or GLS error, as their docs say.

pub mod segmented;

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector, Matrix3, Vector3};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Weighted least squares on explicit columns: coefficients, their covariance and the RSS.
pub(crate) struct Ols {
    pub(crate) beta: Vec<f64>,
    pub(crate) cov: DMatrix<f64>,
    pub(crate) rss: f64,
}

/// Weighted least squares of `y` on the columns `cols` (weights are relative precisions; the
/// residual variance is estimated). `None` when there are no more points than columns or the
/// normal equations are singular.
pub(crate) fn ols(cols: &[Vec<f64>], y: &[f64], w: Option<&[f64]>) -> Option<Ols> {
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

/// The broken line `y = c + a x + b (x - psi)_+` at a fixed breakpoint by weighted least
/// squares, without allocation: `(c, a, b)`, the RSS and the inverse of the weighted normal
/// matrix (its `[2][2]` entry times `rss / (n - 3)` is the classical variance of `b`). `None`
/// when fewer than 4 points or the design is singular (no point beyond `psi`).
pub(crate) fn broken_line_at(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    psi: f64,
) -> Option<([f64; 3], f64, Matrix3<f64>)> {
    let n = x.len();
    if n < 4 {
        return None;
    }
    let mut xtx = Matrix3::<f64>::zeros();
    let mut xty = Vector3::<f64>::zeros();
    for i in 0..n {
        let wi = w.map_or(1.0, |w| w[i]);
        let r = Vector3::new(1.0, x[i], (x[i] - psi).max(0.0));
        xtx += wi * r * r.transpose();
        xty += wi * y[i] * r;
    }
    let inv = xtx.try_inverse()?;
    let beta = inv * xty;
    if beta.iter().any(|b| !b.is_finite()) {
        return None;
    }
    let rss = (0..n)
        .map(|i| {
            let wi = w.map_or(1.0, |w| w[i]);
            let f = beta[0] + beta[1] * x[i] + beta[2] * (x[i] - psi).max(0.0);
            wi * (y[i] - f).powi(2)
        })
        .sum();
    Some(([beta[0], beta[1], beta[2]], rss, inv))
}

/// The row vector `r` with `r . y` = the weighted least-squares coefficient `k` of the columns
/// `cols` for any `y` (the `k`-th row of `(X' W X)^{-1} X' W`): a linear estimator applied to many
/// simulated curves at the cost of a dot product each. `None` when singular.
pub(crate) fn coefficient_row(cols: &[Vec<f64>], w: Option<&[f64]>, k: usize) -> Option<Vec<f64>> {
    let n = cols.first()?.len();
    let p = cols.len();
    let x = DMatrix::from_fn(n, p, |i, j| cols[j][i]);
    let wv = DVector::from_iterator(n, (0..n).map(|i| w.map_or(1.0, |w| w[i])));
    let xw = DMatrix::from_fn(n, p, |i, j| x[(i, j)] * wv[i]);
    let inv = (x.transpose() * &xw).try_inverse()?;
    let rows = inv * xw.transpose();
    let r: Vec<f64> = rows.row(k).iter().copied().collect();
    r.iter().all(|v| v.is_finite()).then_some(r)
}

/// An ordinary (optionally weighted) least-squares line `y = intercept + slope * x`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineFit {
    /// Fitted slope.
    pub slope: f64,
    /// Fitted intercept.
    pub intercept: f64,
    /// Classical standard error of the slope, assuming independent residuals.
    pub slope_se: f64,
    /// Classical standard error of the intercept.
    pub intercept_se: f64,
    /// Residual sum of squares (weighted if weights were given).
    pub rss: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
    /// Number of points.
    pub n: usize,
}

impl LineFit {
    /// Fits `y = a + b x` by ordinary least squares.
    ///
    /// # Errors
    /// Fewer than 3 points, lengths that differ, non-finite values, or all `x` equal.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::regress::LineFit;
    /// let x = [0.0, 1.0, 2.0, 3.0];
    /// let y = [1.0, 3.0, 5.0, 7.0];
    /// let f = LineFit::ols(&x, &y).unwrap();
    /// assert!((f.slope - 2.0).abs() < 1e-12 && (f.intercept - 1.0).abs() < 1e-12);
    /// ```
    pub fn ols(x: &[f64], y: &[f64]) -> Result<LineFit> {
        Self::weighted(x, y, None)
    }

    /// Fits `y = a + b x` by weighted least squares with weights `w_i > 0` (inverse variances).
    ///
    /// # Errors
    /// As [`LineFit::ols`], plus a weight that is not finite and positive.
    pub fn weighted(x: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<LineFit> {
        let n = x.len();
        if y.len() != n || w.is_some_and(|w| w.len() != n) {
            return Err(Error::Shape(format!(
                "line fit: x has {n} values, y {}{}",
                y.len(),
                w.map(|w| format!(", weights {}", w.len()))
                    .unwrap_or_default()
            )));
        }
        if n < 3 {
            return Err(Error::InvalidData(format!(
                "line fit needs at least 3 points, got {n}"
            )));
        }
        if let Some(i) = (0..n).find(|&i| !x[i].is_finite() || !y[i].is_finite()) {
            return Err(Error::InvalidData(format!(
                "line fit: point {i} is not finite (x = {}, y = {})",
                x[i], y[i]
            )));
        }
        if let Some(w) = w {
            if let Some(i) = w.iter().position(|&wi| !(wi > 0.0 && wi.is_finite())) {
                return Err(Error::InvalidData(format!(
                    "line fit: weight {i} is {} (must be finite and > 0)",
                    w[i]
                )));
            }
        }
        let wt = |i: usize| w.map_or(1.0, |w| w[i]);
        let sw: f64 = (0..n).map(wt).sum();
        let mx = (0..n).map(|i| wt(i) * x[i]).sum::<f64>() / sw;
        let my = (0..n).map(|i| wt(i) * y[i]).sum::<f64>() / sw;
        let sxx: f64 = (0..n).map(|i| wt(i) * (x[i] - mx).powi(2)).sum();
        let sxy: f64 = (0..n).map(|i| wt(i) * (x[i] - mx) * (y[i] - my)).sum();
        let syy: f64 = (0..n).map(|i| wt(i) * (y[i] - my).powi(2)).sum();
        // Inputs are finite (checked above), so sxx cannot be NaN.
        if sxx <= 0.0 {
            return Err(Error::InvalidData(
                "line fit: all x values are equal".into(),
            ));
        }
        let slope = sxy / sxx;
        let intercept = my - slope * mx;
        let rss: f64 = (0..n)
            .map(|i| wt(i) * (y[i] - intercept - slope * x[i]).powi(2))
            .sum();
        // Unit weights: sigma^2 estimated from residuals. Inverse-variance weights would fix
        // sigma^2 = 1, but callers here use weights only as relative precisions, so estimate it.
        let s2 = rss / (n as f64 - 2.0);
        let slope_se = (s2 / sxx).sqrt();
        let intercept_se = (s2 * (1.0 / sw + mx * mx / sxx)).sqrt();
        let r_squared = if syy > 0.0 { 1.0 - rss / syy } else { 1.0 };
        Ok(LineFit {
            slope,
            intercept,
            slope_se,
            intercept_se,
            rss,
            r_squared,
            n,
        })
    }

    /// Two-sided `level` confidence interval for the slope from Student's t with `n - 2` degrees
    /// of freedom (valid only when the residuals are independent).
    pub fn slope_ci(&self, level: f64) -> [f64; 2] {
        let q = t_quantile(0.5 + level / 2.0, self.n as f64 - 2.0);
        [
            self.slope - q * self.slope_se,
            self.slope + q * self.slope_se,
        ]
    }
}

/// Quantile of Student's t with `df` degrees of freedom (the normal quantile for `df` = infinity).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_has_zero_se() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 3.0 - 0.5 * v).collect();
        let f = LineFit::ols(&x, &y).unwrap();
        assert!((f.slope + 0.5).abs() < 1e-14);
        assert!(f.slope_se < 1e-12);
    }

    #[test]
    fn textbook_standard_error() {
        // Hand computation: x = 1..5, y = [2, 4, 5, 4, 5]: slope 0.6, intercept 2.2,
        // RSS = 2.4, s^2 = 0.8, Sxx = 10, se(slope) = sqrt(0.08).
        let f = LineFit::ols(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
        assert!((f.slope - 0.6).abs() < 1e-14);
        assert!((f.intercept - 2.2).abs() < 1e-14);
        assert!((f.slope_se - 0.08f64.sqrt()).abs() < 1e-14);
        // t_{0.975, 3} = 3.182446305284263 (R: qt(0.975, 3)).
        let ci = f.slope_ci(0.95);
        assert!((ci[1] - (0.6 + 3.182446305284263 * 0.08f64.sqrt())).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(LineFit::ols(&[1.0, 2.0], &[1.0, 2.0]).is_err());
        assert!(LineFit::ols(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
        assert!(LineFit::ols(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]).is_err());
        assert!(LineFit::ols(&[1.0, 2.0, 3.0], &[1.0, 2.0]).is_err());
    }
}
