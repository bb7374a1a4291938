//! `anodiff vuong`: Vuong likelihood-ratio test of a stable fit against an alternative model.

use anodiff_core::fit::alternatives::{self, AltModel};
use anodiff_core::tails::{alpha_agreement, hill, AlphaAgreement, HillK, Tail};
use anodiff_core::vuong::{boundary_chibar2, vuong, ModelComparison, Preferred};
use anyhow::Context;

/// Arguments of `anodiff vuong`.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Input: text (one number per line), .npy (float32/float64), or - for stdin.
    file: String,
    /// Alternative model fitted by maximum likelihood: normal, student-t or laplace.
    #[arg(long, default_value = "normal")]
    alt: AltModel,
    /// Fit the symmetric stable law (beta = 0), as the paper does.
    #[arg(long)]
    symmetric: bool,
    /// Significance level of the test that decides "preferred" (and of the Hill agreement test).
    #[arg(long, default_value_t = 0.05)]
    level: f64,
    /// Grouped test for very large samples (10^8-10^9 values): one streaming pass into a fine
    /// histogram, binned stable MLE, alternatives fitted on the bins (normal from exact sums),
    /// and LR, omega^2 from the bin counts. A .npy FILE is memory-mapped, never loaded whole.
    #[arg(long)]
    binned: bool,
    /// Mantissa bits of the histogram keys with --binned (relative bin width 2^-bits; 4..=20).
    #[arg(long, default_value_t = 10, requires = "binned")]
    mantissa_bits: u32,
    /// Evaluate the stable log-density by quadrature at every point, in the fit and in the test
    /// (reference path, ~30 us per point), instead of the fit's spline (~1e-8 absolute error).
    #[arg(long)]
    exact: bool,
}

const AFTER_HELP: &str = "\
Output: one JSON object with
  preferred         \"stable\", the alternative's name, or \"neither\" (not distinguishable at --level)
  decided_by        the test that decided it: \"boundary-lr\" (--alt normal) or \"vuong\" (student-t, laplace)
  decision_p_value  that test's p-value (log10_decision_p_value: its log10, finite where p underflows)
  level             the significance level (--level, default 0.05)
  n, llr            sample size; sum of ln f_stable(x_i) - ln f_alt(x_i) for the fit requested (the raw sum)
  statistic, omega2 Vuong's z = llr / (sqrt(n) omega) and omega^2, the variance of the pointwise differences
  p_two_sided, p_one_sided, log10_p_two_sided, log10_p_one_sided
                    Vuong's p-values (one-sided: H1 \"stable is closer\"); printed for every alternative,
                    but they decide only the non-nested pairs
  boundary          --alt normal only: {\"llr_symmetric\",\"statistic\",\"p\",\"log10_p\"}, the boundary test
  hill              Hill on |x| against the stable alpha: {\"alpha\",\"se\",\"k\",\"z\",\"p_value\",\"level\",
                    \"disagree\"} (absent when the tail is too short for Hill)
  warnings, stable, alt   caveats; the two fits

Stable versus normal is nested: the stable law at alpha = 2 is N(loc, 2 scale^2), with beta unidentified,
so Vuong's z is not valid there (on normal data it can be large with llr ~ 0). The decision is the
boundary likelihood-ratio test of H0: alpha = 2 (the normal law): the symmetric stable fit (beta = 0)
against the normal fit, 2 llr_symmetric ~ 1/2 chi2_0 + 1/2 chi2_1 (Self and Liang 1987). \"preferred\"
is then \"stable\" (alpha < 2 at --level) or \"neither\" (consistent with the normal law); never
\"normal\", a special case of the stable law. Stable versus Student-t or Laplace is non-nested and is
decided by Vuong's two-sided test. Sizes and powers measured by simulation: CALIBRATION.md.

FILE: text with one number per line (blank lines and # comments skipped), a float32/float64 .npy file of
any shape (read flat), or - for standard input. At least 5 finite values, not all equal.

With --binned the data are grouped into bins of relative width 2^-mantissa_bits (default ~1e-3):
each bin contributes count x [ln f_stable(bin mean) - ln f_alt(bin mean)], and the output gains
\"binned\":{\"bins\",\"mantissa_bits\",\"zeros\"}.

Examples:
  anodiff vuong gradients.npy
  anodiff vuong grads_1e8_f32.npy --binned --symmetric
  anodiff vuong gradients.npy --alt student-t --symmetric --level 0.01
  anodiff stable sample --alpha 1.5 --beta 0 --n 2000 --seed 1 | anodiff vuong - --alt laplace";

#[derive(serde::Serialize)]
struct Output {
    n: usize,
    llr: f64,
    statistic: f64,
    p_two_sided: f64,
    p_one_sided: f64,
    log10_p_two_sided: f64,
    log10_p_one_sided: f64,
    omega2: f64,
    level: f64,
    preferred: String,
    decided_by: &'static str,
    decision_p_value: f64,
    log10_decision_p_value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    boundary: Option<Boundary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hill: Option<HillCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binned: Option<BinnedInfo>,
    warnings: Vec<String>,
    stable: serde_json::Value,
    alt: alternatives::AltFit,
}

#[derive(serde::Serialize)]
struct BinnedInfo {
    bins: usize,
    mantissa_bits: u32,
    zeros: u64,
}

/// The boundary test of alpha = 2 on the symmetric stable fit.
#[derive(serde::Serialize)]
struct Boundary {
    llr_symmetric: f64,
    statistic: f64,
    p: f64,
    log10_p: f64,
}

/// The Hill agreement test, flattened for the output.
#[derive(serde::Serialize)]
struct HillCheck {
    alpha: f64,
    se: f64,
    k: usize,
    z: f64,
    p_value: f64,
    level: f64,
    disagree: bool,
}

/// What the test needs from the stable fit: its JSON (as `anodiff stable fit` prints it) and
/// the pointwise log-densities at the estimates.
pub struct StableSide {
    /// The fit, serialised.
    pub json: serde_json::Value,
    /// `ln f(x_i)` at the fitted parameters, one per observation.
    pub ln_pdfs: Vec<f64>,
}

/// The stable maximum-likelihood fit used by the test (`anodiff_core::fit::Mle`, the fit that
/// `anodiff stable fit --method mle` prints) and its log-density at every point: from the fit's
/// spline by default (what its `loglik` sums), by quadrature with `exact`.
fn fit_stable(x: &[f64], symmetric: bool, exact: bool) -> anyhow::Result<StableSide> {
    use anodiff_core::fit::{Estimator, Evaluation, Mle};
    let mut mle = Mle::new();
    if symmetric {
        mle = mle.symmetric();
    }
    if exact {
        mle = mle.with_evaluation(Evaluation::Exact);
    }
    let fit = mle.fit(x)?;
    ensure_converged(&fit)?;
    let ln_pdfs = stable_ln_pdfs(&fit, x, exact)?;
    Ok(StableSide {
        json: serde_json::to_value(&fit)?,
        ln_pdfs,
    })
}

fn ensure_converged(fit: &anodiff_core::fit::StableFit) -> anyhow::Result<()> {
    anyhow::ensure!(
        fit.converged,
        "the stable maximum-likelihood fit did not converge (alpha {:.4}, beta {:.4}, scale {:.4}, \
         loc {:.4} after {} iterations); a Vuong test against it would be meaningless",
        fit.alpha,
        fit.beta,
        fit.scale,
        fit.loc,
        fit.iterations
    );
    Ok(())
}

/// ln f(x_i) of a fitted stable law: the fit's spline, or quadrature per point.
fn stable_ln_pdfs(
    fit: &anodiff_core::fit::StableFit,
    x: &[f64],
    exact: bool,
) -> anyhow::Result<Vec<f64>> {
    if !exact {
        return Ok(fit.ln_pdfs(x));
    }
    let [alpha, beta, scale, loc0] = fit.s0_params();
    let law = anodiff_core::stable::Stable::new(
        alpha,
        beta,
        scale,
        loc0,
        anodiff_core::stable::Param::S0,
    )?;
    Ok(anodiff_core::vuong::ln_densities(x, |v| law.ln_pdf(v)))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    anodiff_core::vuong::check_level(args.level).map_err(|_| {
        anyhow::anyhow!(
            "--level {} must be a significance level in (0, 1), e.g. 0.05",
            args.level
        )
    })?;
    let mut hill_est = None;
    let (n, t, stable, alt, binned, llr_sym) = if args.binned {
        binned_test(&args)?
    } else {
        let name = display_name(&args.file);
        let x = anodiff_core::io::read_values_from(&args.file)?;
        anodiff_core::io::validate_sample(&x, 5).with_context(|| name.clone())?;
        let alt = alternatives::fit(args.alt, &x)
            .with_context(|| format!("{name}: fitting the {} alternative", args.alt))?;
        let stable = fit_stable(&x, args.symmetric, args.exact)
            .with_context(|| format!("{name}: fitting the stable law"))?;
        let t = vuong(&stable.ln_pdfs, &alt.ln_pdfs(&x))?;
        let llr_sym = if args.alt != AltModel::Normal {
            None
        } else if args.symmetric {
            Some(t.llr)
        } else {
            // The boundary test needs the symmetric fit (beta is unidentified at alpha = 2).
            let sym = fit_stable(&x, true, args.exact).with_context(|| {
                format!("{name}: fitting the symmetric stable law for the boundary test")
            })?;
            let ln_alt = alt.ln_pdfs(&x);
            Some(anodiff_core::vuong::vuong(&sym.ln_pdfs, &ln_alt)?.llr)
        };
        // Hill on |x| as a cross-check of the stable alpha (skipped when the tail is too short).
        hill_est = hill(&x, Tail::Abs, HillK::Auto).ok();
        (x.len(), t, stable.json, alt, None, llr_sym)
    };
    let decision = match llr_sym {
        Some(l) => ModelComparison::boundary_lr(l, args.level)?,
        None => ModelComparison::vuong(&t, args.level)?,
    };
    let agreement = match (&hill_est, stable["alpha"].as_f64()) {
        (Some(h), Some(a)) => Some(alpha_agreement(
            h,
            a,
            stable["se"]["alpha"].as_f64(),
            args.level,
        )?),
        _ => None,
    };
    let warnings = warnings(&alt, hill_est.as_ref(), agreement.as_ref(), args.alt);
    let preferred = match decision.preferred {
        Preferred::First => "stable".to_string(),
        Preferred::Second => args.alt.name().to_string(),
        Preferred::Neither => "neither".to_string(),
    };
    let boundary = match llr_sym {
        Some(l) => {
            let (p, log10_p) = boundary_chibar2(l)?;
            Some(Boundary {
                llr_symmetric: l,
                statistic: decision.statistic,
                p,
                log10_p,
            })
        }
        None => None,
    };
    let hill = match (&hill_est, &agreement) {
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
    crate::cmd::print_json(&Output {
        n,
        llr: t.llr,
        statistic: t.statistic,
        p_two_sided: t.p_two_sided,
        p_one_sided: t.p_one_sided,
        log10_p_two_sided: t.log10_p_two_sided,
        log10_p_one_sided: t.log10_p_one_sided,
        omega2: t.omega2,
        level: args.level,
        preferred,
        decided_by: decision.decided_by.name(),
        decision_p_value: decision.p_value,
        log10_decision_p_value: decision.log10_p_value,
        boundary,
        hill,
        binned,
        warnings,
        stable,
        alt,
    })
}

/// Caveats the decision alone does not show: a fit that did not converge, Vuong's statistic
/// printed for a nested pair, and the Hill agreement test's findings.
fn warnings(
    alt: &alternatives::AltFit,
    hill_est: Option<&anodiff_core::tails::HillEstimate>,
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

type TestParts = (
    usize,
    anodiff_core::vuong::VuongOutcome,
    serde_json::Value,
    alternatives::AltFit,
    Option<BinnedInfo>,
    Option<f64>,
);

/// The grouped test: histogram pass, binned stable MLE, alternatives on the bins.
fn binned_test(args: &Args) -> anyhow::Result<TestParts> {
    use anodiff_core::fit::{BinnedMle, Histogram, Mle};
    let name = display_name(&args.file);
    let is_npy = args.file != "-"
        && std::path::Path::new(&args.file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let h = if is_npy {
        // Validate the header (and size) with the shared reader's messages first.
        anodiff_core::io::NpyValues::open(std::path::Path::new(&args.file))?;
        Histogram::from_npy(&args.file, args.mantissa_bits)?
    } else {
        let x = anodiff_core::io::read_values_from(&args.file)?;
        Histogram::from_f64(&x, args.mantissa_bits)?
    };
    anyhow::ensure!(
        h.nonfinite() == 0,
        "{name}: {} values are NaN or infinite (not allowed in data)",
        h.nonfinite()
    );
    anyhow::ensure!(
        h.n() >= 5,
        "{name}: only {} values; at least 5 are needed",
        h.n()
    );
    let (lo, hi) = h.min_max();
    anyhow::ensure!(
        lo < hi,
        "{name}: all {} values are equal to {lo}: a constant sample has no spread to fit",
        h.n()
    );
    let bins = h.bins();
    let means: Vec<f64> = bins.iter().map(|b| b.mean).collect();
    let counts: Vec<f64> = bins.iter().map(|b| b.count as f64).collect();
    let alt = match args.alt {
        // The normal MLE from the pass's exact compensated sums, not from the bins.
        AltModel::Normal => alternatives::normal_from_moments(h.n(), h.sum(), h.sum_sq()),
        m => alternatives::fit_weighted(m, &means, &counts),
    }
    .with_context(|| format!("{name}: fitting the {} alternative", args.alt))?;
    let mle = if args.symmetric {
        Mle::new().symmetric()
    } else {
        Mle::new()
    };
    let fit = BinnedMle::new()
        .with_mle(mle)
        .fit_histogram(&h)
        .with_context(|| format!("{name}: fitting the stable law"))?;
    ensure_converged(&fit).with_context(|| name.clone())?;
    let json = serde_json::to_value(&fit)?;
    let ln_alt: Vec<f64> = means.iter().map(|&m| alt.ln_pdf(m)).collect();
    let grouped = |fit: &anodiff_core::fit::StableFit| -> anyhow::Result<_> {
        let ls = stable_ln_pdfs(fit, &means, args.exact)?;
        let diffs: Vec<f64> = ls.iter().zip(&ln_alt).map(|(l, a)| l - a).collect();
        Ok(anodiff_core::vuong::vuong_grouped(&counts, &diffs)?)
    };
    let t = grouped(&fit)?;
    let llr_sym = if args.alt != AltModel::Normal {
        None
    } else if args.symmetric {
        Some(t.llr)
    } else {
        // The boundary test needs the symmetric fit (beta is unidentified at alpha = 2).
        let sym = BinnedMle::new()
            .with_mle(Mle::new().symmetric())
            .fit_histogram(&h)
            .with_context(|| {
                format!("{name}: fitting the symmetric stable law for the boundary test")
            })?;
        ensure_converged(&sym).with_context(|| name.clone())?;
        Some(grouped(&sym)?.llr)
    };
    let info = BinnedInfo {
        bins: bins.len(),
        mantissa_bits: args.mantissa_bits,
        zeros: h.zeros(),
    };
    Ok((h.n() as usize, t, json, alt, Some(info), llr_sym))
}

/// The input's name in messages: the path, or `<stdin>` for `-`.
fn display_name(file: &str) -> String {
    if file == "-" {
        anodiff_core::io::STDIN_NAME.to_string()
    } else {
        file.to_string()
    }
}
