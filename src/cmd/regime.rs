//! `anodiff regime`: the step `t0` at which the MSD exponent of sliding windows changes, with
//! intervals and a test of "no change".

use crate::cmd::msd::{open_trajectory, progress};
use anodiff_core::regime::{RegimeOptions, RegimePlan};
use anyhow::{bail, Context};
use std::path::PathBuf;

const EXAMPLE: &str = "\
Examples:
  anodiff regime run.npy --window 1000 --stride 500
  anodiff regime store_dir/ --window 2000 --max-lag 200 --level 0.01

Prints {\"windows\":[{\"t_w\":..,\"alpha\":..,\"alpha_se\":..}],\"change\":{\"t0\":..,
\"t0_ci95\":[lo,hi],\"alpha_before\":..,\"alpha_before_ci95\":[lo,hi],\"alpha_after\":..,
\"alpha_after_ci95\":[lo,hi],\"p_value\":..}|null,\"level\":..,\"test_name\":..,\"test\":{..}}.
Each window's exponent and standard error are those of `anodiff msd` (log-spaced lags). The
exponents are modelled as Gaussian with their standard errors and the correlation of
overlapping windows (simulated for this window length, stride and lags); under a change at t0
the windows wholly before and wholly after have one exponent each and the ceil(T/S) windows
that may straddle t0 are free, so t0 is resolved to the stride. change is null unless the
likelihood-ratio test of no change, calibrated by simulation, rejects at --level; the t0
interval inverts the profile likelihood ratio with a bootstrap-calibrated cutoff, the exponent
intervals are bootstrap-t. The test needs 4 + ceil(T/S) windows.";

/// Arguments of `anodiff regime`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Trajectory: a 2-D .npy file (steps x d, f32 or f64) or a store directory.
    pub traj: PathBuf,
    /// Window length T in steps.
    #[arg(long)]
    pub window: usize,
    /// Start a window every S steps (default T/2).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Largest MSD lag: lags are limited to 1..min(T-1, L).
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Level of the test of no change: a change is reported when p < level.
    #[arg(long, default_value_t = 0.05)]
    pub level: f64,
    /// Seed of the simulations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.window < 2 {
        bail!("--window must be at least 2 steps, got {}", args.window);
    }
    let stride = args.stride.unwrap_or((args.window / 2).max(1));
    if stride == 0 {
        bail!("--stride must be at least 1");
    }
    if args.max_lag == Some(0) {
        bail!("--max-lag must be at least 1");
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must be in (0, 1), got {}", args.level);
    }
    let src = open_trajectory(&args.traj)?;
    let opts = RegimeOptions {
        level: args.level,
        seed: args.seed,
        ..RegimeOptions::default()
    };
    let plan = RegimePlan::new(src.n_steps(), args.window, Some(stride), args.max_lag, opts)
        .map_err(|e| anyhow::anyhow!("{}", flag_names(&e.to_string())))?;
    let pb = progress(plan.windows().len(), "regime");
    let mut ex = Vec::with_capacity(plan.windows().len());
    for &win in plan.windows() {
        ex.push(
            plan.exponent(src.as_ref(), win)
                .with_context(|| format!("window t_w = {}, T = {}", win.start, win.len))?,
        );
        pb.inc(1);
    }
    pb.set_message("regime: change test");
    let r = plan.finish(&ex)?;
    pb.finish_and_clear();
    crate::cmd::print_json(&r)
}

/// The core's advice names the settings as the library does; on the command line they are
/// flags.
fn flag_names(msg: &str) -> String {
    msg.replace(
        "a smaller stride, a shorter window",
        "a smaller --stride, a shorter --window",
    )
}
