//! `anodiff hessian`: top-k Hessian eigenvalues of a trained network at chosen checkpoints.

use anodiff_core::lanczos::{residual_norms, Lanczos, LinearOperator};
use anodiff_trainers::candle_core::DType;
use anodiff_trainers::data::BatchLoader;
use anodiff_trainers::data::DatasetSpec;
use anodiff_trainers::hvp::{network_hessian, FixedBatches, DOUBLE_BACKWARD_ENV};
use anodiff_trainers::model::{LossKind, Network};
use anodiff_trainers::run::{open_run, DeviceKind};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "\
Example:
  anodiff train --model resnet20 --dataset cifar10:data/cifar --epochs 50 --out runs/r20
  anodiff hessian runs/r20 --checkpoint 0,5,10 --k 20 --batches 4
  anodiff hessian runs/r20 --every 5 --device cuda --out runs/r20/hessian.json
prints one JSON object
  {\"run\":..,\"k\":20,\"batches\":4,\"examples\":..,\"checkpoints\":[{\"checkpoint\":0,
   \"loss\":..,\"eigenvalues\":[..],\"residuals\":[..],\"converged\":[..],\"matvecs\":..},..],
   \"resumed\":[..]}
with the k largest eigenvalues of the Hessian of the mean training loss over a FIXED set of
--batches batches of --batch-size training examples (the first batches of a permutation seeded by
--data-seed, the same for every checkpoint and every product), in eval mode (batch norm uses its
running statistics). Products are exact double backpropagation (this command sets
CANDLE_GRAD_DO_NOT_DETACH=1 for itself), in f64 by default. `residuals` are the explicit
||H x - theta x|| of the unit Ritz vectors; a pair is converged when it is <= --tol |theta|.

Resumable with --out FILE: FILE is rewritten (write, then rename) after every checkpoint, so a
killed run loses at most the checkpoint in flight. Rerunning with the same settings (run, --k,
--batches, --batch-size, --data-seed, --tol, --seed, --max-matvecs, --dtype, the same fixed
data) skips the checkpoints FILE already holds for the same checkpoint file contents and lists
them in `resumed`; FILE keeps the results of every checkpoint computed with these settings,
sorted by epoch, and `pending` lists the requested ones still missing. A FILE written with other
settings is refused (delete it or choose another --out). --device does not enter the settings:
each result records the device that computed it.";

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

    /// The name used on the command line and in the JSON (`f64`, `f32`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
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
    /// Device of the products: cpu, cuda or cuda:N (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Where the run's dataset lies now, when it moved since training (a run trained on
    /// another machine): mnist:DIR or cifar10:DIR, of the run's kind. Default: the directory in
    /// its run.json.
    #[arg(long)]
    pub dataset: Option<DatasetSpec>,
    /// Also write the JSON to this file, after every checkpoint; a rerun with the same settings
    /// skips the checkpoints it already holds.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Args {
    /// The command's defaults for `rundir` at the checkpoints `checkpoint` (as if typed
    /// `anodiff hessian RUNDIR --checkpoint E,..`), for callers that run it in-process.
    // Unused by the CLI itself; `reproduce` and future in-process callers build Args with it.
    #[allow(dead_code)]
    pub fn new(rundir: impl Into<PathBuf>, checkpoint: Vec<usize>) -> Self {
        Args {
            rundir: rundir.into(),
            checkpoint,
            every: None,
            k: 20,
            batches: 1,
            batch_size: None,
            data_seed: 0,
            tol: 1e-6,
            max_matvecs: None,
            seed: 0,
            dtype: Precision::F64,
            device: DeviceKind::Cpu,
            dataset: None,
            out: None,
        }
    }
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

/// Runs the command: sets `CANDLE_GRAD_DO_NOT_DETACH=1`, then [`compute`] and prints the JSON.
pub fn run(args: Args) -> anyhow::Result<()> {
    // candle reads this once per thread at the thread's first backward pass. Nothing has run a
    // backward pass yet and no other thread exists (argument parsing only), so setting it here
    // is race-free; HessianOperator also verifies it with a probe.
    std::env::set_var(DOUBLE_BACKWARD_ENV, "1");
    let out = compute(&args)?;
    crate::cmd::print_json(&out)
}

/// Computes what `anodiff hessian` prints (and writes `--out`, checkpoint by checkpoint),
/// without printing it.
///
/// Exact double backpropagation must already be in effect on the calling thread (see
/// [`anodiff_trainers::hvp::check_double_backward`]): [`run`] sets the variable itself; an
/// in-process caller sets `CANDLE_GRAD_DO_NOT_DETACH=1` before its first backward pass.
///
/// # Errors
///
/// Bad arguments, a missing run, checkpoint or dataset, an `--out` file written with other
/// settings or unreadable, `--device cuda` in a build without CUDA, or a failing solve.
pub fn compute(args: &Args) -> anyhow::Result<Value> {
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
    let device = args.device.open()?;
    let mut run = open_run(&args.rundir)?;
    if let Some(d) = &args.dataset {
        run = run.with_dataset(d.clone())?;
    }
    let mut epochs = match args.every {
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
    // A repeated epoch would be the same result twice.
    let mut seen = std::collections::HashSet::new();
    epochs.retain(|e| seen.insert(*e));
    // Every checkpoint must exist before hours of products start.
    let paths = epochs
        .iter()
        .map(|&e| run.checkpoint(e))
        .collect::<Result<Vec<_>, _>>()?;
    let dtype = args.dtype.dtype();
    let net = run.network(dtype, &device)?;
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
    let data = FixedBatches::from_dataset(&train, &indices, bs, dtype, &device)?;
    let dim = net.num_params();
    if args.k > dim {
        bail!("--k {} exceeds the number of parameters {dim}", args.k);
    }
    let mut data_hash = Fnv::new();
    for &i in &indices {
        data_hash.f32s(train.image(i));
        data_hash.bytes(&[train.labels[i]]);
    }
    let settings = json!({
        "run": args.rundir.canonicalize().unwrap_or_else(|_| args.rundir.clone()),
        "k": args.k,
        "dim": dim,
        "dtype": args.dtype.name(),
        "mode": "eval",
        "loss": format!("{kind:?}"),
        "batches": args.batches,
        "batch_size": bs,
        "examples": data.examples(),
        "data_seed": args.data_seed,
        "data_hash": data_hash.hex(),
        // As text: Rust prints the shortest string that parses back to the same f64, and text
        // compares exactly after a round trip through the file.
        "tol": args.tol.to_string(),
        "max_matvecs": args.max_matvecs,
        "seed": args.seed,
    });
    // Results already in --out with these settings, by epoch (sorted).
    let mut stored: Vec<Value> = match &args.out {
        Some(path) => read_stored(path, &settings)?,
        None => Vec::new(),
    };
    let header = |checkpoints: Vec<Value>| {
        json!({
            "run": args.rundir,
            "k": args.k,
            "dim": dim,
            "dtype": args.dtype.name(),
            "mode": "eval",
            "batches": args.batches,
            "batch_size": bs,
            "examples": data.examples(),
            "data_seed": args.data_seed,
            "tol": args.tol,
            "max_matvecs": args.max_matvecs,
            "seed": args.seed,
            "settings": settings,
            "checkpoints": checkpoints,
        })
    };
    let solve = Solve {
        net: &net,
        data: &data,
        kind,
        args,
        device: &args.device,
    };
    let mut results = Vec::with_capacity(epochs.len());
    let mut resumed = Vec::new();
    for (i, (&epoch, path)) in epochs.iter().zip(&paths).enumerate() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let hash = Fnv::of(&bytes).hex();
        let found = stored
            .iter()
            .position(|e| e["checkpoint"].as_u64() == Some(epoch as u64));
        if let Some(j) = found {
            if stored[j]["checkpoint_hash"] == hash.as_str() {
                resumed.push(epoch);
                results.push(stored[j].clone());
                continue;
            }
            eprintln!(
                "checkpoint {epoch} changed since {} was written; recomputing it",
                args.out.as_deref().unwrap_or(Path::new("")).display()
            );
        }
        let entry = solve.checkpoint(epoch, path, &hash)?;
        match found {
            Some(j) => stored[j] = entry.clone(),
            None => stored.push(entry.clone()),
        }
        stored.sort_by_key(|e| e["checkpoint"].as_u64());
        results.push(entry);
        if let Some(out) = &args.out {
            let mut file = header(stored.clone());
            file["pending"] = json!(epochs[i + 1..]);
            write_json_atomic(out, &file)?;
        }
    }
    if let Some(out) = &args.out {
        // Also when everything was resumed: the file then records that nothing is pending.
        let mut file = header(stored);
        file["pending"] = json!([]);
        write_json_atomic(out, &file)?;
    }
    let mut value = header(results);
    value["resumed"] = json!(resumed);
    Ok(value)
}

/// What every checkpoint's solve shares.
struct Solve<'a> {
    net: &'a Network,
    data: &'a FixedBatches,
    kind: LossKind,
    args: &'a Args,
    device: &'a DeviceKind,
}

impl Solve<'_> {
    /// The top-k eigenpairs at one checkpoint, as its JSON entry.
    fn checkpoint(&self, epoch: usize, path: &Path, hash: &str) -> anyhow::Result<Value> {
        let args = self.args;
        self.net.load_checkpoint(path)?;
        // The weights stay fixed during the solve: keep the gradient graphs between products.
        let op = network_hessian(self.net, self.data, self.kind)?.with_cached_gradients();
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
        Ok(json!({
            "checkpoint": epoch,
            "file": path,
            "checkpoint_hash": hash,
            "device": self.device.to_string(),
            "loss": loss,
            "eigenvalues": res.eigenvalues,
            "residuals": explicit,
            "lanczos_residuals": res.residuals,
            "converged": converged,
            "matvecs": res.matvecs + res.eigenvalues.len(),
            "termination": res.termination,
            "seconds": start.elapsed().as_secs_f64(),
        }))
    }
}

/// The checkpoint results in an earlier `--out` file, when its settings equal `settings`; none
/// when the file does not exist.
fn read_stored(path: &Path, settings: &Value) -> anyhow::Result<Vec<Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let not_ours = || {
        format!(
            "{} exists and is not a resumable `anodiff hessian` result (another program's file, \
             or one from an anodiff without resume); delete it or choose another --out",
            path.display()
        )
    };
    let value: Value = serde_json::from_str(&text).with_context(not_ours)?;
    let (Some(old), Some(list)) = (value.get("settings"), value["checkpoints"].as_array()) else {
        bail!(not_ours());
    };
    if old != settings {
        let differ: Vec<String> = settings
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| old.get(k.as_str()) != Some(v))
            .map(|(k, v)| {
                let was = old
                    .get(k.as_str())
                    .map_or("nothing".into(), Value::to_string);
                format!("{k} {v} (the file has {was})")
            })
            .collect();
        bail!(
            "{} holds results computed with different settings: {}; rerun with its settings to \
             resume, or delete it or choose another --out",
            path.display(),
            if differ.is_empty() {
                "other keys".to_string()
            } else {
                differ.join(", ")
            }
        );
    }
    for e in list {
        if e["checkpoint"].as_u64().is_none() || e["checkpoint_hash"].as_str().is_none() {
            bail!("{}: a checkpoint entry is incomplete", not_ours());
        }
    }
    Ok(list.clone())
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename, so that a
/// reader (or a rerun after a kill) sees the previous or the new content, never a torn one.
fn write_json_atomic(path: &Path, value: &Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// 64-bit FNV-1a: identifies a checkpoint file and the fixed data (not a security hash; it
/// guards against reusing results of other inputs by mistake).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn of(bytes: &[u8]) -> Self {
        let mut h = Fnv::new();
        h.bytes(bytes);
        h
    }
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn f32s(&mut self, xs: &[f32]) {
        for x in xs {
            self.bytes(&x.to_bits().to_le_bytes());
        }
    }
    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}
