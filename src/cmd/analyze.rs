//! `anodiff analyze`: every trajectory analysis on each window (MSD and exponents, MSL, contour
//! length and fractal dimension, loss fluctuations, gradient samples), as JSON and CSV.

use crate::cmd::msd::{
    analyse_window, fit_json, open_trajectory, parse_lags, parse_range, progress, windows,
};
use anodiff_core::exponent::MsdFitOptions;
use anodiff_core::msd::Window;
use anodiff_core::pathstats::{
    contour_with, gradient_sample, loss_fluctuations, msl_with, Binning, PairDistances,
    PathBootstrap,
};
use anodiff_core::regime::{regime_change, RegimeOptions, WindowExponent};
use anodiff_core::trajectory::{NpyTrajectory, TrajectorySource};
use anyhow::{bail, Context};
use serde_json::{json, Value};
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
    let opts = MsdFitOptions {
        fit_range,
        seed: args.seed,
        ..MsdFitOptions::default()
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
        out.push(analyse(
            src.as_ref(),
            win,
            &args,
            lags,
            msl_range,
            &opts,
            &mut t,
        )?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let regime = regime_json(&out, lags, args.max_lag, &opts, args.seed);
    let summary = json!({
        "trajectory": {
            "path": args.traj.display().to_string(),
            "n_steps": src.n_steps(),
            "dim": src.dim(),
            "gradient_dim": src.gradient_dim(),
        },
        "windows": out,
        "regime": regime,
    });
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

/// The regime change across the windows already fitted (`anodiff regime`'s object); when the
/// test cannot be run, the window exponents with `change` null and the reason.
fn regime_json(
    out: &[Value],
    lags: anodiff_core::msd::Lags,
    max_lag: Option<usize>,
    opts: &MsdFitOptions,
    seed: u64,
) -> Value {
    let ex: Vec<WindowExponent> = out
        .iter()
        .filter_map(|w| {
            Some(WindowExponent {
                t_w: w["t_w"].as_u64()? as usize,
                alpha: w["msd"]["alpha"].as_f64()?,
                alpha_se: w["msd"]["alpha_se"].as_f64()?,
            })
        })
        .collect();
    let len = out.first().and_then(|w| w["T"].as_u64()).unwrap_or(0) as usize;
    let ropts = RegimeOptions {
        seed,
        ..RegimeOptions::default()
    };
    let res = lags
        .resolve(len, max_lag)
        .and_then(|l| regime_change(&ex, len, &l, opts, &ropts));
    match res.map(|r| serde_json::to_value(&r)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => json!({ "windows": ex, "change": null, "error": e.to_string() }),
        Err(e) => json!({ "windows": ex, "change": null, "error": e.to_string() }),
    }
}

fn analyse(
    src: &dyn TrajectorySource,
    win: Window,
    args: &Args,
    lags: anodiff_core::msd::Lags,
    msl_range: Option<(f64, f64)>,
    opts: &MsdFitOptions,
    t: &mut Tables,
) -> anyhow::Result<Value> {
    let tw = win.start;
    let ctx = || format!("window t_w = {}, T = {}", win.start, win.len);
    let (m, fit) = analyse_window(src, win, lags, args.max_lag, args.blocks, opts)?;
    for (l, v) in m.lags.iter().zip(&m.msd) {
        let _ = writeln!(t.msd, "{tw},{},{l},{v:e}", win.len);
    }
    for s in &fit.local {
        let _ = writeln!(t.local, "{tw},{},{}", s.tau, s.alpha);
    }
    let mut msd_json = fit_json(&fit);
    msd_json["power_law"] = serde_json::to_value(&fit.power_law)?;
    msd_json["segmented"] = serde_json::to_value(&fit.segmented)?;
    msd_json["p_one_vs_two"] = serde_json::to_value(fit.p_one_vs_two)?;
    msd_json["two_power"] = serde_json::to_value(&fit.two_power)?;

    let losses = src.losses(win.steps()).with_context(ctx)?;
    let (contour_json, msl_json) = if win.len <= args.max_pair_window {
        let pd = PairDistances::compute(src, win).with_context(ctx)?;
        let boot = PathBootstrap {
            seed: args.seed ^ tw as u64,
            ..PathBootstrap::default()
        };
        let contour_json = match contour_with(&pd, args.bins, None, &boot) {
            Ok(c) => {
                for b in &c.bins {
                    let _ = writeln!(
                        t.contour,
                        "{tw},{},{},{},{},{}",
                        b.lo, b.hi, b.x, b.y, b.count
                    );
                }
                serde_json::to_value(json!({
                    "lambda": c.lambda.exponent,
                    "lambda_se": c.lambda.se,
                    "lambda_ci95": c.lambda.ci95,
                    "se_method": c.lambda.se_method,
                    "fractal_dim": c.fractal_dim,
                    "fractal_dim_ci95": c.fractal_dim_ci95,
                    "crossover": c.crossover,
                    "p_one_vs_two": c.p_one_vs_two,
                }))?
            }
            Err(e) => json!({ "error": e.to_string() }),
        };
        let msl_json = match &losses {
            Some(l) => {
                let mut res = serde_json::Map::new();
                for (name, b) in [
                    ("log", Binning::Log(args.bins)),
                    ("linear", Binning::Linear(args.bins)),
                ] {
                    let r = msl_with(&pd, l, b, msl_range, &boot).with_context(ctx)?;
                    for bin in &r.bins {
                        let _ = writeln!(
                            t.msl,
                            "{tw},{name},{},{},{},{},{}",
                            bin.lo, bin.hi, bin.x, bin.y, bin.count
                        );
                    }
                    res.insert(
                        name.into(),
                        json!({
                            "exponent_2h": r.fit.as_ref().map(|f| f.exponent),
                            "exponent_se": r.fit.as_ref().map(|f| f.se),
                            "exponent_ci95": r.fit.as_ref().map(|f| f.ci95),
                            "se_method": r.fit.as_ref().map(|f| f.se_method.clone()),
                            "hurst": r.hurst,
                        }),
                    );
                }
                Value::Object(res)
            }
            None => Value::Null,
        };
        (contour_json, msl_json)
    } else {
        let skipped = json!({ "skipped": format!("window longer than --max-pair-window {}", args.max_pair_window) });
        (
            skipped.clone(),
            if losses.is_some() {
                skipped
            } else {
                Value::Null
            },
        )
    };

    let loss_json = match &losses {
        Some(l) if win.len >= 2 => {
            let mw = args.moving_window.min(win.len).max(2);
            let f = loss_fluctuations(l, mw).with_context(ctx)?;
            for k in 0..win.len {
                let ad = if k + 1 < win.len {
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
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            json!({
                "mean_abs_dloss": mean(&f.abs_diff),
                "mean_moving_var": mean(&f.moving_var),
                "moving_window": mw,
            })
        }
        _ => Value::Null,
    };

    let grad_json = if src.gradient_dim() > 0 && args.grad_samples > 0 {
        let s = gradient_sample(src, win, args.grad_samples, args.seed ^ tw as u64)
            .with_context(ctx)?;
        for v in &s {
            let _ = writeln!(t.grad, "{tw},{v}");
        }
        let n = s.len() as f64;
        let mu = s.iter().sum::<f64>() / n;
        let sd = (s.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        json!({ "n_samples": s.len(), "mean": mu, "sd": sd })
    } else {
        Value::Null
    };

    Ok(json!({
        "t_w": win.start,
        "T": win.len,
        "msd": msd_json,
        "contour": contour_json,
        "msl": msl_json,
        "loss": loss_json,
        "gradients": grad_json,
    }))
}
