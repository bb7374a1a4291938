//! `anodiff toy`: the simplified 2-D SGD model of the paper (eq. 6, Fig. 8).

use anodiff_core::fit::alternatives::{fit as fit_alternative, AltModel};
use anodiff_core::fit::{Estimator, Mle};
use anodiff_core::landscape::Landscape;
use anodiff_core::toy::{segment_exponent, simulate_each, Boundary, Start, ToyConfig, ToyRun};
use anodiff_core::vuong::{vuong, ModelComparison};
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `anodiff toy`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  \
    anodiff landscape generate --method diamond-square --size 257 --seed 1 -o ds.npy\n  \
    anodiff toy run --landscape ds.npy --seeds 20 --out runs/")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Run walkers w <- w - eta grad L(w) + eta sigma Z on a landscape over [-1, 1]^2 and print a
    /// JSON summary (t0, MSD exponents before and after t0, gradient statistics).
    #[command(after_help = "Outputs (with --out DIR):\n  \
        DIR/trajectories.npy  f64 array (seeds, steps + 1, 2): positions w_t = (x, y)\n  \
        DIR/gradients.npy     f64 array (seeds, steps + 1, 2): interpolated grad L at w_t\n  \
        DIR/losses.npy        f64 array (seeds, steps + 1): L(w_t)\n  \
        DIR/summary.json      the JSON summary also printed on stdout\n\
        Walker k uses seed SEED + k (ChaCha8). The landscape's axis 0 is x, axis 1 is y, and\n\
        both span [-1, 1]. The defaults eta = 0.02, sigma = 0.5 give the authors' per-step noise\n\
        eta * sigma = 0.01. With --protocol authors the walkers descend L = 10 - z (the file's\n\
        z inverted, as the authors' script), read the gradient at the next node up of a 1e-3\n\
        grid and redraw the noise up to 500 times at the border; a walker whose redraws all\n\
        fail is listed under \"dropped\" and left out of the outputs.\n\n\
        Examples:\n  \
        anodiff toy run --landscape ds.npy --eta 0.02 --sigma 0.5 --steps 1000 --seeds 20 --out runs/\n  \
        anodiff toy run --landscape ds.npy --protocol authors --seeds 20")]
    Run(RunArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum BoundaryArg {
    /// Mirror the step back into the square.
    Reflect,
    /// Clamp to the wall.
    Clamp,
    /// Stop with an error.
    Error,
    /// Redraw the noise up to 500 times (the authors' rule), then stop with an error.
    Redraw,
}

/// Which walker and landscape convention to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ProtocolArg {
    /// This crate's walker on L = z: interpolated gradient, reflecting walls by default.
    Anodiff,
    /// The authors' script: L = 10 - z, gradient at the next node up of a 1e-3 grid, up to 500
    /// noise redraws at the border (failing walkers are dropped).
    Authors,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Landscape: a square 2-D .npy array (f64 or f32), e.g. from `anodiff landscape generate`.
    #[arg(long)]
    landscape: PathBuf,
    /// Learning rate eta (> 0).
    #[arg(long, default_value_t = 0.02)]
    eta: f64,
    /// Noise scale sigma (>= 0); the per-step noise has standard deviation eta * sigma.
    #[arg(long, default_value_t = 0.5)]
    sigma: f64,
    /// Number of updates per walker.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Number of walkers.
    #[arg(long, default_value_t = 1)]
    seeds: usize,
    /// Seed of the first walker; walker k uses SEED + k.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Walker and landscape convention.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Anodiff)]
    protocol: ProtocolArg,
    /// What happens when a step leaves [-1, 1]^2 (default: reflect; redraw with --protocol
    /// authors).
    #[arg(long, value_enum)]
    boundary: Option<BoundaryArg>,
    /// Fixed start "x,y" in [-1, 1]^2 (default: uniform random per walker).
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    start: Option<[f64; 2]>,
    /// Directory for the trajectories, gradients, losses and summary.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != 2 {
        return Err(format!("expected \"x,y\", got {s:?}"));
    }
    let x = parts[0]
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("{s:?}: {e}"))?;
    let y = parts[1]
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("{s:?}: {e}"))?;
    Ok([x, y])
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Run(a) => run_toy(a),
    }
}

fn excess_kurtosis(v: &[f64]) -> Option<f64> {
    let n = v.len() as f64;
    if v.len() < 4 {
        return None;
    }
    let m = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (m2 > 0.0).then(|| m4 / (m2 * m2) - 3.0)
}

fn walker_summary(seed: u64, r: &ToyRun) -> serde_json::Value {
    let before = segment_exponent(&r.positions[..=r.t0]).ok();
    let after = segment_exponent(&r.positions[r.t0..]).ok();
    let last = r.positions[r.positions.len() - 1];
    serde_json::json!({
        "seed": seed,
        "t0": r.t0,
        "alpha_before_t0": before.as_ref().map(|f| f.slope),
        "alpha_before_t0_se": before.as_ref().map(|f| f.slope_se),
        "alpha_after_t0": after.as_ref().map(|f| f.slope),
        "alpha_after_t0_se": after.as_ref().map(|f| f.slope_se),
        "start": r.positions[0],
        "final_position": last,
        "final_loss": r.losses[r.losses.len() - 1],
        "boundary_events": r.boundary_events,
    })
}

/// Symmetric stable MLE of the pooled gradient components and Vuong's test against a normal
/// fit (the paper's Fig. 8(c) analysis). A fit that fails is reported as null with the reason,
/// without failing the run.
fn gradient_summary(g: &[f64]) -> serde_json::Value {
    let stable = Mle::new().symmetric().fit(g);
    let normal = fit_alternative(AltModel::Normal, g);
    let (stable_json, vuong_json, note) = match (&stable, &normal) {
        (Ok(sf), Ok(nf)) => {
            let v = vuong(&sf.ln_pdfs(g), &nf.ln_pdfs(g));
            let vj = match &v {
                // The normal is the stable law at alpha = 2: the decision is the boundary
                // likelihood-ratio test of the symmetric fit, not Vuong's z.
                Ok(v) => match ModelComparison::boundary_lr(v.llr, 0.05) {
                    Ok(d) => serde_json::json!({
                        "llr": v.llr,
                        "statistic": v.statistic,
                        "p_two_sided": v.p_two_sided,
                        "log10_p_two_sided": v.log10_p_two_sided,
                        "preferred": d.preferred,
                        "decided_by": d.decided_by,
                        "decision_p_value": d.p_value,
                        "level": d.level,
                    }),
                    Err(_) => serde_json::Value::Null,
                },
                Err(_) => serde_json::Value::Null,
            };
            let note = match v {
                Ok(_) => "symmetric stable MLE (beta = 0, S0) of both components of every gradient used in an update, all walkers pooled; the values are serially dependent, so the intervals and p-value are too narrow".to_string(),
                Err(e) => format!("Vuong test failed: {e}"),
            };
            (
                serde_json::json!({
                    "alpha": sf.alpha,
                    "beta": sf.beta,
                    "scale": sf.scale,
                    "loc": sf.loc,
                    "alpha_ci95": sf.ci95.alpha,
                    "loglik": sf.loglik,
                    "converged": sf.converged,
                }),
                vj,
                note,
            )
        }
        (Err(e), _) => (
            serde_json::Value::Null,
            serde_json::Value::Null,
            format!("stable fit failed: {e}"),
        ),
        (_, Err(e)) => (
            serde_json::Value::Null,
            serde_json::Value::Null,
            format!("normal fit failed: {e}"),
        ),
    };
    serde_json::json!({
        "n": g.len(),
        "excess_kurtosis": excess_kurtosis(g),
        "stable_fit": stable_json,
        "vuong_vs_normal": vuong_json,
        "note": note,
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

fn run_toy(a: RunArgs) -> anyhow::Result<()> {
    if a.seeds == 0 {
        anyhow::bail!("--seeds must be at least 1");
    }
    let z = super::landscape::read_landscape(&a.landscape)?;
    let authors = a.protocol == ProtocolArg::Authors;
    let z = if authors { z.mapv(|v| 10.0 - v) } else { z };
    let land = Landscape::new(z)
        .with_context(|| format!("{} is not a usable landscape", a.landscape.display()))?;
    let boundary = a.boundary.unwrap_or(if authors {
        BoundaryArg::Redraw
    } else {
        BoundaryArg::Reflect
    });
    let base = if authors {
        ToyConfig::authors()
    } else {
        ToyConfig::default()
    };
    let cfg = ToyConfig {
        eta: a.eta,
        sigma: a.sigma,
        steps: a.steps,
        boundary: match boundary {
            BoundaryArg::Reflect => Boundary::Reflect,
            BoundaryArg::Clamp => Boundary::Clamp,
            BoundaryArg::Error => Boundary::Error,
            BoundaryArg::Redraw => Boundary::Redraw { max_tries: 500 },
        },
        start: a.start.map_or(Start::Uniform, Start::At),
        ..base
    };
    cfg.check()?;
    let all_seeds: Vec<u64> = (0..a.seeds as u64)
        .map(|k| a.seed.wrapping_add(k))
        .collect();
    let bar = super::landscape::spinner(&format!("running {} walkers", all_seeds.len()));
    let outcomes = simulate_each(&land, &cfg, &all_seeds)?;
    bar.finish_and_clear();
    // Under the authors' protocol a walker whose border redraws all fail is dropped, as they
    // skipped such runs; under ours any failure is an error, since the user chose the rule.
    let mut seeds = Vec::new();
    let mut runs = Vec::new();
    let mut dropped = Vec::new();
    for (&s, o) in all_seeds.iter().zip(outcomes) {
        match o {
            Ok(r) => {
                seeds.push(s);
                runs.push(r);
            }
            Err(e) if authors => {
                dropped.push(serde_json::json!({ "seed": s, "error": e.to_string() }))
            }
            Err(e) => return Err(anyhow::anyhow!("walker with seed {s}: {e}")),
        }
    }
    if runs.is_empty() {
        anyhow::bail!(
            "every walker failed; the first: {}",
            dropped[0]["error"].as_str().unwrap_or_default()
        );
    }

    let walkers: Vec<serde_json::Value> = seeds
        .iter()
        .zip(&runs)
        .map(|(&s, r)| walker_summary(s, r))
        .collect();
    let pick = |key: &str| -> Vec<f64> { walkers.iter().filter_map(|w| w[key].as_f64()).collect() };
    let gradients: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.gradients_seen().iter().flat_map(|g| [g[0], g[1]]))
        .collect();
    let summary = serde_json::json!({
        "landscape": a.landscape,
        "size": land.size(),
        "eta": a.eta,
        "sigma": a.sigma,
        "noise_sd_per_step": a.eta * a.sigma,
        "steps": a.steps,
        "protocol": format!("{:?}", a.protocol).to_lowercase(),
        "landscape_inverted": authors,
        "gradient_rule": if authors { "next node up of a 1e-3 grid (the authors')" } else { "bilinear interpolation of central differences" },
        "boundary": format!("{boundary:?}").to_lowercase(),
        "t0_rule": "1 + last step farther than 4 RMS radii from the centre of the last 10% of the path",
        "msd_exponent_rule": "OLS slope of ln TAMSD vs ln lag, ~12 log-spaced lags in [1, len/4], per segment; se assumes independent lags (too small)",
        "median_t0": median(runs.iter().map(|r| r.t0 as f64).collect()),
        "median_alpha_before_t0": median(pick("alpha_before_t0")),
        "median_alpha_after_t0": median(pick("alpha_after_t0")),
        "walkers": walkers,
        "dropped": dropped,
        "gradients": gradient_summary(&gradients),
        "out": a.out,
    });
    if let Some(dir) = &a.out {
        write_outputs(dir, &runs, &summary)?;
    }
    crate::cmd::print_json(&summary)
}

fn write_outputs(
    dir: &std::path::Path,
    runs: &[ToyRun],
    summary: &serde_json::Value,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let k = runs.len();
    let n = runs[0].positions.len();
    let pos: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.positions.iter().flatten().copied())
        .collect();
    let grad: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.gradients.iter().flatten().copied())
        .collect();
    let loss: Vec<f64> = runs.iter().flat_map(|r| r.losses.iter().copied()).collect();
    let write = |name: &str, shape: &[usize], data: &[f64]| {
        let p = dir.join(name);
        anodiff_core::npy::write_f64(&p, shape, data)
            .with_context(|| format!("cannot write {}", p.display()))
    };
    write("trajectories.npy", &[k, n, 2], &pos)?;
    write("gradients.npy", &[k, n, 2], &grad)?;
    write("losses.npy", &[k, n], &loss)?;
    let p = dir.join("summary.json");
    std::fs::write(&p, serde_json::to_string_pretty(summary)? + "\n")
        .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(())
}
