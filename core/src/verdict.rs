//! Verdicts on a stated hypothesis: is a claim **reproduced**, **contradicted**,
//! **inconclusive** or **not tested**, decided by a test at a stated level.
//!
//! A claim of the paper is a hypothesis about a parameter `theta` in a stated direction
//! ([`Hypothesis`]): `theta > c`, `theta < c`, or `lo < theta < hi`. An [`Estimate`] of `theta`
//! with its standard error (normal, or Student-t with `df` degrees of freedom) decides it:
//!
//! | hypothesis | reproduced | contradicted |
//! | --- | --- | --- |
//! | `theta > c` | two-sided test of `theta = c` rejects at `level`, estimate above `c` | it rejects, estimate below `c` |
//! | `theta < c` | it rejects, estimate below `c` | it rejects, estimate above `c` |
//! | `lo < theta < hi` | both one-sided tests of `theta <= lo` and `theta >= hi` reject at `level` (TOST) | the `1 - level` interval lies wholly outside `[lo, hi]` |
//!
//! Anything else is **inconclusive**. So a verdict other than inconclusive is a rejection at
//! `level` in the paper's direction or against it; under `theta = c` each of reproduced and
//! contradicted occurs with probability `level / 2` (checked by simulation in
//! `core/tests/verdict.rs`).
//!
//! Other tests feed the same [`Decision`]: Mann-Kendall's trend test ([`trend`]), a model
//! comparison ([`from_comparison`]), and an intersection-union combination of several
//! ([`all_of`]). Replicates (seeds) are pooled by a random-effects meta-analysis ([`pool`]),
//! whose interval uses the Hartung-Knapp-Sidik-Jonkman variance and a Student-t reference
//! with `k - 1` degrees of freedom: with three seeds its interval is wide, as it should be
//! when the seeds disagree. Many claims read together call for a multiplicity correction:
//! [`holm`] adjusts their p-values.
//!
//! # Examples
//! ```
//! use anodiff_core::verdict::{test, Estimate, Hypothesis, Verdict};
//! // An MSD exponent of 0.82 with standard error 0.05: subdiffusion (alpha < 1) at 5 %.
//! let alpha = Estimate::normal(0.82, 0.05).unwrap();
//! let d = test(&alpha, Hypothesis::Below(1.0), 0.05, "alpha_long").unwrap();
//! assert_eq!(d.verdict, Verdict::Reproduced);
//! // z = -3.6, p = erfc(3.6 / sqrt 2) = 3.1821718e-4 (2 * scipy.stats.norm.sf(3.6))
//! assert!((d.test.p_value.unwrap() - 3.1821718031506727e-4).abs() < 1e-12);
//! // The same estimate says nothing about alpha > 0.8.
//! let d = test(&alpha, Hypothesis::Above(0.8), 0.05, "alpha_long").unwrap();
//! assert_eq!(d.verdict, Verdict::Inconclusive);
//! ```

use crate::vuong::{check_level, ModelComparison, Preferred};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The outcome of testing a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The paper's direction is supported at the level.
    #[serde(rename = "reproduced")]
    Reproduced,
    /// The opposite direction is supported at the level.
    #[serde(rename = "contradicted")]
    Contradicted,
    /// Neither direction is supported.
    #[serde(rename = "inconclusive")]
    Inconclusive,
    /// The claim could not be tested (stage disabled, too little data, a fit failed).
    #[serde(rename = "not tested")]
    NotTested,
}

impl Verdict {
    /// The word printed in reports: `reproduced`, `contradicted`, `inconclusive`, `not tested`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotTested => "not tested",
        }
    }
}

/// The paper's hypothesis about a parameter `theta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hypothesis {
    /// `theta > c`.
    Above(f64),
    /// `theta < c`.
    Below(f64),
    /// `lo < theta < hi` (an equivalence or range claim).
    Between(f64, f64),
}

impl Hypothesis {
    /// The hypothesis in words, e.g. `> 1`, `< 0.5`, `in (1, 2)`.
    pub fn describe(&self) -> String {
        match *self {
            Hypothesis::Above(c) => format!("> {c}"),
            Hypothesis::Below(c) => format!("< {c}"),
            Hypothesis::Between(lo, hi) => format!("in ({lo}, {hi})"),
        }
    }

    fn check(&self) -> Result<()> {
        let ok = match *self {
            Hypothesis::Above(c) | Hypothesis::Below(c) => c.is_finite(),
            Hypothesis::Between(lo, hi) => lo.is_finite() && hi.is_finite() && lo < hi,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::param(
                "hypothesis",
                format!("bounds must be finite (and lo < hi), got {self:?}"),
            ))
        }
    }
}

/// The kind of test behind a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestKind {
    /// Wald test with a normal reference.
    #[serde(rename = "wald-z")]
    WaldZ,
    /// Wald test with a Student-t reference (pooled replicates).
    #[serde(rename = "wald-t")]
    WaldT,
    /// Two one-sided tests of a range (equivalence).
    #[serde(rename = "tost")]
    Tost,
    /// Mann-Kendall test of a monotone trend, with Sen's slope as the estimate.
    #[serde(rename = "mann-kendall")]
    MannKendall,
    /// A model comparison (boundary likelihood ratio or Vuong), see [`crate::vuong`].
    #[serde(rename = "model-comparison")]
    ModelComparison,
    /// A change-point test (see [`crate::regime`]).
    #[serde(rename = "change-point")]
    ChangePoint,
    /// Several tests that must all reject (intersection-union).
    #[serde(rename = "intersection-union")]
    IntersectionUnion,
    /// No test was run.
    #[serde(rename = "none")]
    None,
}

/// What was tested and how: the fields of a claim's `test` in reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// The kind of test.
    pub kind: TestKind,
    /// The statistic tested, in words (`alpha_long of the first window`).
    pub statistic: String,
    /// The paper's hypothesis in words (`> 1`).
    pub hypothesis: String,
    /// The estimate of the statistic.
    pub estimate: Option<f64>,
    /// Its 95 % interval.
    pub ci95: Option<[f64; 2]>,
    /// The p-value of the test (two-sided for one-directional hypotheses; the larger of the two
    /// one-sided p-values for a range).
    pub p_value: Option<f64>,
    /// The level the verdict was taken at.
    pub level: f64,
}

/// A verdict and the test that gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// The test.
    pub test: Test,
}

/// A [`Decision`] for a claim that could not be tested, with the reason as the statistic.
pub fn not_tested(statistic: &str, level: f64) -> Decision {
    Decision {
        verdict: Verdict::NotTested,
        test: Test {
            kind: TestKind::None,
            statistic: statistic.to_string(),
            hypothesis: String::new(),
            estimate: None,
            ci95: None,
            p_value: None,
            level,
        },
    }
}

/// An estimate with its standard error and reference distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Its standard error (> 0).
    pub se: f64,
    /// Degrees of freedom of a Student-t reference; `None` for the normal.
    pub df: Option<f64>,
}

impl Estimate {
    /// An estimate whose error is normal.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a non-finite value or a non-finite or non-positive `se`.
    pub fn normal(value: f64, se: f64) -> Result<Estimate> {
        Estimate::checked(value, se, None)
    }

    /// An estimate whose standardised error is Student-t with `df` degrees of freedom.
    ///
    /// # Errors
    /// As [`Estimate::normal`], and for `df` not finite and positive.
    pub fn student(value: f64, se: f64, df: f64) -> Result<Estimate> {
        Estimate::checked(value, se, Some(df))
    }

    /// An estimate from a symmetric 95 % normal interval: `se = (hi - lo) / (2 * 1.959964)`.
    ///
    /// # Errors
    /// As [`Estimate::normal`], and for `hi <= lo`.
    pub fn from_ci95(value: f64, ci95: [f64; 2]) -> Result<Estimate> {
        let se = (ci95[1] - ci95[0]) / (2.0 * Z975);
        Estimate::checked(value, se, None)
    }

    fn checked(value: f64, se: f64, df: Option<f64>) -> Result<Estimate> {
        if !value.is_finite() {
            return Err(Error::InvalidData(format!(
                "estimate must be finite, got {value}"
            )));
        }
        if !(se.is_finite() && se > 0.0) {
            return Err(Error::InvalidData(format!(
                "standard error must be finite and positive, got {se}"
            )));
        }
        if let Some(df) = df {
            if !(df.is_finite() && df > 0.0) {
                return Err(Error::param(
                    "df",
                    format!("degrees of freedom must be finite and positive, got {df}"),
                ));
            }
        }
        Ok(Estimate { value, se, df })
    }

    /// `self - other` for independent estimates: standard errors add in quadrature, and the
    /// degrees of freedom follow Welch-Satterthwaite (a normal term counts as infinite).
    ///
    /// # Errors
    /// None in practice (both inputs are checked); kept for a uniform signature.
    pub fn minus(&self, other: &Estimate) -> Result<Estimate> {
        let v1 = self.se * self.se;
        let v2 = other.se * other.se;
        let se = (v1 + v2).sqrt();
        let df = match (self.df, other.df) {
            (None, None) => None,
            (a, b) => {
                let term = |v: f64, df: Option<f64>| df.map_or(0.0, |d| v * v / d);
                Some((v1 + v2).powi(2) / (term(v1, a) + term(v2, b)))
            }
        };
        Estimate::checked(self.value - other.value, se, df)
    }

    /// Upper `p` quantile of the reference distribution (standard normal or t).
    fn quantile(&self, p: f64) -> f64 {
        match self.df {
            None => std_normal().inverse_cdf(p),
            Some(df) => StudentsT::new(0.0, 1.0, df)
                .map(|t| t.inverse_cdf(p))
                .unwrap_or(f64::NAN),
        }
    }

    /// `P(T <= x)` under the reference distribution.
    fn cdf(&self, x: f64) -> f64 {
        match self.df {
            None => std_normal().cdf(x),
            Some(df) => StudentsT::new(0.0, 1.0, df)
                .map(|t| t.cdf(x))
                .unwrap_or(f64::NAN),
        }
    }

    /// The two-sided interval at confidence `conf`.
    pub fn interval(&self, conf: f64) -> [f64; 2] {
        let q = self.quantile(0.5 + conf / 2.0);
        [self.value - q * self.se, self.value + q * self.se]
    }
}

const Z975: f64 = 1.959_963_984_540_054;

fn std_normal() -> Normal {
    // Parameters are constants: the constructor cannot fail.
    Normal::standard()
}

/// Tests the paper's hypothesis `h` about the parameter that `est` estimates, at `level`
/// (see the [module docs](self) for the rule).
///
/// # Errors
/// [`Error::InvalidParameter`] for a level outside (0, 1) or a hypothesis with non-finite
/// bounds.
pub fn test(est: &Estimate, h: Hypothesis, level: f64, statistic: &str) -> Result<Decision> {
    check_level(level)?;
    h.check()?;
    let ci95 = Some(est.interval(0.95));
    let kind_wald = if est.df.is_some() {
        TestKind::WaldT
    } else {
        TestKind::WaldZ
    };
    let (verdict, p, kind) = match h {
        Hypothesis::Above(c) | Hypothesis::Below(c) => {
            let z = (est.value - c) / est.se;
            let p = (2.0 * est.cdf(-z.abs())).min(1.0);
            let above = z > 0.0;
            let wants_above = matches!(h, Hypothesis::Above(_));
            let v = if p >= level || z == 0.0 {
                Verdict::Inconclusive
            } else if above == wants_above {
                Verdict::Reproduced
            } else {
                Verdict::Contradicted
            };
            (v, p, kind_wald)
        }
        Hypothesis::Between(lo, hi) => {
            // TOST: H0 theta <= lo rejected when (est - lo)/se is large, likewise for hi.
            let p_lo = est.cdf(-(est.value - lo) / est.se);
            let p_hi = est.cdf(-(hi - est.value) / est.se);
            let p = p_lo.max(p_hi);
            let [a, b] = est.interval(1.0 - level);
            let v = if p < level {
                Verdict::Reproduced
            } else if b < lo || a > hi {
                Verdict::Contradicted
            } else {
                Verdict::Inconclusive
            };
            (v, p, TestKind::Tost)
        }
    };
    Ok(Decision {
        verdict,
        test: Test {
            kind,
            statistic: statistic.to_string(),
            hypothesis: h.describe(),
            estimate: Some(est.value),
            ci95,
            p_value: Some(p),
            level,
        },
    })
}

/// The direction of a monotone trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// The values rise with time.
    Increasing,
    /// The values fall with time.
    Decreasing,
}

/// Mann-Kendall test of a monotone trend of `y` over times `t` in the paper's direction, with
/// Sen's slope (the median of pairwise slopes) as the estimate and its 95 % interval from the
/// ranks of the pairwise slopes.
///
/// The statistic is `S = sum_{i<j} sign((t_j - t_i)(y_j - y_i))`. Without ties and for
/// `n <= 12` its null distribution is exact (the Mahonian numbers: inversions of a random
/// permutation); otherwise `S` is normal with the tie-corrected variance and a continuity
/// correction. The verdict follows the two-sided p-value and the sign of `S`, as [`test()`].
///
/// # Errors
/// [`Error::InvalidData`] for fewer than 3 points, non-finite values, or mismatched lengths;
/// [`Error::InvalidParameter`] for a level outside (0, 1).
///
/// # Examples
/// ```
/// use anodiff_core::verdict::{trend, Trend, Verdict};
/// let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
/// let y = [9.0, 7.0, 8.0, 5.0, 4.0, 2.0];
/// let d = trend(&t, &y, Trend::Decreasing, 0.05, "top eigenvalue").unwrap();
/// // S = -13; exact two-sided p = 0.016666... (scipy.stats.kendalltau(t, y, method="exact"))
/// assert!((d.test.p_value.unwrap() - 0.016666666666666666).abs() < 1e-12);
/// assert_eq!(d.verdict, Verdict::Reproduced);
/// ```
pub fn trend(t: &[f64], y: &[f64], dir: Trend, level: f64, statistic: &str) -> Result<Decision> {
    check_level(level)?;
    let n = y.len();
    if t.len() != n {
        return Err(Error::Shape(format!(
            "trend: {} times but {} values",
            t.len(),
            n
        )));
    }
    if n < 3 {
        return Err(Error::InvalidData(format!(
            "trend: needs at least 3 points, got {n}"
        )));
    }
    if t.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(Error::InvalidData(
            "trend: times and values must be finite".into(),
        ));
    }
    let mut s: i64 = 0;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    let mut ties = false;
    for i in 0..n {
        for j in (i + 1)..n {
            let dt = t[j] - t[i];
            let dy = y[j] - y[i];
            if dt == 0.0 || dy == 0.0 {
                ties = true;
            }
            s += (dt * dy).partial_cmp(&0.0).map_or(0, |o| o as i64);
            if dt != 0.0 {
                slopes.push(dy / dt);
            }
        }
    }
    let var_s = mk_variance(t, y);
    let p = if !ties && n <= 12 {
        mk_exact_two_sided(n, s)
    } else {
        let z = if s == 0 {
            0.0
        } else {
            (s.abs() as f64 - 1.0) / var_s.sqrt()
        };
        (2.0 * std_normal().cdf(-z)).min(1.0)
    };
    slopes.sort_by(f64::total_cmp);
    let sen = median_sorted(&slopes);
    let ci95 = sen_interval(&slopes, var_s);
    let wants_up = dir == Trend::Increasing;
    let verdict = if p >= level || s == 0 {
        Verdict::Inconclusive
    } else if (s > 0) == wants_up {
        Verdict::Reproduced
    } else {
        Verdict::Contradicted
    };
    Ok(Decision {
        verdict,
        test: Test {
            kind: TestKind::MannKendall,
            statistic: statistic.to_string(),
            hypothesis: match dir {
                Trend::Increasing => "Sen slope > 0".into(),
                Trend::Decreasing => "Sen slope < 0".into(),
            },
            estimate: sen,
            ci95,
            p_value: Some(p),
            level,
        },
    })
}

/// `Var S` with Kendall's tie correction in `y` (times are assumed distinct up to ties, which
/// are corrected the same way).
fn mk_variance(t: &[f64], y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let tie_term = |v: &[f64]| -> f64 {
        let mut s: Vec<f64> = v.to_vec();
        s.sort_by(f64::total_cmp);
        let mut sum = 0.0;
        let mut i = 0;
        while i < s.len() {
            let mut j = i + 1;
            while j < s.len() && s[j] == s[i] {
                j += 1;
            }
            let m = (j - i) as f64;
            sum += m * (m - 1.0) * (2.0 * m + 5.0);
            i = j;
        }
        sum
    };
    // Ties in either variable reduce the variance; for the usual case of distinct times only
    // the y term is non-zero.
    (n * (n - 1.0) * (2.0 * n + 5.0) - tie_term(y) - tie_term(t)) / 18.0
}

/// Exact two-sided p-value of `S` for `n` untied points: `S = N - 2I` with `N = n(n-1)/2`
/// and `I` the inversions of a uniform random permutation (counts: Mahonian numbers).
fn mk_exact_two_sided(n: usize, s: i64) -> f64 {
    let big_n = n * (n - 1) / 2;
    let mut counts = vec![0f64; big_n + 1];
    counts[0] = 1.0;
    for m in 1..n {
        // Adding element m+1 adds 0..=m inversions.
        let mut next = vec![0f64; big_n + 1];
        for (k, &c) in counts.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            for add in 0..=m {
                if k + add <= big_n {
                    next[k + add] += c;
                }
            }
        }
        counts = next;
    }
    let total: f64 = counts.iter().sum();
    let s_abs = s.unsigned_abs() as usize;
    // P(|S| >= |s|) = 2 P(S >= |s|) by symmetry; S >= |s|  <=>  I <= (N - |s|)/2.
    let max_inv = (big_n.saturating_sub(s_abs)) / 2;
    let tail: f64 = counts[..=max_inv].iter().sum::<f64>() / total;
    (2.0 * tail).min(1.0)
}

fn median_sorted(v: &[f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Sen's 95 % interval: the order statistics `(N - C)/2` and `(N + C)/2 + 1` of the sorted
/// slopes with `C = z_{0.975} sqrt(Var S)` (Gilbert 1987, eq. 16.7); `None` when they fall
/// outside the slopes.
fn sen_interval(slopes: &[f64], var_s: f64) -> Option<[f64; 2]> {
    let n = slopes.len() as f64;
    let c = Z975 * var_s.sqrt();
    let lo = ((n - c) / 2.0).round();
    let hi = ((n + c) / 2.0).round() + 1.0;
    if lo < 1.0 || hi > n {
        return None;
    }
    Some([slopes[lo as usize - 1], slopes[hi as usize - 1]])
}

/// A verdict from a model comparison: reproduced when `c` prefers the model the paper prefers,
/// contradicted when it prefers the other, inconclusive when neither.
///
/// For the nested stable-against-normal comparison ([`crate::vuong::stable_vs_normal`]) the
/// normal is never preferred, so the paper's "stable beats normal" can be reproduced or left
/// inconclusive but not contradicted by this test alone.
pub fn from_comparison(c: &ModelComparison, paper: Preferred, statistic: &str) -> Decision {
    let verdict = if c.preferred == Preferred::Neither {
        Verdict::Inconclusive
    } else if c.preferred == paper {
        Verdict::Reproduced
    } else {
        Verdict::Contradicted
    };
    Decision {
        verdict,
        test: Test {
            kind: TestKind::ModelComparison,
            statistic: format!("{statistic} ({})", c.decided_by.name()),
            hypothesis: match paper {
                Preferred::First => "first model preferred".into(),
                Preferred::Second => "second model preferred".into(),
                Preferred::Neither => "neither preferred".into(),
            },
            estimate: Some(c.statistic),
            ci95: None,
            p_value: Some(c.p_value),
            level: c.level,
        },
    }
}

/// Intersection-union combination: the claim holds when every part holds. Reproduced only when
/// every part is reproduced (an intersection-union test is level `level` without adjustment,
/// Berger 1982); contradicted when any part is contradicted; not tested when any part is not
/// tested; otherwise inconclusive. The p-value is the largest of the parts'.
pub fn all_of(parts: &[Decision], statistic: &str, level: f64) -> Decision {
    let verdict = if parts.is_empty() || parts.iter().any(|d| d.verdict == Verdict::NotTested) {
        Verdict::NotTested
    } else if parts.iter().any(|d| d.verdict == Verdict::Contradicted) {
        Verdict::Contradicted
    } else if parts.iter().all(|d| d.verdict == Verdict::Reproduced) {
        Verdict::Reproduced
    } else {
        Verdict::Inconclusive
    };
    let p = parts
        .iter()
        .map(|d| d.test.p_value)
        .try_fold(0.0f64, |m, p| p.map(|p| m.max(p)));
    Decision {
        verdict,
        test: Test {
            kind: TestKind::IntersectionUnion,
            statistic: statistic.to_string(),
            hypothesis: parts
                .iter()
                .map(|d| format!("{} {}", d.test.statistic, d.test.hypothesis))
                .collect::<Vec<_>>()
                .join(" and "),
            estimate: None,
            ci95: None,
            p_value: p,
            level,
        },
    }
}

/// Replicates pooled by a random-effects meta-analysis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pooled {
    /// The pooled estimate with its standard error and reference distribution (Student-t with
    /// `k - 1` degrees of freedom for `k >= 2`; the replicate itself for `k = 1`).
    pub estimate: Estimate,
    /// DerSimonian-Laird between-replicate variance `tau^2`.
    pub tau2: f64,
    /// Cochran's `Q` of heterogeneity.
    pub q: f64,
    /// Number of replicates.
    pub k: usize,
}

/// Pools replicate estimates of one parameter (one per seed) by DerSimonian-Laird random
/// effects, with the Hartung-Knapp-Sidik-Jonkman variance (never smaller than the
/// DerSimonian-Laird one) and a Student-t reference with `k - 1` degrees of freedom.
///
/// Why this pooling: seeds differ by more than their within-run errors (initialisation and
/// data order change the run), so a fixed-effect pool would be overconfident; with few
/// replicates the normal random-effects interval under-covers, and HKSJ with the `max(1, q)`
/// modification keeps coverage near nominal (IntHout et al. 2014; measured in
/// `core/tests/verdict.rs`).
///
/// # Errors
/// [`Error::InvalidData`] for no replicates.
///
/// # Examples
/// ```
/// use anodiff_core::verdict::{pool, Estimate};
/// let seeds = [
///     Estimate::normal(0.9, 0.05).unwrap(),
///     Estimate::normal(1.0, 0.05).unwrap(),
///     Estimate::normal(0.95, 0.05).unwrap(),
/// ];
/// let p = pool(&seeds).unwrap();
/// assert!((p.estimate.value - 0.95).abs() < 1e-12);
/// assert_eq!(p.estimate.df, Some(2.0));
/// ```
pub fn pool(replicates: &[Estimate]) -> Result<Pooled> {
    let k = replicates.len();
    if k == 0 {
        return Err(Error::InvalidData("pool: no replicates".into()));
    }
    if k == 1 {
        return Ok(Pooled {
            estimate: replicates[0],
            tau2: 0.0,
            q: 0.0,
            k,
        });
    }
    let w: Vec<f64> = replicates.iter().map(|e| 1.0 / (e.se * e.se)).collect();
    let sw: f64 = w.iter().sum();
    let sw2: f64 = w.iter().map(|x| x * x).sum();
    let fe: f64 = replicates
        .iter()
        .zip(&w)
        .map(|(e, w)| w * e.value)
        .sum::<f64>()
        / sw;
    let q: f64 = replicates
        .iter()
        .zip(&w)
        .map(|(e, w)| w * (e.value - fe).powi(2))
        .sum();
    let tau2 = ((q - (k as f64 - 1.0)) / (sw - sw2 / sw)).max(0.0);
    let ws: Vec<f64> = replicates
        .iter()
        .map(|e| 1.0 / (e.se * e.se + tau2))
        .collect();
    let sws: f64 = ws.iter().sum();
    let re: f64 = replicates
        .iter()
        .zip(&ws)
        .map(|(e, w)| w * e.value)
        .sum::<f64>()
        / sws;
    let hk: f64 = replicates
        .iter()
        .zip(&ws)
        .map(|(e, w)| w * (e.value - re).powi(2))
        .sum::<f64>()
        / (k as f64 - 1.0);
    let se = (hk.max(1.0) / sws).sqrt();
    Ok(Pooled {
        estimate: Estimate::student(re, se, k as f64 - 1.0)?,
        tau2,
        q,
        k,
    })
}

/// Holm's step-down adjustment of p-values for reading a family of tests together: the
/// adjusted p-values control the family-wise error rate. `None` entries (claims not tested)
/// stay `None` and do not count towards the family.
///
/// # Examples
/// ```
/// use anodiff_core::verdict::holm;
/// let adj = holm(&[Some(0.01), None, Some(0.04), Some(0.03)]);
/// // sorted 0.01, 0.03, 0.04 times 3, 2, 1, made monotone (statsmodels multipletests "holm")
/// assert_eq!(adj, vec![Some(0.03), None, Some(0.06), Some(0.06)]);
/// ```
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    idx.sort_by(|&a, &b| p[a].unwrap_or(1.0).total_cmp(&p[b].unwrap_or(1.0)));
    let m = idx.len();
    let mut out = vec![None; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in idx.iter().enumerate() {
        let adj = (p[i].unwrap_or(1.0) * (m - rank) as f64).min(1.0);
        running = running.max(adj);
        out[i] = Some(running);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_mann_kendall_matches_enumeration() {
        // Brute force over all permutations of 5: P(|S| >= s).
        let n = 5usize;
        let mut perm: Vec<usize> = (0..n).collect();
        let mut counts = std::collections::HashMap::new();
        let mut total = 0usize;
        permute(&mut perm, 0, &mut |p| {
            let mut s = 0i64;
            for i in 0..n {
                for j in (i + 1)..n {
                    s += if p[j] > p[i] { 1 } else { -1 };
                }
            }
            *counts.entry(s).or_insert(0usize) += 1;
            total += 1;
        });
        for s in [-10i64, -6, -2, 0, 4, 8] {
            let brute = counts
                .iter()
                .filter(|(k, _)| k.abs() >= s.abs())
                .map(|(_, c)| *c)
                .sum::<usize>() as f64
                / total as f64;
            assert!((mk_exact_two_sided(n, s) - brute).abs() < 1e-14, "s = {s}");
        }
    }

    fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
        if k == v.len() {
            f(v);
            return;
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Estimate::normal(f64::NAN, 1.0).is_err());
        assert!(Estimate::normal(1.0, 0.0).is_err());
        assert!(Estimate::student(1.0, 1.0, -1.0).is_err());
        let e = Estimate::normal(1.0, 0.1).unwrap();
        assert!(test(&e, Hypothesis::Above(1.0), 1.5, "x").is_err());
        assert!(test(&e, Hypothesis::Between(2.0, 1.0), 0.05, "x").is_err());
        assert!(trend(&[0.0, 1.0], &[1.0, 2.0], Trend::Increasing, 0.05, "x").is_err());
        assert!(pool(&[]).is_err());
    }
}
