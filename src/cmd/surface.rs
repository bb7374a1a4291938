//! `anodiff surface`: the filter-normalized 2-D loss surface (Li et al. 2018) around a checkpoint.

use super::hessian::Precision;
use anodiff_trainers::candle_core::{DType, Device};
use anodiff_trainers::data::DatasetSpec;
use anodiff_trainers::data::{BatchLoader, Dataset};
use anodiff_trainers::hvp::FixedBatches;
use anodiff_trainers::model::{LossKind, Network};
use anodiff_trainers::run::{open_run, DeviceKind};
use anodiff_trainers::surface::{
    eval_loss, filter_normalized_surface, OneDimPolicy, SurfaceOptions,
};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "\
Example:
  anodiff train --model resnet20 --dataset cifar10:data/cifar --epochs 50 --out runs/r20
  anodiff surface runs/r20 --checkpoint 50 --grid 51 --seed 1
  anodiff surface runs/r20 --checkpoint 50 --grid 101 --device cuda
  anodiff surface-dim runs/r20/surface/epoch-50-seed-1-grid-51.npy
prints one JSON object
  {\"file\":\"runs/r20/surface/epoch-50-seed-1-grid-51.npy\",\"grid\":51,\"seed\":1,
   \"centre_loss\":..,\"loss_min\":..,\"loss_max\":..,\"resumed_rows\":0,..}
The surface is the training loss (eval mode: batch norm uses its running statistics) on a fixed
seeded subset of --examples training examples, at theta + x d1 + y d2 for x, y on a --grid x --grid
grid over --x-range and --y-range. d1, d2 are Gaussian directions (seeded by --seed) normalized
filter by filter to the weights' filter norms (Li et al. 2018); biases and batch-norm parameters
get zero directions by default (--one-dim zero, Li et al.'s 'ignore biasbn'). The .npy is a 2-D
float64 array, rows = y, columns = x, readable by numpy and `anodiff surface-dim`; a JSON file
beside it records the seed, coordinates and settings.

Resumable: each finished row is saved (FILE.partial.npy + FILE.progress.json); rerunning the same
command after an interruption continues where it stopped, and rerunning a finished one just reads
it back. Different settings on the same --out are refused; the device is one of them, so that no
surface mixes rows computed on different hardware (their last bits differ, which would put seams
into a roughness measurement).";

/// The 1-D parameter policy, as typed on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum OneDimArg {
    /// Zero directions: biases and batch-norm parameters stay at the checkpoint (Li et al.).
    Zero,
    /// Directions equal to the parameters themselves.
    Weights,
}

/// Arguments of `anodiff surface`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Run directory written by `anodiff train`.
    pub rundir: PathBuf,
    /// Checkpoint epoch (0 = the initial weights).
    #[arg(long)]
    pub checkpoint: usize,
    /// Grid points per axis (at least 2; odd puts the checkpoint itself at the centre).
    #[arg(long, default_value_t = 51)]
    pub grid: usize,
    /// Range of the first coordinate, LO,HI.
    #[arg(long, default_value = "-1,1", allow_hyphen_values = true, value_parser = parse_range)]
    pub x_range: (f64, f64),
    /// Range of the second coordinate, LO,HI.
    #[arg(long, default_value = "-1,1", allow_hyphen_values = true, value_parser = parse_range)]
    pub y_range: (f64, f64),
    /// Seed of the two random directions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training examples the loss is averaged over (all of them if fewer).
    #[arg(long, default_value_t = 2048)]
    pub examples: usize,
    /// Seed of the subset of examples.
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
    /// Examples per forward pass (memory only; the loss is their weighted mean).
    #[arg(long, default_value_t = 512)]
    pub eval_batch: usize,
    /// Directions for 1-D parameters (biases, batch-norm weights and biases).
    #[arg(long, value_enum, default_value_t = OneDimArg::Zero)]
    pub one_dim: OneDimArg,
    /// Precision of the forward passes.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub dtype: Precision,
    /// Device of the forward passes: cpu, cuda or cuda:N (cuda needs a build with --features
    /// cuda).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Where the run's dataset lies now, when it moved since training (a run trained on
    /// another machine): mnist:DIR or cifar10:DIR, of the run's kind. Default: the directory in
    /// its run.json.
    #[arg(long)]
    pub dataset: Option<DatasetSpec>,
    /// Output .npy (default RUNDIR/surface/epoch-E-seed-S-grid-G.npy).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Args {
    /// The command's defaults for `rundir` at checkpoint `checkpoint` (as if typed
    /// `anodiff surface RUNDIR --checkpoint E`), for callers that run it in-process.
    // Unused by the CLI itself; `reproduce` and future in-process callers build Args with it.
    #[allow(dead_code)]
    pub fn new(rundir: impl Into<PathBuf>, checkpoint: usize) -> Self {
        Args {
            rundir: rundir.into(),
            checkpoint,
            grid: 51,
            x_range: (-1.0, 1.0),
            y_range: (-1.0, 1.0),
            seed: 0,
            examples: 2048,
            data_seed: 0,
            eval_batch: 512,
            one_dim: OneDimArg::Zero,
            dtype: Precision::F32,
            device: DeviceKind::Cpu,
            dataset: None,
            out: None,
        }
    }
}

/// A trained network at one checkpoint with what is needed to score it.
struct Loaded {
    net: Network,
    train: Dataset,
    kind: LossKind,
}

/// Rebuilds the run's network in `dtype` on `device` and loads checkpoint `epoch`.
fn load_checkpoint(
    rundir: &Path,
    dataset: Option<&DatasetSpec>,
    epoch: usize,
    dtype: DType,
    device: &Device,
) -> anyhow::Result<Loaded> {
    if !rundir.is_dir() {
        bail!("run directory {} does not exist", rundir.display());
    }
    let mut run = open_run(rundir)?;
    if let Some(d) = dataset {
        run = run.with_dataset(d.clone())?;
    }
    let path = run.checkpoint(epoch)?;
    let net = run.network(dtype, device)?;
    net.load_checkpoint(&path)?;
    let splits = run.load_data()?;
    Ok(Loaded {
        net,
        train: splits.train,
        kind: run.config().loss,
    })
}

/// Parses `LO,HI` (finite, LO < HI).
fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [lo, hi] = parts[..] else {
        return Err(format!("expected LO,HI, got '{s}'"));
    };
    let lo: f64 = lo.parse().map_err(|_| format!("'{lo}' is not a number"))?;
    let hi: f64 = hi.parse().map_err(|_| format!("'{hi}' is not a number"))?;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(format!("need finite LO < HI, got {lo},{hi}"));
    }
    Ok((lo, hi))
}

/// Runs the command: [`compute`], then prints the JSON.
pub fn run(args: Args) -> anyhow::Result<()> {
    let out = compute(&args)?;
    crate::cmd::print_json(&out)
}

/// Computes (or resumes, or reads back) the surface `anodiff surface` would, writes its files and
/// returns the JSON it prints, without printing it.
///
/// # Errors
///
/// Bad arguments, a missing run, checkpoint or dataset, `--device cuda` in a build without
/// CUDA, an earlier surface with other settings at the output path, or an I/O error.
pub fn compute(args: &Args) -> anyhow::Result<serde_json::Value> {
    if args.grid < 2 {
        bail!("--grid must be at least 2, got {}", args.grid);
    }
    if args.examples == 0 || args.eval_batch == 0 {
        bail!("--examples and --eval-batch must be at least 1");
    }
    let options = SurfaceOptions {
        grid: args.grid,
        x_range: args.x_range,
        y_range: args.y_range,
        seed: args.seed,
        one_dim: match args.one_dim {
            OneDimArg::Zero => OneDimPolicy::Zero,
            OneDimArg::Weights => OneDimPolicy::Weights,
        },
    };
    options.validate()?;
    let dtype = args.dtype.dtype();
    if !args.rundir.is_dir() {
        bail!("run directory {} does not exist", args.rundir.display());
    }
    let device = args.device.open()?;
    let loaded = load_checkpoint(
        &args.rundir,
        args.dataset.as_ref(),
        args.checkpoint,
        dtype,
        &device,
    )?;
    let n = loaded.train.len();
    let examples = args.examples.min(n);
    let indices = BatchLoader::new(n, examples, args.data_seed)?.indices(0);
    let data =
        FixedBatches::from_dataset(&loaded.train, &indices, args.eval_batch, dtype, &device)?;
    let out = match &args.out {
        Some(p) => p.clone(),
        None => args.rundir.join("surface").join(format!(
            "epoch-{}-seed-{}-grid-{}.npy",
            args.checkpoint, args.seed, args.grid
        )),
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let run = args
        .rundir
        .canonicalize()
        .unwrap_or_else(|_| args.rundir.clone());
    let context = serde_json::json!({
        "run": run,
        "checkpoint": args.checkpoint,
        "examples": examples,
        "data_seed": args.data_seed,
        "eval_batch": args.eval_batch,
        "dtype": args.dtype.name(),
        "loss": format!("{:?}", loaded.kind),
        "mode": "eval",
        "device": args.device.to_string(),
    });
    let checkpoint_loss = eval_loss(&loaded.net, &data, loaded.kind)?;
    let params: Vec<_> = loaded
        .net
        .trainable()
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    let bar = crate::cmd::msd::progress(args.grid, "surface rows");
    let start = std::time::Instant::now();
    let mut evaluations = 0usize;
    let surface = filter_normalized_surface(
        &params,
        || {
            evaluations += 1;
            eval_loss(&loaded.net, &data, loaded.kind)
        },
        &options,
        context,
        &out,
        |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let finite: Vec<f64> = surface
        .losses
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let centre =
        (args.grid % 2 == 1).then(|| surface.losses[(args.grid / 2) * args.grid + args.grid / 2]);
    Ok(serde_json::json!({
        "file": surface.path,
        "meta": surface.meta_path,
        "run": args.rundir,
        "checkpoint": args.checkpoint,
        "grid": args.grid,
        "x_range": [args.x_range.0, args.x_range.1],
        "y_range": [args.y_range.0, args.y_range.1],
        "seed": args.seed,
        "one_dim": format!("{:?}", args.one_dim).to_lowercase(),
        "examples": examples,
        "dim": params.iter().map(|p| p.elem_count()).sum::<usize>(),
        "checkpoint_loss": checkpoint_loss,
        "centre_loss": centre,
        "loss_min": finite.iter().copied().reduce(f64::min),
        "loss_max": finite.iter().copied().reduce(f64::max),
        "non_finite": surface.losses.len() - finite.len(),
        "resumed_rows": surface.resumed_rows,
        "evaluations": evaluations,
        "device": args.device.to_string(),
        "seconds": start.elapsed().as_secs_f64(),
    }))
}
