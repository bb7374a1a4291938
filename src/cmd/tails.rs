//! `anodiff tails`: heavy-tail diagnostics (Hill estimator and Hill plot).

use anodiff_core::tails::{alpha_agreement, hill, hill_plot, HillK, Tail};
use anyhow::Context;

/// Arguments of `anodiff tails`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  anodiff tails hill gradients.npy --tail abs --plot-data")]
pub struct Args {
    #[command(subcommand)]
    command: TailsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum TailsCommand {
    /// Hill estimate of the tail index alpha (P(X > x) ~ x^-alpha), with the Hill-plot series.
    #[command(after_help = HILL_HELP)]
    Hill(HillArgs),
}

const HILL_HELP: &str = "\
Output: one JSON object {\"n\",\"tail\",\"n_tail\",\"k\",\"k_auto\",\"threshold\",\"alpha\",\"se\",\"ci95\",
\"warnings\"} and, with --plot-data, \"plot\": [{\"k\",\"alpha\",\"ci95\"}, ...]. The interval is exact for a
Pareto tail above the threshold (alpha k H_k ~ Gamma(k, 1)). Without --k, k is chosen where the Hill plot
is most stable (a heuristic; check the plot).

With --stable-alpha the output gains \"comparison\": {\"hill_alpha\",\"hill_se\",\"stable_alpha\",\"stable_se\",
\"z\",\"p_value\",\"level\",\"disagree\"}: the z test z = (Hill - stable) / sqrt(se_Hill^2 + se_stable^2),
two-sided p, disagree = p < --level. It holds its level where Hill is consistent (stable alpha near 1);
for larger alpha Hill is biased upwards and it rejects exact stable data far more often (CALIBRATION.md).

FILE: text with one number per line (blank lines and # comments skipped), a float32/float64 .npy file of
any shape (read flat), or - for standard input.

Examples:
  anodiff tails hill gradients.npy
  anodiff tails hill gradients.npy --tail abs --k 5000 --plot-data > hill.json
  anodiff tails hill data.txt --stable-alpha 1.47 --stable-se 0.002   # test Hill against it";

#[derive(clap::Args, Debug)]
struct HillArgs {
    /// Input: text (one number per line), .npy (float32/float64), or - for stdin.
    file: String,
    /// Number of upper order statistics (default: stability-based choice).
    #[arg(long)]
    k: Option<usize>,
    /// Which tail: upper (large positive values), lower (large negative), abs (|x|).
    #[arg(long, default_value = "upper")]
    tail: Tail,
    /// Also print the Hill-plot series (every k up to 1000, then a 1% geometric grid).
    #[arg(long)]
    plot_data: bool,
    /// A stable fit's alpha to compare with (adds warnings when they disagree).
    #[arg(long)]
    stable_alpha: Option<f64>,
    /// Standard error of --stable-alpha.
    #[arg(long, requires = "stable_alpha")]
    stable_se: Option<f64>,
    /// Significance level of the agreement test with --stable-alpha.
    #[arg(long, default_value_t = 0.05)]
    level: f64,
}

#[derive(serde::Serialize)]
struct HillOutput<'a> {
    #[serde(flatten)]
    estimate: anodiff_core::tails::HillEstimate,
    #[serde(skip_serializing_if = "Option::is_none")]
    comparison: Option<anodiff_core::tails::AlphaAgreement>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plot: Option<&'a [anodiff_core::tails::HillPoint]>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        TailsCommand::Hill(a) => run_hill(a),
    }
}

fn run_hill(a: HillArgs) -> anyhow::Result<()> {
    anodiff_core::vuong::check_level(a.level).map_err(|_| {
        anyhow::anyhow!(
            "--level {} must be a significance level in (0, 1), e.g. 0.05",
            a.level
        )
    })?;
    if let Some(s) = a.stable_alpha {
        anyhow::ensure!(
            s > 0.0 && s <= 2.0,
            "--stable-alpha {s} is outside the stable range (0, 2]"
        );
    }
    if let Some(s) = a.stable_se {
        anyhow::ensure!(
            s >= 0.0 && s.is_finite(),
            "--stable-se {s} must be finite and >= 0"
        );
    }
    let x = anodiff_core::io::read_values_from(&a.file)?;
    anodiff_core::io::validate_sample(&x, 5).with_context(|| display_name(&a.file))?;
    let k = a.k.map_or(HillK::Auto, HillK::Fixed);
    let est = hill(&x, a.tail, k).with_context(|| display_name(&a.file))?;
    let comparison = match a.stable_alpha {
        Some(s) => Some(alpha_agreement(&est, s, a.stable_se, a.level)?),
        None => None,
    };
    let mut warnings = match &comparison {
        Some(c) => c.warnings(&est),
        None => Vec::new(),
    };
    if a.stable_alpha.is_none() && est.k < 50 {
        warnings.push(format!(
            "Hill uses only k = {} order statistics: its standard error alpha/sqrt(k) = {:.3} is large.",
            est.k, est.se
        ));
    }
    let plot = if a.plot_data {
        Some(hill_plot(&x, a.tail, None)?)
    } else {
        None
    };
    crate::cmd::print_json(&HillOutput {
        estimate: est,
        comparison,
        warnings,
        plot: plot.as_deref(),
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
