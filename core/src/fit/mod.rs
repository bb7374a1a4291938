//! Fitting alpha-stable laws (and the alternatives compared with them) to data.
//!
//! Every estimator is a configured value implementing [`Estimator`]. The stable estimators
//! return the same [`StableFit`] (whose [`StableFit::law`] is the fitted [`Stable`] law):
//!
//! - [`McCulloch`]: McCulloch's (1986) quantile estimator (fast, consistent, starting values);
//! - [`Koutrouvelis`]: Koutrouvelis' (1980) iterated regression on the empirical characteristic
//!   function;
//! - [`Mle`]: maximum likelihood for the four-parameter law, or the symmetric law (beta = 0,
//!   optionally loc fixed), by a damped Newton method in Nolan's S0 with standard errors and 95 %
//!   intervals from the observed information, optional profile-likelihood intervals and sandwich
//!   covariance;
//! - [`BinnedMle`]: the same likelihood on a fine histogram ([`Histogram`]) built in one
//!   streaming pass, so that the cost after the pass does not depend on n (10^8-10^9 values).
//!
//! The laws compared with a stable law ([`alternatives::AltModel`]: normal, Student-t,
//! Laplace) are estimators too, returning an [`alternatives::AltFit`].
//!
//! # Examples
//!
//! ```
//! use anodiff_core::fit::{Estimator, McCulloch};
//! // Quartiles of a standard Cauchy sample are near -1, 0, 1.
//! let x: Vec<f64> = (1..2000).map(|i| (std::f64::consts::PI * (i as f64 / 2000.0 - 0.5)).tan()).collect();
//! let fit = McCulloch::default().fit(&x).unwrap();
//! assert!((fit.alpha - 1.0).abs() < 0.05 && fit.beta.abs() < 0.05);
//! assert!((fit.scale - 1.0).abs() < 0.05 && fit.loc.abs() < 0.05);
//! ```

pub mod alternatives;
mod binned;
mod density;
mod ecf;
mod likelihood;
mod mle;
mod quantile;
mod spline;

pub use crate::stable::Param;
use crate::stable::{s0_to_s1_loc, s1_to_s0_loc, tan_pi_alpha_half, Stable};
pub use binned::{BinnedMle, Histogram};
pub use ecf::{Estimates, Koutrouvelis};
pub use likelihood::Evaluation;
pub use mle::Mle;
pub use quantile::McCulloch;

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// z_{0.975} of the standard normal: half-width of a 95 % Wald interval in standard errors.
pub const Z95: f64 = 1.959_963_984_540_054;
/// chi^2_1 0.95 quantile: the profile-likelihood interval is where 2 (L_max - L_p) <= this.
pub const CHI2_1_95: f64 = 3.841_458_820_694_124;

/// Which estimator produced a fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Maximum likelihood on the individual values.
    Mle,
    /// McCulloch's quantile estimator.
    Mcculloch,
    /// Koutrouvelis' characteristic-function regression.
    Koutrouvelis,
    /// Maximum likelihood on a fine histogram of the values.
    Binned,
}

/// One number per parameter (standard errors), `None` where a parameter was fixed, sits on the
/// boundary of its range, or the estimator gives no uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PerParam<T> {
    /// Stability index.
    pub alpha: Option<T>,
    /// Skewness.
    pub beta: Option<T>,
    /// Scale.
    pub scale: Option<T>,
    /// Location (in the fit's parameterization).
    pub loc: Option<T>,
}

impl<T: Copy> PerParam<T> {
    /// All four entries, in the order alpha, beta, scale, loc.
    pub fn to_array(&self) -> [Option<T>; 4] {
        [self.alpha, self.beta, self.scale, self.loc]
    }

    fn from_array(a: [Option<T>; 4]) -> Self {
        PerParam {
            alpha: a[0],
            beta: a[1],
            scale: a[2],
            loc: a[3],
        }
    }
}

/// The result of every stable estimator.
///
/// `loglik` is the total log-likelihood of the data at the reported estimates (the same in S0
/// and S1: both describe the same law); for [`Method::Binned`] it is the grouped approximation
/// sum_b n_b [log f(mean_b) + (w_b/scale)^2 l''/24], within ~1e-6 relative of the point value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StableFit {
    /// Stability index alpha in (0, 2].
    pub alpha: f64,
    /// Skewness beta in [-1, 1].
    pub beta: f64,
    /// Scale (gamma) > 0.
    pub scale: f64,
    /// Location in the parameterization `param`.
    pub loc: f64,
    /// Parameterization of `loc` (and of the covariance).
    pub param: Param,
    /// Estimator.
    pub method: Method,
    /// Number of values.
    pub n: u64,
    /// Total log-likelihood at the estimates.
    pub loglik: f64,
    /// Standard errors from the observed information (MLE only).
    pub se: PerParam<f64>,
    /// 95 % Wald intervals (scale: exp(ln scale +- 1.96 se), clipped to the parameter range).
    pub ci95: PerParam<[f64; 2]>,
    /// Whether the estimator met its tolerance. A fit with `converged == false` must not be
    /// trusted.
    pub converged: bool,
    /// Newton (or regression) iterations.
    #[serde(skip)]
    pub iterations: usize,
    /// Covariance of (alpha, beta, scale, loc) from the observed information (rows and columns of
    /// fixed parameters are zero).
    #[serde(skip)]
    pub cov: Option<[[f64; 4]; 4]>,
    /// Sandwich (robust) standard errors sqrt(diag(H^-1 J H^-1)), on request.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sandwich_se: Option<PerParam<f64>>,
    /// Profile-likelihood 95 % intervals, on request.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile_ci95: Option<PerParam<[f64; 2]>>,
    /// Number of exact zeros in the data (binned path; a point mass no stable law explains).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zeros: Option<u64>,
}

impl StableFit {
    /// The fitted (alpha, beta, scale, loc) in S0, whatever `param` the fit reports.
    pub fn s0_params(&self) -> [f64; 4] {
        let loc0 = match self.param {
            Param::S0 => self.loc,
            Param::S1 => s1_to_s0_loc(self.alpha, self.beta, self.scale, self.loc),
        };
        [self.alpha, self.beta, self.scale, loc0]
    }

    /// The fitted law, in the fit's parameterization.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the fields were set outside the parameter ranges (an
    /// estimator never returns such a fit).
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::fit::{Estimator, McCulloch};
    /// let x: Vec<f64> = (1..2000).map(|i| (std::f64::consts::PI * (i as f64 / 2000.0 - 0.5)).tan()).collect();
    /// let law = McCulloch::default().fit(&x).unwrap().law().unwrap();
    /// assert!((law.cdf(0.0) - 0.5).abs() < 0.02);
    /// ```
    pub fn law(&self) -> Result<Stable> {
        Stable::new(self.alpha, self.beta, self.scale, self.loc, self.param)
    }

    /// ln f(x_i) at the fitted law for every x_i, by the same spline evaluation the MLE uses
    /// (accurate to ~1e-8 absolute in log-density; use [`crate::stable::Stable::ln_pdf`] for
    /// the quadrature value). Sums of these give the fit's `loglik` for [`Method::Mle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use anodiff_core::fit::{Estimator, Mle};
    /// let x: Vec<f64> = (1..300).map(|i| (std::f64::consts::PI * (i as f64 / 300.0 - 0.5)).tan()).collect();
    /// let f = Mle::new().fit(&x).unwrap();
    /// let total: f64 = f.ln_pdfs(&x).iter().sum();
    /// assert!((total - f.loglik).abs() < 1e-6 * f.loglik.abs());
    /// ```
    pub fn ln_pdfs(&self, x: &[f64]) -> Vec<f64> {
        let p = self.s0_params();
        likelihood::pointwise(x, &[p[0], p[1], p[2].ln(), p[3]], Evaluation::default())
    }
}

/// The shared shape of all estimators: a configured value that fits its model to a sample.
///
/// The stable estimators ([`McCulloch`], [`Koutrouvelis`], [`Mle`], [`BinnedMle`]) return a
/// [`StableFit`]; the alternative models ([`alternatives::AltModel`]) an
/// [`alternatives::AltFit`].
pub trait Estimator {
    /// What a fit returns.
    type Fit;

    /// Fits the model to `data`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidData`] for empty data, too few values for the model, NaN or infinite
    /// values, or all values equal.
    fn fit(&self, data: &[f64]) -> Result<Self::Fit>;
}

/// Fewest values any estimator accepts.
pub const MIN_N: usize = 5;

/// Checks data for the estimators: at least [`MIN_N`] finite values, not all equal.
///
/// # Errors
///
/// [`Error::InvalidData`] naming the problem (and the index of the first non-finite value).
pub fn check_data(data: &[f64]) -> Result<()> {
    if data.is_empty() {
        return Err(Error::InvalidData("no values to fit".into()));
    }
    if data.len() < MIN_N {
        return Err(Error::InvalidData(format!(
            "{} values are too few to fit a stable law (need at least {MIN_N})",
            data.len()
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "value {} (index {i}) is not finite",
            data[i]
        )));
    }
    if data.iter().all(|&v| v == data[0]) {
        return Err(Error::InvalidData(format!(
            "all {} values are equal ({}); a stable law needs spread",
            data.len(),
            data[0]
        )));
    }
    Ok(())
}

/// S0 location -> S1 location ([`s0_to_s1_loc`]) and its gradient in (alpha, beta, scale,
/// loc0), for the delta-method covariance of an S1 report.
pub(crate) fn s1_loc_and_gradient(alpha: f64, beta: f64, scale: f64, loc0: f64) -> (f64, [f64; 4]) {
    use std::f64::consts::PI;
    let d1 = s0_to_s1_loc(alpha, beta, scale, loc0);
    if alpha == 1.0 {
        let l = scale.ln();
        // d/dalpha is not defined by the closed form at alpha = 1 exactly; it is only used for a
        // delta-method SE, where S1's loc is singular anyway.
        (
            d1,
            [
                0.0,
                -2.0 / PI * scale * l,
                -2.0 / PI * beta * (l + 1.0),
                1.0,
            ],
        )
    } else {
        let t = tan_pi_alpha_half(alpha);
        let sec2 = 1.0 + t * t;
        (
            d1,
            [-beta * scale * sec2 * PI / 2.0, -scale * t, -beta * t, 1.0],
        )
    }
}

/// 95 % intervals from estimates and standard errors (scale on the log scale; alpha, beta
/// clipped to their ranges).
pub(crate) fn wald_ci(est: [f64; 4], se: [Option<f64>; 4]) -> PerParam<[f64; 2]> {
    let mut out = [None; 4];
    for k in 0..4 {
        if let Some(s) = se[k] {
            out[k] = Some(match k {
                0 => [(est[0] - Z95 * s).max(0.0), (est[0] + Z95 * s).min(2.0)],
                1 => [(est[1] - Z95 * s).max(-1.0), (est[1] + Z95 * s).min(1.0)],
                2 => {
                    let r = s / est[2];
                    [est[2] * (-Z95 * r).exp(), est[2] * (Z95 * r).exp()]
                }
                _ => [est[3] - Z95 * s, est[3] + Z95 * s],
            });
        }
    }
    PerParam::from_array(out)
}

/// An S0 fit from a point estimator without standard errors (quantile, ECF): the estimates,
/// the data's log-likelihood at them, and how the estimator's iteration ended.
pub(crate) fn point_estimate_fit(
    data: &[f64],
    (alpha, beta, scale, loc): (f64, f64, f64, f64),
    method: Method,
    converged: bool,
    iterations: usize,
) -> StableFit {
    use likelihood::{evaluate, Evaluation, Obs, Order};
    let theta = [alpha, beta, scale.ln(), loc];
    let loglik = evaluate(
        &Obs::points(data),
        &theta,
        &[false; 4],
        Order::Value,
        Evaluation::default(),
    )
    .l;
    StableFit {
        alpha,
        beta,
        scale,
        loc,
        param: Param::S0,
        method,
        n: data.len() as u64,
        loglik,
        se: PerParam::default(),
        ci95: PerParam::default(),
        converged,
        iterations,
        cov: None,
        sandwich_se: None,
        profile_ci95: None,
        zeros: None,
    }
}

/// Converts an S0 fit (estimates, covariance) to `param`.
pub(crate) fn report(mut fit: StableFit, param: Param) -> StableFit {
    if param == fit.param || param == Param::S0 {
        return fit;
    }
    let (d1, grad) = s1_loc_and_gradient(fit.alpha, fit.beta, fit.scale, fit.loc);
    fit.loc = d1;
    fit.param = Param::S1;
    if let Some(c) = fit.cov {
        // Delta method: new covariance = J C J^T with J the identity except the loc row.
        let mut jc = c;
        for m in 0..4 {
            jc[3][m] = (0..4).map(|k| grad[k] * c[k][m]).sum();
        }
        let mut nc = jc;
        for k in 0..4 {
            nc[k][3] = (0..4).map(|m| jc[k][m] * grad[m]).sum();
        }
        fit.cov = Some(nc);
        if fit.se.loc.is_some() || fit.se.beta.is_some() || fit.se.alpha.is_some() {
            let v = nc[3][3];
            fit.se.loc = (v > 0.0).then(|| v.sqrt());
            let est = [fit.alpha, fit.beta, fit.scale, fit.loc];
            fit.ci95 = wald_ci(est, fit.se.to_array());
        }
    }
    // Profile and sandwich intervals for loc are S0 quantities; drop the loc entries.
    if let Some(p) = fit.profile_ci95.as_mut() {
        p.loc = None;
    }
    if let Some(p) = fit.sandwich_se.as_mut() {
        p.loc = None;
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_data_is_rejected_with_a_reason() {
        let msg = |d: &[f64]| check_data(d).unwrap_err().to_string();
        assert!(msg(&[]).contains("no values"));
        assert!(msg(&[1.0, 2.0, 3.0, 4.0]).contains("too few"));
        assert!(msg(&[1.0, 2.0, f64::NAN, 4.0, 5.0]).contains("index 2"));
        assert!(msg(&[1.0, 2.0, 3.0, f64::INFINITY, 5.0]).contains("not finite"));
        assert!(msg(&[7.0; 10]).contains("equal"));
        assert!(check_data(&[1.0, 2.0, 3.0, 4.0, 5.0]).is_ok());
    }

    #[test]
    fn s1_loc_matches_nolan_relation() {
        // delta1 = delta0 - beta gamma tan(pi alpha / 2) (Nolan 2020, eq. 1.7); tan(3 pi / 4) = -1.
        let (d1, g) = s1_loc_and_gradient(1.5, 0.5, 2.0, 1.0);
        assert_eq!(d1, 2.0);
        // gradient against central differences
        let h = 1e-6;
        let f = |v: [f64; 4]| s1_loc_and_gradient(v[0], v[1], v[2], v[3]).0;
        let p = [1.5, 0.5, 2.0, 1.0];
        for k in 0..4 {
            let (mut a, mut b) = (p, p);
            a[k] += h;
            b[k] -= h;
            assert!(((f(a) - f(b)) / (2.0 * h) - g[k]).abs() < 1e-6);
        }
    }
}
