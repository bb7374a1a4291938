//! `anodiff stable fit`: fit an alpha-stable law to a sample and print one JSON object.

use anodiff_core::fit::{
    BinnedMle, Estimator, Evaluation, Histogram, Koutrouvelis, McCulloch, Mle, Param,
};
use anyhow::Context;
use std::path::Path;

/// Estimator selected with `--method`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// Maximum likelihood on every value (standard errors, 95 % intervals).
    Mle,
    /// McCulloch's (1986) quantile estimator (fast, no standard errors).
    Mcculloch,
    /// Koutrouvelis' (1980) characteristic-function regression (no standard errors).
    Koutrouvelis,
    /// Maximum likelihood on a fine histogram: one streaming pass, for 10^8-10^9 values.
    Binned,
}

/// Arguments of `anodiff stable fit`.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Input: text (one number per line), .npy (float32/float64), or - for stdin.
    pub file: String,
    /// Estimator.
    #[arg(long, value_enum, default_value = "mle")]
    pub method: MethodArg,
    /// Fit the symmetric law (beta fixed at 0; its se and ci95 are null).
    #[arg(long)]
    pub symmetric: bool,
    /// Fix the S0 location at this value (e.g. 0 for centred gradients; MLE and binned only).
    #[arg(long, value_name = "LOC", allow_hyphen_values = true)]
    pub fix_loc: Option<f64>,
    /// Parameterization of the reported location (and covariance): s0 or s1.
    #[arg(long, default_value = "s0", value_parser = parse_param)]
    pub param: Param,
    /// Add profile-likelihood 95 % intervals ("profile_ci95"; MLE and binned).
    #[arg(long)]
    pub profile: bool,
    /// Add sandwich (robust, H^-1 J H^-1) standard errors ("sandwich_se"; MLE and binned).
    #[arg(long)]
    pub sandwich: bool,
    /// Evaluate the density by quadrature at every value instead of the spline (slow; reference).
    #[arg(long)]
    pub exact: bool,
    /// Convergence tolerance of the Newton steps (alpha, beta, ln scale; loc in scale units).
    #[arg(long, default_value_t = 1e-8)]
    pub tol: f64,
    /// Newton iteration limit (the JSON says "converged": false when it is reached).
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Mantissa bits of the histogram keys for --method binned (4-20; relative bin width 2^-m).
    #[arg(long, default_value_t = 10)]
    pub mantissa_bits: u32,
}

const AFTER_HELP: &str = "\
Output: one JSON object {\"alpha\",\"beta\",\"scale\",\"loc\",\"param\",\"method\",\"n\",\"loglik\",
\"se\":{\"alpha\",\"beta\",\"scale\",\"loc\"},\"ci95\":{\"alpha\":[lo,hi],...},\"converged\"}. The fit runs in
Nolan's S0; --param s1 converts loc (delta1 = delta0 - beta scale tan(pi alpha/2)) and its standard error
(delta method). loglik is the total log-likelihood of the data at the reported estimates. se and ci95 come
from the observed information (null for fixed parameters, parameters on a bound, and the quantile/ECF
methods); the scale interval is exp(ln scale +- 1.96 se/scale). --method binned streams a .npy file through
a memory map (bounded memory) and adds \"zeros\" (exact zeros in the data).

FILE: text with one number per line (blank lines and # comments skipped), a float32/float64 .npy file of
any shape (read flat), or - for standard input. At least 5 finite values, not all equal.

Examples:
  anodiff stable fit gradients.txt
  anodiff stable fit gradients.npy --symmetric --param s1 --profile --sandwich
  anodiff stable fit huge.npy --method binned --symmetric
  anodiff stable sample --alpha 1.5 --beta 0 --n 2000 --seed 1 | anodiff stable fit - --method mcculloch";

fn parse_param(s: &str) -> Result<Param, String> {
    s.parse::<Param>().map_err(|e| e.to_string())
}

fn display_name(file: &str) -> &str {
    if file == "-" {
        "<stdin>"
    } else {
        file
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let name = display_name(&args.file);
    let mut mle = Mle::new()
        .with_tol(args.tol)
        .context("--tol")?
        .with_max_iter(args.max_iter)
        .context("--max-iter")?
        .with_param(args.param)
        .with_profile(args.profile)
        .with_sandwich(args.sandwich);
    if args.symmetric {
        mle = mle.symmetric();
    }
    if let Some(loc) = args.fix_loc {
        mle = mle.with_loc(loc).context("--fix-loc")?;
    }
    if args.exact {
        mle = mle.with_evaluation(Evaluation::Exact);
    }
    let quantile_only = matches!(args.method, MethodArg::Mcculloch | MethodArg::Koutrouvelis);
    if quantile_only && (args.symmetric || args.fix_loc.is_some() || args.profile || args.sandwich)
    {
        anyhow::bail!(
            "--symmetric, --fix-loc, --profile and --sandwich need --method mle or binned"
        );
    }
    let is_npy_file = args.file != "-"
        && Path::new(&args.file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let fit = if args.method == MethodArg::Binned && is_npy_file {
        // Stream the file: never holds more than the histogram in memory.
        let binned = BinnedMle {
            mle,
            mantissa_bits: args.mantissa_bits,
        };
        let h = Histogram::from_npy(&args.file, args.mantissa_bits)?;
        binned.fit_histogram(&h).with_context(|| name.to_string())?
    } else {
        let x = anodiff_core::io::read_values_from(&args.file)?;
        anodiff_core::fit::check_data(&x).with_context(|| name.to_string())?;
        match args.method {
            MethodArg::Mle => mle.fit(&x)?,
            MethodArg::Mcculloch => McCulloch {
                param: Some(args.param),
            }
            .fit(&x)?,
            MethodArg::Koutrouvelis => Koutrouvelis {
                param: args.param,
                ..Default::default()
            }
            .fit(&x)?,
            MethodArg::Binned => BinnedMle {
                mle,
                mantissa_bits: args.mantissa_bits,
            }
            .fit(&x)?,
        }
    };
    if !fit.converged {
        eprintln!(
            "warning: the {} fit did not converge in {} iterations; do not trust the estimates",
            serde_json::to_value(fit.method)?
                .as_str()
                .unwrap_or("stable"),
            fit.iterations
        );
    }
    crate::cmd::print_json(&fit)
}
