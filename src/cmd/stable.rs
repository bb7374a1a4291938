//! `anodiff stable`: density, distribution, survival and quantile functions, sampling and
//! fitting of alpha-stable laws.

use anodiff_core::stable::{Param, Stable};
use clap::{Args as ClapArgs, Subcommand};
use rand::SeedableRng;
use std::io::Write;

/// Arguments of `anodiff stable`.
#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Density at each value: prints {"pdf": [...]}.
    #[command(
        after_help = "Examples:\n  anodiff stable pdf --alpha 1.5 --beta 0.5 -- -2 0 3.5\n  anodiff stable pdf --alpha 1.5 --beta 0.5 --file points.txt\n  seq -5 0.001 5 | anodiff stable pdf --alpha 1.5 --beta 0.5 --file -"
    )]
    Pdf(EvalArgs),
    /// Natural log of the density: prints {"logpdf": [...]}.
    #[command(after_help = "Example:\n  anodiff stable logpdf --alpha 1.5 --beta 0 --scale 2 1e3")]
    Logpdf(EvalArgs),
    /// Distribution function P(X <= x): prints {"cdf": [...]}.
    #[command(after_help = "Example:\n  anodiff stable cdf --alpha 0.8 --beta 1 --param s1 0.5 2")]
    Cdf(EvalArgs),
    /// Survival function P(X > x), computed directly: prints {"sf": [...]}.
    #[command(after_help = "Example:\n  anodiff stable sf --alpha 1.7 --beta -0.3 1e6")]
    Sf(EvalArgs),
    /// Quantiles at probabilities p in [0, 1]: prints {"quantile": [...]}.
    #[command(
        after_help = "Example:\n  anodiff stable quantile --alpha 1.5 --beta 0.5 0.05 0.5 0.95"
    )]
    Quantile(EvalArgs),
    /// Random draws (Chambers-Mallows-Stuck), one per line.
    #[command(
        after_help = "Example:\n  anodiff stable sample --alpha 1.5 --beta 0.5 --n 1000 --seed 42 > draws.txt"
    )]
    Sample(SampleArgs),
    /// Fit a stable law to data.
    Fit(crate::cmd::stable_fit::Args),
}

/// The law's parameters, shared by every evaluation command.
#[derive(ClapArgs, Debug)]
struct LawArgs {
    /// Stability index alpha in (0, 2].
    #[arg(long, allow_negative_numbers = true)]
    alpha: f64,
    /// Skewness beta in [-1, 1].
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    /// Scale (> 0).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    scale: f64,
    /// Location (in the chosen parameterization).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    loc: f64,
    /// Parameterization: s0 (Nolan's, continuous in alpha; default) or s1.
    #[arg(long, default_value = "s0")]
    param: String,
}

impl LawArgs {
    fn law(&self) -> anyhow::Result<Stable> {
        let param: Param = self.param.parse()?;
        Ok(Stable::new(
            self.alpha, self.beta, self.scale, self.loc, param,
        )?)
    }
}

#[derive(ClapArgs, Debug)]
struct EvalArgs {
    #[command(flatten)]
    law: LawArgs,
    /// Points (or probabilities for `quantile`); negative numbers are accepted.
    #[arg(
        required_unless_present = "file",
        conflicts_with = "file",
        num_args = 1..,
        allow_negative_numbers = true
    )]
    values: Vec<f64>,
    /// Read the points from FILE instead: text (one number per line, # comments), a
    /// float32/float64 .npy file of any shape (read flat), or - for standard input.
    #[arg(long, value_name = "FILE")]
    file: Option<String>,
}

impl EvalArgs {
    /// The points, from the arguments or from `--file`.
    fn points(&self) -> anyhow::Result<Vec<f64>> {
        match &self.file {
            Some(f) => Ok(anodiff_core::io::read_values_from(f)?),
            None => {
                if let Some(v) = self.values.iter().find(|v| v.is_nan()) {
                    anyhow::bail!("value {v} is not a number");
                }
                Ok(self.values.clone())
            }
        }
    }
}

#[derive(ClapArgs, Debug)]
struct SampleArgs {
    #[command(flatten)]
    law: LawArgs,
    /// Number of draws.
    #[arg(long)]
    n: usize,
    /// Seed of the ChaCha8 generator (same seed, same draws).
    #[arg(long)]
    seed: u64,
}

/// Evaluates `f` (a batch method of [`Stable`]) at the points of `a` and prints `{key: [...]}`.
fn eval(
    key: &str,
    a: &EvalArgs,
    f: impl Fn(&Stable, &[f64]) -> anyhow::Result<Vec<f64>>,
) -> anyhow::Result<()> {
    let law = a.law.law()?;
    let out = f(&law, &a.points()?)?;
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), serde_json::json!(out));
    crate::cmd::print_json(&serde_json::Value::Object(map))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Pdf(a) => eval("pdf", &a, |s, x| Ok(s.pdf_many(x))),
        Command::Logpdf(a) => eval("logpdf", &a, |s, x| Ok(s.ln_pdf_many(x))),
        Command::Cdf(a) => eval("cdf", &a, |s, x| Ok(s.cdf_many(x))),
        Command::Sf(a) => eval("sf", &a, |s, x| Ok(s.sf_many(x))),
        Command::Quantile(a) => eval("quantile", &a, |s, p| Ok(s.quantile_many(p)?)),
        Command::Sample(a) => {
            let law = a.law.law()?;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for _ in 0..a.n {
                let x: f64 = rand::distr::Distribution::sample(&law, &mut rng);
                writeln!(out, "{x}")?;
            }
            out.flush()?;
            Ok(())
        }
        Command::Fit(a) => crate::cmd::stable_fit::run(a),
    }
}
