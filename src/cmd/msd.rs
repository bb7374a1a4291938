//! `anodiff msd`: time-averaged MSD per window, with the diffusion exponent, the two-regime
//! crossover and the regime; with `--ensemble` the ensemble-averaged MSD over several runs, with
//! `--two-time` the two-time MSD of aging studies.

use anodiff_core::analysis::{fit_window, msd_window, MsdSettings};
use anodiff_core::exponent::{MsdFit, MsdFitOptions};
use anodiff_core::msd::{ensemble_msd, two_time, Lags, Msd, Window, Windows};
use anodiff_core::trajectory::TrajectorySource;
use anyhow::{bail, Context};
use serde_json::json;
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "\
Examples:
  anodiff msd run.npy --window 1000
  anodiff msd store_dir/ --window 1000 --stride 500 --fit-range 1,100
  anodiff msd run.npy --window 1000 --starts 0,5000,23000 --lags all

Prints {\"windows\":[{\"t_w\":..,\"T\":..,\"lags\":[..],\"msd\":[..],\"fit\":{\"alpha\":..,
\"alpha_se\":..,\"alpha_ci95\":[lo,hi],\"two_regime\":{\"alpha_short\":..,\"alpha_long\":..,\"tau0\":..,\"tau0_ci95\":[lo,hi],
\"p_one_vs_two\":..}|null,\"regime\":\"superdiffusive\"}}]}. MSD is eq. 3 of the paper with the
1/(T - tau) normalisation over pairs inside the window, at 10 log-spaced lags per decade by
default. The exponent is fitted over lags up to T/4 (--fit-range overrides), weighted by the
number of independent displacements (T - tau)/tau. alpha_se is the larger of an fBm-model error
and a bootstrap (over coordinate groups, or over blocks of time origins for d < 8); regime is
read from alpha_ci95 = alpha -/+ 1.96 alpha_se: subdiffusive (below 1), normal (holds 1, below
2), superdiffusive (inside (1, 2)), ballistic (above 1, reaching 2) or undetermined (holds 1
and 2). p_one_vs_two calibrates the slope change of the broken line by simulating fBm at the
data's effective number of coordinates; two_regime is reported when p < 0.05, with the tau0
interval from the bootstrap. The model parts assume Gaussian, stationary (fBm-like) increments
and independent coordinates.

Several runs of the same model (same number of weights):
  anodiff msd run1.npy run2.npy run3.npy --ensemble --window 1000 --lags log:30
    prints {\"runs\":3,\"windows\":[{\"t_w\":..,\"T\":..,\"lags\":[..],\"eamsd\":[..],
    \"mean_tamsd\":[..],\"eb\":[..]}]}: eamsd is the ensemble-averaged MSD from the fixed origin
    t_w, mean over runs of ||w(t_w + tau) - w(t_w)||^2; mean_tamsd the mean over runs of the
    time-averaged MSD above; eb the ergodicity-breaking parameter Var(TAMSD) / mean(TAMSD)^2
    across runs (0 for one run). Windows come from --window/--stride/--starts on the shortest run.
  anodiff msd run1.npy run2.npy --two-time --starts 0,1000,10000 --lags log:20
    prints {\"runs\":2,\"two_time\":[{\"t_w\":..,\"t\":[..],\"delta\":[..]}]}: the two-time MSD
    Delta(t_w, t_w + t) = 1/(R d) sum_runs ||w(t_w + t) - w(t_w)||^2 per weight (Baity-Jesi et
    al. 2018), for each waiting time t_w in --starts (default 0) and t in 1..min(L, n - 1 - t_w)
    chosen by --lags and --max-lag L.";

/// Arguments of `anodiff msd`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Trajectory: a 2-D .npy file (steps x d, f32 or f64) or a store directory; several
    /// (runs of the same model) with --ensemble or --two-time.
    #[arg(required = true, num_args = 1..)]
    pub traj: Vec<PathBuf>,
    /// Ensemble-averaged MSD, mean time-averaged MSD and ergodicity breaking over the runs
    /// given, per window (no exponent fit).
    #[arg(long, conflicts_with = "two_time")]
    pub ensemble: bool,
    /// Two-time MSD Delta(t_w, t_w + t) per weight, averaged over the runs given, for each
    /// waiting time t_w in --starts (default 0).
    #[arg(long, conflicts_with_all = ["window", "stride", "fit_range"])]
    pub two_time: bool,
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
    /// Lags to report: `per-decade:N` (N log-spaced lags per decade), `log:N` (about N
    /// log-spaced lags in all) or `all` (1..T-1).
    #[arg(long, default_value = "per-decade:10")]
    pub lags: String,
    /// Largest lag: lags are limited to 1..min(T-1, L).
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Fit the exponent over lags LO..HI only (default: the computed lags up to T/4).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub fit_range: Option<Vec<f64>>,
    /// Blocks of time origins for the bootstrap when d < 8 (each costs one FFT per
    /// coordinate); with d >= 8 the bootstrap resamples coordinate groups instead.
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
    Ok(anodiff_core::trajectory::open(path)?)
}

/// Parses `all`, `log:N` or `per-decade:N`.
pub(crate) fn parse_lags(s: &str) -> anyhow::Result<Lags> {
    if s == "all" {
        return Ok(Lags::All);
    }
    if let Some(n) = s.strip_prefix("per-decade:") {
        let n: usize = n
            .parse()
            .with_context(|| format!("--lags {s}: N in per-decade:N must be a whole number"))?;
        return Ok(Lags::PerDecade(n));
    }
    if let Some(n) = s.strip_prefix("log:") {
        let n: usize = n
            .parse()
            .with_context(|| format!("--lags {s}: N in log:N must be a whole number"))?;
        return Ok(Lags::Log(n));
    }
    bail!("--lags must be `per-decade:N`, `log:N` or `all`, got `{s}`")
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

/// MSD and its fit for one window ([`anodiff_core::analysis::fit_window`]), with the window
/// named in errors.
pub(crate) fn analyse_window(
    src: &dyn TrajectorySource,
    win: Window,
    lags: Lags,
    max_lag: Option<usize>,
    blocks: usize,
    opts: &MsdFitOptions,
) -> anyhow::Result<(Msd, MsdFit)> {
    let s = MsdSettings {
        lags,
        max_lag,
        blocks,
        fit: opts.clone(),
    };
    fit_window(src, win, &s).with_context(|| window_name(win))
}

/// A window as errors name it.
pub(crate) fn window_name(win: Window) -> String {
    format!("window t_w = {}, T = {}", win.start, win.len)
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
    if args.ensemble || args.two_time {
        return run_runs(&args);
    }
    let [traj] = args.traj.as_slice() else {
        bail!(
            "{} trajectories given: the time-averaged MSD takes one (use --ensemble or \
             --two-time for several runs)",
            args.traj.len()
        );
    };
    let src = open_trajectory(traj)?;
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
    let settings = MsdSettings {
        lags,
        max_lag: args.max_lag,
        blocks: args.blocks,
        fit: MsdFitOptions {
            fit_range,
            n_boot: args.boot,
            seed: args.seed,
            ..MsdFitOptions::default()
        },
    };
    let pb = progress(wins.len(), "msd");
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        out.push(msd_window(src.as_ref(), win, &settings).with_context(|| window_name(win))?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::cmd::print_json(&json!({ "windows": out }))
}

/// `--ensemble` and `--two-time`: statistics over several runs of the same model.
fn run_runs(args: &Args) -> anyhow::Result<()> {
    let runs = args
        .traj
        .iter()
        .map(|p| open_trajectory(p).with_context(|| p.display().to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let refs: Vec<&dyn TrajectorySource> = runs.iter().map(|r| r.as_ref()).collect();
    let d = refs[0].dim();
    if let Some(k) = refs.iter().position(|r| r.dim() != d) {
        bail!(
            "{} has {} weights per step, {} has {d}: runs must be of the same model",
            args.traj[k].display(),
            refs[k].dim(),
            args.traj[0].display()
        );
    }
    let n_steps = refs.iter().map(|r| r.n_steps()).min().unwrap_or(0);
    let lags = parse_lags(&args.lags)?;
    if args.max_lag == Some(0) {
        bail!("--max-lag must be at least 1");
    }
    if args.two_time {
        let starts = args.starts.clone().unwrap_or_else(|| vec![0]);
        let mut out = Vec::with_capacity(starts.len());
        for t_w in starts {
            if t_w + 2 > n_steps {
                bail!(
                    "--starts {t_w}: the two-time MSD needs at least one step after t_w, and the \
                     shortest run has {n_steps} steps"
                );
            }
            let ts = lags
                .resolve(n_steps - t_w, args.max_lag)
                .with_context(|| format!("t_w = {t_w}"))?;
            let delta = two_time(&refs, t_w, &ts).with_context(|| format!("t_w = {t_w}"))?;
            out.push(json!({ "t_w": t_w, "t": ts, "delta": delta }));
        }
        return crate::cmd::print_json(&json!({ "runs": refs.len(), "two_time": out }));
    }
    let wins = windows(n_steps, args.window, args.stride, args.starts.as_deref())?;
    let pb = progress(wins.len(), "ensemble msd");
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        let ctx = || format!("window t_w = {}, T = {}", win.start, win.len);
        let lag_list = lags.resolve(win.len, args.max_lag).with_context(ctx)?;
        let e = ensemble_msd(&refs, win, &lag_list).with_context(ctx)?;
        out.push(json!({
            "t_w": win.start,
            "T": win.len,
            "lags": e.lags,
            "eamsd": e.eamsd,
            "mean_tamsd": e.mean_tamsd,
            "eb": e.eb,
        }));
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::cmd::print_json(&json!({ "runs": refs.len(), "windows": out }))
}
