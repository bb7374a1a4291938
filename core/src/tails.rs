//! Heavy-tail diagnostics next to a stable fit: the Hill estimator and friends.
//!
//! The Hill estimator of the tail index `alpha` (for `P(X > x) ~ C x^-alpha`) uses the `k`
//! largest values `X_(1) >= ... >= X_(k)` and the threshold `X_(k+1)`:
//!
//! # Formula
//! ```text
//! H_k         = (1/k) sum_{i=1..k} ln X_(i) - ln X_(k+1)
//! alpha_hat   = 1 / H_k
//! se          = alpha_hat / sqrt(k)                    (asymptotic)
//! 95% CI      = [g_0.025, g_0.975] / (k H_k),  g_p = p-quantile of Gamma(k, 1)
//! ```
//! For an exact Pareto tail above `X_(k+1)`, `alpha k H_k ~ Gamma(k, 1)`, so the interval is
//! exact there (and equals `alpha_hat (1 -+ 1.96/sqrt k)` for large k); `alpha_hat` itself has
//! mean `alpha k/(k-1)`.
//!
//! # Choosing k
//! [`HillK::Auto`] picks `k` where the Hill plot is most stable: over a geometric grid of
//! candidates between `max(10, n/1000)` and `n/10` (of the values in the chosen tail), the `k`
//! whose window `[k/sqrt 2, k sqrt 2]` has the smallest relative spread of `alpha_hat(j)`.
//! This is a heuristic: look at the Hill plot ([`hill_plot`]) before trusting any single `k`.
//!
//! # Hill versus a stable fit
//! A stable law with `alpha < 2` has Pareto tails only asymptotically: its tail is
//! `C x^-alpha (1 + c x^-alpha + ...)`, and for `alpha` near 2 the Pareto regime starts so far
//! out that at any practical `k` the Hill estimate is biased upwards, often above 2
//! (McCulloch 1997, "Measuring tail thickness to estimate the stable index alpha: a critique",
//! J. Bus. Econ. Stat. 15:74-81). [`alpha_agreement`] is a z test of the two estimates at a
//! stated level; [`AlphaAgreement`] says where it holds its level and where Hill's bias makes
//! it reject exact stable data.
//!
//! # Examples
//! ```
//! use anodiff_core::tails::{hill, HillK, Tail};
//! // Exact Pareto(alpha = 2) quantiles: x_i = (i / n)^(-1/2).
//! let n = 10_000;
//! let x: Vec<f64> = (1..=n).map(|i| (i as f64 / n as f64).powf(-0.5)).collect();
//! let h = hill(&x, Tail::Upper, HillK::Fixed(1000)).unwrap();
//! assert!((h.alpha - 2.0).abs() < 0.05);
//! ```
//!
//! # References
//! Hill, B. M. (1975). A simple general approach to inference about the tail of a distribution.
//! Ann. Statist. 3(5), 1163-1174. Resnick, S. (2007). Heavy-Tail Phenomena, s.4.4 (Hill plots).

// `!(x > 0.0)` is deliberate throughout: it rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{Error, Result};
use statrs::distribution::{ContinuousCDF, Gamma};

/// Which tail to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tail {
    /// Large positive values.
    Upper,
    /// Large negative values (the upper tail of `-X`).
    Lower,
    /// Large absolute values (both tails pooled; for symmetric laws).
    Abs,
}

impl std::str::FromStr for Tail {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "upper" | "right" => Ok(Tail::Upper),
            "lower" | "left" => Ok(Tail::Lower),
            "abs" | "absolute" | "both" => Ok(Tail::Abs),
            _ => Err(Error::param(
                "tail",
                format!("unknown tail {s:?}; expected upper, lower or abs"),
            )),
        }
    }
}

/// How to choose the number `k` of order statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HillK {
    /// Use exactly this `k` (needs `2 <= k < number of positive values in the tail`).
    Fixed(usize),
    /// The stability-based choice described in the [module docs](self).
    Auto,
}

/// A Hill estimate at one `k`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HillEstimate {
    /// The tail used.
    pub tail: Tail,
    /// Number of observations in the sample.
    pub n: usize,
    /// Number of positive values in the tail's orientation (the usable order statistics).
    pub n_tail: usize,
    /// Number of upper order statistics used.
    pub k: usize,
    /// Whether `k` came from the automatic choice.
    pub k_auto: bool,
    /// The threshold `X_(k+1)`.
    pub threshold: f64,
    /// Hill's estimate `1 / H_k`.
    pub alpha: f64,
    /// Asymptotic standard error `alpha / sqrt(k)`.
    pub se: f64,
    /// 95% interval, exact for a Pareto tail above the threshold.
    pub ci95: [f64; 2],
}

/// One point of a Hill plot.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HillPoint {
    /// Number of order statistics.
    pub k: usize,
    /// `1 / H_k`.
    pub alpha: f64,
    /// 95% interval at this `k`.
    pub ci95: [f64; 2],
}

/// The positive values of the chosen tail sorted descending, with prefix sums of their logs.
struct Ordered {
    n: usize,
    desc: Vec<f64>,
    cum_ln: Vec<f64>,
}

impl Ordered {
    fn new(data: &[f64], tail: Tail) -> Result<Ordered> {
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidData(format!(
                "Hill estimator: value at index {i} is {}",
                data[i]
            )));
        }
        let mut desc: Vec<f64> = data
            .iter()
            .map(|&x| match tail {
                Tail::Upper => x,
                Tail::Lower => -x,
                Tail::Abs => x.abs(),
            })
            .filter(|&x| x > 0.0)
            .collect();
        desc.sort_unstable_by(|a, b| b.total_cmp(a));
        let mut cum_ln = Vec::with_capacity(desc.len() + 1);
        cum_ln.push(0.0);
        // Plain running sum: k ln-terms of size <~ 700 lose at most k ulps, far below the
        // sampling error alpha/sqrt(k).
        let mut s = 0.0;
        for &x in &desc {
            s += x.ln();
            cum_ln.push(s);
        }
        Ok(Ordered {
            n: data.len(),
            desc,
            cum_ln,
        })
    }

    fn n_tail(&self) -> usize {
        self.desc.len()
    }

    /// `H_k`, for `1 <= k < n_tail`.
    fn h(&self, k: usize) -> f64 {
        self.cum_ln[k] / k as f64 - self.desc[k].ln()
    }

    fn point(&self, k: usize) -> HillPoint {
        let h = self.h(k);
        let alpha = 1.0 / h;
        HillPoint {
            k,
            alpha,
            ci95: gamma_ci(k, h),
        }
    }
}

/// Exact Pareto interval: alpha k H_k ~ Gamma(k, 1).
///
/// For k >= 1e5 the Gamma quantiles come from the Wilson-Hilferty cube-root approximation
/// (relative error < 1e-9 there, checked against statrs' inversion; statrs takes milliseconds
/// per quantile at k ~ 1e8).
fn gamma_ci(k: usize, h: f64) -> [f64; 2] {
    let kh = k as f64 * h;
    if k >= 100_000 && kh > 0.0 {
        let kf = k as f64;
        let z = 1.959_963_984_540_054;
        let wh = |z: f64| kf * (1.0 - 1.0 / (9.0 * kf) + z / (3.0 * kf.sqrt())).powi(3);
        return [wh(-z) / kh, wh(z) / kh];
    }
    match Gamma::new(k as f64, 1.0) {
        Ok(g) if kh > 0.0 => [g.inverse_cdf(0.025) / kh, g.inverse_cdf(0.975) / kh],
        _ => [f64::NAN, f64::NAN],
    }
}

fn check_k(k: usize, o: &Ordered, tail: Tail) -> Result<()> {
    if k < 2 || k >= o.n_tail() {
        return Err(Error::param(
            "k",
            format!(
                "k = {k} is out of range: the {} tail has {} positive values, so k must be in 2..={}",
                tail_name(tail),
                o.n_tail(),
                o.n_tail().saturating_sub(1)
            ),
        ));
    }
    Ok(())
}

fn tail_name(t: Tail) -> &'static str {
    match t {
        Tail::Upper => "upper",
        Tail::Lower => "lower",
        Tail::Abs => "absolute",
    }
}

/// Hill estimate of the tail index of `data` in the chosen tail.
///
/// # Errors
/// [`Error::InvalidData`] for non-finite values or fewer than 3 positive values in the tail
/// (or, for [`HillK::Auto`], fewer than 20); [`Error::InvalidParameter`] for a fixed `k`
/// outside `2..n_tail`; [`Error::InvalidData`] if the `k + 1` largest values are all equal
/// (`H_k = 0`: no tail to measure).
pub fn hill(data: &[f64], tail: Tail, k: HillK) -> Result<HillEstimate> {
    let o = Ordered::new(data, tail)?;
    if o.n_tail() < 3 {
        return Err(Error::InvalidData(format!(
            "Hill estimator: the {} tail has {} positive value(s); at least 3 are needed",
            tail_name(tail),
            o.n_tail()
        )));
    }
    let (k, k_auto) = match k {
        HillK::Fixed(k) => {
            check_k(k, &o, tail)?;
            (k, false)
        }
        HillK::Auto => (auto_k(&o, tail)?, true),
    };
    let h = o.h(k);
    if !(h > 0.0) {
        return Err(Error::InvalidData(format!(
            "Hill estimator: the {} largest values of the {} tail are all equal to {}",
            k + 1,
            tail_name(tail),
            o.desc[k]
        )));
    }
    let alpha = 1.0 / h;
    Ok(HillEstimate {
        tail,
        n: o.n,
        n_tail: o.n_tail(),
        k,
        k_auto,
        threshold: o.desc[k],
        alpha,
        se: alpha / (k as f64).sqrt(),
        ci95: gamma_ci(k, h),
    })
}

fn auto_k(o: &Ordered, tail: Tail) -> Result<usize> {
    let m = o.n_tail();
    if m < 20 {
        return Err(Error::InvalidData(format!(
            "Hill estimator: the {} tail has only {m} positive values; the automatic choice of k \
             needs at least 20 (give --k explicitly)",
            tail_name(tail)
        )));
    }
    let lo = 10usize.max(m / 1000);
    let hi = (m / 10).max(lo + 1).min(m - 1);
    let mut best = (lo, f64::INFINITY);
    let mut k = lo as f64;
    while k <= hi as f64 {
        let kc = k.round() as usize;
        let (a, b) = (
            ((kc as f64) / std::f64::consts::SQRT_2).floor().max(2.0) as usize,
            (((kc as f64) * std::f64::consts::SQRT_2).ceil() as usize).min(m - 1),
        );
        let vals: Vec<f64> = (a..=b)
            .map(|j| 1.0 / o.h(j))
            .filter(|v| v.is_finite())
            .collect();
        if vals.len() >= 3 {
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            let score = var.sqrt() / mean.abs();
            // Ties and near-ties go to the larger k (smaller variance).
            if score <= best.1 * (1.0 + 1e-9) {
                best = (kc, score);
            }
        }
        k *= 1.1;
    }
    Ok(best.0)
}

/// The Hill plot: `alpha_hat(k)` with its 95% interval for each `k` in `ks` (values outside
/// `2..n_tail` are skipped), or, if `ks` is `None`, for every `k` up to 1000 and then a
/// geometric grid (ratio 1.01) up to `n_tail - 1`.
///
/// # Errors
/// As [`hill`] for non-finite data or fewer than 3 positive values in the tail.
///
/// # Examples
/// ```
/// use anodiff_core::tails::{hill_plot, Tail};
/// let x: Vec<f64> = (1..=500).map(|i| (i as f64 / 500.0).powf(-1.0)).collect();
/// let plot = hill_plot(&x, Tail::Upper, None).unwrap();
/// assert_eq!(plot.first().unwrap().k, 2);
/// assert_eq!(plot.last().unwrap().k, 499);
/// ```
pub fn hill_plot(data: &[f64], tail: Tail, ks: Option<&[usize]>) -> Result<Vec<HillPoint>> {
    let o = Ordered::new(data, tail)?;
    let m = o.n_tail();
    if m < 3 {
        return Err(Error::InvalidData(format!(
            "Hill plot: the {} tail has {m} positive value(s); at least 3 are needed",
            tail_name(tail)
        )));
    }
    let grid: Vec<usize> = match ks {
        Some(ks) => ks.to_vec(),
        None => {
            let mut g: Vec<usize> = (2..m.min(1001)).collect();
            let mut k = 1000.0f64;
            loop {
                k *= 1.01;
                let kc = k.round() as usize;
                if kc >= m {
                    break;
                }
                if g.last() != Some(&kc) {
                    g.push(kc);
                }
            }
            if m - 1 > 1000 && g.last() != Some(&(m - 1)) {
                g.push(m - 1);
            }
            g
        }
    };
    Ok(grid
        .into_iter()
        .filter(|&k| k >= 2 && k < m && o.h(k) > 0.0)
        .map(|k| o.point(k))
        .collect())
}

/// The agreement test of a Hill estimate with a stable fit's `alpha`: a two-sided z test of
/// `H0: both estimate the same alpha`.
///
/// # Formula
/// ```text
/// z = (alpha_Hill - alpha_stable) / sqrt(se_Hill^2 + se_stable^2),   se_Hill = alpha_Hill / sqrt(k)
/// p = 2 Phi(-|z|) = erfc(|z| / sqrt 2);          disagree  <=>  p < level
/// ```
/// The two estimates come from the same data, so they are positively correlated and the
/// variance of the difference is at most the sum used here: the test is conservative in that
/// respect. It is valid only where Hill is consistent at the chosen `k`, i.e. where the stable
/// tail is close to Pareto beyond the `k`-th largest value. That holds well for `alpha` near 1
/// (the Cauchy tail is Pareto up to a relative `x^-2` term) and increasingly badly as `alpha`
/// grows: the stable tail is `C x^-alpha (1 + D x^-alpha + ...)`, Hill is biased upwards at
/// any practical `k`, and the test then rejects far more often than its level on exact stable
/// data (measured in `CALIBRATION.md`, section "Model comparison"). A disagreement at a
/// stable `alpha` above about 1.2 therefore says "Hill's tail index differs", not "the data
/// are not stable".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlphaAgreement {
    /// Hill's estimate.
    pub hill_alpha: f64,
    /// Hill's standard error `alpha / sqrt(k)`.
    pub hill_se: f64,
    /// The stable fit's alpha.
    pub stable_alpha: f64,
    /// The stable fit's standard error (`None`: treated as 0, e.g. alpha on its bound).
    pub stable_se: Option<f64>,
    /// The z statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The level the decision was taken at.
    pub level: f64,
    /// Whether the estimates disagree at `level` (`p_value < level`).
    pub disagree: bool,
}

/// The agreement test of a Hill estimate with a stable fit's `alpha` at significance `level`
/// (see [`AlphaAgreement`] for the statistic and where it is valid).
///
/// # Errors
/// [`Error::InvalidParameter`] for a level outside (0, 1), a stable alpha outside (0, 2], or a
/// negative or non-finite stable standard error.
///
/// # Examples
/// ```
/// use anodiff_core::tails::{alpha_agreement, HillEstimate, Tail};
/// let h = HillEstimate { tail: Tail::Abs, n: 100_000, n_tail: 100_000, k: 1000, k_auto: false,
///     threshold: 10.0, alpha: 1.9, se: 0.06, ci95: [1.78, 2.02] };
/// let a = alpha_agreement(&h, 1.5, Some(0.005), 0.05).unwrap();
/// // z = 0.4 / sqrt(0.06^2 + 0.005^2) = 6.643638388; p = erfc(z / sqrt 2) = 3.0603287e-11 (scipy)
/// assert!((a.z - 6.643638388299198).abs() < 1e-12 && a.disagree);
/// assert!((a.p_value / 3.06032866302267e-11 - 1.0).abs() < 1e-9);
/// ```
pub fn alpha_agreement(
    hill: &HillEstimate,
    stable_alpha: f64,
    stable_se: Option<f64>,
    level: f64,
) -> Result<AlphaAgreement> {
    crate::vuong::check_level(level)?;
    if !(stable_alpha > 0.0 && stable_alpha <= 2.0) {
        return Err(Error::param(
            "stable_alpha",
            format!("{stable_alpha} is outside the stable range (0, 2]"),
        ));
    }
    if let Some(s) = stable_se {
        if !(s >= 0.0 && s.is_finite()) {
            return Err(Error::param(
                "stable_se",
                format!("must be finite and >= 0, got {s}"),
            ));
        }
    }
    let se_s = stable_se.unwrap_or(0.0);
    let combined = (hill.se * hill.se + se_s * se_s).sqrt();
    let z = (hill.alpha - stable_alpha) / combined;
    let p_value = libm::erfc(z.abs() / std::f64::consts::SQRT_2);
    Ok(AlphaAgreement {
        hill_alpha: hill.alpha,
        hill_se: hill.se,
        stable_alpha,
        stable_se,
        z,
        p_value,
        level,
        disagree: p_value < level,
    })
}

/// Stable alpha above which the agreement test rejects exact stable data far more often than
/// its level (Hill's bias at the automatic k). Measured on symmetric stable samples of
/// n = 10^4 at level 0.05: 5.5 % at alpha = 1.0, 4.5 % at 1.2, 52 % at 1.5, 99.5 % at 1.8
/// (`CALIBRATION.md`, section "Model comparison").
pub const HILL_BIASED_ABOVE: f64 = 1.2;

impl AlphaAgreement {
    /// The warnings this comparison calls for: a disagreement at the level (with the caveat
    /// on Hill's bias where it applies), a Hill interval entirely above 2, a small `k`.
    pub fn warnings(&self, hill: &HillEstimate) -> Vec<String> {
        let mut w = Vec::new();
        if self.disagree {
            w.push(format!(
                "Hill and stable estimates of alpha disagree at level {}: Hill alpha = {:.4} +- {:.4} \
                 ({} tail, k = {}) vs stable alpha = {:.4}{} (z = {:.2}, p = {:.3e}). Hill assumes an \
                 exact Pareto tail beyond the k-th largest value; a stable law reaches that regime \
                 only asymptotically, so Hill is biased at finite k (upwards, and more so as alpha \
                 grows), and the stable fit is biased if the data are not stable in the body.",
                self.level,
                self.hill_alpha,
                self.hill_se,
                tail_name(hill.tail),
                hill.k,
                self.stable_alpha,
                match self.stable_se {
                    Some(s) if s > 0.0 => format!(" +- {s:.4}"),
                    _ => String::new(),
                },
                self.z,
                self.p_value
            ));
        }
        if hill.ci95[0] > 2.0 {
            w.push(format!(
                "Hill's 95% interval [{:.4}, {:.4}] lies above 2, outside the stable range (0, 2]: \
                 the tails look light (finite variance) at this k, or Hill's bias for stable laws \
                 with alpha near 2 dominates; a stable fit with alpha < 2 is then driven by the \
                 body, not the tails.",
                hill.ci95[0], hill.ci95[1]
            ));
        }
        if self.stable_alpha > HILL_BIASED_ABOVE {
            w.push(format!(
                "stable alpha = {:.4} is above {HILL_BIASED_ABOVE}: there the Hill estimator is \
                 biased upwards for stable laws (their Pareto tail starts far out; McCulloch 1997) \
                 and the agreement test rejects far more often than its level on exact stable \
                 data, so a Hill alpha above the stable one is not evidence against the stable fit.",
                self.stable_alpha
            ));
        }
        if hill.k < 50 {
            w.push(format!(
                "Hill uses only k = {} order statistics: its standard error alpha/sqrt(k) = {:.3} is large.",
                hill.k, hill.se
            ));
        }
        w
    }
}

/// Compares a Hill estimate with a stable fit's `alpha` at level 0.05 and returns the
/// warnings of [`AlphaAgreement::warnings`] (empty when they agree and nothing is suspicious),
/// or the reason the comparison could not be made.
///
/// # Examples
/// ```
/// use anodiff_core::tails::{compare_alpha, HillEstimate, Tail};
/// let h = HillEstimate { tail: Tail::Abs, n: 100_000, n_tail: 100_000, k: 1000, k_auto: false,
///     threshold: 10.0, alpha: 1.9, se: 0.06, ci95: [1.78, 2.02] };
/// let w = compare_alpha(&h, 1.5, Some(0.005));
/// assert!(w.iter().any(|s| s.contains("disagree")));
/// ```
pub fn compare_alpha(
    hill: &HillEstimate,
    stable_alpha: f64,
    stable_se: Option<f64>,
) -> Vec<String> {
    match alpha_agreement(hill, stable_alpha, stable_se, 0.05) {
        Ok(a) => a.warnings(hill),
        Err(e) => vec![format!("Hill against stable alpha not compared: {e}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert!(hill(&x, Tail::Upper, HillK::Fixed(1)).is_err());
        assert!(hill(&x, Tail::Upper, HillK::Fixed(6)).is_err());
        assert!(hill(&x, Tail::Upper, HillK::Fixed(5)).is_ok());
        let e = hill(&x, Tail::Lower, HillK::Fixed(2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lower tail has 0 positive"), "{e}");
        assert!(hill(&x, Tail::Upper, HillK::Auto)
            .unwrap_err()
            .to_string()
            .contains("--k"));
        assert!(hill(&[1.0, f64::NAN, 2.0], Tail::Upper, HillK::Fixed(2)).is_err());
        let e = hill(&[3.0, 3.0, 3.0, 1.0], Tail::Upper, HillK::Fixed(2)).unwrap_err();
        assert!(e.to_string().contains("all equal"), "{e}");
        assert!("sideways".parse::<Tail>().is_err());
    }

    #[test]
    fn brute_force_formula() {
        let x = [0.5, 7.0, -3.0, 2.0, 11.0, 1.5, -20.0, 4.0];
        // Upper, k = 3: top values 11, 7, 4; threshold 2.
        let h = hill(&x, Tail::Upper, HillK::Fixed(3)).unwrap();
        let hk = ((11f64).ln() + (7f64).ln() + (4f64).ln()) / 3.0 - (2f64).ln();
        assert!((h.alpha - 1.0 / hk).abs() < 1e-14);
        assert_eq!(h.threshold, 2.0);
        // Abs, k = 2: 20, 11; threshold 7.
        let h = hill(&x, Tail::Abs, HillK::Fixed(2)).unwrap();
        let hk = ((20f64).ln() + (11f64).ln()) / 2.0 - (7f64).ln();
        assert!((h.alpha - 1.0 / hk).abs() < 1e-14);
        // Lower: -x = 3, 20 positive -> only 2 values: too few.
        assert!(hill(&x, Tail::Lower, HillK::Fixed(2)).is_err());
    }

    #[test]
    fn wilson_hilferty_matches_exact_gamma_quantiles() {
        // At the switch, against statrs' numerical inversion of the Gamma cdf.
        let k = 100_000usize;
        let g = Gamma::new(k as f64, 1.0).unwrap();
        let ci = gamma_ci(k, 1.0 / k as f64); // k H = 1: the interval is the quantiles themselves
        assert!((ci[0] / g.inverse_cdf(0.025) - 1.0).abs() < 1e-9, "{ci:?}");
        assert!((ci[1] / g.inverse_cdf(0.975) - 1.0).abs() < 1e-9, "{ci:?}");
    }

    #[test]
    fn gamma_interval_reduces_to_normal_for_large_k() {
        let k = 100_000;
        let ci = gamma_ci(k, 1.0 / 1.5);
        let half = 1.959963984540054 * 1.5 / (k as f64).sqrt();
        assert!((ci[0] - (1.5 - half)).abs() < 2e-4 && (ci[1] - (1.5 + half)).abs() < 2e-4);
    }
}
