//! `anodiff reproduce`: the paper's experiments in one command.
//!
//! At `--scale demo` (the default) it runs, with fixed seeds and on the bundled UCI digits:
//! - the Fig. 8 toy model on a fractal, a convex and a shuffled-smoothed landscape (MSD exponents
//!   before and after the final-basin entry `t0`, stable fits of the gradient components with a
//!   Vuong test against the normal) and the fractal dimensions of the fractal landscape;
//! - a small ResNet and its no-shortcut twin trained with vanilla SGD and recorded every step,
//!   with every analysis of the paper on the recorded trajectories (MSD per window with
//!   exponents and crossovers, the regime change `t0`, stable fits of the gradients on each side
//!   of it, MSL, contour length, loss fluctuations), top Hessian eigenvalues at checkpoints, a
//!   filter-normalised loss surface with its dimensions, and batch-size, depth and
//!   learning-rate sweeps (Figs. 2-7);
//! - the figures, `summary.json`, `report.html` with a verdict per claim, and a table on stdout.
//!
//! `--scale small|paper` run the same pipeline with the paper's networks and CIFAR-10 on a GPU
//! build; `--config FILE.toml` overrides any setting of the preset.
//!
//! Every stage is cached in `OUT/stages/NAME.json` under a SHA-256 key of its settings and
//! inputs, so a rerun after a kill skips finished stages, and a killed training run resumes bit
//! for bit from its last checkpoint; `OUT/summary.json` gathers them. The figures
//! (`OUT/figures/*.png|svg`) and `OUT/report.html` are drawn on every run from the stage
//! results, so a resumed run always ends with every figure.
//!
//! The training runs can come from elsewhere: `--list-runs` prints each run the configuration
//! needs with its `anodiff train` arguments, and `--runs DIR` reads them from `DIR/NAME`
//! instead of training them, after checking that each is finished and was trained with the
//! settings asked for. Every later stage is the same, so the verdicts are those of a run that
//! trained them here.

use crate::report::figures::{self as figs, Histogram, ToyLandscape};
use crate::report::html::{self, FigureRef};
use crate::report::plot::{self, Grid, Series};
use anodiff_core::fit::alternatives::{self, AltModel};
use anodiff_core::fit::{Estimator, Mle};
use anodiff_core::fractal::{level_set_dimension, surface_dimension, BoxCountConfig};
use anodiff_core::fractal::{SurfaceDimConfig, SurfaceMethod};
use anodiff_core::landscape::{
    cone, diamond_square, shuffle_smooth, DiamondSquareConfig, Landscape, ShuffleSmoothConfig,
};
use anodiff_core::stable::{Param, Stable};
use anodiff_core::toy::{log_lags, simulate_each, tamsd, Start, ToyConfig, ToyRun};
use anodiff_core::vuong::vuong;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub(crate) mod claim;
mod config;
mod network;
mod network_report;
mod network_rules;
pub(crate) mod toy_claims;

use claim::Claim;
pub use config::Scale;
use config::{scale_name, Config, ToyProtocol, ToySettings};

/// Version of the `summary.json` layout; bump it when a field changes meaning.
/// 2: network stages (`network`), per-stage settings, `config` holds every section.
/// 3: typed claims (`Claim`: a test with estimate, interval, p-value and level per claim, the
/// per-seed values, Holm-adjusted p-values), network runs per seed, `reading`.
const SCHEMA_VERSION: u32 = 3;

/// `summary.json` (see SUMMARY_SCHEMA.md).
#[derive(serde::Serialize)]
struct Summary {
    /// [`SCHEMA_VERSION`].
    schema_version: u32,
    /// The version of the program that wrote it.
    anodiff_version: &'static str,
    /// The `--scale`.
    scale: &'static str,
    /// Every resolved setting.
    config: Config,
    /// The predicted cost.
    estimate: network_report::Estimate,
    /// The generated toy landscapes.
    landscapes: Value,
    /// The toy stages' numbers.
    toy: serde_json::Map<String, Value>,
    /// Dimensions of the fractal toy landscape.
    dimensions: Value,
    /// The network stages' numbers.
    network: Option<Value>,
    /// How the claims' tests are read together.
    reading: String,
    /// One test per claim.
    claims: Vec<Claim>,
}

/// Revision of what the stages compute, hashed into every stage key: bump it when a stage's
/// code changes its result, so caches written by an older build are recomputed, not trusted.
const STAGE_REVISION: u32 = 4;

/// Arguments of `anodiff reproduce`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    anodiff reproduce                      # demo scale on the bundled data, writes anodiff-report/\n  \
    anodiff reproduce --out /tmp/report --seed 7\n  \
    anodiff reproduce --config tiny.toml   # the demo preset with some settings changed\n  \
    anodiff reproduce --scale small --cifar10 data/cifar-10-batches-bin   # a GPU build, hours\n  \
    anodiff reproduce --scale mnist --mnist data/mnist   # full MNIST on 2 CPU cores, under an hour\n  \
    anodiff reproduce --scale small --cifar10 D --list-runs > runs.json   # train these elsewhere,\n  \
    anodiff reproduce --scale small --cifar10 D --runs /shared/runs       # then analyse them here\n\n\
    Rerunning the same command after an interruption skips the stages already finished\n\
    (a stage reruns when its settings or inputs changed) and resumes a killed training run.\n\
    A --config TOML file overrides the preset key by key, e.g.\n  \
    [network]\n  epochs = 5\n  models = [\"resnet8\", \"resnet8-noshort\"]\n  [sweeps]\n  enabled = false\n\
    The sections and keys are those of `config` in summary.json.")]
pub struct Args {
    /// How much to run: `demo` (bundled UCI digits, CPU, under 10 minutes on 2 cores), `mnist`
    /// (the full MNIST, CPU, under an hour on 2 cores; needs --mnist), `small` (ResNet-14 with
    /// and without shortcuts on CIFAR-10, GPU, hours) or `paper` (the paper's settings: 500
    /// epochs, every depth and sweep; GPU, weeks; asks for --yes).
    #[arg(long, value_enum, default_value_t = Scale::Demo)]
    scale: Scale,
    /// TOML file whose keys override the scale's preset.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// CIFAR-10 binary batches (`data_batch_1.bin` ..), for --scale small and paper.
    #[arg(long, value_name = "DIR")]
    cifar10: Option<PathBuf>,
    /// MNIST IDX files (`train-images-idx3-ubyte[.gz]` ..), for --scale mnist.
    #[arg(long, value_name = "DIR")]
    mnist: Option<PathBuf>,
    /// Output directory for `summary.json`, `figures/`, `report.html`, the runs and the stages.
    #[arg(long, default_value = "anodiff-report")]
    out: PathBuf,
    /// Base seed of every random choice (landscapes, walkers, initial weights, data order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start a --scale paper run after printing its estimated time and disk use.
    #[arg(long)]
    yes: bool,
    /// Read the training runs from DIR/NAME instead of training them (runs trained elsewhere,
    /// e.g. on a cluster with `anodiff.dask.train_many` or a SLURM array). Each must be finished
    /// and trained with the settings this configuration asks for; the device, the checkpoint
    /// interval and the dataset's directory may differ. The analyses, verdicts and report are
    /// those of a run that trained them itself.
    #[arg(long, value_name = "DIR", conflicts_with = "list_runs")]
    runs: Option<PathBuf>,
    /// Print the training runs this configuration needs (one JSON object: per run its NAME, the
    /// `anodiff train` arguments, and the same options as a table) and exit, to train them
    /// elsewhere and come back with --runs.
    #[arg(long)]
    list_runs: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = Config::preset(
        args.scale,
        args.seed,
        args.cifar10.as_deref(),
        args.mnist.as_deref(),
    )?;
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --config {}", path.display()))?;
        cfg = cfg.with_overrides(&text, path)?;
    }
    cfg.validate()?;
    if args.list_runs {
        println!(
            "{}",
            serde_json::to_string_pretty(&network::list_runs(&cfg)?)?
        );
        return Ok(());
    }
    if let Some(dir) = &args.runs {
        network::check_given(&cfg, dir)?;
    }
    let estimate = network_report::estimate(&cfg)?;
    // The estimate is of training: runs trained elsewhere need no confirmation.
    if args.scale == Scale::Paper && !args.yes && args.runs.is_none() {
        eprintln!("{}", estimate.describe());
        anyhow::bail!(
            "--scale paper is a long GPU job (estimate above); rerun with --yes to start it"
        );
    }
    if args.scale != Scale::Demo {
        eprintln!("{}", estimate.describe());
    }
    let stages_dir = args.out.join("stages");
    std::fs::create_dir_all(&stages_dir)
        .with_context(|| format!("creating {}", stages_dir.display()))?;
    let cache = StageCache { dir: stages_dir };

    let toy_key = json!({ "seed": cfg.seed, "toy": cfg.toy });
    let landscapes = cache.run("landscapes", &toy_key, || {
        make_landscapes(&cfg.toy, cfg.seed, &args.out)
    })?;
    let mut toy = serde_json::Map::new();
    for name in ["fractal", "convex", "shuffled"] {
        let file = landscapes[name]["file"]
            .as_str()
            .context("landscape stage result lacks a file")?
            .to_string();
        let key = json!({ "toy": toy_key, "landscape": landscapes[name] });
        let result = cache.run(&format!("toy-{name}"), &key, || {
            toy_stage(&cfg.toy, cfg.seed, name, Path::new(&file), &args.out)
        })?;
        toy.insert(name.to_string(), result);
    }
    let fractal_file = landscapes["fractal"]["file"]
        .as_str()
        .context("landscape stage result lacks a file")?
        .to_string();
    let dims = cache.run("dimensions", &landscapes["fractal"], || {
        dimension_stage(Path::new(&fractal_file))
    })?;

    let net = if cfg.network.enabled {
        Some(network::run_all(
            &cache,
            &args.out,
            &cfg,
            args.runs.as_deref(),
        )?)
    } else {
        None
    };

    let mut claims: Vec<Claim> = claims(&toy, &dims);
    claims.extend(network_report::claims(net.as_ref(), &cfg));
    claim::adjust_holm(&mut claims);
    // The plotting data stay in the stage files; the summary keeps the numbers.
    let toy_numbers: serde_json::Map<String, Value> = toy
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("plot");
            }
            (k.clone(), v)
        })
        .collect();
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        anodiff_version: env!("CARGO_PKG_VERSION"),
        scale: scale_name(args.scale),
        config: cfg.clone(),
        estimate,
        landscapes: landscapes.clone(),
        toy: toy_numbers,
        dimensions: dims.clone(),
        network: net.as_ref().map(network_report::summary_numbers),
        reading: claim::READING.to_string(),
        claims,
    };
    write_atomic(
        &args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let summary_value = serde_json::to_value(&summary)?;
    let mut figures = write_figures(&args.out, &landscapes, &toy)?;
    if let Some(n) = &net {
        figures.extend(network_report::write_figures(&args.out, n, &cfg)?);
    }
    let report = html::write_report(&args.out, &summary_value, &figures)?;
    print_table(&summary.claims, &args.out);
    println!("report: {}", report.display());
    Ok(())
}

/// Per-stage results on disk, keyed by a hash of the stage name, the stage's settings and
/// inputs, and the program version, so a changed setting reruns exactly the stages it feeds.
struct StageCache {
    dir: PathBuf,
}

impl StageCache {
    fn key(&self, name: &str, config: &Value) -> String {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(config.to_string().as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(STAGE_REVISION.to_le_bytes());
        hex(&h.finalize())
    }

    /// The stored result of `name` when its key matches.
    fn cached(&self, name: &str, key: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.join(format!("{name}.json"))).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        (v["key"] == Value::String(key.to_string())).then(|| v["result"].clone())
    }

    fn store(&self, name: &str, key: &str, result: &Value) -> anyhow::Result<()> {
        let record = json!({ "key": key, "result": result });
        write_atomic(
            &self.dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(&record)?.as_bytes(),
        )
    }

    /// Runs a stage under a spinner (for stages without a progress bar of their own).
    fn run(
        &self,
        name: &str,
        config: &Value,
        f: impl FnOnce() -> anyhow::Result<Value>,
    ) -> anyhow::Result<Value> {
        self.run_with(name, config, true, f)
    }

    /// Runs a stage that draws its own progress bar.
    fn run_quiet(
        &self,
        name: &str,
        config: &Value,
        f: impl FnOnce() -> anyhow::Result<Value>,
    ) -> anyhow::Result<Value> {
        self.run_with(name, config, false, f)
    }

    fn run_with(
        &self,
        name: &str,
        config: &Value,
        spinner: bool,
        f: impl FnOnce() -> anyhow::Result<Value>,
    ) -> anyhow::Result<Value> {
        let key = self.key(name, config);
        if let Some(v) = self.cached(name, &key) {
            eprintln!("stage {name}: finished earlier, skipped");
            return Ok(v);
        }
        let bar = if spinner {
            let bar = ProgressBar::new_spinner().with_message(format!("stage {name}"));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        } else {
            eprintln!("stage {name}: running");
            ProgressBar::hidden()
        };
        let result = f().with_context(|| format!("stage {name}"));
        bar.finish_and_clear();
        let result = result?;
        self.store(name, &key, &result)?;
        eprintln!("stage {name}: done");
        Ok(result)
    }
}

/// Writes through a temporary file and a rename, so a kill never leaves a half-written result
/// that a rerun would trust.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn make_landscapes(cfg: &ToySettings, seed: u64, out: &Path) -> anyhow::Result<Value> {
    let dir = out.join("landscapes");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let ds = DiamondSquareConfig {
        size: cfg.landscape_size,
        roughness: cfg.roughness,
        ..Default::default()
    };
    let fractal = diamond_square(&ds, &mut rng)?;
    let convex = cone(cfg.landscape_size, cfg.cone_slope)?;
    let shuffled = shuffle_smooth(
        &fractal,
        &ShuffleSmoothConfig {
            sigma: cfg.shuffle_sigma,
        },
        &mut rng,
    )?;
    let mut result = serde_json::Map::new();
    for (name, z, how) in [
        (
            "fractal",
            &fractal,
            "diamond-square (uniform noise, amplitude halved per level)",
        ),
        ("convex", &convex, "cone (the authors' convex landscape)"),
        (
            "shuffled",
            &shuffled,
            "the fractal landscape's pixels shuffled, then Gaussian-blurred",
        ),
    ] {
        let file = dir.join(format!("{name}.npy"));
        write_npy(&file, z)?;
        // The content hash makes every stage that reads the file depend on what is in it.
        result.insert(
            name.to_string(),
            json!({
                "file": file.to_string_lossy(),
                "sha256": file_sha256(&file)?,
                "method": how,
                "size": z.nrows(),
            }),
        );
    }
    Ok(Value::Object(result))
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's bytes, in hex.
fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn write_npy(path: &Path, z: &Array2<f64>) -> anyhow::Result<()> {
    let tmp = path.with_extension("npy.tmp");
    ndarray_npy::write_npy(&tmp, z).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Median of finite values, or `None` when there are none.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        0.5 * (v[m - 1] + v[m])
    } else {
        v[m]
    })
}

/// The walker settings and whether the landscape is inverted (`L = 10 - z`) for one toy
/// landscape under the configured protocol.
fn toy_walker(cfg: &ToySettings, name: &str) -> (ToyConfig, bool) {
    let base = match cfg.protocol {
        ToyProtocol::Authors => ToyConfig::authors(),
        ToyProtocol::Anodiff => ToyConfig::default(),
    };
    // The authors started the convex run in a corner so that every walker has a descent; their
    // cone was built as z = 1 - r so that L = 10 - z is convex: ours is L already.
    let start = if name == "convex" {
        Start::At([-1.0, -1.0])
    } else {
        Start::Uniform
    };
    let invert = cfg.protocol == ToyProtocol::Authors && name != "convex";
    (
        ToyConfig {
            eta: cfg.eta,
            sigma: cfg.sigma,
            steps: cfg.steps,
            start,
            ..base
        },
        invert,
    )
}

/// The walkers on one landscape: per-walker `t0` and MSD exponents (before and after `t0`, and
/// of the whole run), the pooled gradient components (written to `OUT/toy/NAME-gradients.npy`
/// for Fig. 8c) with their stable and normal fits, and the plotting data. Walkers that fail
/// (every border redraw of a step left the grid, under the authors' rule) are listed and left
/// out, as the authors skipped such runs.
fn toy_stage(
    cfg: &ToySettings,
    seed: u64,
    name: &str,
    landscape: &Path,
    out: &Path,
) -> anyhow::Result<Value> {
    let z: Array2<f64> = ndarray_npy::read_npy(landscape)
        .with_context(|| format!("reading {}", landscape.display()))?;
    let (tc, invert) = toy_walker(cfg, name);
    let land = Landscape::new(if invert { z.mapv(|v| 10.0 - v) } else { z })?;
    let seeds: Vec<u64> = (0..cfg.walkers as u64).map(|k| seed + k).collect();
    let mut runs = Vec::new();
    let mut dropped = Vec::new();
    for (s, outcome) in seeds.iter().zip(simulate_each(&land, &tc, &seeds)?) {
        match outcome {
            Ok(r) => runs.push(r),
            Err(e) => dropped.push(json!({ "seed": s, "error": e.to_string() })),
        }
    }
    let stretches = |part: &dyn Fn(&ToyRun) -> &[[f64; 2]]| -> Vec<Option<f64>> {
        let s: Vec<&[[f64; 2]]> = runs.iter().map(part).collect();
        toy_claims::walker_exponents(&s)
    };
    let before = stretches(&|r| &r.positions[..=r.t0]);
    let after = stretches(&|r| &r.positions[r.t0..]);
    let whole = stretches(&|r| &r.positions[..]);
    let t0: Vec<usize> = runs.iter().map(|r| r.t0).collect();
    // Gradient components of every walker's updates, pooled: the sample the paper fits.
    let grads: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.gradients_seen().iter().flat_map(|g| [g[0], g[1]]))
        .collect();
    let dir = out.join("toy");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let grad_file = dir.join(format!("{name}-gradients.npy"));
    anodiff_core::npy::write_f64(&grad_file, &[grads.len()], &grads)
        .with_context(|| format!("writing {}", grad_file.display()))?;
    let flat = |v: &[Option<f64>]| median(v.iter().flatten().copied().collect());
    let plot = toy_plot_data(&runs, &grads);
    Ok(json!({
        "protocol": cfg.protocol,
        "inverted_landscape": invert,
        "walkers": cfg.walkers,
        "walkers_kept": runs.len(),
        "walkers_dropped": dropped,
        "steps": cfg.steps,
        "t0": t0,
        "t0_median": median(t0.iter().map(|&t| t as f64).collect()),
        "alpha_msd_before_t0": before,
        "alpha_msd_after_t0": after,
        "alpha_msd_whole": whole,
        "alpha_msd_before_t0_median": flat(&before),
        "alpha_msd_after_t0_median": flat(&after),
        "alpha_msd_whole_median": flat(&whole),
        "gradients": toy_gradient_summary(&grads),
        "gradients_file": grad_file.to_string_lossy(),
        "gradients_sha256": file_sha256(&grad_file)?,
        "plot": plot,
    }))
}

/// The symmetric stable and normal fits of the pooled gradient components and the boundary
/// likelihood-ratio test between them ([`toy_claims::heavy_tail_evidence`]); a failure is a
/// result (a walker stuck on a plateau gives a degenerate sample), reported with its reason.
fn toy_gradient_summary(x: &[f64]) -> Value {
    match toy_claims::heavy_tail_evidence(x) {
        Ok(h) => json!({
            "n": x.len(),
            "stable": h.stable,
            "normal": { "mean": h.normal_mean, "sd": h.normal_sd, "loglik": h.normal_loglik },
            "llr": h.stable.loglik - h.normal_loglik,
            "stable_vs_normal": h.comparison,
        }),
        Err(e) => json!({ "n": x.len(), "error": e.to_string() }),
    }
}

/// What the Fig. 8 and Fig. 5a figures need, kept in the stage file so that figures can be
/// redrawn without rerunning the walkers: the first walker's path, the walkers' mean
/// time-averaged MSD before and after `t0` and over the whole run, and histograms of the pooled
/// gradient components for Fig. 5a (Fig. 8c bins the three landscapes' gradient files together,
/// see [`toy_claims::shared_histograms`]).
fn toy_plot_data(runs: &[ToyRun], grads: &[f64]) -> Value {
    let first = runs.first();
    let mean_msd = |part: &dyn Fn(&ToyRun) -> &[[f64; 2]]| {
        // The same walkers at every lag (a walker dropping out would make the mean jump): lags
        // up to a quarter of the median stretch, as in segment_exponent, averaged over the
        // walkers whose stretch is at least that long.
        let max_lag = median(runs.iter().map(|r| part(r).len() as f64).collect())
            .map_or(0, |m| (m / 4.0) as usize);
        let lags = log_lags(max_lag, 24);
        let mut sum = vec![0.0; lags.len()];
        let mut walkers = 0usize;
        for r in runs.iter().filter(|r| part(r).len() / 4 >= max_lag) {
            for (s, v) in sum.iter_mut().zip(tamsd(part(r), &lags)) {
                *s += v;
            }
            walkers += 1;
        }
        let msd: Vec<f64> = sum.iter().map(|s| s / walkers.max(1) as f64).collect();
        let lag: Vec<f64> = lags.iter().map(|&l| l as f64).collect();
        json!({ "lag": lag, "msd": msd, "walkers": walkers })
    };
    let mut sorted: Vec<f64> = grads.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    // The central 99 % for the linear histogram (the extreme tail is the right panel's job).
    let central = figs::histogram(grads, 81, q(0.005), q(0.995));
    let tail = figs::log_histogram(grads, 30);
    let hist = |h: &Histogram| json!({ "centres": h.centres, "density": h.density });
    json!({
        "path": first.map(|r| r.positions.clone()).unwrap_or_default(),
        "path_t0": first.map(|r| r.t0),
        "msd_before_t0": mean_msd(&|r: &ToyRun| &r.positions[..=r.t0]),
        "msd_after_t0": mean_msd(&|r: &ToyRun| &r.positions[r.t0..]),
        "msd_whole": mean_msd(&|r: &ToyRun| &r.positions[..]),
        "gradient_hist": hist(&central),
        "gradient_tail": hist(&tail),
    })
}

/// Stable MLE of the gradient components and a Vuong test against the normal; errors become a
/// `null` with the reason, since a degenerate sample (a walker stuck on a plateau) is a result.
fn heavy_tail_summary(x: &[f64]) -> Value {
    let stable = match Mle::new().fit(x) {
        Ok(f) => f,
        Err(e) => return json!({ "n": x.len(), "error": e.to_string() }),
    };
    let normal = match alternatives::fit(AltModel::Normal, x) {
        Ok(f) => f,
        Err(e) => return json!({ "n": x.len(), "stable": stable, "error": e.to_string() }),
    };
    let test = vuong(&stable.ln_pdfs(x), &normal.ln_pdfs(x));
    json!({
        "n": x.len(),
        "stable": stable,
        "normal": { "mean": normal.loc, "sd": normal.scale, "loglik": normal.loglik },
        "vuong_vs_normal": match test {
            Ok(t) => json!({
                "llr": t.llr,
                "statistic": t.statistic,
                "log10_p_two_sided": t.log10_p_two_sided,
            }),
            Err(e) => json!({ "error": e.to_string() }),
        },
    })
}

fn dimension_stage(landscape: &Path) -> anyhow::Result<Value> {
    let z: Array2<f64> = ndarray_npy::read_npy(landscape)
        .with_context(|| format!("reading {}", landscape.display()))?;
    let variogram = surface_dimension(z.view(), &SurfaceDimConfig::new(SurfaceMethod::Variogram))?;
    let madogram = surface_dimension(z.view(), &SurfaceDimConfig::new(SurfaceMethod::Madogram))?;
    let level = level_set_dimension(z.view(), None, &BoxCountConfig::default())?;
    Ok(json!({
        "surface_variogram": { "dimension": variogram.dimension, "ci95": variogram.ci95 },
        "surface_madogram": { "dimension": madogram.dimension, "ci95": madogram.ci95 },
        "level_set_boxcount": {
            "level": level.level,
            "dimension": level.boxcount.dimension,
            "ci95": level.boxcount.ci95,
        },
    }))
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The toy-model and landscape-dimension claims, each a stated test ([`toy_claims`]) on the
/// stage results: the per-walker exponents, the gradient fits and the level-set dimension.
fn claims(toy: &serde_json::Map<String, Value>, dims: &Value) -> Vec<Claim> {
    let per_walker = |land: &str, key: &str| -> Vec<Option<f64>> {
        toy.get(land)
            .and_then(|v| v[key].as_array())
            .map(|a| a.iter().map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let pair = |v: &Value| -> Option<[f64; 2]> {
        let a = v.as_array()?;
        Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?])
    };
    let g = toy
        .get("fractal")
        .map(|v| v["gradients"].clone())
        .unwrap_or(Value::Null);
    let why = g["error"]
        .as_str()
        .unwrap_or("no gradient fit in the stage result")
        .to_string();
    let comparison: Option<anodiff_core::vuong::ModelComparison> =
        serde_json::from_value(g["stable_vs_normal"].clone()).ok();
    let alpha = g["stable"]["alpha"]
        .as_f64()
        .map(|a| (a, pair(&g["stable"]["ci95"]["alpha"])));
    let ls = &dims["level_set_boxcount"];
    let level = ls["dimension"].as_f64().zip(pair(&ls["ci95"]));
    let level_why = ls["error"]
        .as_str()
        .unwrap_or("no level-set dimension in the stage result")
        .to_string();
    let mut out = vec![
        toy_claims::superdiffusive_before_t0(&per_walker("fractal", "alpha_msd_before_t0")),
        toy_claims::subdiffusive_after_t0(&per_walker("fractal", "alpha_msd_after_t0")),
        toy_claims::stable_beats_normal(comparison.as_ref().ok_or(why.as_str())),
        toy_claims::heavy_tailed(alpha.ok_or(why.as_str())),
        toy_claims::convex_near_ballistic(&per_walker("convex", "alpha_msd_before_t0")),
        toy_claims::shuffled_subdiffusive(&per_walker("shuffled", "alpha_msd_whole")),
    ];
    let protocol = toy
        .get("fractal")
        .and_then(|v| v["protocol"].as_str())
        .unwrap_or("unknown")
        .to_string();
    for c in &mut out {
        c.note = format!(
            "{}; walkers run with the {protocol} protocol on one unselected landscape (the \
             paper showed one hand-picked landscape and run)",
            c.note
        );
    }
    out.push(toy_claims::level_set_fractal(
        level.ok_or(level_why.as_str()),
    ));
    out
}

/// The verdict table on stdout: each claim's verdict with its test, estimate, interval and
/// p-value, and the per-seed median and spread.
fn print_table(claims: &[Claim], out: &Path) {
    println!(
        "{:<62} {:>13} {:>8} {:>21} {:>9} {:>9}  {:<24} seeds: median [min, max]",
        "claim", "verdict", "estimate", "ci95", "p", "p_holm", "hypothesis"
    );
    let f = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    let g = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.2e}"));
    for c in claims {
        let short: String = c.claim.chars().take(62).collect();
        let ci = c
            .test
            .ci95
            .map_or_else(|| "-".to_string(), |[a, b]| format!("[{a:.3}, {b:.3}]"));
        let seeds = match (c.median, c.spread) {
            (Some(m), Some([lo, hi])) => {
                format!("{} x: {m:.3} [{lo:.3}, {hi:.3}]", c.replicates)
            }
            _ => format!("{} x", c.replicates),
        };
        let hyp: String = c.test.hypothesis.chars().take(24).collect();
        println!(
            "{short:<62} {:>13} {:>8} {ci:>21} {:>9} {:>9}  {hyp:<24} {seeds}",
            c.verdict.word(),
            f(c.test.estimate),
            g(c.test.p_value),
            g(c.p_holm),
        );
    }
    println!(
        "each test at level {}; p_holm: Holm-adjusted over the tested claims",
        claim::LEVEL
    );
    println!("full results: {}", out.join("summary.json").display());
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

fn stored_hist(v: &Value) -> Histogram {
    Histogram {
        centres: floats(&v["centres"]),
        density: floats(&v["density"]),
    }
}

fn stored_path(v: &Value) -> Vec<[f64; 2]> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some([p.get(0)?.as_f64()?, p.get(1)?.as_f64()?]))
                .collect()
        })
        .unwrap_or_default()
}

/// Bins of the Fig. 8c densities (odd, so that 0 is a bin centre).
const GRADIENT_BINS: usize = 81;

/// Fraction of each landscape's gradient components inside the Fig. 8c range.
const GRADIENT_COVERAGE: f64 = 0.995;

/// The landscape's display name and the walkers' start rule, for captions.
const LANDS: [(&str, &str); 3] = [
    ("fractal", "fractal (diamond-square)"),
    ("convex", "convex (cone)"),
    ("shuffled", "shuffled and smoothed"),
];

/// Draws every figure the demo's stages support into `OUT/figures/` from the stage results.
fn write_figures(
    out: &Path,
    landscapes: &Value,
    toy: &serde_json::Map<String, Value>,
) -> anyhow::Result<Vec<FigureRef>> {
    let dir = out.join("figures");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let plot_of = |name: &str| -> anyhow::Result<&Value> {
        let p = &toy
            .get(name)
            .with_context(|| format!("no toy stage result for {name}"))?["plot"];
        anyhow::ensure!(
            p.is_object(),
            "the {name} toy stage result lacks its plot data"
        );
        Ok(p)
    };
    let mut refs = Vec::new();
    let mut save = |stem: &str, fig: &plot::Figure, title: &str, caption: &str| {
        plot::save(fig, &dir.join(stem)).with_context(|| format!("drawing figure {stem}"))?;
        refs.push(FigureRef {
            stem: stem.into(),
            title: title.into(),
            caption: caption.into(),
        });
        anyhow::Ok(())
    };

    // Fig. 8a/e: each landscape with the first walker's path.
    let mut panels = Vec::new();
    for (name, label) in LANDS {
        let file = landscapes[name]["file"]
            .as_str()
            .context("landscape stage result lacks a file")?;
        let z: Array2<f64> =
            ndarray_npy::read_npy(file).with_context(|| format!("reading {file}"))?;
        let (nx, ny) = z.dim();
        let p = plot_of(name)?;
        panels.push(ToyLandscape {
            name: label.into(),
            grid: Grid {
                nx,
                ny,
                z: z.iter().copied().collect(),
                x_range: (-1.0, 1.0),
                y_range: (-1.0, 1.0),
            },
            path: stored_path(&p["path"]),
            t0: p["path_t0"].as_u64().map(|t| t as usize),
        });
    }
    save(
        "fig8a-toy-landscapes",
        &figs::toy_landscapes(
            "Toy model: SGD walker on three landscapes (paper Fig. 8a, 8e)",
            &panels,
        ),
        "Fig. 8a/e: the toy model's walker on its landscape",
        "Heat maps of the generated landscapes on [-1, 1]^2 with the first walker's path \
         (white), its start, the step t0 at which it enters its final basin, and its end. The \
         paper shows one hand-picked fractal landscape; ours are unselected.",
    )?;

    // Fig. 8b/f: mean time-averaged MSD of the walkers.
    let msd = |name: &str, key: &str, label: &str, color: usize| -> anyhow::Result<Series> {
        let m = &plot_of(name)?[key];
        Ok(Series::line(label, floats(&m["lag"]), floats(&m["msd"]))
            .with_color(plot::palette(color)))
    };
    let series = vec![
        msd("fractal", "msd_before_t0", "fractal, before t0", 0)?,
        msd("fractal", "msd_after_t0", "fractal, after t0", 1)?,
        msd("convex", "msd_before_t0", "convex, before t0", 2)?,
        msd("shuffled", "msd_whole", "shuffled, whole run", 3)?,
    ];
    save(
        "fig8b-toy-msd",
        &figs::toy_msd("Toy model: MSD of the walkers (paper Fig. 8b, 8f)", series),
        "Fig. 8b/f: MSD of the toy walkers",
        "Time-averaged MSD averaged over the walkers, at lags up to a quarter of each stretch, \
         with tau and tau^2 guides. The paper: superdiffusive before t0 and subdiffusive after \
         on the fractal landscape, near-ballistic on the convex one, subdiffusive (stuck) on the \
         shuffled one.",
    )?;

    // Fig. 8c: gradient densities of the three landscapes on shared bins.
    let mut samples = Vec::new();
    for (name, _) in LANDS {
        let file = toy
            .get(name)
            .and_then(|v| v["gradients_file"].as_str())
            .with_context(|| format!("the {name} toy stage result lacks its gradient file"))?;
        let g: ndarray::Array1<f64> =
            ndarray_npy::read_npy(file).with_context(|| format!("reading {file}"))?;
        samples.push(g.to_vec());
    }
    let refs_: Vec<&[f64]> = samples.iter().map(Vec::as_slice).collect();
    let mut grads = Vec::new();
    if let Some(h) = toy_claims::shared_histograms(&refs_, GRADIENT_BINS, GRADIENT_COVERAGE) {
        let centres = h.centres();
        for (i, ((_, label), d)) in LANDS.iter().zip(h.densities).enumerate() {
            grads.push(Series::line(*label, centres.clone(), d).with_color(plot::palette(i)));
        }
    }
    save(
        "fig8c-toy-gradients",
        &figs::toy_gradients("Toy model: gradient components (paper Fig. 8c)", grads),
        "Fig. 8c: gradient distributions of the toy model",
        "Density of the pooled gradient components dL/dx and dL/dy that drove the walkers, \
         on a log density axis, the three landscapes on the same 81 bins of a range symmetric \
         about 0 that holds at least 99.5 % of each landscape's components. The paper: the \
         fractal landscape's gradients have a far wider range than the convex or shuffled \
         landscapes'.",
    )?;

    // Fig. 5a from the fractal toy's pooled gradients: stable and normal fits.
    let fractal = toy.get("fractal").context("no fractal toy stage result")?;
    let p = plot_of("fractal")?;
    let hist = stored_hist(&p["gradient_hist"]);
    let tail = stored_hist(&p["gradient_tail"]);
    let fits = fitted_densities(&fractal["gradients"], &hist, &tail)?;
    save(
        "fig8d-toy-gradient-fit",
        &figs::gradient_distribution(
            "Gradient components with stable and normal fits (toy model, fractal landscape; \
             paper Fig. 5a)",
            "gradient component dL/dw",
            &hist,
            &tail,
            &fits,
        ),
        "Fig. 8c (fit): the toy model's gradients, stable against normal",
        "Histogram of the fractal toy model's pooled gradient components (central 99 % on \
         the left, positive tail on log-log axes on the right) with the stable law fitted by \
         maximum likelihood and the normal fit, drawn as Fig. 5a draws the network's \
         gradients. The paper: alpha_dist 1.9 [1.887, 1.913] for its toy model.",
    )?;
    Ok(refs)
}

/// The fitted stable and normal densities as curves over the histograms' ranges.
fn fitted_densities(g: &Value, hist: &Histogram, tail: &Histogram) -> anyhow::Result<Vec<Series>> {
    let mut xs: Vec<f64> = Vec::new();
    if let (Some(&a), Some(&b)) = (hist.centres.first(), hist.centres.last()) {
        xs.extend((0..=300).map(|k| a + (b - a) * k as f64 / 300.0));
    }
    if let (Some(&a), Some(&b)) = (tail.centres.first(), tail.centres.last()) {
        if a > 0.0 && b > a {
            xs.extend((0..=120).map(|k| a * (b / a).powf(k as f64 / 120.0)));
        }
    }
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut out = Vec::new();
    if let Ok(fit) = serde_json::from_value::<anodiff_core::fit::StableFit>(g["stable"].clone()) {
        let [a, b, s, l] = fit.s0_params();
        let law = Stable::new(a, b, s, l, Param::S0)?;
        let ys = xs.iter().map(|&x| law.pdf(x)).collect();
        out.push(
            Series::line(format!("stable fit, alpha = {a:.3}"), xs.clone(), ys)
                .with_color([214, 39, 40]),
        );
    }
    if let (Some(m), Some(sd)) = (g["normal"]["mean"].as_f64(), g["normal"]["sd"].as_f64()) {
        if sd > 0.0 {
            let c = 1.0 / (sd * (2.0 * std::f64::consts::PI).sqrt());
            let ys = xs
                .iter()
                .map(|&x| c * (-0.5 * ((x - m) / sd).powi(2)).exp())
                .collect();
            out.push(Series::dashed("normal fit", xs.clone(), ys).with_color([31, 119, 180]));
        }
    }
    Ok(out)
}
