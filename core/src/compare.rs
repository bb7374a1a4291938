//! A stable law against an alternative model on one sample, as `anodiff vuong` reports it: both
//! maximum-likelihood fits, Vuong's statistics, the decision at a stated level by the test that
//! applies to the pair ([`crate::vuong::ModelComparison`]: the boundary likelihood-ratio test for
//! the nested normal, Vuong's two-sided test for Student-t and Laplace) and Hill's estimate of
//! the tail index as a cross-check of the stable `alpha`.
//!
//! [`compare_stable`] works on the values; [`compare_stable_binned`] on a [`Histogram`] of
//! 10^8-10^9 values (binned stable fit, alternatives fitted on the bins, grouped test). Both
//! return a [`StableComparison`], which serialises to the command's JSON object.
//!
//! # Examples
//! ```
//! use anodiff_core::compare::{compare_stable, CompareOptions};
//! use anodiff_core::fit::alternatives::AltModel;
//! use anodiff_core::stable::{Param, Stable};
//! use rand::{Rng, SeedableRng};
//! let law = Stable::new(1.3, 0.0, 1.0, 0.0, Param::S0).unwrap();
//! let rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
//! let x: Vec<f64> = rng.sample_iter(&law).take(1000).collect();
//! let c = compare_stable(&x, &CompareOptions::default()).unwrap();
//! // Against the normal law the boundary test decides, and rejects alpha = 2.
//! assert_eq!((c.preferred.as_str(), c.decided_by), ("stable", "boundary-lr"));
//! assert!(c.decision_p_value < 1e-6 && c.llr > 0.0);
//! let opts = CompareOptions { alt: AltModel::Laplace, symmetric: true, ..Default::default() };
//! let l = compare_stable(&x, &opts).unwrap();
//! assert_eq!(l.decided_by, "vuong");
//! assert_eq!(serde_json::to_value(&l).unwrap()["alt"]["model"], "laplace");
//! ```

use crate::error::{Error, Result};
use crate::fit::alternatives::{self, AltFit, AltModel};
use crate::fit::{BinnedMle, Estimator, Evaluation, Histogram, Mle, StableFit};
use crate::stable::{Param, Stable};
use crate::tails::{alpha_agreement, hill, AlphaAgreement, HillEstimate, HillK, Tail};
use crate::vuong::{
    boundary_chibar2, check_level, ln_densities, vuong, vuong_grouped, ModelComparison, Preferred,
    VuongOutcome,
};
use serde::Serialize;

/// What to compare and at which level (the flags of `anodiff vuong`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// The alternative model (default normal).
    pub alt: AltModel,
    /// Fit the symmetric stable law (`beta = 0`), as the paper does (default false).
    pub symmetric: bool,
    /// Level of the deciding test and of the Hill agreement test (default 0.05).
    pub level: f64,
    /// Evaluate the stable log-density by quadrature at every point instead of the fit's
    /// spline (~1e-8 absolute error): in the fit and the test on values; in the test only on a
    /// histogram, whose fit keeps the spline (default false).
    pub exact: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            alt: AltModel::Normal,
            symmetric: false,
            level: 0.05,
            exact: false,
        }
    }
}

/// The boundary likelihood-ratio test of `alpha = 2` on the symmetric stable fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Boundary {
    /// `ln L` of the symmetric stable fit minus that of the normal fit.
    pub llr_symmetric: f64,
    /// `2 llr_symmetric`.
    pub statistic: f64,
    /// Its p-value under `1/2 chi2_0 + 1/2 chi2_1`.
    pub p: f64,
    /// `log10(p)`, finite where `p` underflows.
    pub log10_p: f64,
}

/// Hill's estimate on `|x|` and its agreement test with the stable `alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HillCheck {
    /// Hill's `alpha`.
    pub alpha: f64,
    /// Its standard error.
    pub se: f64,
    /// Order statistics used.
    pub k: usize,
    /// The agreement test's statistic.
    pub z: f64,
    /// Its two-sided p-value.
    pub p_value: f64,
    /// Its level.
    pub level: f64,
    /// Whether the two estimates disagree at `level`.
    pub disagree: bool,
}

/// The histogram behind a binned comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BinnedInfo {
    /// Non-empty bins.
    pub bins: usize,
    /// Mantissa bits of the bin keys (relative bin width `2^-mantissa_bits`).
    pub mantissa_bits: u32,
    /// Exact zeros among the values.
    pub zeros: u64,
}

/// A stable fit against an alternative: `anodiff vuong`'s JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StableComparison {
    /// Sample size.
    pub n: usize,
    /// `sum ln f_stable(x_i) - ln f_alt(x_i)` for the stable fit requested.
    pub llr: f64,
    /// Vuong's `z`.
    pub statistic: f64,
    /// Vuong's two-sided p-value.
    pub p_two_sided: f64,
    /// Vuong's one-sided p-value (H1: the stable law is closer).
    pub p_one_sided: f64,
    /// `log10(p_two_sided)`.
    pub log10_p_two_sided: f64,
    /// `log10(p_one_sided)`.
    pub log10_p_one_sided: f64,
    /// Variance of the pointwise log-density differences.
    pub omega2: f64,
    /// Level of the decision.
    pub level: f64,
    /// `"stable"`, the alternative's name, or `"neither"`.
    pub preferred: String,
    /// The deciding test: `"boundary-lr"` or `"vuong"`.
    pub decided_by: &'static str,
    /// Its p-value.
    pub decision_p_value: f64,
    /// `log10(decision_p_value)`.
    pub log10_decision_p_value: f64,
    /// The boundary test (normal alternative only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundary: Option<Boundary>,
    /// Hill's cross-check (values only, and only when the tail is long enough).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hill: Option<HillCheck>,
    /// The histogram (binned comparisons only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binned: Option<BinnedInfo>,
    /// Caveats the decision alone does not show.
    pub warnings: Vec<String>,
    /// The stable fit.
    pub stable: StableFit,
    /// The alternative's fit.
    pub alt: AltFit,
}

fn ensure_converged(fit: &StableFit) -> Result<()> {
    if fit.converged {
        return Ok(());
    }
    Err(Error::NotConverged(format!(
        "the stable maximum-likelihood fit did not converge (alpha {:.4}, beta {:.4}, scale {:.4}, \
         loc {:.4} after {} iterations); a Vuong test against it would be meaningless",
        fit.alpha, fit.beta, fit.scale, fit.loc, fit.iterations
    )))
}

/// `ln f(x_i)` of a fitted stable law: the fit's spline, or quadrature per point.
fn stable_ln_pdfs(fit: &StableFit, x: &[f64], exact: bool) -> Result<Vec<f64>> {
    if !exact {
        return Ok(fit.ln_pdfs(x));
    }
    let [alpha, beta, scale, loc0] = fit.s0_params();
    let law = Stable::new(alpha, beta, scale, loc0, Param::S0)?;
    Ok(ln_densities(x, |v| law.ln_pdf(v)))
}

fn mle(symmetric: bool, exact: bool) -> Mle {
    let mut m = Mle::new();
    if symmetric {
        m = m.symmetric();
    }
    if exact {
        m = m.with_evaluation(Evaluation::Exact);
    }
    m
}

/// The pieces both paths produce before the decision.
struct Tested {
    n: usize,
    t: VuongOutcome,
    stable: StableFit,
    alt: AltFit,
    llr_symmetric: Option<f64>,
    hill: Option<HillEstimate>,
    binned: Option<BinnedInfo>,
}

/// Compares a stable fit of `x` with `opts.alt` (see the module docs).
///
/// # Errors
/// [`Error::InvalidParameter`] for a level outside (0, 1); [`Error::InvalidData`] for fewer
/// than 5 values, a NaN or infinite value, or all values equal; [`Error::NotConverged`] when a
/// stable fit does not converge.
pub fn compare_stable(x: &[f64], opts: &CompareOptions) -> Result<StableComparison> {
    check_level(opts.level)?;
    crate::io::validate_sample(x, 5)?;
    let alt = alternatives::fit(opts.alt, x)?;
    let stable = mle(opts.symmetric, opts.exact).fit(x)?;
    ensure_converged(&stable)?;
    let ln_alt = alt.ln_pdfs(x);
    let t = vuong(&stable_ln_pdfs(&stable, x, opts.exact)?, &ln_alt)?;
    let llr_symmetric = if opts.alt != AltModel::Normal {
        None
    } else if opts.symmetric {
        Some(t.llr)
    } else {
        // The boundary test needs the symmetric fit (beta is unidentified at alpha = 2).
        let sym = mle(true, opts.exact).fit(x)?;
        ensure_converged(&sym)?;
        Some(vuong(&stable_ln_pdfs(&sym, x, opts.exact)?, &ln_alt)?.llr)
    };
    decide(
        Tested {
            n: x.len(),
            t,
            stable,
            alt,
            llr_symmetric,
            // Skipped when the tail is too short for Hill.
            hill: hill(x, Tail::Abs, HillK::Auto).ok(),
            binned: None,
        },
        opts,
    )
}

/// Compares a binned stable fit of the values in `h` with `opts.alt`: the stable MLE on the
/// bins ([`BinnedMle`]), the normal from the exact sums of the values, Student-t and Laplace
/// fitted on the bin means weighted by the counts, and the grouped test ([`vuong_grouped`]),
/// in which each bin contributes `count x [ln f_stable(mean) - ln f_alt(mean)]`.
///
/// # Errors
/// As [`compare_stable`], for the values counted in `h`.
pub fn compare_stable_binned(h: &Histogram, opts: &CompareOptions) -> Result<StableComparison> {
    check_level(opts.level)?;
    if h.nonfinite() > 0 {
        return Err(Error::InvalidData(format!(
            "{} values are NaN or infinite (not allowed in data)",
            h.nonfinite()
        )));
    }
    if h.n() < 5 {
        return Err(Error::InvalidData(format!(
            "only {} values; at least 5 are needed",
            h.n()
        )));
    }
    let (lo, hi) = h.min_max();
    if lo >= hi {
        return Err(Error::InvalidData(format!(
            "all {} values are equal to {lo}: a constant sample has no spread to fit",
            h.n()
        )));
    }
    let bins = h.bins();
    let means: Vec<f64> = bins.iter().map(|b| b.mean).collect();
    let counts: Vec<f64> = bins.iter().map(|b| b.count as f64).collect();
    let alt = match opts.alt {
        // The normal MLE from the exact compensated sums, not from the bins.
        AltModel::Normal => alternatives::normal_from_moments(h.n(), h.sum(), h.sum_sq()),
        m => alternatives::fit_weighted(m, &means, &counts),
    }?;
    let ln_alt: Vec<f64> = means.iter().map(|&m| alt.ln_pdf(m)).collect();
    let binned_fit = |symmetric: bool| -> Result<StableFit> {
        let fit = BinnedMle::new()
            .with_mle(mle(symmetric, false))
            .fit_histogram(h)?;
        ensure_converged(&fit)?;
        Ok(fit)
    };
    let grouped = |fit: &StableFit| -> Result<VuongOutcome> {
        let ls = stable_ln_pdfs(fit, &means, opts.exact)?;
        let diffs: Vec<f64> = ls.iter().zip(&ln_alt).map(|(l, a)| l - a).collect();
        vuong_grouped(&counts, &diffs)
    };
    let stable = binned_fit(opts.symmetric)?;
    let t = grouped(&stable)?;
    let llr_symmetric = if opts.alt != AltModel::Normal {
        None
    } else if opts.symmetric {
        Some(t.llr)
    } else {
        Some(grouped(&binned_fit(true)?)?.llr)
    };
    decide(
        Tested {
            n: h.n() as usize,
            t,
            stable,
            alt,
            llr_symmetric,
            hill: None,
            binned: Some(BinnedInfo {
                bins: bins.len(),
                mantissa_bits: h.mantissa_bits(),
                zeros: h.zeros(),
            }),
        },
        opts,
    )
}

/// The decision, the boundary test, the Hill check and the warnings.
fn decide(p: Tested, opts: &CompareOptions) -> Result<StableComparison> {
    let decision = match p.llr_symmetric {
        Some(l) => ModelComparison::boundary_lr(l, opts.level)?,
        None => ModelComparison::vuong(&p.t, opts.level)?,
    };
    let agreement = match &p.hill {
        Some(h) => Some(alpha_agreement(
            h,
            p.stable.alpha,
            p.stable.se.alpha,
            opts.level,
        )?),
        None => None,
    };
    let boundary = match p.llr_symmetric {
        Some(l) => {
            let (pv, log10_p) = boundary_chibar2(l)?;
            Some(Boundary {
                llr_symmetric: l,
                statistic: decision.statistic,
                p: pv,
                log10_p,
            })
        }
        None => None,
    };
    let hill_check = match (&p.hill, &agreement) {
        (Some(h), Some(a)) => Some(HillCheck {
            alpha: h.alpha,
            se: h.se,
            k: h.k,
            z: a.z,
            p_value: a.p_value,
            level: a.level,
            disagree: a.disagree,
        }),
        _ => None,
    };
    let preferred = match decision.preferred {
        Preferred::First => "stable".to_string(),
        Preferred::Second => opts.alt.name().to_string(),
        Preferred::Neither => "neither".to_string(),
    };
    Ok(StableComparison {
        n: p.n,
        llr: p.t.llr,
        statistic: p.t.statistic,
        p_two_sided: p.t.p_two_sided,
        p_one_sided: p.t.p_one_sided,
        log10_p_two_sided: p.t.log10_p_two_sided,
        log10_p_one_sided: p.t.log10_p_one_sided,
        omega2: p.t.omega2,
        level: opts.level,
        preferred,
        decided_by: decision.decided_by.name(),
        decision_p_value: decision.p_value,
        log10_decision_p_value: decision.log10_p_value,
        boundary,
        hill: hill_check,
        binned: p.binned,
        warnings: warnings(&p.alt, p.hill.as_ref(), agreement.as_ref(), opts.alt),
        stable: p.stable,
        alt: p.alt,
    })
}

/// Caveats the decision alone does not show: a fit that did not converge, Vuong's statistic
/// printed for a nested pair, and the Hill agreement test's findings.
fn warnings(
    alt: &AltFit,
    hill_est: Option<&HillEstimate>,
    agreement: Option<&AlphaAgreement>,
    model: AltModel,
) -> Vec<String> {
    let mut w = Vec::new();
    if !alt.converged {
        w.push(format!(
            "the {model} fit did not converge: its log-likelihood, and the test, are not reliable"
        ));
    }
    if model == AltModel::Normal {
        w.push(
            "stable versus normal is nested (the normal is the stable law at alpha = 2): \
             \"statistic\" and \"p_two_sided\" are Vuong's and are not valid for it; \"preferred\" \
             is decided by the boundary likelihood-ratio test (\"boundary\")"
                .to_string(),
        );
    }
    if let (Some(h), Some(a)) = (hill_est, agreement) {
        w.extend(a.warnings(h));
    }
    w
}
