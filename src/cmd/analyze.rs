//! `anodiff analyze`: every trajectory analysis on each window (MSD and exponents, MSL, contour
//! length and fractal dimension, loss fluctuations, gradient samples), as JSON and CSV.

use crate::cmd::msd::{open_trajectory, parse_lags, parse_range, progress, window_name, windows};
use anodiff_core::analysis::{
    analyse_window, Analysis, AnalyzeOptions, MsdSettings, TrajectoryInfo, WindowAnalysis,
};
use anodiff_core::exponent::MsdFitOptions;
use anodiff_core::trajectory::{NpyTrajectory, TrajectorySource};
use anyhow::{bail, Context};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;

const EXAMPLE: &str = "\
Examples:
  anodiff analyze run.npy --losses loss.npy --window 1000 --out results/
  anodiff analyze store_dir/ --window 1000 --lags log:40 --fit-range 1,250

Per window: MSD with alpha, two regimes and regime (as `anodiff msd`), the segmented and smooth
two-power-law fits and local slopes; contour length vs end-to-end distance (lambda, D_f = 2/lambda)
with a crossover test; with losses, MSL vs distance (2H) and loss fluctuations (|dL| and the moving
variance); with recorded gradients, a seeded uniform sample of gradient components. Without --out
the JSON summary goes to stdout; with --out DIR it is written to DIR/summary.json together with
CSV tables (msd.csv, local_slopes.csv, contour.csv, msl.csv, loss.csv, gradient_sample.csv), and
stdout lists the files. Pair statistics need O(T^2) memory and are skipped for windows longer
than --max-pair-window. The top-level \"regime\" is `anodiff regime`'s object (the change of
exponent across the windows, with intervals and a test), computed from the windows' fits; when
there are too few windows for the test, its \"change\" is null and \"error\" says why.";

/// Arguments of `anodiff analyze`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Trajectory: a 2-D .npy file (steps x d, f32 or f64) or a store directory.
    pub traj: PathBuf,
    /// Window length T in steps (default: the whole trajectory).
    #[arg(long)]
    pub window: Option<usize>,
    /// Start a window every S steps (default: consecutive non-overlapping windows).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Directory for summary.json and the CSV tables (default: JSON summary on stdout only).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Per-step losses as a 1-D .npy (for a .npy trajectory; a store carries its own).
    #[arg(long)]
    pub losses: Option<PathBuf>,
    /// MSD lags: `per-decade:N`, `log:N` or `all` (as `anodiff msd`).
    #[arg(long, default_value = "per-decade:10")]
    pub lags: String,
    /// Largest MSD lag.
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Fit the MSD exponent over lags LO,HI only (default: the computed lags up to T/4).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub fit_range: Option<Vec<f64>>,
    /// Fit MSL ~ dr^(2H) over distances LO,HI only.
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub msl_range: Option<Vec<f64>>,
    /// Number of distance / contour-length bins (log-spaced; MSL also gets linear bins).
    #[arg(long, default_value_t = 30)]
    pub bins: usize,
    /// Moving-variance window of the loss, in steps.
    #[arg(long, default_value_t = 100)]
    pub moving_window: usize,
    /// Gradient components sampled per window.
    #[arg(long, default_value_t = 10_000)]
    pub grad_samples: usize,
    /// Longest window for which pair statistics (MSL, contour length) are computed.
    #[arg(long, default_value_t = 4000)]
    pub max_pair_window: usize,
    /// Blocks of time origins for the MSD bootstrap when d < 8 (with d >= 8 the bootstrap
    /// resamples coordinate groups).
    #[arg(long, default_value_t = 20)]
    pub blocks: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// CSV tables accumulated over windows.
#[derive(Default)]
struct Tables {
    msd: String,
    local: String,
    contour: String,
    msl: String,
    loss: String,
    grad: String,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let src: Box<dyn TrajectorySource> = match &args.losses {
        Some(lp) => {
            if args.traj.is_dir() {
                bail!(
                    "--losses is for .npy trajectories; a store directory carries its own losses"
                );
            }
            Box::new(NpyTrajectory::open(&args.traj)?.with_losses(lp)?)
        }
        None => open_trajectory(&args.traj)?,
    };
    let lags = parse_lags(&args.lags)?;
    let fit_range = parse_range(&args.fit_range, "fit-range")?;
    let msl_range = parse_range(&args.msl_range, "msl-range")?;
    if args.bins < 3 {
        bail!("--bins must be at least 3");
    }
    if args.blocks == 0 {
        bail!("--blocks must be at least 1");
    }
    let wins = windows(src.n_steps(), args.window, args.stride, None)?;
    let opts = AnalyzeOptions {
        msd: MsdSettings {
            lags,
            max_lag: args.max_lag,
            blocks: args.blocks,
            fit: MsdFitOptions {
                fit_range,
                seed: args.seed,
                ..MsdFitOptions::default()
            },
        },
        msl_range,
        bins: args.bins,
        moving_window: args.moving_window,
        grad_samples: args.grad_samples,
        max_pair_window: args.max_pair_window,
        seed: args.seed,
    };
    let mut t = Tables {
        msd: "t_w,T,lag,msd\n".into(),
        local: "t_w,tau,alpha\n".into(),
        contour: "t_w,ds_lo,ds_hi,ds_mean,dr2_mean,pairs\n".into(),
        msl: "t_w,binning,dr_lo,dr_hi,dr_mean,msl,pairs\n".into(),
        loss: "t_w,step,abs_dloss,moving_var\n".into(),
        grad: "t_w,value\n".into(),
    };
    let pb = progress(wins.len(), "analyze");
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        let a = analyse_window(src.as_ref(), win, &opts).with_context(|| window_name(win))?;
        tabulate(&a, &mut t);
        out.push(a);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let info = TrajectoryInfo::of(src.as_ref(), args.traj.display().to_string());
    let summary = Analysis::from_windows(info, out, &opts);
    match &args.out {
        None => crate::cmd::print_json(&summary),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create output directory {}", dir.display()))?;
            let mut files = Vec::new();
            let mut write = |name: &str, body: &str| -> anyhow::Result<()> {
                let p = dir.join(name);
                std::fs::write(&p, body)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                files.push(p.display().to_string());
                Ok(())
            };
            write("summary.json", &serde_json::to_string_pretty(&summary)?)?;
            write("msd.csv", &t.msd)?;
            write("local_slopes.csv", &t.local)?;
            write("contour.csv", &t.contour)?;
            write("msl.csv", &t.msl)?;
            write("loss.csv", &t.loss)?;
            write("gradient_sample.csv", &t.grad)?;
            crate::cmd::print_json(&json!({ "out": dir.display().to_string(), "files": files }))
        }
    }
}

/// Appends one window's tables to the CSV bodies.
fn tabulate(a: &WindowAnalysis, t: &mut Tables) {
    let tw = a.t_w;
    let m = &a.msd_curve;
    for (l, v) in m.lags.iter().zip(&m.msd) {
        let _ = writeln!(t.msd, "{tw},{},{l},{v:e}", a.len);
    }
    for s in &a.msd_fit.local {
        let _ = writeln!(t.local, "{tw},{},{}", s.tau, s.alpha);
    }
    if let Some(c) = &a.contour_bins {
        for b in &c.bins {
            let _ = writeln!(
                t.contour,
                "{tw},{},{},{},{},{}",
                b.lo, b.hi, b.x, b.y, b.count
            );
        }
    }
    for (name, r) in &a.msl_bins {
        for bin in &r.bins {
            let _ = writeln!(
                t.msl,
                "{tw},{name},{},{},{},{},{}",
                bin.lo, bin.hi, bin.x, bin.y, bin.count
            );
        }
    }
    if let (Some(f), Some(l)) = (&a.loss_fluctuations, &a.loss) {
        let mw = l.moving_window;
        for k in 0..a.len {
            let ad = if k + 1 < a.len {
                format!("{}", f.abs_diff[k])
            } else {
                String::new()
            };
            let mv = if k + 1 >= mw {
                format!("{}", f.moving_var[k + 1 - mw])
            } else {
                String::new()
            };
            let _ = writeln!(t.loss, "{tw},{},{ad},{mv}", tw + k);
        }
    }
    for v in &a.gradient_sample {
        let _ = writeln!(t.grad, "{tw},{v}");
    }
}
