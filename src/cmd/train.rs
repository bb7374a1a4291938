//! `anodiff train`: vanilla SGD on a CIFAR ResNet, MLP or CNN, recording every step into a run
//! directory (trajectory store + run.json + checkpoints/), and `--resume` after a kill;
//! `--if-exists resume` for schedulers that re-run a command until it succeeds.

use anodiff_trainers::data::DatasetSpec;
use anodiff_trainers::init::LinearInit;
use anodiff_trainers::model::{Arch, LossKind};
use anodiff_trainers::record::{Every, GradRecord, WeightRecord};
use anodiff_trainers::run::{DeviceKind, EpochMetrics, Length, TrainConfig};
use anodiff_trainers::train::{self, Observer, Outcome};
use anodiff_trainers::Error as TrainError;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;

/// Arguments of `anodiff train`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Train a network with vanilla SGD (w <- w - lr g; no momentum, no weight decay) \
and record the trajectory: at every recorded step t the weights w_t before the update (all \
trainable parameters as one f32 vector, sorted by parameter name), the minibatch loss at w_t and \
optionally the minibatch gradient. RUNDIR receives the trajectory store (manifest.json + .npy \
chunks, readable by numpy alone), run.json (configuration, status, per-epoch test loss and \
accuracy) and checkpoints/epoch-E.safetensors (E = 0: initial weights) with the BN running \
statistics. A killed run continues bit for bit with --resume RUNDIR (CPU); --if-exists resume \
decides between a new run, a resume and the existing result (the JSON's `action`: new, resumed \
or existing).",
    after_help = "Models: resnet14|resnet20|resnet56|resnet110 (any resnet<6n+2>; projection \
shortcuts), the same with -a (option-A shortcuts) or -noshort, mlp[:W1,W2,..], mlp-tanh[:W,..], cnn.\n\
Datasets: digits (bundled UCI 8x8), mnist:DIR (IDX files), cifar10:DIR (binary batches).\n\n\
Examples:\n  \
anodiff train --model mlp --dataset digits --batch-size 64 --lr 0.1 --epochs 5 --out runs/mlp\n  \
anodiff train --model resnet14 --dataset cifar10:data/cifar-10-batches-bin --batch-size 1024 \\\n      \
--lr 0.1 --epochs 100 --record every:1 --record-grad sample:10000 --device cuda --out runs/r14\n  \
anodiff train --resume runs/r14\n  \
anodiff train --model mlp --dataset digits --epochs 5 --out runs/mlp --if-exists resume\n\n\
One process trains a run directory at a time: it holds an advisory lock (flock) on RUNDIR/.lock, \
which the kernel releases however the process ends; on NFS it holds across nodes unless the \
mount has local_lock=flock or nolock.\n\n\
Exit status: 0 done (with --if-exists resume, also a finished or diverged run found in RUNDIR); \
75 (EX_TEMPFAIL: try again later) RUNDIR is in use by another training process, named by pid \
and host; 1 any other error."
)]
pub struct Args {
    /// Architecture (see below).
    #[arg(long, required_unless_present = "resume")]
    model: Option<Arch>,
    /// Dataset: digits, mnist:DIR or cifar10:DIR.
    #[arg(long, required_unless_present = "resume")]
    dataset: Option<DatasetSpec>,
    /// Loss: ce (cross-entropy) or mse (softmax vs one-hot, as the authors).
    #[arg(long, default_value = "ce")]
    loss: LossKind,
    /// Minibatch size (at most the training set; the ragged last batch of an epoch is dropped).
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Learning rate (> 0).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    lr: f64,
    /// Number of epochs (default 1 when --steps is not given).
    #[arg(long, conflicts_with = "steps")]
    epochs: Option<usize>,
    /// Number of SGD steps instead of epochs.
    #[arg(long)]
    steps: Option<usize>,
    /// Which steps to record: every:K records steps 0, K, 2K, ...
    #[arg(long, default_value = "every:1")]
    record: Every,
    /// Recorded weights: full, subset:M (seeded subset of M coordinates) or project:K (random
    /// projection to K coordinates), for runs whose full d x steps would not fit on disk.
    #[arg(long, default_value = "full")]
    record_weights: WeightRecord,
    /// Recorded minibatch gradients: none, full or sample:M (seeded subset of M coordinates).
    #[arg(long, default_value = "none")]
    record_grad: GradRecord,
    /// Seed of the initial weights, the data order and the augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Device: cpu or cuda (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Classifier initialisation: normal:STD (the authors: normal:1e-3) or kaiming-uniform
    /// (PyTorch's nn.Linear default).
    #[arg(long, default_value = "normal:1e-3")]
    linear_init: LinearInit,
    /// Random crop (padding 4, black as torchvision's RandomCrop before Normalize) + horizontal
    /// flip of training images: on or off (default: on for cifar10, off otherwise).
    #[arg(long, value_parser = ["on", "off"])]
    augment: Option<String>,
    /// Steps between resume checkpoints (another is written at every epoch end).
    #[arg(long, default_value_t = 100)]
    checkpoint_every: usize,
    /// fdatasync every recorded step, so that a power loss or kernel crash cannot lose or damage
    /// committed steps (a killed process loses nothing committed either way). Costs one disk
    /// flush per step (about 30 ms on a busy disk): worth it for slow CPU steps only.
    #[arg(long)]
    sync: bool,
    /// The new run directory (must not exist or be empty; see --if-exists).
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// What to do when --out already holds a run: error (refuse), or resume (continue a killed
    /// or failed run of the same configuration, report a finished or diverged one without
    /// training, refuse one of another configuration naming each difference; the device,
    /// --checkpoint-every, --sync and the dataset's directory may differ and are taken from
    /// this command). The JSON's `action` says what happened: new, resumed or existing.
    #[arg(long, value_name = "WHAT", default_value = "error", value_parser = ["error", "resume"],
          conflicts_with = "resume")]
    if_exists: String,
    /// Continue the killed or failed run in this directory (every other option comes from its
    /// run.json).
    #[arg(long, value_name = "RUNDIR")]
    resume: Option<PathBuf>,
}

/// Progress bar on stderr (hidden when stderr is not a terminal) and one line per epoch.
pub(crate) struct Progress {
    pub(crate) bar: ProgressBar,
    label: String,
}

impl Progress {
    /// A bar whose epoch lines start with `label` (empty for none).
    pub(crate) fn new(label: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "train {label} {{bar:30}} {{pos}}/{{len}} steps [{{elapsed}} < {{eta}}] {{msg}}"
        )) {
            bar.set_style(style);
        }
        let label = if label.is_empty() {
            String::new()
        } else {
            format!("{label}: ")
        };
        Self { bar, label }
    }
}

impl Observer for Progress {
    fn start(&mut self, start: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(start as u64);
    }

    fn step(&mut self, step: usize, loss: f64) {
        self.bar.set_position(step as u64 + 1);
        self.bar.set_message(format!("loss {loss:.4}"));
    }

    fn warning(&mut self, message: &str) {
        let line = format!("warning: {message}");
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }

    fn epoch(&mut self, m: &EpochMetrics) {
        let line = format!(
            "{}epoch {} (step {}): train loss {:.4}, test loss {:.4}, test accuracy {:.2} %",
            self.label,
            m.epoch,
            m.step,
            m.train_loss,
            m.test_loss,
            100.0 * m.test_accuracy
        );
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }
}

fn config(args: &Args) -> anyhow::Result<TrainConfig> {
    let (Some(model), Some(dataset)) = (args.model.clone(), args.dataset.clone()) else {
        anyhow::bail!("--model and --dataset are required (or --resume RUNDIR)");
    };
    let mut c = TrainConfig::new(model, dataset);
    c.loss = args.loss;
    c.batch_size = args.batch_size;
    c.lr = args.lr;
    c.length = match (args.epochs, args.steps) {
        (_, Some(n)) => Length::Steps(n),
        (Some(e), None) => Length::Epochs(e),
        (None, None) => Length::Epochs(1),
    };
    c.record = args.record;
    c.record_weights = args.record_weights;
    c.record_grad = args.record_grad;
    c.seed = args.seed;
    c.device = args.device;
    c.linear_init = args.linear_init;
    if let Some(a) = &args.augment {
        c.augment = a == "on";
    }
    c.checkpoint_every = args.checkpoint_every;
    c.sync = args.sync;
    Ok(c)
}

/// The exit status of a run directory held by another process: `EX_TEMPFAIL` of BSD's
/// sysexits.h ("try again later"), so that schedulers and `anodiff.dask.train_many` can tell a
/// busy directory from a failure.
pub const EXIT_IN_USE: i32 = 75;

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut progress = Progress::new("");
    let (dir, result) = match &args.resume {
        Some(dir) => (
            dir.clone(),
            train::resume(dir, &mut progress).map(|s| (Outcome::Resumed, s)),
        ),
        None => {
            let cfg = config(&args)?;
            let dir = args.out.clone().context("--out RUNDIR is required")?;
            let result = if args.if_exists == "resume" {
                train::train_or_resume(&cfg, &dir, &mut progress)
            } else {
                train::train(&cfg, &dir, &mut progress).map(|s| (Outcome::New, s))
            };
            (dir, result)
        }
    };
    progress.bar.finish_and_clear();
    let (action, summary) = match result {
        Err(e @ TrainError::RunInUse { .. }) => {
            // The progress bar is cleared and nothing is buffered: exit with the status that
            // says "busy, try again".
            eprintln!("error: {e}");
            std::process::exit(EXIT_IN_USE);
        }
        // The message names the directory already.
        Err(e @ TrainError::ConfigMismatch { .. }) => return Err(e.into()),
        r => r.with_context(|| format!("run {}", dir.display()))?,
    };
    let r = &summary.record;
    let last = r.epochs.last();
    crate::cmd::print_json(&serde_json::json!({
        "run": dir,
        "status": r.status,
        "action": action.as_str(),
        "model": r.config.model.to_string(),
        "num_params": r.num_params,
        "steps": r.steps_done,
        "recorded_rows": r.total_steps.div_ceil(r.config.record.0),
        "recorded_dim": r.recorded_dim,
        "gradient_dim": r.gradient_dim,
        "test_loss": last.map(|m| m.test_loss),
        "test_accuracy": last.map(|m| m.test_accuracy),
        "step_seconds": r.timing.step_seconds / r.timing.steps.max(1) as f64,
        "record_fraction": if r.timing.step_seconds > 0.0 { r.timing.record_seconds / r.timing.step_seconds } else { 0.0 },
    }))
}
