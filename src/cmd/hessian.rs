//! `anodiff hessian`: top-k Hessian eigenvalues of a trained network at chosen checkpoints.

use anodiff_core::lanczos::{residual_norms, Lanczos, LinearOperator};
use anodiff_trainers::candle_core::{DType, Device};
use anodiff_trainers::data::BatchLoader;
use anodiff_trainers::hvp::{network_hessian, FixedBatches, DOUBLE_BACKWARD_ENV};
use anodiff_trainers::run::open_run;
use anyhow::{bail, Context};
use std::path::PathBuf;

const EXAMPLE: &str = "\
Example:
  anodiff train --model resnet20 --dataset cifar10:data/cifar --epochs 50 --out runs/r20
  anodiff hessian runs/r20 --checkpoint 0,5,10 --k 20 --batches 4
  anodiff hessian runs/r20 --every 5 --out runs/r20/hessian.json
prints one JSON object
  {\"run\":..,\"k\":20,\"batches\":4,\"examples\":..,\"checkpoints\":[{\"checkpoint\":0,
   \"loss\":..,\"eigenvalues\":[..],\"residuals\":[..],\"converged\":[..],\"matvecs\":..},..]}
with the k largest eigenvalues of the Hessian of the mean training loss over a FIXED set of
--batches batches of --batch-size training examples (the first batches of a permutation seeded by
--data-seed, the same for every checkpoint and every product), in eval mode (batch norm uses its
running statistics). Products are exact double backpropagation (this command sets
CANDLE_GRAD_DO_NOT_DETACH=1 for itself), in f64 by default. `residuals` are the explicit
||H x - theta x|| of the unit Ritz vectors; a pair is converged when it is <= --tol |theta|.";

/// Precision of the Hessian-vector products.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Precision {
    /// Double precision: residuals down to ~1e-10 relative (default).
    F64,
    /// Single precision: about twice as fast on CPU, products accurate to ~1e-6 relative.
    F32,
}

impl Precision {
    pub(crate) fn dtype(self) -> DType {
        match self {
            Precision::F64 => DType::F64,
            Precision::F32 => DType::F32,
        }
    }
}

/// Arguments of `anodiff hessian`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Run directory written by `anodiff train`.
    pub rundir: PathBuf,
    /// Checkpoint epoch(s), comma-separated (0 = the initial weights).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "every",
        conflicts_with = "every"
    )]
    pub checkpoint: Vec<usize>,
    /// Every checkpoint whose epoch is a multiple of N (the paper: every 5 epochs).
    #[arg(long)]
    pub every: Option<usize>,
    /// Number of top eigenvalues.
    #[arg(long, default_value_t = 20)]
    pub k: usize,
    /// Number of fixed batches the loss averages over.
    #[arg(long, default_value_t = 1)]
    pub batches: usize,
    /// Examples per batch (default: the run's batch size).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of the permutation the fixed batches are taken from.
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
    /// Relative residual tolerance of the eigenpairs.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Budget of Hessian-vector products per checkpoint (default max(1000, 50 * basis size)).
    #[arg(long)]
    pub max_matvecs: Option<usize>,
    /// Seed of the Lanczos start vector.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Precision of the products.
    #[arg(long, value_enum, default_value_t = Precision::F64)]
    pub dtype: Precision,
    /// Also write the JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Counts products on a progress bar.
struct Counted<'a, O> {
    op: &'a O,
    bar: &'a indicatif::ProgressBar,
}

impl<O: LinearOperator> LinearOperator for Counted<'_, O> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) -> anodiff_core::Result<()> {
        self.op.apply(v, out)?;
        self.bar.inc(1);
        Ok(())
    }
}

/// A counter of products on stderr (hidden when stderr is not a terminal).
fn products_bar(msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} [{elapsed}]")
    {
        bar.set_style(style);
    }
    bar.set_message(msg.to_string());
    bar
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    // candle reads this once per thread at the thread's first backward pass. Nothing has run a
    // backward pass yet and no other thread exists (argument parsing only), so setting it here
    // is race-free; HessianOperator also verifies it with a probe.
    std::env::set_var(DOUBLE_BACKWARD_ENV, "1");
    if args.k == 0 {
        bail!("--k must be at least 1");
    }
    if args.batches == 0 {
        bail!("--batches must be at least 1");
    }
    if !(args.tol > 0.0 && args.tol < 1.0) {
        bail!("--tol must be in (0, 1), got {}", args.tol);
    }
    if !args.rundir.is_dir() {
        bail!("run directory {} does not exist", args.rundir.display());
    }
    let run = open_run(&args.rundir)?;
    let epochs = match args.every {
        Some(0) => bail!("--every must be at least 1"),
        Some(n) => {
            let all: Vec<usize> = run
                .checkpoints()
                .into_iter()
                .map(|(e, _)| e)
                .filter(|e| e % n == 0)
                .collect();
            if all.is_empty() {
                bail!(
                    "{} has no checkpoint at a multiple of {n} epochs",
                    args.rundir.display()
                );
            }
            all
        }
        None => args.checkpoint.clone(),
    };
    // Every checkpoint must exist before hours of products start.
    let paths = epochs
        .iter()
        .map(|&e| run.checkpoint(e))
        .collect::<Result<Vec<_>, _>>()?;
    let dtype = args.dtype.dtype();
    let net = run.network(dtype, &Device::Cpu)?;
    let train = run.load_data()?.train;
    let kind = run.config().loss;
    let bs = args.batch_size.unwrap_or(run.config().batch_size);
    let n = train.len();
    if bs == 0 || bs.saturating_mul(args.batches) > n {
        bail!(
            "--batches {} of --batch-size {bs} need {} examples; the training set has {n}",
            args.batches,
            args.batches.saturating_mul(bs)
        );
    }
    // One epoch's permutation holds floor(n / bs) disjoint batches; take the first ones. The same
    // batches serve every checkpoint.
    let loader = BatchLoader::new(n, bs, args.data_seed)?;
    let indices: Vec<usize> = (0..args.batches).flat_map(|s| loader.indices(s)).collect();
    let data = FixedBatches::from_dataset(&train, &indices, bs, dtype, &Device::Cpu)?;
    let dim = net.num_params();
    if args.k > dim {
        bail!("--k {} exceeds the number of parameters {dim}", args.k);
    }
    let mut results = Vec::new();
    for (&epoch, path) in epochs.iter().zip(&paths) {
        net.load_checkpoint(path)?;
        // The weights stay fixed during the solve: keep the gradient graphs between products.
        let op = network_hessian(&net, &data, kind)?.with_cached_gradients();
        let loss = op.loss()?;
        let mut solver = Lanczos::new(args.k)?
            .with_tol(args.tol)?
            .with_seed(args.seed)
            .with_vectors(true);
        if let Some(m) = args.max_matvecs {
            solver = solver.with_max_matvecs(m)?;
        }
        let bar = products_bar(&format!("checkpoint {epoch}: Hessian-vector products"));
        let start = std::time::Instant::now();
        let counted = Counted { op: &op, bar: &bar };
        let res = solver
            .run(&counted)
            .with_context(|| format!("Lanczos at checkpoint {epoch}"))?;
        let vectors = res.eigenvectors.as_deref().unwrap_or(&[]);
        let explicit = residual_norms(&counted, &res.eigenvalues, vectors)?;
        bar.finish_and_clear();
        let converged: Vec<bool> = res
            .eigenvalues
            .iter()
            .zip(&explicit)
            .map(|(t, r)| *r <= args.tol * t.abs().max(f64::MIN_POSITIVE))
            .collect();
        results.push(serde_json::json!({
            "checkpoint": epoch,
            "file": path,
            "loss": loss,
            "eigenvalues": res.eigenvalues,
            "residuals": explicit,
            "lanczos_residuals": res.residuals,
            "converged": converged,
            "matvecs": res.matvecs + res.eigenvalues.len(),
            "termination": res.termination,
            "seconds": start.elapsed().as_secs_f64(),
        }));
    }
    let out = serde_json::json!({
        "run": args.rundir,
        "k": args.k,
        "dim": dim,
        "dtype": format!("{:?}", args.dtype).to_lowercase(),
        "mode": "eval",
        "batches": args.batches,
        "batch_size": bs,
        "examples": data.examples(),
        "data_seed": args.data_seed,
        "tol": args.tol,
        "seed": args.seed,
        "checkpoints": results,
    });
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&out)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    crate::cmd::print_json(&out)
}
