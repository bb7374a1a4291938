//! `anodiff vuong`: Vuong likelihood-ratio test of a stable fit against an alternative model.

use anodiff_core::compare::{compare_stable, compare_stable_binned, CompareOptions};
use anodiff_core::fit::alternatives::AltModel;
use anodiff_core::fit::Histogram;
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

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    anodiff_core::vuong::check_level(args.level).map_err(|_| {
        anyhow::anyhow!(
            "--level {} must be a significance level in (0, 1), e.g. 0.05",
            args.level
        )
    })?;
    let opts = CompareOptions {
        alt: args.alt,
        symmetric: args.symmetric,
        level: args.level,
        exact: args.exact,
    };
    let name = display_name(&args.file);
    let out = if args.binned {
        let h = histogram(&args)?;
        compare_stable_binned(&h, &opts).with_context(|| name.clone())?
    } else {
        let x = anodiff_core::io::read_values_from(&args.file)?;
        anodiff_core::io::validate_sample(&x, 5).with_context(|| name.clone())?;
        compare_stable(&x, &opts).with_context(|| name.clone())?
    };
    crate::cmd::print_json(&out)
}

/// The histogram of the grouped test, in one streaming pass: a .npy file is memory-mapped,
/// never loaded whole.
fn histogram(args: &Args) -> anyhow::Result<Histogram> {
    let is_npy = args.file != "-"
        && std::path::Path::new(&args.file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    Ok(if is_npy {
        // Validate the header (and size) with the shared reader's messages first.
        anodiff_core::io::NpyValues::open(std::path::Path::new(&args.file))?;
        Histogram::from_npy(&args.file, args.mantissa_bits)?
    } else {
        let x = anodiff_core::io::read_values_from(&args.file)?;
        Histogram::from_f64(&x, args.mantissa_bits)?
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
