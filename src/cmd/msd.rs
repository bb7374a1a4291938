//! `anodiff msd`: time-averaged MSD per window, with the diffusion exponent, the two-regime
//! crossover and the regime.

use anodiff_core::exponent::{fit_msd, MsdFit, MsdFitOptions};
use anodiff_core::msd::{msd_with_blocks, Lags, Msd, Window, Windows};
use anodiff_core::trajectory::{NpyTrajectory, StoreReader, TrajectorySource};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "\
Examples:
  anodiff msd run.npy --window 1000 --lags log:40 --max-lag 250
  anodiff msd store_dir/ --window 1000 --stride 500 --fit-range 1,100
  anodiff msd run.npy --window 1000 --starts 0,5000,23000

Prints {\"windows\":[{\"t_w\":..,\"T\":..,\"lags\":[..],\"msd\":[..],\"fit\":{\"alpha\":..,
\"alpha_se\":..,\"two_regime\":{\"alpha_short\":..,\"alpha_long\":..,\"tau0\":..,\"tau0_ci95\":[lo,hi],
\"p_one_vs_two\":..}|null,\"regime\":\"superdiffusive\"}}]}. MSD is eq. 3 of the paper with the
1/(T - tau) normalisation over pairs inside the window. alpha_se, the tau0 interval and the
one-vs-two-segment p-value come from a block bootstrap over time origins; they are optimistic
when the fit reaches far into the window (keep --fit-range below about T/10 for honest errors).";

/// Arguments of `anodiff msd`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Trajectory: a 2-D .npy file (steps x d, f32 or f64) or a store directory.
    pub traj: PathBuf,
    /// Window length T in steps (default: the whole trajectory). Without --stride or --starts,
    /// consecutive non-overlapping windows from step 0; a shorter remainder is dropped.
    #[arg(long)]
    pub window: Option<usize>,
    /// Start a window every S steps (windows overlap when S < T).
    #[arg(long, conflicts_with = "starts")]
    pub stride: Option<usize>,
    /// Explicit window starts t_w, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub starts: Option<Vec<usize>>,
    /// Lags to report: `all` (1..T-1) or `log:N` (about N log-spaced lags).
    #[arg(long, default_value = "all")]
    pub lags: String,
    /// Largest lag: lags are limited to 1..min(T-1, L).
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Fit the exponent over lags LO..HI only (default: all computed lags).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub fit_range: Option<Vec<f64>>,
    /// Blocks of time origins for the bootstrap (each costs one FFT per coordinate).
    #[arg(long, default_value_t = 20)]
    pub blocks: usize,
    /// Bootstrap replicates.
    #[arg(long, default_value_t = 200)]
    pub boot: usize,
    /// Seed of the bootstrap and of the segmented-regression restarts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Opens a trajectory: a directory is read as the project's store, a file as a 2-D `.npy`.
pub(crate) fn open_trajectory(path: &Path) -> anyhow::Result<Box<dyn TrajectorySource>> {
    if path.is_dir() {
        Ok(Box::new(StoreReader::open(path)?))
    } else if path.exists() {
        Ok(Box::new(NpyTrajectory::open(path)?))
    } else {
        bail!("{}: no such file or directory", path.display())
    }
}

/// Parses `all` or `log:N`.
pub(crate) fn parse_lags(s: &str) -> anyhow::Result<Lags> {
    if s == "all" {
        return Ok(Lags::All);
    }
    if let Some(n) = s.strip_prefix("log:") {
        let n: usize = n
            .parse()
            .with_context(|| format!("--lags {s}: N in log:N must be a whole number"))?;
        return Ok(Lags::Log(n));
    }
    bail!("--lags must be `all` or `log:N`, got `{s}`")
}

/// Parses `LO,HI`.
pub(crate) fn parse_range(v: &Option<Vec<f64>>, name: &str) -> anyhow::Result<Option<(f64, f64)>> {
    match v.as_deref() {
        None => Ok(None),
        Some([lo, hi]) if *lo > 0.0 && hi > lo && hi.is_finite() => Ok(Some((*lo, *hi))),
        Some(other) => bail!("--{name} must be LO,HI with 0 < LO < HI, got {other:?}"),
    }
}

/// The windows asked for by `--window`, `--stride` and `--starts`.
pub(crate) fn windows(
    n_steps: usize,
    window: Option<usize>,
    stride: Option<usize>,
    starts: Option<&[usize]>,
) -> anyhow::Result<Vec<Window>> {
    let spec = match (stride, starts) {
        (Some(stride), _) => Windows::Strided {
            len: window.unwrap_or(n_steps),
            stride,
        },
        (None, Some(starts)) => Windows::Starts {
            len: window.context("--starts needs --window T")?,
            starts: starts.to_vec(),
        },
        (None, None) => Windows::Consecutive { len: window },
    };
    Ok(spec.resolve(n_steps)?)
}

/// MSD and its fit for one window.
pub(crate) fn analyse_window(
    src: &dyn TrajectorySource,
    win: Window,
    lags: Lags,
    max_lag: Option<usize>,
    blocks: usize,
    opts: &MsdFitOptions,
) -> anyhow::Result<(Msd, MsdFit)> {
    let ctx = || format!("window t_w = {}, T = {}", win.start, win.len);
    let lag_list = lags.resolve(win.len, max_lag).with_context(ctx)?;
    let m = msd_with_blocks(src, win, &lag_list, blocks.clamp(1, win.len)).with_context(ctx)?;
    let fit = fit_msd(&m, opts).with_context(ctx)?;
    Ok((m, fit))
}

/// The contract's `fit` object.
pub(crate) fn fit_json(f: &MsdFit) -> Value {
    json!({
        "alpha": f.power_law.alpha,
        "alpha_se": f.power_law.alpha_se,
        "two_regime": f.two_regime.as_ref().map(|t| json!({
            "alpha_short": t.alpha_short,
            "alpha_long": t.alpha_long,
            "tau0": t.tau0,
            "tau0_ci95": t.tau0_ci95,
            "p_one_vs_two": t.p_one_vs_two,
        })),
        "regime": f.regime,
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(n: usize, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
    {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let src = open_trajectory(&args.traj)?;
    let lags = parse_lags(&args.lags)?;
    if args.max_lag == Some(0) {
        bail!("--max-lag must be at least 1");
    }
    let fit_range = parse_range(&args.fit_range, "fit-range")?;
    if args.blocks == 0 {
        bail!("--blocks must be at least 1");
    }
    let wins = windows(
        src.n_steps(),
        args.window,
        args.stride,
        args.starts.as_deref(),
    )?;
    let opts = MsdFitOptions {
        fit_range,
        n_boot: args.boot,
        seed: args.seed,
        ..MsdFitOptions::default()
    };
    let pb = progress(wins.len(), "msd");
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        let (m, fit) = analyse_window(src.as_ref(), win, lags, args.max_lag, args.blocks, &opts)?;
        out.push(json!({
            "t_w": win.start,
            "T": win.len,
            "lags": m.lags,
            "msd": m.msd,
            "fit": fit_json(&fit),
        }));
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::cmd::print_json(&json!({ "windows": out }))
}
