//! Lévy alpha-stable distributions in Nolan's S0 and S1 parameterizations.
//!
//! [`Stable`] is a validated value with density, log-density, distribution and survival
//! functions (each computed directly, never as `1 - other`), quantiles and sampling. The free
//! functions [`pdf_s0_std`] and [`ln_pdf_s0_std`] are the unchecked fast path used by the
//! fitters.
//!
//! # Parameterizations
//!
//! ```text
//! S1: E e^{iuX} = exp(-g^a |u|^a [1 - i b tan(pi a/2) sgn u] + i d1 u)            (a != 1)
//!                 exp(-g |u| [1 + i b (2/pi) sgn u ln|u|] + i d1 u)                 (a = 1)
//! S0: E e^{iuX} = exp(-g^a |u|^a [1 + i b tan(pi a/2) sgn u (|g u|^{1-a} - 1)] + i d0 u)
//!                 exp(-g |u| [1 + i b (2/pi) sgn u ln(g |u|)] + i d0 u)             (a = 1)
//! d0 = d1 + b g tan(pi a/2) (a != 1),   d0 = d1 + (2/pi) b g ln g (a = 1)
//! ```
//!
//! S0 is continuous in all four parameters and a location-scale family; S1 is the classical
//! form (scipy's default).
//!
//! # Numerics
//!
//! Nolan's (1997) integral, evaluated in log space with split points at fixed levels of
//! `ln g` and adaptive Gauss-Kronrod quadrature (module `nolan`; the density's integrand is
//! evaluated on all 21 nodes of a rule at once, vectorised with AVX-512 or AVX2 and FMA where
//! the CPU has them, which give the same bits; without them, or with the environment variable
//! `ANODIFF_SIMD=off`, the same arithmetic runs unfused and rounds differently by a few ulps);
//! closed forms for the Gauss
//! (alpha = 2), Cauchy (alpha = 1, beta = 0) and Lévy (alpha = 1/2, beta = +-1) laws and at the
//! mode-shift point x = zeta; next to alpha = 1 the integrand's cancelling 1/(alpha - 1) terms
//! are formed as small quantities with full relative accuracy (module `nolan`).
//! Where they have visibly converged, series replace the integral (module `series`):
//! Bergström's series in powers of |x - zeta|^{-alpha} for the tails (density and survival
//! function; for alpha > 1 only where the part of the density beyond all orders of the
//! asymptotic series is negligible), and the convergent power series in x - zeta for
//! 1 < alpha < 2 near the mode. Many points with the same parameters go through
//! [`Stable::ln_pdf_many`], which builds a certified piecewise-Chebyshev interpolant
//! ([`LnPdfTable`]). Measured accuracy against 24-digit mpmath values and Nolan's STABLE
//! values is recorded in `fixtures/stable/`.
//!
//! # Accuracy (measured, `core/tests/stable_golden.rs`)
//!
//! Relative error of pdf, cdf and sf at most 1e-10 for alpha in [0.5, 2], beta in [-1, 1],
//! |x| up to 1e6, including x at and beside zeta, alpha within 1e-3 of 1 (down to
//! |alpha - 1| = 1e-6: worst 2.6e-11) and the double-exponentially thin side of |beta| = 1 (in
//! log space down to e^-700; `ln_pdf` keeps its digits far below the f64 range, e.g. e^-2e6).
//! For 0 < |alpha - 1| < 1e-6 the error grows like ~1e-17/|alpha - 1| (1.4e-10 at 1e-7): the
//! integrand's peak narrows to width |alpha - 1| and the rounding of the integration variable
//! shows. Small alpha: 3.5e-12 against mpmath for 0.002 <= alpha < 0.05; below, cdf + sf = 1
//! to 1e-12 down to alpha = 1e-5, degrading like 1e-16/alpha beyond.
//!
//! # Examples
//!
//! ```
//! use anodiff_core::stable::{Param, Stable};
//! let s = Stable::new(1.5, 0.5, 2.0, 1.0, Param::S0).unwrap();
//! let x = s.quantile(0.9).unwrap();
//! assert!((s.cdf(x) - 0.9).abs() < 1e-12);
//! // the same law in S1
//! let s1 = s.to_param(Param::S1);
//! assert!((s1.pdf(0.3) - s.pdf(0.3)).abs() < 1e-14);
//! ```

// `!(x > 0.0)`-style checks are deliberate: they reject NaN along with out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod nolan;
mod quad;
mod quantile;
mod sample;
mod series;
mod standard;
mod table;

pub use table::{LnPdfTable, MIN_BATCH};

use crate::{Error, Result};
use rayon::prelude::*;
use standard::Tail;
use std::f64::consts::PI;

/// Nolan's parameterizations of the stable law. S0 is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Param {
    /// Nolan's S0: continuous in all parameters, a true location-scale family.
    #[default]
    S0,
    /// Nolan's S1 (Samorodnitsky-Taqqu): the classical form, discontinuous at alpha = 1.
    S1,
}

impl std::str::FromStr for Param {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "s0" => Ok(Param::S0),
            "s1" => Ok(Param::S1),
            other => Err(Error::param(
                "param",
                format!("expected `s0` or `s1`, got `{other}`"),
            )),
        }
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Param::S0 => "s0",
            Param::S1 => "s1",
        })
    }
}

/// How the law is evaluated, chosen once in [`Stable::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Regime {
    /// alpha = 2: normal with variance 2 scale^2.
    Gauss,
    /// alpha = 1, beta = 0.
    Cauchy,
    /// alpha = 1/2, beta = +-1 (closed form in S1 coordinates).
    Levy,
    /// alpha = 1, beta != 0.
    AlphaOne,
    /// everything else (Nolan integral and series).
    General,
}

/// A Lévy alpha-stable distribution.
///
/// # Examples
///
/// ```
/// use anodiff_core::stable::{Param, Stable};
/// // alpha = 2 is the normal law with variance 2 scale^2
/// let s = Stable::new(2.0, 0.0, 1.0, 0.0, Param::S0).unwrap();
/// let expected = (-0.25f64).exp() / (2.0 * std::f64::consts::PI.sqrt());
/// assert!((s.pdf(1.0) - expected).abs() < 1e-15);
/// assert!(Stable::new(2.5, 0.0, 1.0, 0.0, Param::S0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stable {
    alpha: f64,
    beta: f64,
    scale: f64,
    loc: f64,
    param: Param,
    /// S0 location.
    loc0: f64,
    /// S1 location.
    loc1: f64,
    regime: Regime,
}

/// The S1 location of the law whose S0 location is `loc0` (Nolan 2020, eq. 1.7):
/// `loc0 - beta scale tan(pi alpha / 2)` for alpha != 1, `loc0 - (2/pi) beta scale ln scale` at
/// alpha = 1. The tangent is formed as `-1 / tan(pi (alpha - 1) / 2)`, accurate to a few ulp
/// next to its pole at alpha = 1, where `tan(pi alpha / 2)` itself loses digits to the rounding
/// of `pi alpha / 2` (1e-8 relative at alpha = 1 + 2^-27).
///
/// # Examples
/// ```
/// use anodiff_core::stable::{s0_to_s1_loc, s1_to_s0_loc};
/// // tan(3 pi / 4) = -1: the S1 location is loc0 + beta scale.
/// assert_eq!(s0_to_s1_loc(1.5, 0.5, 2.0, 1.0), 2.0);
/// assert_eq!(s1_to_s0_loc(1.5, 0.5, 2.0, 2.0), 1.0);
/// ```
pub fn s0_to_s1_loc(alpha: f64, beta: f64, scale: f64, loc0: f64) -> f64 {
    loc0 - s0_minus_s1(alpha, beta, scale)
}

/// The S0 location of the law whose S1 location is `loc1`: the inverse of [`s0_to_s1_loc`].
pub fn s1_to_s0_loc(alpha: f64, beta: f64, scale: f64, loc1: f64) -> f64 {
    loc1 + s0_minus_s1(alpha, beta, scale)
}

/// S0 location minus S1 location.
fn s0_minus_s1(alpha: f64, beta: f64, scale: f64) -> f64 {
    if alpha == 1.0 {
        2.0 / PI * beta * scale * scale.ln()
    } else {
        beta * scale * nolan::tan_pi_alpha_half(alpha)
    }
}

/// `tan(pi alpha / 2)`, exact at alpha = 1/2, 3/2 and 2 and accurate to a few ulp next to the
/// pole at alpha = 1 (the S0/S1 shift of [`s0_to_s1_loc`] and its derivative in alpha).
pub(crate) fn tan_pi_alpha_half(alpha: f64) -> f64 {
    nolan::tan_pi_alpha_half(alpha)
}

impl Stable {
    /// Creates the law with stability `alpha`, skewness `beta`, `scale` and location `loc`
    /// in parameterization `param`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] unless `0 < alpha <= 2`, `-1 <= beta <= 1`,
    /// `scale > 0` and finite, `loc` finite (NaN fails every check).
    pub fn new(alpha: f64, beta: f64, scale: f64, loc: f64, param: Param) -> Result<Stable> {
        if !(alpha > 0.0 && alpha <= 2.0) {
            return Err(Error::param(
                "alpha",
                format!("must be in (0, 2], got {alpha}"),
            ));
        }
        if !((-1.0..=1.0).contains(&beta)) {
            return Err(Error::param(
                "beta",
                format!("must be in [-1, 1], got {beta}"),
            ));
        }
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Error::param(
                "scale",
                format!("must be positive and finite, got {scale}"),
            ));
        }
        if !loc.is_finite() {
            return Err(Error::param("loc", format!("must be finite, got {loc}")));
        }
        let (loc0, loc1) = match param {
            Param::S0 => (loc, s0_to_s1_loc(alpha, beta, scale, loc)),
            Param::S1 => (s1_to_s0_loc(alpha, beta, scale, loc), loc),
        };
        if !(loc0.is_finite() && loc1.is_finite()) {
            return Err(Error::param(
                "loc",
                "the S0/S1 location shift overflows for these alpha, beta, scale",
            ));
        }
        let regime = if alpha == 2.0 {
            Regime::Gauss
        } else if alpha == 1.0 && beta == 0.0 {
            Regime::Cauchy
        } else if alpha == 1.0 {
            Regime::AlphaOne
        } else if alpha == 0.5 && beta.abs() == 1.0 {
            Regime::Levy
        } else {
            Regime::General
        };
        Ok(Stable {
            alpha,
            beta,
            scale,
            loc,
            param,
            loc0,
            loc1,
            regime,
        })
    }

    /// The standard law (scale 1, location 0) in S0.
    ///
    /// # Errors
    ///
    /// As [`Stable::new`].
    pub fn standard(alpha: f64, beta: f64) -> Result<Stable> {
        Stable::new(alpha, beta, 1.0, 0.0, Param::S0)
    }

    /// Stability index alpha in (0, 2].
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// Skewness beta in [-1, 1].
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// Scale (gamma > 0).
    pub fn scale(&self) -> f64 {
        self.scale
    }
    /// Location in this value's parameterization.
    pub fn loc(&self) -> f64 {
        self.loc
    }
    /// The parameterization `loc` refers to.
    pub fn param(&self) -> Param {
        self.param
    }

    /// The same law expressed in parameterization `p` (only the location changes).
    pub fn to_param(&self, p: Param) -> Stable {
        let mut s = *self;
        s.param = p;
        s.loc = match p {
            Param::S0 => self.loc0,
            Param::S1 => self.loc1,
        };
        s
    }

    /// The standardized S0 argument (x - loc0) / scale.
    #[inline]
    fn z0(&self, x: f64) -> f64 {
        (x - self.loc0) / self.scale
    }

    /// Natural log of the density; `-inf` outside the support.
    pub fn ln_pdf(&self, x: f64) -> f64 {
        let ls = self.scale.ln();
        match self.regime {
            Regime::Gauss => standard::gauss_ln_pdf(self.z0(x)) - ls,
            Regime::Cauchy => standard::cauchy_ln_pdf(self.z0(x)) - ls,
            Regime::Levy => standard::levy_ln_pdf((x - self.loc1) / self.scale, self.beta) - ls,
            Regime::AlphaOne | Regime::General => {
                standard::ln_pdf(self.z0(x), self.alpha, self.beta) - ls
            }
        }
    }

    /// The density.
    pub fn pdf(&self, x: f64) -> f64 {
        self.ln_pdf(x).exp()
    }

    /// [`Stable::ln_pdf`] at every point of `xs`: the fast path for many points with the
    /// same parameters (as in a likelihood). From [`MIN_BATCH`] points on it builds a
    /// certified interpolant ([`LnPdfTable`]) over the cells of `asinh` of the standardized
    /// points and evaluates exactly wherever certification fails; results agree with
    /// [`Stable::ln_pdf`] to ~2e-11 and keep the 1e-10 relative accuracy promise.
    ///
    /// # Examples
    ///
    /// ```
    /// use anodiff_core::stable::{Param, Stable};
    /// let s = Stable::new(1.5, 0.5, 2.0, 1.0, Param::S0).unwrap();
    /// let xs: Vec<f64> = (0..1000).map(|i| -50.0 + 0.1 * i as f64).collect();
    /// let v = s.ln_pdf_many(&xs);
    /// for (x, l) in xs.iter().zip(&v).step_by(97) {
    ///     assert!((l - s.ln_pdf(*x)).abs() < 1e-10);
    /// }
    /// ```
    pub fn ln_pdf_many(&self, xs: &[f64]) -> Vec<f64> {
        match self.regime {
            Regime::AlphaOne | Regime::General if xs.len() >= MIN_BATCH => {
                let ls = self.scale.ln();
                let zs: Vec<f64> = xs.iter().map(|&x| self.z0(x)).collect();
                let t = LnPdfTable::for_points(self.alpha, self.beta, &zs);
                zs.iter().map(|&z| t.ln_pdf(z) - ls).collect()
            }
            _ => xs.iter().map(|&x| self.ln_pdf(x)).collect(),
        }
    }

    /// [`Stable::pdf`] at every point of `xs`; see [`Stable::ln_pdf_many`].
    pub fn pdf_many(&self, xs: &[f64]) -> Vec<f64> {
        let mut v = self.ln_pdf_many(xs);
        for l in v.iter_mut() {
            *l = l.exp();
        }
        v
    }

    /// [`Stable::cdf`] at every point of `xs`, the points shared among threads (rayon).
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::stable::{Param, Stable};
    /// let s = Stable::new(1.5, 0.5, 2.0, 1.0, Param::S0).unwrap();
    /// let xs = [-3.0, 0.0, 4.5];
    /// let c = s.cdf_many(&xs);
    /// assert!(xs.iter().zip(&c).all(|(&x, &v)| v == s.cdf(x)));
    /// ```
    pub fn cdf_many(&self, xs: &[f64]) -> Vec<f64> {
        xs.par_iter().map(|&x| self.cdf(x)).collect()
    }

    /// [`Stable::sf`] at every point of `xs`, the points shared among threads (rayon).
    pub fn sf_many(&self, xs: &[f64]) -> Vec<f64> {
        xs.par_iter().map(|&x| self.sf(x)).collect()
    }

    /// [`Stable::quantile`] at every probability of `ps`, shared among threads (rayon).
    ///
    /// # Errors
    /// As [`Stable::quantile`]; a probability outside [0, 1] is reported for the first such
    /// entry of `ps`.
    pub fn quantile_many(&self, ps: &[f64]) -> Result<Vec<f64>> {
        ps.iter().try_for_each(|&p| check_probability(p))?;
        ps.par_iter().map(|&p| self.quantile(p)).collect()
    }

    fn ln_tail(&self, x: f64, tail: Tail) -> f64 {
        match self.regime {
            Regime::Gauss => standard::gauss_ln_cdf(self.z0(x), tail),
            Regime::Cauchy => standard::cauchy_ln_cdf(self.z0(x), tail),
            Regime::Levy => standard::levy_ln_cdf((x - self.loc1) / self.scale, self.beta, tail),
            Regime::AlphaOne | Regime::General => {
                standard::ln_cdf(self.z0(x), self.alpha, self.beta, tail)
            }
        }
    }

    /// ln P(X <= x).
    pub fn ln_cdf(&self, x: f64) -> f64 {
        self.ln_tail(x, Tail::Lower)
    }
    /// ln P(X > x), computed directly (keeps its digits far in the upper tail).
    pub fn ln_sf(&self, x: f64) -> f64 {
        self.ln_tail(x, Tail::Upper)
    }
    /// P(X <= x).
    pub fn cdf(&self, x: f64) -> f64 {
        self.ln_cdf(x).exp()
    }
    /// P(X > x), computed directly rather than as 1 - cdf.
    pub fn sf(&self, x: f64) -> f64 {
        self.ln_sf(x).exp()
    }

    /// Lower end of the support (`-inf` unless alpha < 1 and beta = 1).
    pub fn support_min(&self) -> f64 {
        if self.alpha < 1.0 && self.beta == 1.0 {
            self.loc1
        } else {
            f64::NEG_INFINITY
        }
    }
    /// Upper end of the support (`+inf` unless alpha < 1 and beta = -1).
    pub fn support_max(&self) -> f64 {
        if self.alpha < 1.0 && self.beta == -1.0 {
            self.loc1
        } else {
            f64::INFINITY
        }
    }

    /// The p-quantile: the x with P(X <= x) = p (solved on the survival function for p > 1/2).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] if `p` is not in [0, 1]; [`Error::NotConverged`] if no
    /// bracket is found (does not happen for valid laws).
    pub fn quantile(&self, p: f64) -> Result<f64> {
        check_probability(p)?;
        if p == 0.0 {
            return Ok(self.support_min());
        }
        if p == 1.0 {
            return Ok(self.support_max());
        }
        match self.regime {
            Regime::Gauss => {
                // N(loc, 2 scale^2): the standard quantile is -2 erfc^-1(2p). Newton on the
                // exact ln cdf / ln sf polishes statrs' approximation of it, starting there.
                let z = if p < 0.5 {
                    -2.0 * statrs::function::erf::erfc_inv(2.0 * p)
                } else {
                    2.0 * statrs::function::erf::erfc_inv(2.0 * (1.0 - p))
                };
                let start = if z.is_finite() { z } else { 0.0 };
                let z = quantile::quantile_std(p, 2.0, 0.0, start).unwrap_or(start);
                Ok(self.loc0 + self.scale * z)
            }
            Regime::Cauchy => Ok(self.loc0 + self.scale * (PI * (p - 0.5)).tan()),
            _ => quantile::quantile_std(p, self.alpha, self.beta, 0.0)
                .map(|z| self.loc0 + self.scale * z)
                .ok_or_else(|| Error::NotConverged(format!("stable quantile at p = {p}"))),
        }
    }
}

/// [`Error::InvalidParameter`] unless `p` is in [0, 1].
fn check_probability(p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::param(
            "p",
            format!("probability must be in [0, 1], got {p}"),
        ));
    }
    Ok(())
}

impl statrs::distribution::Continuous<f64, f64> for Stable {
    fn pdf(&self, x: f64) -> f64 {
        Stable::pdf(self, x)
    }
    fn ln_pdf(&self, x: f64) -> f64 {
        Stable::ln_pdf(self, x)
    }
}

impl statrs::statistics::Min<f64> for Stable {
    fn min(&self) -> f64 {
        self.support_min()
    }
}

impl statrs::statistics::Max<f64> for Stable {
    fn max(&self) -> f64 {
        self.support_max()
    }
}

impl statrs::distribution::ContinuousCDF<f64, f64> for Stable {
    fn cdf(&self, x: f64) -> f64 {
        Stable::cdf(self, x)
    }
    fn sf(&self, x: f64) -> f64 {
        Stable::sf(self, x)
    }
    /// Panics-free: returns NaN for p outside [0, 1].
    fn inverse_cdf(&self, p: f64) -> f64 {
        self.quantile(p).unwrap_or(f64::NAN)
    }
}

impl rand::distr::Distribution<f64> for Stable {
    /// Chambers-Mallows-Stuck in a form that gives the S0 variate directly (continuous in
    /// alpha, no cancellation near alpha = 1); see Weron (1996) and Nolan (2020) s.1.7.
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.loc0 + self.scale * sample::sample_s0(self.alpha, self.beta, rng)
    }
}

/// Log-density of the STANDARD S0 law (scale 1, location 0), without parameter checks.
///
/// Accurate to about 1e-10 relative in the density over alpha in [0.5, 2], beta in [-1, 1];
/// returns `-inf` where the density is 0 (outside the support) and NaN for NaN input.
/// In S0 with scale g and location d: f(x) = pdf_s0_std((x - d)/g, alpha, beta) / g.
///
/// # Examples
///
/// ```
/// use anodiff_core::stable::ln_pdf_s0_std;
/// // Cauchy
/// let v = ln_pdf_s0_std(2.0, 1.0, 0.0);
/// assert!((v - (1.0 / (5.0 * std::f64::consts::PI)).ln()).abs() < 1e-14);
/// ```
pub fn ln_pdf_s0_std(x: f64, alpha: f64, beta: f64) -> f64 {
    standard::ln_pdf(x, alpha, beta)
}

/// [`ln_pdf_s0_std`] at every point of `zs` (one alpha, beta), through a certified
/// interpolant from [`MIN_BATCH`] points on; see [`Stable::ln_pdf_many`].
pub fn ln_pdf_s0_std_many(zs: &[f64], alpha: f64, beta: f64) -> Vec<f64> {
    let general =
        !(alpha == 2.0 || (alpha == 1.0 && beta == 0.0) || (alpha == 0.5 && beta.abs() == 1.0));
    if general && zs.len() >= MIN_BATCH {
        let t = LnPdfTable::for_points(alpha, beta, zs);
        zs.iter().map(|&z| t.ln_pdf(z)).collect()
    } else {
        zs.iter()
            .map(|&z| standard::ln_pdf(z, alpha, beta))
            .collect()
    }
}

/// Density of the standard S0 law; see [`ln_pdf_s0_std`].
///
/// # Examples
///
/// ```
/// use anodiff_core::stable::pdf_s0_std;
/// let f = pdf_s0_std(0.0, 1.5, 0.0);
/// // f(0) = Gamma(1 + 1/alpha) / pi for beta = 0
/// let expected = 0.902_745_292_950_933_6 / std::f64::consts::PI;
/// assert!((f - expected).abs() < 1e-12);
/// ```
pub fn pdf_s0_std(x: f64, alpha: f64, beta: f64) -> f64 {
    standard::ln_pdf(x, alpha, beta).exp()
}

/// ln P(X <= x) of the standard S0 law, without parameter checks.
pub fn ln_cdf_s0_std(x: f64, alpha: f64, beta: f64) -> f64 {
    standard::ln_cdf(x, alpha, beta, Tail::Lower)
}

/// ln P(X > x) of the standard S0 law, without parameter checks (computed directly).
pub fn ln_sf_s0_std(x: f64, alpha: f64, beta: f64) -> f64 {
    standard::ln_cdf(x, alpha, beta, Tail::Upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_parameters() {
        for &(a, b, g, d) in &[
            (0.0, 0.0, 1.0, 0.0),
            (2.1, 0.0, 1.0, 0.0),
            (f64::NAN, 0.0, 1.0, 0.0),
            (1.5, 1.5, 1.0, 0.0),
            (1.5, f64::NAN, 1.0, 0.0),
            (1.5, 0.0, 0.0, 0.0),
            (1.5, 0.0, f64::INFINITY, 0.0),
            (1.5, 0.0, 1.0, f64::NAN),
        ] {
            assert!(
                Stable::new(a, b, g, d, Param::S0).is_err(),
                "{a} {b} {g} {d}"
            );
        }
    }

    #[test]
    fn param_parses() {
        assert_eq!("S1".parse::<Param>().unwrap(), Param::S1);
        assert!("s2".parse::<Param>().is_err());
    }

    /// tan(pi (1 + e) / 2) = -cot(pi e / 2) = -(2 / (pi e) - pi e / 6 - (pi e)^3 / 360 - ...):
    /// at e = 2^-27 (exact in f64) the series' second term is 2e-17 of the first, so the S1
    /// shift is 2^28 / pi to 1 ulp. The plain tan(pi alpha / 2) is off by ~1e-8 there.
    #[test]
    fn s0_s1_shift_next_to_alpha_one_matches_the_analytic_value() {
        let e = 2f64.powi(-27);
        let want = 2f64.powi(28) / PI - PI * e / 6.0;
        let got = s0_to_s1_loc(1.0 + e, 1.0, 1.0, 0.0);
        assert!(
            (got - want).abs() <= 2.0 * f64::EPSILON * want,
            "{got} {want}"
        );
        assert!(((PI * (1.0 + e) / 2.0).tan() + want).abs() > 1e-10 * want);
        // At alpha = 1: -(2/pi) beta scale ln scale; the two directions invert each other.
        let d1 = s0_to_s1_loc(1.0, 0.5, std::f64::consts::E, 3.0);
        assert!((d1 - (3.0 - std::f64::consts::E / PI)).abs() < 1e-15);
        for (a, b, g, d) in [
            (1.0 + e, 0.7, 2.5, -1.0),
            (1.0, -0.3, 0.2, 4.0),
            (0.6, 1.0, 3.0, 0.5),
        ] {
            let back = s1_to_s0_loc(a, b, g, s0_to_s1_loc(a, b, g, d));
            assert!((back - d).abs() <= 1e-15 * (d.abs() + (b * g * tan_pi_alpha_half(a)).abs()));
        }
        // The law keeps both locations consistent.
        let s = Stable::new(1.0 + e, 1.0, 1.0, 0.0, Param::S0).unwrap();
        let s1 = Stable::new(1.0 + e, 1.0, 1.0, got, Param::S1).unwrap();
        assert_eq!(s.cdf(0.3), s1.cdf(0.3));
    }
}
