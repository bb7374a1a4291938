//! Maximum-likelihood fits of the models compared with a stable law (normal, Student-t, Laplace).
//!
//! Each model is an [`Estimator`] (as the stable estimators are) whose fit is an [`AltFit`]:
//! location, scale (and degrees of freedom for Student-t), the total log-likelihood, standard
//! errors, and the model's log-density for Vuong tests ([`AltFit::ln_pdf`],
//! [`AltFit::ln_pdfs`]). The free functions [`fit`], [`fit_weighted`] and
//! [`normal_from_moments`] give the same fits.
//!
//! | model | parameters | MLE | standard errors |
//! |---|---|---|---|
//! | normal | mean `mu`, sd `sigma` | sample mean, `sqrt(sum (x - mean)^2 / n)` (compensated sums) | `sigma/sqrt n`, `sigma/sqrt(2n)` (exact Fisher) |
//! | Laplace | median `m`, scale `b` | sample median, mean absolute deviation from it | `b/sqrt n`, `b/sqrt n` (Fisher; the location is not regular, its MLE is still sqrt-n with this variance) |
//! | Student-t | `mu`, `sigma`, `df` | Newton on `(mu, ln sigma, ln df)` with analytic gradient | inverse observed information |
//!
//! # Examples
//! ```
//! use anodiff_core::fit::alternatives::AltModel;
//! use anodiff_core::fit::Estimator;
//! let x = [1.0, 2.0, 4.0, 7.0, 11.0];
//! let f = AltModel::Normal.fit(&x).unwrap();
//! assert!((f.loc - 5.0).abs() < 1e-14);
//! assert!((f.scale - 13.2f64.sqrt()).abs() < 1e-14); // squared deviations sum to 66, n = 5
//! ```

// `!(x > 0.0)` is deliberate throughout: it rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::Estimator;
use crate::error::{Error, Result};
use statrs::function::gamma::{digamma, ln_gamma};
use std::f64::consts::PI;

/// Which alternative model to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AltModel {
    /// Normal (Gaussian) law.
    #[serde(rename = "normal")]
    Normal,
    /// Location-scale Student-t law with estimated degrees of freedom.
    #[serde(rename = "student-t")]
    StudentT,
    /// Laplace (double-exponential) law.
    #[serde(rename = "laplace")]
    Laplace,
}

impl AltModel {
    /// The name used on the command line and in JSON: `normal`, `student-t`, `laplace`.
    pub fn name(self) -> &'static str {
        match self {
            AltModel::Normal => "normal",
            AltModel::StudentT => "student-t",
            AltModel::Laplace => "laplace",
        }
    }
}

impl Estimator for AltModel {
    type Fit = AltFit;

    /// Fits the model by maximum likelihood: [`fit`]`(self, data)`.
    fn fit(&self, data: &[f64]) -> Result<AltFit> {
        fit(*self, data)
    }
}

impl std::fmt::Display for AltModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AltModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" | "gauss" | "gaussian" => Ok(AltModel::Normal),
            "student-t" | "studentt" | "student" | "t" => Ok(AltModel::StudentT),
            "laplace" => Ok(AltModel::Laplace),
            _ => Err(Error::param(
                "alt",
                format!("unknown model {s:?}; expected normal, student-t or laplace"),
            )),
        }
    }
}

/// Standard errors of an [`AltFit`] (`None` where not available).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AltSe {
    /// Standard error of the location.
    pub loc: Option<f64>,
    /// Standard error of the scale.
    pub scale: Option<f64>,
    /// Standard error of the degrees of freedom (Student-t only).
    pub df: Option<f64>,
}

/// A fitted alternative model.
///
/// `scale` is the standard deviation for the normal, `b` for the Laplace
/// (`f(x) = exp(-|x - loc| / b) / (2b)`) and `sigma` for Student-t
/// (`f(x) = t_df((x - loc)/sigma) / sigma`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AltFit {
    /// The model.
    pub model: AltModel,
    /// Number of observations.
    pub n: usize,
    /// Location (mean, median or t centre).
    pub loc: f64,
    /// Scale (see the type docs).
    pub scale: f64,
    /// Degrees of freedom (Student-t only).
    pub df: Option<f64>,
    /// Total log-likelihood of the data at the estimates.
    pub loglik: f64,
    /// Standard errors.
    pub se: AltSe,
    /// Whether the estimate is a verified maximum (always true for the closed forms; for
    /// Student-t, Newton met its tolerance with `df` inside its range).
    pub converged: bool,
    /// Newton iterations (0 for the closed forms).
    pub iterations: usize,
}

impl AltFit {
    /// Log-density of the fitted model at `x`.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::fit::alternatives::{fit, AltModel};
    /// let x = [-1.0, 0.0, 0.5, 2.0, 3.5];
    /// let f = fit(AltModel::Laplace, &x).unwrap();
    /// let total: f64 = x.iter().map(|&v| f.ln_pdf(v)).sum();
    /// assert!((total - f.loglik).abs() < 1e-12);
    /// ```
    pub fn ln_pdf(&self, x: f64) -> f64 {
        let z = (x - self.loc) / self.scale;
        match self.model {
            AltModel::Normal => -0.5 * z * z - self.scale.ln() - 0.5 * (2.0 * PI).ln(),
            AltModel::Laplace => -z.abs() - (2.0 * self.scale).ln(),
            AltModel::StudentT => {
                let nu = self.df.unwrap_or(f64::INFINITY);
                t_ln_pdf_std(z, nu) - self.scale.ln()
            }
        }
    }

    /// Log-densities of the fitted model at every point of `data`.
    pub fn ln_pdfs(&self, data: &[f64]) -> Vec<f64> {
        data.iter().map(|&x| self.ln_pdf(x)).collect()
    }

    /// Number of free parameters (2, or 3 for Student-t).
    pub fn n_params(&self) -> usize {
        if self.model == AltModel::StudentT {
            3
        } else {
            2
        }
    }
}

/// Fits `model` to `data` by maximum likelihood.
///
/// # Errors
/// [`Error::InvalidData`] for fewer than 2 values, non-finite values, or a sample with no
/// spread (all values equal).
pub fn fit(model: AltModel, data: &[f64]) -> Result<AltFit> {
    check(data, None, model.name())?;
    let s = Sample { x: data, w: None };
    fit_sample(model, &s)
}

/// Fits `model` to grouped data: `weights[i]` observations at `values[i]` (e.g. histogram
/// bin means and counts). The weighted likelihood `sum_i w_i ln f(x_i)` is maximised; with
/// integer weights this equals the fit to the data with each value repeated.
///
/// For a histogram, the normal fit from bin means loses the within-bin variance (relative
/// error ~ (bin width / value)^2 / 12 in the variance); prefer [`normal_from_moments`] with the
/// exact streaming sums when they are available.
///
/// # Errors
/// As [`fit`], plus [`Error::Shape`] if the lengths differ and [`Error::InvalidData`] for a
/// negative or non-finite weight.
///
/// # Examples
/// ```
/// use anodiff_core::fit::alternatives::{fit, fit_weighted, AltModel};
/// let g = fit_weighted(AltModel::Laplace, &[1.0, 2.0, 5.0], &[2.0, 1.0, 2.0]).unwrap();
/// let u = fit(AltModel::Laplace, &[1.0, 1.0, 2.0, 5.0, 5.0]).unwrap();
/// assert_eq!((g.loc, g.scale, g.n), (u.loc, u.scale, 5));
/// ```
pub fn fit_weighted(model: AltModel, values: &[f64], weights: &[f64]) -> Result<AltFit> {
    if values.len() != weights.len() {
        return Err(Error::Shape(format!(
            "{model} fit: {} values but {} weights",
            values.len(),
            weights.len()
        )));
    }
    check(values, Some(weights), model.name())?;
    let s = Sample {
        x: values,
        w: Some(weights),
    };
    fit_sample(model, &s)
}

/// The normal MLE from exact streaming sums: `n` values with sum `sum` and sum of squares
/// `sum_sq` (e.g. the compensated sums of a histogram pass).
///
/// # Errors
/// [`Error::InvalidData`] for `n < 2`, non-finite sums, or zero (or negative, by rounding)
/// variance.
///
/// # Examples
/// ```
/// use anodiff_core::fit::alternatives::normal_from_moments;
/// let f = normal_from_moments(5, 25.0, 191.0).unwrap(); // 1, 2, 4, 7, 11
/// assert!((f.loc - 5.0).abs() < 1e-15 && (f.scale - 13.2f64.sqrt()).abs() < 1e-14);
/// ```
pub fn normal_from_moments(n: u64, sum: f64, sum_sq: f64) -> Result<AltFit> {
    if !(sum.is_finite() && sum_sq.is_finite()) {
        return Err(Error::InvalidData(format!(
            "normal fit: sums are not finite (sum {sum}, sum of squares {sum_sq})"
        )));
    }
    let nf = n as f64;
    let mean = sum / nf;
    normal_from(n as usize, mean, sum_sq - sum * mean)
}

/// Observations with optional (frequency) weights.
struct Sample<'a> {
    x: &'a [f64],
    w: Option<&'a [f64]>,
}

impl Sample<'_> {
    fn w(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

    fn total(&self) -> f64 {
        match self.w {
            Some(w) => crate::vuong::neumaier(w.iter().copied()),
            None => self.x.len() as f64,
        }
    }

    /// Compensated weighted sum of `f(x_i)`.
    fn sum(&self, f: impl Fn(f64) -> f64) -> f64 {
        match self.w {
            Some(w) => crate::vuong::neumaier(self.x.iter().zip(w).map(|(&x, &w)| w * f(x))),
            None => crate::vuong::neumaier(self.x.iter().map(|&x| f(x))),
        }
    }

    /// Weighted median: the midpoint where the cumulative weight crosses exactly half,
    /// else the value at which it first exceeds half (the usual median for unit weights).
    fn median(&self) -> f64 {
        let mut idx: Vec<usize> = (0..self.x.len()).filter(|&i| self.w(i) > 0.0).collect();
        idx.sort_unstable_by(|&a, &b| self.x[a].total_cmp(&self.x[b]));
        let half = 0.5 * self.total();
        let mut cum = 0.0;
        for (j, &i) in idx.iter().enumerate() {
            cum += self.w(i);
            if cum == half {
                let next = idx.get(j + 1).map_or(self.x[i], |&k| self.x[k]);
                return 0.5 * (self.x[i] + next);
            }
            if cum > half {
                return self.x[i];
            }
        }
        idx.last().map_or(f64::NAN, |&i| self.x[i])
    }
}

fn fit_sample(model: AltModel, s: &Sample) -> Result<AltFit> {
    match model {
        AltModel::Normal => fit_normal(s),
        AltModel::Laplace => fit_laplace(s),
        AltModel::StudentT => fit_student_t(s),
    }
}

fn check(data: &[f64], weights: Option<&[f64]>, what: &str) -> Result<()> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "{what} fit: value at index {i} is {}",
            data[i]
        )));
    }
    let total = match weights {
        Some(w) => {
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::InvalidData(format!(
                    "{what} fit: weight at index {i} is {}",
                    w[i]
                )));
            }
            w.iter().sum::<f64>()
        }
        None => data.len() as f64,
    };
    if !(total >= 2.0) {
        return Err(Error::InvalidData(format!(
            "{what} fit: {total} observation(s); at least 2 are needed"
        )));
    }
    Ok(())
}

/// Streaming, mergeable mean and sum of squared deviations (Welford; Chan et al. merge), for
/// the normal MLE of data too large to hold in memory.
///
/// # Examples
/// ```
/// use anodiff_core::fit::alternatives::MomentSums;
/// let mut a = MomentSums::default();
/// let mut b = MomentSums::default();
/// for x in [1.0, 2.0] { a.push(x); }
/// for x in [4.0, 7.0, 11.0] { b.push(x); }
/// a.merge(&b);
/// assert_eq!(a.n(), 5);
/// assert!((a.mean() - 5.0).abs() < 1e-15 && (a.sum_sq_dev() - 66.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MomentSums {
    n: u64,
    mean: f64,
    m2: f64,
}

impl MomentSums {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Merges another accumulator (e.g. from another thread or chunk).
    pub fn merge(&mut self, o: &MomentSums) {
        if o.n == 0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        let (na, nb) = (self.n as f64, o.n as f64);
        self.mean += d * nb / n as f64;
        self.m2 += o.m2 + d * d * na * nb / n as f64;
        self.n = n;
    }

    /// Number of values.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Mean of the values.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sum of squared deviations from the mean.
    pub fn sum_sq_dev(&self) -> f64 {
        self.m2
    }

    /// The normal MLE from these sums (same as [`fit`] with [`AltModel::Normal`]).
    ///
    /// # Errors
    /// [`Error::InvalidData`] for fewer than 2 values or zero spread.
    pub fn normal_fit(&self) -> Result<AltFit> {
        normal_from(self.n as usize, self.mean, self.m2)
    }
}

fn fit_normal(s: &Sample) -> Result<AltFit> {
    let n = s.total();
    let mean = s.sum(|x| x) / n;
    // Two-pass sum of squares with the compensating term (sum of deviations)^2 / n.
    let dev = s.sum(|x| x - mean);
    let ss = s.sum(|x| (x - mean) * (x - mean));
    normal_from(n.round() as usize, mean + dev / n, ss - dev * dev / n)
}

fn normal_from(n: usize, mean: f64, ss: f64) -> Result<AltFit> {
    if n < 2 {
        return Err(Error::InvalidData(format!(
            "normal fit: {n} value(s); at least 2 are needed"
        )));
    }
    let nf = n as f64;
    let var = ss / nf;
    if !(var > 0.0) {
        return Err(Error::InvalidData(
            "normal fit: all values are equal (zero variance)".into(),
        ));
    }
    let sigma = var.sqrt();
    Ok(AltFit {
        model: AltModel::Normal,
        n,
        loc: mean,
        scale: sigma,
        df: None,
        loglik: -0.5 * nf * ((2.0 * PI * var).ln() + 1.0),
        se: AltSe {
            loc: Some(sigma / nf.sqrt()),
            scale: Some(sigma / (2.0 * nf).sqrt()),
            df: None,
        },
        converged: true,
        iterations: 0,
    })
}

fn fit_laplace(s: &Sample) -> Result<AltFit> {
    let n = s.total();
    // For even n every point between the middle two maximises the likelihood equally; the
    // midpoint is the conventional choice (scipy.stats.laplace.fit makes the same one).
    let m = s.median();
    let b = s.sum(|x| (x - m).abs()) / n;
    if !(b > 0.0) {
        return Err(Error::InvalidData(
            "Laplace fit: all values are equal (zero mean absolute deviation)".into(),
        ));
    }
    Ok(AltFit {
        model: AltModel::Laplace,
        n: n.round() as usize,
        loc: m,
        scale: b,
        df: None,
        loglik: -n * ((2.0 * b).ln() + 1.0),
        se: AltSe {
            loc: Some(b / n.sqrt()),
            scale: Some(b / n.sqrt()),
            df: None,
        },
        converged: true,
        iterations: 0,
    })
}

/// `ln Gamma(x + 1/2) - ln Gamma(x)`, accurate for large x where the difference of two large
/// log-gammas would cancel. Series coefficients checked against mpmath (error < 1e-16 at x = 30).
fn ln_gamma_half_ratio(x: f64) -> f64 {
    if x >= 30.0 {
        let r = 1.0 / x;
        let r2 = r * r;
        0.5 * x.ln() - r / 8.0 + r * r2 * (1.0 / 192.0 - r2 * (1.0 / 640.0 - r2 * 17.0 / 14336.0))
    } else {
        ln_gamma(x + 0.5) - ln_gamma(x)
    }
}

/// Log-density of the standard Student-t law with `nu` degrees of freedom (`nu = inf`: normal).
fn t_ln_pdf_std(z: f64, nu: f64) -> f64 {
    if nu.is_infinite() {
        return -0.5 * z * z - 0.5 * (2.0 * PI).ln();
    }
    ln_gamma_half_ratio(nu / 2.0) - 0.5 * (nu * PI).ln() - 0.5 * (nu + 1.0) * (z * z / nu).ln_1p()
}

/// Bounds on `ln df` in the Student-t fit. Below 0.05 the law has essentially no body; above
/// 1e6 it is a normal to ~1e-6 in log-density, and the likelihood is flat in df.
const LN_DF_MIN: f64 = -2.995_732_273_553_991; // ln 0.05
const LN_DF_MAX: f64 = 13.815_510_557_964_274; // ln 1e6

struct TProblem<'a, 'b> {
    s: &'b Sample<'a>,
}

impl TProblem<'_, '_> {
    /// Log-likelihood at theta = (mu, ln sigma, ln nu).
    fn loglik(&self, th: [f64; 3]) -> f64 {
        let (mu, sg, nu) = (th[0], th[1].exp(), th[2].exp());
        let c = ln_gamma_half_ratio(nu / 2.0) - 0.5 * (nu * PI).ln() - sg.ln();
        let k = 0.5 * (nu + 1.0);
        let body = self.s.sum(|x| {
            let z = (x - mu) / sg;
            (z * z / nu).ln_1p()
        });
        self.s.total() * c - k * body
    }

    /// Analytic gradient with respect to (mu, ln sigma, ln nu).
    fn grad(&self, th: [f64; 3]) -> [f64; 3] {
        let (mu, sg, nu) = (th[0], th[1].exp(), th[2].exp());
        let n = self.s.total();
        let (mut gm, mut gs, mut gl) = (0.0, 0.0, 0.0);
        for (i, &x) in self.s.x.iter().enumerate() {
            let w = self.s.w(i);
            let z = (x - mu) / sg;
            let q = nu + z * z;
            gm += w * z / q;
            gs += w * z * z / q;
            gl += w * (z * z / nu).ln_1p();
        }
        let cprime = 0.5 * digamma(0.5 * (nu + 1.0)) - 0.5 * digamma(0.5 * nu) - 0.5 / nu;
        let g_mu = (nu + 1.0) / sg * gm;
        let g_s = -n + (nu + 1.0) * gs;
        let g_nu = n * cprime - 0.5 * gl + (nu + 1.0) / (2.0 * nu) * gs;
        [g_mu, g_s, nu * g_nu]
    }

    /// Hessian by central differences of the analytic gradient (step 1e-5 in sigma units for
    /// mu, 1e-5 in ln sigma and ln nu: truncation error ~1e-10 relative, rounding ~1e-11 with
    /// compensated-quality sums). Used for the Newton direction and for the standard errors,
    /// both of which tolerate that accuracy.
    fn hessian(&self, th: [f64; 3]) -> [[f64; 3]; 3] {
        let steps = [1e-5 * th[1].exp(), 1e-5, 1e-5];
        let mut h = [[0.0; 3]; 3];
        for j in 0..3 {
            let mut tp = th;
            let mut tm = th;
            tp[j] += steps[j];
            tm[j] -= steps[j];
            let (gp, gm) = (self.grad(tp), self.grad(tm));
            for i in 0..3 {
                h[i][j] = (gp[i] - gm[i]) / (2.0 * steps[j]);
            }
        }
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let m = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = m;
            h[j][i] = m;
        }
        h
    }

    /// A few EM steps for (mu, sigma) at fixed nu (the t as a scale mixture of normals).
    fn em(&self, mut mu: f64, mut sg: f64, nu: f64, steps: usize) -> (f64, f64) {
        let n = self.s.total();
        for _ in 0..steps {
            let (mut sw, mut swx) = (0.0, 0.0);
            for (i, &x) in self.s.x.iter().enumerate() {
                let z = (x - mu) / sg;
                let u = self.s.w(i) * (nu + 1.0) / (nu + z * z);
                sw += u;
                swx += u * x;
            }
            mu = swx / sw;
            let mut ss = 0.0;
            for (i, &x) in self.s.x.iter().enumerate() {
                let z = (x - mu) / sg;
                let u = self.s.w(i) * (nu + 1.0) / (nu + z * z);
                ss += u * (x - mu) * (x - mu);
            }
            let s_new = (ss / n).sqrt();
            if s_new > 0.0 && s_new.is_finite() {
                sg = s_new;
            }
        }
        (mu, sg)
    }
}

fn fit_student_t(data: &Sample) -> Result<AltFit> {
    let nf = data.total();
    let n = nf.round() as usize;
    let p = TProblem { s: data };
    let med = data.median();
    let absdev: Vec<f64> = data.x.iter().map(|x| (x - med).abs()).collect();
    let mad = Sample {
        x: &absdev,
        w: data.w,
    }
    .median();
    let mut s0 = 1.482_602_218_505_602 * mad; // MAD, consistent for the normal
    if !(s0 > 0.0) {
        s0 = data.sum(|x| (x - med).abs()) / nf;
    }
    if !(s0 > 0.0) {
        return Err(Error::InvalidData(
            "Student-t fit: all values are equal (no spread)".into(),
        ));
    }
    // Start: the best of a coarse df grid, each with a few EM steps for (mu, sigma), on an
    // evenly strided subsample of at most 20 000 points (a start only needs to be in Newton's
    // basin; the full data are used from then on).
    let stride = data.x.len().div_ceil(20_000);
    let sub_x: Vec<f64> = data.x.iter().step_by(stride).copied().collect();
    let sub_w: Option<Vec<f64>> = data.w.map(|w| w.iter().step_by(stride).copied().collect());
    let sub = Sample {
        x: &sub_x,
        w: sub_w.as_deref(),
    };
    let ps = TProblem { s: &sub };
    let mut best = ([med, s0.ln(), 0.0], f64::NEG_INFINITY);
    for nu in [0.5, 1.0, 2.0, 4.0, 8.0, 30.0, 200.0] {
        let (mu, s) = ps.em(med, s0, nu, 8);
        let th = [mu, s.ln(), f64::ln(nu)];
        let l = ps.loglik(th);
        if l > best.1 {
            best = (th, l);
        }
    }
    let mut th = best.0;
    let mut ll = p.loglik(th);
    let mut converged = false;
    let mut iterations = 0;
    for it in 1..=200 {
        iterations = it;
        let g = p.grad(th);
        let h = p.hessian(th);
        let neg = nalgebra::Matrix3::from_fn(|i, j| -h[i][j]);
        let gv = nalgebra::Vector3::new(g[0], g[1], g[2]);
        // Newton direction when -H is positive definite, else Levenberg-damped.
        let mut lambda = 0.0;
        let mut dir = None;
        for _ in 0..30 {
            let m = neg + nalgebra::Matrix3::identity() * lambda;
            if let Some(ch) = m.cholesky() {
                dir = Some(ch.solve(&gv));
                break;
            }
            lambda = if lambda == 0.0 {
                1e-6 * neg.diagonal().abs().max().max(1.0)
            } else {
                lambda * 10.0
            };
        }
        let Some(d) = dir else { break };
        let mut step = 1.0;
        let mut accepted = false;
        let mut cand = th;
        for _ in 0..50 {
            cand = [
                th[0] + step * d[0],
                th[1] + step * d[1],
                th[2] + step * d[2],
            ];
            cand[2] = cand[2].clamp(LN_DF_MIN, LN_DF_MAX);
            let lc = p.loglik(cand);
            if lc.is_finite() && lc >= ll - 1e-12 * ll.abs() {
                accepted = true;
                ll = lc.max(ll);
                break;
            }
            step *= 0.5;
        }
        let sigma = th[1].exp();
        let delta = ((cand[0] - th[0]) / sigma)
            .abs()
            .max((cand[1] - th[1]).abs())
            .max((cand[2] - th[2]).abs());
        if accepted {
            th = cand;
            ll = p.loglik(th);
        }
        if !accepted || delta < 1e-10 {
            // Converged if the gradient is at rounding level: |g| relative to sqrt(n).
            let g = p.grad(th);
            let gn = g[0].abs() * th[1].exp() + g[1].abs() + g[2].abs();
            converged = gn < 1e-6 * nf.sqrt() || th[2] >= LN_DF_MAX;
            break;
        }
    }
    let nu = th[2].exp();
    let at_df_bound = th[2] >= LN_DF_MAX || th[2] <= LN_DF_MIN;
    let h = p.hessian(th);
    let neg = nalgebra::Matrix3::from_fn(|i, j| -h[i][j]);
    let (mut se_loc, mut se_scale, mut se_df) = (None, None, None);
    let sigma = th[1].exp();
    if at_df_bound {
        // df on its bound: the information for (mu, ln sigma) alone.
        let m2 = nalgebra::Matrix2::new(neg[(0, 0)], neg[(0, 1)], neg[(1, 0)], neg[(1, 1)]);
        if let Some(inv) = m2
            .try_inverse()
            .filter(|m| m[(0, 0)] > 0.0 && m[(1, 1)] > 0.0)
        {
            se_loc = Some(inv[(0, 0)].sqrt());
            se_scale = Some(sigma * inv[(1, 1)].sqrt());
        }
    } else if let Some(inv) = neg.try_inverse() {
        let ok = |v: f64| (v > 0.0 && v.is_finite()).then(|| v.sqrt());
        se_loc = ok(inv[(0, 0)]);
        se_scale = ok(inv[(1, 1)]).map(|v| sigma * v);
        se_df = ok(inv[(2, 2)]).map(|v| nu * v);
    }
    Ok(AltFit {
        model: AltModel::StudentT,
        n,
        loc: th[0],
        scale: sigma,
        df: Some(nu),
        loglik: ll,
        se: AltSe {
            loc: se_loc,
            scale: se_scale,
            df: se_df,
        },
        converged,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Continuous, Laplace, Normal, StudentsT};

    #[test]
    fn parse_names() {
        assert_eq!("Student-T".parse::<AltModel>().unwrap(), AltModel::StudentT);
        assert_eq!("normal".parse::<AltModel>().unwrap(), AltModel::Normal);
        assert!("cauchy".parse::<AltModel>().is_err());
    }

    #[test]
    fn ln_pdf_matches_statrs() {
        // statrs is an independent implementation of all three densities.
        let f = |model, df| AltFit {
            model,
            n: 1,
            loc: 0.3,
            scale: 1.7,
            df,
            loglik: 0.0,
            se: AltSe {
                loc: None,
                scale: None,
                df: None,
            },
            converged: true,
            iterations: 0,
        };
        for x in [-50.0, -2.0, 0.3, 1.0, 7.5, 1e3] {
            let n = Normal::new(0.3, 1.7).unwrap().ln_pdf(x);
            assert!((f(AltModel::Normal, None).ln_pdf(x) - n).abs() < 1e-12 * n.abs().max(1.0));
            let l = Laplace::new(0.3, 1.7).unwrap().ln_pdf(x);
            assert!((f(AltModel::Laplace, None).ln_pdf(x) - l).abs() < 1e-12 * l.abs().max(1.0));
            for df in [0.7, 3.0, 45.0, 1e4] {
                let t = StudentsT::new(0.3, 1.7, df).unwrap().ln_pdf(x);
                let ours = f(AltModel::StudentT, Some(df)).ln_pdf(x);
                // statrs takes ln Gamma differences directly: ~1e-11 absolute at df = 1e4.
                assert!(
                    (ours - t).abs() < 1e-10 * t.abs().max(1.0),
                    "df {df} x {x}: {ours} vs {t}"
                );
            }
        }
    }

    #[test]
    fn moment_sums_merge_equals_batch() {
        let x: Vec<f64> = (0..1000)
            .map(|i| 1e6 + ((i * 7919) % 1013) as f64 * 0.01)
            .collect();
        let mut a = MomentSums::default();
        let mut b = MomentSums::default();
        x[..300].iter().for_each(|&v| a.push(v));
        x[300..].iter().for_each(|&v| b.push(v));
        a.merge(&b);
        let f1 = a.normal_fit().unwrap();
        let f2 = fit(AltModel::Normal, &x).unwrap();
        assert!((f1.loc - f2.loc).abs() < 1e-9);
        assert!((f1.scale / f2.scale - 1.0).abs() < 1e-9);
    }

    #[test]
    fn constant_data_rejected() {
        for m in [AltModel::Normal, AltModel::Laplace, AltModel::StudentT] {
            assert!(fit(m, &[2.0; 6]).is_err());
            assert!(fit(m, &[1.0]).is_err());
            assert!(fit(m, &[1.0, f64::NAN, 2.0]).is_err());
        }
    }

    #[test]
    fn estimator_trait_gives_the_free_function_fit() {
        use crate::fit::Estimator;
        let x = [-1.0, 0.0, 0.5, 2.0, 3.5, 0.25, -0.75];
        for m in [AltModel::Normal, AltModel::StudentT, AltModel::Laplace] {
            assert_eq!(m.fit(&x).unwrap(), fit(m, &x).unwrap());
            assert!(m.fit(&[1.0]).is_err());
        }
    }
}
