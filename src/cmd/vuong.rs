//! `anodiff vuong`: Vuong likelihood-ratio test of a stable fit against an alternative model.

use anodiff_core::fit::alternatives::{self, AltModel};
use anodiff_core::vuong::{boundary_chibar2, vuong, Preferred};
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
    /// Significance level (two-sided) that decides "preferred".
    #[arg(long, default_value_t = 0.05)]
    level: f64,
}

const AFTER_HELP: &str = "\
Output: one JSON object {\"n\",\"llr\",\"statistic\",\"p_two_sided\",\"p_one_sided\",\"log10_p_two_sided\",
\"log10_p_one_sided\",\"omega2\",\"level\",\"preferred\",\"stable\":{fit},\"alt\":{fit}} and, for --alt normal,
\"boundary\":{\"p\",\"log10_p\"}. llr = sum of ln f_stable(x_i) - ln f_alt(x_i) (the raw sum, as in the
paper); statistic = llr / (sqrt(n) omega); p_one_sided tests \"stable is closer\"; log10 p stays finite where
p underflows to 0. \"preferred\" is \"stable\", the alternative's name, or \"neither\" at --level.

Stable versus normal is nested: the stable law at alpha = 2 is N(loc, 2 scale^2), with beta unidentified,
so neither Vuong's normal approximation nor chi2_1 is exact there; \"boundary\" is the Self-Liang
1/2 chi2_0 + 1/2 chi2_1 p-value for H0: alpha = 2.

FILE: text with one number per line (blank lines and # comments skipped), a float32/float64 .npy file of
any shape (read flat), or - for standard input. At least 5 finite values, not all equal.

Examples:
  anodiff vuong gradients.npy
  anodiff vuong gradients.npy --alt student-t --symmetric
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
    #[serde(skip_serializing_if = "Option::is_none")]
    boundary: Option<Boundary>,
    stable: serde_json::Value,
    alt: alternatives::AltFit,
}

#[derive(serde::Serialize)]
struct Boundary {
    p: f64,
    log10_p: f64,
}

/// What the test needs from the stable fit: its JSON (as `anodiff stable fit` prints it) and
/// the pointwise log-densities at the estimates.
pub struct StableSide {
    /// The fit, serialised.
    pub json: serde_json::Value,
    /// `ln f(x_i)` at the fitted parameters, one per observation.
    pub ln_pdfs: Vec<f64>,
}

/// The stable maximum-likelihood fit used by the test (the `fit` helper's MLE).
fn fit_stable(x: &[f64], symmetric: bool) -> anyhow::Result<StableSide> {
    let _ = (x, symmetric);
    anyhow::bail!(
        "the stable maximum-likelihood fit (anodiff_core::fit) is not available in this build yet"
    )
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.level > 0.0 && args.level < 1.0,
        "--level {} must be in (0, 1)",
        args.level
    );
    let x = anodiff_core::io::read_values_from(&args.file)?;
    anodiff_core::io::validate_sample(&x, 5).with_context(|| display_name(&args.file))?;
    let alt = alternatives::fit(args.alt, &x).with_context(|| {
        format!(
            "{}: fitting the {} alternative",
            display_name(&args.file),
            args.alt
        )
    })?;
    let stable = fit_stable(&x, args.symmetric)
        .with_context(|| format!("{}: fitting the stable law", display_name(&args.file)))?;
    let t = vuong(&stable.ln_pdfs, &alt.ln_pdfs(&x))?;
    let preferred = match t.preferred(args.level) {
        Preferred::First => "stable".to_string(),
        Preferred::Second => args.alt.name().to_string(),
        Preferred::Neither => "neither".to_string(),
    };
    let boundary = if args.alt == AltModel::Normal {
        let (p, log10_p) = boundary_chibar2(t.llr)?;
        Some(Boundary { p, log10_p })
    } else {
        None
    };
    crate::cmd::print_json(&Output {
        n: x.len(),
        llr: t.llr,
        statistic: t.statistic,
        p_two_sided: t.p_two_sided,
        p_one_sided: t.p_one_sided,
        log10_p_two_sided: t.log10_p_two_sided,
        log10_p_one_sided: t.log10_p_one_sided,
        omega2: t.omega2,
        level: args.level,
        preferred,
        boundary,
        stable: stable.json,
        alt,
    })
}

/// The input's name in messages: the path, or `<stdin>` for `-`.
fn display_name(file: &str) -> String {
    if file == "-" {
        anodiff_core::io::STDIN_NAME.to_string()
    } else {
        file.to_string()
    }
}
