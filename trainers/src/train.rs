//! Vanilla SGD (`w <- w - eta g`: no momentum, no weight decay, constant learning rate) that
//! records its trajectory into a run directory (layout in [`crate::run`]).
//!
//! # A step
//!
//! Step `t` (0-based) trains on the minibatch `BatchLoader::indices(t)` (a pure function of the
//! seed and `t`), augmented from `(seed, t)` when augmentation is on. With the weights `w_t` it
//! runs the forward pass in train mode (batch-norm batch statistics; the running statistics are
//! updated), computes the minibatch loss `L_t(w_t)`, backpropagates, and when `t % K == 0`
//! records row `t / K` of the store: `w_t` (or its subset or projection), `L_t(w_t)` and
//! optionally the gradient `g_t` (or its subset) — all at the **pre-update** weights. Then
//! `w_{t+1} = w_t - eta g_t`.
//!
//! # Checkpoints and resume
//!
//! After the update of step `t`, when `t + 1` ends an epoch, the weights and BN statistics go to
//! `checkpoints/epoch-<E>.safetensors`; at every epoch end and every `checkpoint_every` steps,
//! to `checkpoints/last.safetensors` with the step `t + 1` (and the epoch's running loss sum) in
//! its metadata. A checkpoint is written only after the store has committed every recorded step
//! before it, so the store is never behind the checkpoint. [`resume`] loads the last checkpoint
//! (or, without one, rebuilds the initial weights from the seed), reopens the store at its
//! committed length `n`, and re-runs the steps from the checkpoint: steps whose rows are
//! already committed are recomputed and **compared bit for bit** with the stored rows (weights
//! and loss) instead of being appended, then appending resumes at row `n`. On CPU every step is
//! a deterministic function of the seed, so the resumed trajectory is the one an uninterrupted
//! run records, with no step missing or duplicated; a mismatch (e.g. resuming on another
//! device) is an error naming the step. On a GPU, whose kernels need not be bitwise
//! reproducible, replayed rows must agree with the stored ones within a relative `1e-3`, and the
//! run continues from the replayed weights (bit-for-bit continuation is a CPU guarantee).
//!
//! # One process per run directory
//!
//! [`train`], [`resume`] and [`train_or_resume`] hold the run directory's lock
//! ([`crate::lock`], the file `RUNDIR/.lock`) from before their first write to their last, so
//! a second process refuses with [`Error::RunInUse`] instead of writing into the same store;
//! the lock dies with its process, so a killed run is resumable at once.
//!
//! # Divergence
//!
//! A NaN or infinite minibatch loss (or weight) at step `t` stops the run with
//! [`Error::Diverged`] naming `t`; rows before it stay committed, the store is finished, and
//! `run.json` says `diverged` with the step and loss.

use crate::checkpoint::write_atomic;
use crate::data::{make_batch, Augment, BatchLoader, Dataset, Splits};
use crate::error::{Error, Result};
use crate::lock::{RunLock, LOCK_FILE};
use crate::model::{loss, LossKind, Network};
use crate::record::{seeded_subset, GradRecord, WeightMap, WeightRecord};
use crate::run::{
    CheckpointEntry, Divergence, EpochMetrics, Length, RunRecord, RunStatus, Timing, TrainConfig,
    CHECKPOINTS, LAST, RUN_FORMAT, RUN_JSON,
};
use anodiff_core::trajectory::store::MANIFEST;
use anodiff_core::trajectory::{
    Step, StoreOptions, StoreReader, StoreWriter, TrajectorySink, TrajectorySource,
};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Callbacks for progress reporting (the command line draws a progress bar with them).
pub trait Observer {
    /// Training is about to run steps `start..total`.
    fn start(&mut self, start: usize, total: usize) {
        let _ = (start, total);
    }
    /// Step `step` finished with minibatch loss `loss`.
    fn step(&mut self, step: usize, loss: f64) {
        let _ = (step, loss);
    }
    /// An epoch ended and was evaluated.
    fn epoch(&mut self, metrics: &EpochMetrics) {
        let _ = metrics;
    }
    /// Something the user should know that does not stop the run (the default prints it on
    /// stderr).
    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// An [`Observer`] that ignores progress (warnings still go to stderr).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}

/// What a finished run returns.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The final `run.json`.
    pub record: RunRecord,
}

/// Mean loss and accuracy of `net` on `ds` in eval mode, in batches of `batch` images
/// (accumulated in `f64`).
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty set; candle errors.
pub fn evaluate(net: &Network, ds: &Dataset, kind: LossKind, batch: usize) -> Result<(f64, f64)> {
    if ds.is_empty() {
        return Err(Error::param("dataset", "cannot evaluate on an empty set"));
    }
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let idx: Vec<usize> = (0..ds.len()).collect();
    for chunk in idx.chunks(batch.max(1)) {
        let b = make_batch(ds, chunk, None, 0, 0);
        let (x, y) = to_tensors(&b.images, &b.labels, b.shape, net.dtype(), net.device())?;
        let logits = net.forward(&x, false)?;
        let l = loss(&logits, &y, kind, net.num_classes())?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        loss_sum += l * chunk.len() as f64;
        let pred = logits.argmax(1)?.to_vec1::<u32>()?;
        correct += pred
            .iter()
            .zip(&b.labels)
            .filter(|(p, l)| **p == u32::from(**l))
            .count();
    }
    Ok((loss_sum / ds.len() as f64, correct as f64 / ds.len() as f64))
}

/// The minibatch loss of `(x, y)` at the current weights (forward in train mode: batch-norm
/// batch statistics, running statistics updated) and the gradients of every trainable
/// parameter. The loss is returned even when it is not finite (the caller decides).
///
/// ResNets on the CPU take a hand-written backward pass through the same kernels, which skips
/// candle's per-node gradient bookkeeping (about a quarter of a CPU step); everything else
/// goes through [`loss_and_gradient_autograd`]. Both give the same values.
///
/// # Errors
/// Candle errors (shapes, device).
pub fn loss_and_gradient(
    net: &Network,
    x: &Tensor,
    y: &Tensor,
    kind: LossKind,
) -> Result<(f64, GradStore)> {
    if let Some(r) = net.cpu_loss_and_gradient(x, y, kind) {
        return Ok(r?);
    }
    loss_and_gradient_autograd(net, x, y, kind)
}

/// [`loss_and_gradient`] through candle's autograd for every architecture and device.
///
/// # Errors
/// Candle errors (shapes, device).
pub fn loss_and_gradient_autograd(
    net: &Network,
    x: &Tensor,
    y: &Tensor,
    kind: LossKind,
) -> Result<(f64, GradStore)> {
    let logits = net.forward(x, true)?;
    let l = loss(&logits, y, kind, net.num_classes())?;
    let lv = l.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    Ok((lv, l.backward()?))
}

/// The vanilla SGD update `w <- w - lr g` of every trainable parameter (as `candle_nn::SGD`
/// computes it: `w - g * lr` in the parameters' dtype).
///
/// # Errors
/// Candle errors.
pub fn sgd_update(net: &Network, grads: &GradStore, lr: f64) -> Result<()> {
    for (_, v) in net.trainable() {
        if let Some(g) = grads.get(v.as_tensor()) {
            v.set(&v.as_tensor().sub(&(g * lr)?)?)?;
        }
    }
    Ok(())
}

/// A batch as tensors: images `shape` (N, C, H, W) in `dtype`, labels as `U32`.
///
/// # Errors
/// [`Error::Candle`] if `images` does not have `shape`'s size.
pub fn to_tensors(
    images: &[f32],
    labels: &[u8],
    shape: [usize; 4],
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let x = Tensor::from_slice(images, shape.as_slice(), device)?.to_dtype(dtype)?;
    let y: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
    let y = Tensor::from_vec(y, labels.len(), device)?;
    Ok((x, y))
}

/// Whether a replayed row equals the stored one: bit for bit on CPU (where every step is
/// deterministic); on a GPU, whose reductions need not be bitwise reproducible, within a
/// relative `1e-3` of the row's largest value and of the loss (still catching a wrong
/// checkpoint or a corrupted row; the trajectory then continues from the replayed weights).
fn replay_matches(
    stored: &[f32],
    replayed: &[f32],
    stored_loss: Option<f64>,
    loss: f64,
    exact: bool,
) -> bool {
    let Some(sl) = stored_loss else {
        return false;
    };
    if exact {
        return sl.to_bits() == loss.to_bits()
            && stored.len() == replayed.len()
            && stored
                .iter()
                .zip(replayed)
                .all(|(a, b)| a.to_bits() == b.to_bits());
    }
    let scale = stored.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let max_diff = stored
        .iter()
        .zip(replayed)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    stored.len() == replayed.len()
        && max_diff <= 1e-3 * scale
        && (sl - loss).abs() <= 1e-3 * sl.abs().max(1e-6)
}

/// The recorded gradient coordinates.
#[derive(Debug, Clone)]
enum GradMap {
    None,
    Full,
    Subset(Vec<usize>),
}

/// Bytes of free space on the file system holding `dir` (or its nearest existing ancestor).
fn free_space(dir: &Path) -> Option<u64> {
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.exists() {
            return fs2::available_space(d).ok();
        }
        p = d.parent();
    }
    fs2::available_space(Path::new(".")).ok()
}

fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
}

/// Everything a run needs in memory.
struct Session<'o> {
    /// Held until the session ends.
    _lock: RunLock,
    cfg: TrainConfig,
    dir: PathBuf,
    net: Network,
    splits: Splits,
    loader: BatchLoader,
    augment: Option<Augment>,
    wmap: WeightMap,
    gmap: GradMap,
    record: RunRecord,
    obs: &'o mut dyn Observer,
}

/// Data, network and recording plan of a configuration, checked before anything is written.
struct Plan {
    net: Network,
    splits: Splits,
    augment: Option<Augment>,
    loader: BatchLoader,
    wmap: WeightMap,
    gmap: GradMap,
    record: RunRecord,
}

fn plan(cfg: &TrainConfig) -> Result<Plan> {
    cfg.validate()?;
    let device = cfg.device.open()?;
    let (splits, mean, std) = crate::data::load_with_stats(&cfg.dataset)?;
    let augment = cfg.augmentation(&mean, &std)?;
    let n_train = splits.train.len();
    if cfg.batch_size > n_train {
        return Err(Error::param(
            "batch-size",
            format!(
                "batch size {} is larger than the training set ({n_train} images of {})",
                cfg.batch_size, cfg.dataset
            ),
        ));
    }
    let input = [
        splits.train.channels,
        splits.train.height,
        splits.train.width,
    ];
    let num_classes = splits.train.num_classes;
    let seeds = cfg.seeds();
    let net = Network::new(
        &cfg.model,
        input,
        num_classes,
        DType::F32,
        &device,
        seeds.init,
        &cfg.init_options(),
    )?;
    let loader = BatchLoader::new(n_train, cfg.batch_size, seeds.data)?;
    let bpe = loader.batches_per_epoch();
    let total_steps = match cfg.length {
        Length::Epochs(e) => e
            .checked_mul(bpe)
            .ok_or_else(|| Error::param("epochs", "too many steps"))?,
        Length::Steps(n) => n,
    };
    let d = net.num_params();
    let wmap = match cfg.record_weights {
        WeightRecord::Full => WeightMap::Full,
        WeightRecord::Subset(m) => {
            WeightMap::Subset(seeded_subset(d, m, seeds.weight_subset, "record-weights")?)
        }
        WeightRecord::Project(k) if k >= d => {
            return Err(Error::param(
                "record-weights",
                format!("project:{k} does not reduce the network's {d} coordinates; use full"),
            ))
        }
        WeightRecord::Project(k) => WeightMap::Project {
            k,
            seed: seeds.projection,
            w0: net.flat_weights()?,
        },
    };
    let gmap = match cfg.record_grad {
        GradRecord::None => GradMap::None,
        GradRecord::Full => GradMap::Full,
        GradRecord::Sample(m) => {
            GradMap::Subset(seeded_subset(d, m, seeds.grad_subset, "record-grad")?)
        }
    };
    let gradient_dim = match &gmap {
        GradMap::None => 0,
        GradMap::Full => d,
        GradMap::Subset(i) => i.len(),
    };
    let record = RunRecord {
        format: RUN_FORMAT.into(),
        version: 1,
        status: RunStatus::Running,
        config: cfg.clone(),
        seeds,
        input,
        num_classes,
        n_train,
        num_params: d,
        recorded_dim: wmap.dim(d),
        gradient_dim,
        steps_per_epoch: bpe,
        total_steps,
        steps_done: 0,
        epochs: Vec::new(),
        checkpoints: Vec::new(),
        diverged: None,
        error: None,
        timing: Timing::default(),
    };
    Ok(Plan {
        net,
        splits,
        augment,
        loader,
        wmap,
        gmap,
        record,
    })
}

/// Bytes the recording of rows `from..` and the checkpoints still to write need.
fn bytes_needed(r: &RunRecord, from_row: usize, from_step: usize) -> (u64, u64, u64) {
    let every = r.config.record.0 as u64;
    let rows = (r.total_steps as u64).div_ceil(every);
    let rows_left = rows.saturating_sub(from_row as u64);
    let row_bytes = 4 * (r.recorded_dim as u64 + r.gradient_dim as u64) + 8;
    let epochs_left =
        ((r.total_steps - from_step.min(r.total_steps)) / r.steps_per_epoch.max(1)) as u64;
    // Checkpoints: f32 weights plus BN statistics (under 2 % of d for these nets) and headers.
    let ckpt = (r.num_params as u64 * 4) * 102 / 100 + 65_536;
    let need = rows_left
        .saturating_mul(row_bytes)
        .saturating_add((epochs_left + 2).saturating_mul(ckpt));
    (rows_left, row_bytes, need)
}

fn check_space(r: &RunRecord, dir: &Path, from_row: usize, from_step: usize) -> Result<()> {
    let (rows, row_bytes, need) = bytes_needed(r, from_row, from_step);
    if let Some(free) = free_space(dir) {
        if need > free {
            return Err(Error::param(
                "record",
                format!(
                    "the recording would not fit: {rows} rows x {row_bytes} bytes ({} weights{} \
                     per row) + checkpoints = {need} bytes ({}), but {} has {free} bytes ({}) \
                     free; record fewer rows (--record every:K), a weight subset \
                     (--record-weights subset:M) or a projection (--record-weights project:K), \
                     or pick another directory",
                    r.recorded_dim,
                    if r.gradient_dim > 0 {
                        format!(" + {} gradient values", r.gradient_dim)
                    } else {
                        String::new()
                    },
                    gib(need),
                    dir.display(),
                    gib(free)
                ),
            ));
        }
    }
    Ok(())
}

fn coords_json(wmap: &WeightMap, gmap: &GradMap) -> Option<serde_json::Value> {
    let w = match wmap {
        WeightMap::Subset(i) => Some(i.clone()),
        _ => None,
    };
    let g = match gmap {
        GradMap::Subset(i) => Some(i.clone()),
        _ => None,
    };
    (w.is_some() || g.is_some()).then(|| serde_json::json!({ "weights": w, "gradients": g }))
}

/// Creates the run's trajectory store in `dir`.
fn create_store(dir: &Path, r: &RunRecord) -> Result<StoreWriter> {
    let mut options = StoreOptions::new(r.recorded_dim)
        .with_gradient_dim(r.gradient_dim)
        .with_sync(r.config.sync)
        .with_metadata(serde_json::json!({
            "producer": "anodiff train",
            "config": &r.config,
            "seeds": &r.seeds,
            "num_params": r.num_params,
            "record_step": "row r holds step r * every (weights before that step's update)",
        }));
    if let WeightRecord::Subset(_) = r.config.record_weights {
        options = options.with_subset_seed(r.seeds.weight_subset);
    }
    Ok(StoreWriter::create(dir, options)?)
}

/// Whether `dir` holds a run (or at least a store) already.
fn holds_run(dir: &Path) -> bool {
    dir.join(RUN_JSON).exists() || dir.join(MANIFEST).exists()
}

fn already_holds_run(dir: &Path) -> Error {
    Error::param(
        "out",
        format!(
            "{} already holds a run; continue it with --resume {0} or choose another directory",
            dir.display()
        ),
    )
}

/// Checks that `dir` can receive a new run: absent, or an empty directory (a lock file left by
/// an earlier process does not count).
fn check_new_dir(dir: &Path) -> Result<()> {
    if holds_run(dir) {
        return Err(already_holds_run(dir));
    }
    if dir.is_file() {
        return Err(Error::param(
            "out",
            format!("{} is a file, not a directory", dir.display()),
        ));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        if entries
            .filter_map(|e| e.ok())
            .any(|e| e.file_name() != LOCK_FILE)
        {
            return Err(Error::param(
                "out",
                format!(
                    "{} is not empty; the run directory must be new or empty",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Takes `dir`'s lock, passing a file system's lack of lock support to `obs` as a warning.
fn lock(dir: &Path, obs: &mut dyn Observer) -> Result<RunLock> {
    let lock = RunLock::acquire(dir)?;
    if let Some(why) = lock.unsupported() {
        obs.warning(why);
    }
    Ok(lock)
}

/// Creates `dir` (after [`plan`] and the space check: bad input writes nothing) and locks it;
/// `None` when another process has meanwhile put a run there (whose lock is free: it ended).
fn lock_new_dir(dir: &Path, obs: &mut dyn Observer) -> Result<Option<RunLock>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock = lock(dir, obs)?;
    if holds_run(dir) {
        return Ok(None);
    }
    check_new_dir(dir)?;
    Ok(Some(lock))
}

/// Trains `cfg` into the new run directory `dir` (which must not exist or be empty).
///
/// Everything that can be checked before training is checked before anything is written:
/// the configuration, the dataset files, the batch size against the training set, the device,
/// and the disk space the recording needs (the error gives the bytes needed and free).
/// The directory is locked for the whole run (see [`crate::lock`]).
///
/// # Errors
/// [`Error::InvalidParameter`] / [`Error::Format`] for bad input (nothing written);
/// [`Error::RunInUse`] when another process holds the directory; [`Error::Diverged`] naming
/// the step if the loss becomes NaN or infinite (everything before it stays recorded);
/// [`Error::Io`] for write failures (the run is resumable).
pub fn train(cfg: &TrainConfig, dir: &Path, obs: &mut dyn Observer) -> Result<RunSummary> {
    new_run(cfg, dir, obs)?.ok_or_else(|| already_holds_run(dir))
}

/// Checks, plans and locks a new run of `cfg` in `dir` and trains it; `None` when another
/// process started a run there between the checks and the lock.
fn new_run(cfg: &TrainConfig, dir: &Path, obs: &mut dyn Observer) -> Result<Option<RunSummary>> {
    check_new_dir(dir)?;
    let p = plan(cfg)?;
    check_space(&p.record, dir, 0, 0)?;
    match lock_new_dir(dir, obs)? {
        Some(lock) => start_new(cfg, dir, p, lock, obs).map(Some),
        None => Ok(None),
    }
}

/// Writes the new run's files and trains it.
fn start_new(
    cfg: &TrainConfig,
    dir: &Path,
    p: Plan,
    lock: RunLock,
    obs: &mut dyn Observer,
) -> Result<RunSummary> {
    // run.json first: a kill after it leaves a resumable run, before it an empty directory.
    p.record.write(dir)?;
    std::fs::create_dir_all(dir.join(CHECKPOINTS))
        .map_err(|e| Error::io(dir.join(CHECKPOINTS), e))?;
    if let Some(c) = coords_json(&p.wmap, &p.gmap) {
        let path = dir.join("record_coords.json");
        write_atomic(&path, c.to_string().as_bytes())?;
    }
    let writer = create_store(dir, &p.record)?;
    let mut s = Session {
        _lock: lock,
        cfg: cfg.clone(),
        dir: dir.to_path_buf(),
        net: p.net,
        splits: p.splits,
        loader: p.loader,
        augment: p.augment,
        wmap: p.wmap,
        gmap: p.gmap,
        record: p.record,
        obs,
    };
    s.save_epoch_checkpoint(0, 0)?;
    s.save_last(0, 0.0, 0)?;
    s.run(writer, None, 0, 0.0, 0)
}

/// What [`train_or_resume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Trained a new run (the directory was absent or empty).
    New,
    /// Continued an interrupted or failed run of the same configuration.
    Resumed,
    /// Found a finished or diverged run of the same configuration and trained nothing.
    Existing,
}

impl Outcome {
    /// `new`, `resumed` or `existing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Resumed => "resumed",
            Outcome::Existing => "existing",
        }
    }
}

/// Makes `dir` hold a complete run of `cfg`, whatever an earlier attempt left there: trains a
/// new run into an absent or empty directory, [`resume`]s a running (killed) or failed run of
/// the same configuration, and returns a finished or diverged one as it is. "The same" is
/// [`TrainConfig::run_differences`]: the device, the checkpoint interval, `sync` and the
/// dataset's directory may differ, and a resumed run takes them from `cfg` (the data may sit
/// at another path on this node). Every decision is taken under the directory's lock, so two
/// callers never both train it. This is what a scheduler's retry wants
/// (`anodiff train --if-exists resume`).
///
/// # Errors
/// [`Error::ConfigMismatch`] listing each difference when `dir` holds a run of another
/// configuration; [`Error::RunInUse`] when another process holds the directory; otherwise as
/// [`train`] and [`resume`] (a run that diverges now is [`Error::Diverged`], as in [`train`]).
///
/// # Examples
/// ```
/// use anodiff_trainers::data::DatasetSpec;
/// use anodiff_trainers::run::{Length, TrainConfig};
/// use anodiff_trainers::train::{train_or_resume, Outcome, Silent};
/// let dir = tempfile::tempdir()?;
/// let run = dir.path().join("run");
/// let mut cfg = TrainConfig::new("mlp:8".parse()?, DatasetSpec::Digits);
/// cfg.length = Length::Steps(3);
/// assert_eq!(train_or_resume(&cfg, &run, &mut Silent)?.0, Outcome::New);
/// assert_eq!(train_or_resume(&cfg, &run, &mut Silent)?.0, Outcome::Existing);
/// cfg.lr = 0.05;
/// let e = train_or_resume(&cfg, &run, &mut Silent).unwrap_err();
/// assert!(e.to_string().contains("lr: 0.05 here, 0.1 there"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn train_or_resume(
    cfg: &TrainConfig,
    dir: &Path,
    obs: &mut dyn Observer,
) -> Result<(Outcome, RunSummary)> {
    if !holds_run(dir) {
        if let Some(s) = new_run(cfg, dir, obs)? {
            return Ok((Outcome::New, s));
        }
    }
    let lock = lock(dir, obs)?;
    if !dir.join(RUN_JSON).exists() {
        return Err(Error::param(
            "out",
            format!(
                "{} holds a trajectory store but no {RUN_JSON}: it is not a training run; \
                 choose another directory",
                dir.display()
            ),
        ));
    }
    let record = RunRecord::read(dir)?;
    let differences = cfg.run_differences(&record.config);
    if !differences.is_empty() {
        return Err(Error::ConfigMismatch {
            dir: dir.to_path_buf(),
            differences,
        });
    }
    match record.status {
        RunStatus::Finished | RunStatus::Diverged => Ok((Outcome::Existing, RunSummary { record })),
        RunStatus::Running | RunStatus::Failed => {
            // The asked configuration replaces the recorded one: they differ at most in where and
            // how the run executes (a dataset moved to another path on this node, the device,
            // the checkpoint interval), and this process runs it here.
            Ok((Outcome::Resumed, resume_locked(dir, lock, obs, Some(cfg))?))
        }
    }
}

/// Continues the run in `dir` after a crash, a kill or a failure (see the
/// [module docs](self#checkpoints-and-resume)), holding the directory's lock.
///
/// # Errors
/// [`Error::InvalidParameter`] if the run is finished or diverged; [`Error::RunInUse`] when
/// another process holds the directory; [`Error::Format`] if the store, the checkpoint or a
/// recomputed step disagree; otherwise as [`train`].
pub fn resume(dir: &Path, obs: &mut dyn Observer) -> Result<RunSummary> {
    // A directory without a run gets the missing run.json's error, not a lock file.
    RunRecord::read(dir)?;
    let lock = lock(dir, obs)?;
    resume_locked(dir, lock, obs, None)
}

/// [`resume`] under `lock`, with `cfg` (of no [`TrainConfig::run_differences`] from the
/// recorded one) in place of the recorded configuration when given.
fn resume_locked(
    dir: &Path,
    lock: RunLock,
    obs: &mut dyn Observer,
    cfg: Option<&TrainConfig>,
) -> Result<RunSummary> {
    let mut old = RunRecord::read(dir)?;
    if let Some(c) = cfg {
        old.config = c.clone();
    }
    match old.status {
        RunStatus::Finished => {
            return Err(Error::param(
                "resume",
                format!("{} is finished: nothing to resume", dir.display()),
            ))
        }
        RunStatus::Diverged => {
            return Err(Error::param(
                "resume",
                format!(
                    "{} diverged at step {}: resuming would diverge again; start a new run \
                     (e.g. with a smaller --lr)",
                    dir.display(),
                    old.diverged.map_or(0, |d| d.step)
                ),
            ))
        }
        RunStatus::Running | RunStatus::Failed => {}
    }
    let cfg = old.config.clone();
    let p = plan(&cfg)?;
    if (
        p.record.num_params,
        p.record.recorded_dim,
        p.record.gradient_dim,
        p.record.total_steps,
    ) != (
        old.num_params,
        old.recorded_dim,
        old.gradient_dim,
        old.total_steps,
    ) {
        return Err(Error::format(
            dir.join(RUN_JSON),
            "the configuration no longer gives the same network, data or recording \
             (dataset files changed?)",
        ));
    }
    let last = dir.join(CHECKPOINTS).join(LAST);
    if !dir.join(MANIFEST).exists() {
        // Killed between writing run.json and creating the store: nothing was trained yet.
        std::fs::create_dir_all(dir.join(CHECKPOINTS))
            .map_err(|e| Error::io(dir.join(CHECKPOINTS), e))?;
        create_store(dir, &old)?;
        if let Some(c) = coords_json(&p.wmap, &p.gmap) {
            write_atomic(&dir.join("record_coords.json"), c.to_string().as_bytes())?;
        }
        let _ = std::fs::remove_file(&last);
    }
    let (start, loss_sum, loss_count) = if last.exists() {
        let meta = p.net.load_checkpoint(&last)?;
        let get = |k: &str| -> Result<u64> {
            meta.get(k)
                .and_then(|v| u64::from_str_radix(v, 16).ok())
                .ok_or_else(|| Error::format(&last, format!("metadata '{k}' missing or malformed")))
        };
        (
            get("step")? as usize,
            f64::from_bits(get("epoch_loss_sum")?),
            get("epoch_loss_count")? as usize,
        )
    } else {
        // Killed before the first checkpoint: the initial weights come from the seed.
        (0, 0.0, 0)
    };
    let writer = StoreWriter::resume(dir, cfg.sync)?;
    let committed = writer.len();
    let every = cfg.record.0;
    if committed < start.div_ceil(every) {
        return Err(Error::format(
            dir.join(MANIFEST),
            format!(
                "the store holds {committed} rows but the checkpoint is at step {start}, which \
                 needs {}; the run directory is inconsistent",
                start.div_ceil(every)
            ),
        ));
    }
    let reader = if committed > start.div_ceil(every) {
        Some(StoreReader::open(dir)?)
    } else {
        None
    };
    check_space(&old, dir, committed, start)?;
    let mut record = old;
    record.status = RunStatus::Running;
    record.error = None;
    // Epoch metrics after the checkpoint are recomputed while replaying.
    record.epochs.retain(|m| m.step <= start);
    let mut s = Session {
        _lock: lock,
        augment: p.augment,
        cfg,
        dir: dir.to_path_buf(),
        net: p.net,
        splits: p.splits,
        loader: p.loader,
        wmap: p.wmap,
        gmap: p.gmap,
        record,
        obs,
    };
    if start == 0 {
        s.save_epoch_checkpoint(0, 0)?;
    }
    s.record.write(dir)?;
    s.run(writer, reader, start, loss_sum, loss_count)
}

impl Session<'_> {
    fn checkpoint_path(&self, name: &str) -> PathBuf {
        self.dir.join(CHECKPOINTS).join(name)
    }

    fn save_epoch_checkpoint(&mut self, epoch: usize, step: usize) -> Result<()> {
        let file = format!("{CHECKPOINTS}/epoch-{epoch}.safetensors");
        let mut meta = HashMap::new();
        meta.insert("epoch".to_string(), epoch.to_string());
        meta.insert("step_done".to_string(), step.to_string());
        self.net
            .save_checkpoint_with(&self.dir.join(&file), &meta)?;
        self.record.checkpoints.retain(|c| c.epoch != epoch);
        self.record
            .checkpoints
            .push(CheckpointEntry { epoch, step, file });
        self.record.checkpoints.sort_by_key(|c| c.epoch);
        Ok(())
    }

    /// The resume point: the weights before step `step`, hex-encoded exact metadata.
    fn save_last(&self, step: usize, loss_sum: f64, loss_count: usize) -> Result<()> {
        let mut meta = HashMap::new();
        meta.insert("step".to_string(), format!("{step:x}"));
        meta.insert(
            "epoch_loss_sum".to_string(),
            format!("{:x}", loss_sum.to_bits()),
        );
        meta.insert("epoch_loss_count".to_string(), format!("{loss_count:x}"));
        self.net
            .save_checkpoint_with(&self.checkpoint_path(LAST), &meta)
    }

    fn metrics(&self, epoch: usize, step: usize, train_loss: f64) -> Result<EpochMetrics> {
        let (test_loss, test_accuracy) =
            evaluate(&self.net, &self.splits.test, self.cfg.loss, 500)?;
        Ok(EpochMetrics {
            epoch,
            step,
            train_loss,
            test_loss,
            test_accuracy,
        })
    }

    fn push_metrics(&mut self, m: EpochMetrics) {
        self.record.epochs.retain(|e| e.step != m.step);
        self.record.epochs.push(m);
        self.record.epochs.sort_by_key(|e| e.step);
        self.obs.epoch(&m);
    }

    /// Runs steps `start..total`, verifying replayed rows against `reader`.
    fn run(
        &mut self,
        writer: StoreWriter,
        reader: Option<StoreReader>,
        start: usize,
        mut loss_sum: f64,
        mut loss_count: usize,
    ) -> Result<RunSummary> {
        let mut writer = writer;
        let result = self.steps(
            &mut writer,
            reader.as_ref(),
            start,
            &mut loss_sum,
            &mut loss_count,
        );
        drop(reader);
        match result {
            Ok(()) => {
                writer.finish()?;
                self.record.status = RunStatus::Finished;
                self.record.write(&self.dir)?;
                Ok(RunSummary {
                    record: self.record.clone(),
                })
            }
            Err(Error::Diverged {
                step,
                quantity,
                loss,
            }) => {
                // Everything committed stays; finishing only trims the last chunk.
                let fin = writer.finish();
                self.record.status = RunStatus::Diverged;
                self.record.diverged = Some(Divergence { step, loss });
                self.record.steps_done = step;
                self.record.write(&self.dir)?;
                fin?;
                Err(Error::Diverged {
                    step,
                    quantity,
                    loss,
                })
            }
            Err(e) => {
                drop(writer);
                self.record.status = RunStatus::Failed;
                self.record.error = Some(e.to_string());
                // Best effort: the original error matters more than a failure to report it.
                let _ = self.record.write(&self.dir);
                Err(e)
            }
        }
    }

    fn steps(
        &mut self,
        writer: &mut StoreWriter,
        reader: Option<&StoreReader>,
        start: usize,
        loss_sum: &mut f64,
        loss_count: &mut usize,
    ) -> Result<()> {
        let total = self.record.total_steps;
        let bpe = self.record.steps_per_epoch;
        let every = self.cfg.record.0;
        let lr = self.cfg.lr;
        let dtype = self.net.dtype();
        let device = self.net.device().clone();
        let mut timing = Timing::default();
        let mut replay_row = vec![
            0.0f32;
            if reader.is_some() {
                self.record.recorded_dim
            } else {
                0
            }
        ];
        self.obs.start(start, total);
        for t in start..total {
            let t0 = Instant::now();
            let idx = self.loader.indices(t);
            let b = make_batch(
                &self.splits.train,
                &idx,
                self.augment.as_ref(),
                self.record.seeds.data,
                t,
            );
            let (x, y) = to_tensors(&b.images, &b.labels, b.shape, dtype, &device)?;
            let recorded = t % every == 0;
            let tr = Instant::now();
            let w_t = if recorded {
                Some(self.net.flat_weights()?)
            } else {
                None
            };
            let mut rec_time = tr.elapsed().as_secs_f64();
            let (lv, grads) = loss_and_gradient(&self.net, &x, &y, self.cfg.loss)?;
            if !lv.is_finite() {
                return Err(Error::Diverged {
                    step: t,
                    quantity: "the minibatch loss".into(),
                    loss: lv,
                });
            }
            if let Some(w) = w_t {
                let tr = Instant::now();
                if let Some(c) = w.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Diverged {
                        step: t,
                        quantity: format!("weight {c}"),
                        loss: w[c] as f64,
                    });
                }
                let row = t / every;
                let rec_w = self.wmap.apply(w);
                let g = match &self.gmap {
                    GradMap::None => None,
                    GradMap::Full => Some(self.net.flat_gradient::<f32>(&grads)?),
                    GradMap::Subset(i) => {
                        let g = self.net.flat_gradient::<f32>(&grads)?;
                        Some(i.iter().map(|&j| g[j]).collect())
                    }
                };
                if let Some(gc) = g
                    .as_ref()
                    .and_then(|g| g.iter().position(|v| !v.is_finite()))
                {
                    // A non-finite gradient makes w_{t+1} non-finite: the run diverges here.
                    return Err(Error::Diverged {
                        step: t,
                        quantity: format!("recorded gradient coordinate {gc}"),
                        loss: g.as_ref().map_or(f64::NAN, |g| g[gc] as f64),
                    });
                }
                match reader {
                    Some(rd) if row < writer.len() => {
                        rd.read_step(row, &mut replay_row)?;
                        let stored_loss = rd.losses(row..row + 1)?.and_then(|v| v.first().copied());
                        if !replay_matches(&replay_row, &rec_w, stored_loss, lv, device.is_cpu()) {
                            return Err(Error::format(
                                self.dir.join(MANIFEST),
                                format!(
                                    "resuming does not reproduce the recorded step {t} (row {row}): \
                                     the run must be resumed on the same device and build"
                                ),
                            ));
                        }
                    }
                    _ => writer.append(&Step {
                        weights: &rec_w,
                        loss: lv,
                        gradient: g.as_deref(),
                    })?,
                }
                rec_time += tr.elapsed().as_secs_f64();
            }
            sgd_update(&self.net, &grads, lr)?;
            timing.step_seconds += t0.elapsed().as_secs_f64();
            timing.record_seconds += rec_time;
            timing.steps += 1;
            *loss_sum += lv;
            *loss_count += 1;
            self.obs.step(t, lv);
            let done = t + 1;
            let epoch_end = done % bpe == 0;
            if epoch_end || done == total {
                let epoch = done.div_ceil(bpe);
                let m = self.metrics(epoch, done, *loss_sum / (*loss_count).max(1) as f64)?;
                self.push_metrics(m);
                if epoch_end {
                    self.save_epoch_checkpoint(epoch, done)?;
                    *loss_sum = 0.0;
                    *loss_count = 0;
                }
            }
            if epoch_end || done % self.cfg.checkpoint_every == 0 || done == total {
                // run.json (metrics, epoch checkpoints) first: a kill between the two writes
                // leaves an older resume point, from which the same metrics are recomputed.
                self.record.steps_done = done;
                self.record.timing = timing;
                self.record.write(&self.dir)?;
                self.save_last(done, *loss_sum, *loss_count)?;
            }
        }
        self.record.steps_done = total;
        self.record.timing = timing;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetSpec;
    use crate::run::open_run;

    fn cfg(model: &str, batch: usize, lr: f64, length: Length) -> TrainConfig {
        let mut c = TrainConfig::new(model.parse().unwrap(), DatasetSpec::Digits);
        c.batch_size = batch;
        c.lr = lr;
        c.length = length;
        c.sync = false;
        c
    }

    fn store_rows(dir: &Path) -> (Vec<Vec<f32>>, Vec<f64>) {
        let s = StoreReader::open(dir).unwrap();
        let mut rows = Vec::new();
        for t in 0..s.n_steps() {
            let mut w = vec![0.0f32; s.dim()];
            s.read_step(t, &mut w).unwrap();
            rows.push(w);
        }
        (rows, s.losses(0..s.n_steps()).unwrap().unwrap())
    }

    fn grads(dir: &Path) -> Vec<Vec<f32>> {
        let s = StoreReader::open(dir).unwrap();
        let g = s.gradient_dim();
        (0..s.n_steps())
            .map(|t| {
                let mut v = vec![0.0f32; g];
                s.read_gradients(t..t + 1, 0..g, &mut v).unwrap();
                v
            })
            .collect()
    }

    /// With augmentation on, the recorded loss of a step is that of the batch cropped with the
    /// raw-black border (the training statistics' `(0 - mean) / std`), not with the mean.
    #[test]
    fn augmented_training_pads_with_raw_black() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut c = cfg("mlp:16", 64, 0.05, Length::Steps(3));
        c.augment = true;
        train(&c, &run, &mut Silent).unwrap();
        let (w, losses) = store_rows(&run);
        let info = open_run(&run).unwrap();
        assert_eq!(info.config().augment_padding, crate::data::Padding::Black);
        let net = info.network(DType::F32, &Device::Cpu).unwrap();
        let (data, mean, std) = crate::data::load_with_stats(&c.dataset).unwrap();
        let loader = info.batch_loader().unwrap();
        let step_loss = |aug: &Augment, t: usize| {
            net.set_flat_weights(&w[t]).unwrap();
            let b = make_batch(
                &data.train,
                &loader.indices(t),
                Some(aug),
                info.record.seeds.data,
                t,
            );
            let (x, y) =
                to_tensors(&b.images, &b.labels, b.shape, DType::F32, &Device::Cpu).unwrap();
            let l = loss(&net.forward(&x, true).unwrap(), &y, c.loss, 10).unwrap();
            f64::from(l.to_scalar::<f32>().unwrap())
        };
        let black = Augment::CIFAR.black_padding(&mean, &std).unwrap();
        assert_eq!(losses.len(), 3);
        for (t, &recorded) in losses.iter().enumerate() {
            assert_eq!(step_loss(&black, t), recorded, "step {t}");
            // Digits have a mean far from black: a zero (mean) border would give another batch.
            assert_ne!(step_loss(&Augment::CIFAR, t), recorded, "step {t}");
        }
    }

    #[test]
    fn records_sgd_steps_that_the_update_rule_explains() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut c = cfg("mlp:32", 64, 0.05, Length::Epochs(2));
        c.record_grad = GradRecord::Full;
        let s = train(&c, &run, &mut Silent).unwrap();
        let r = &s.record;
        // digits: 1437 training images, batch 64 -> 22 steps per epoch.
        assert_eq!(
            (r.steps_per_epoch, r.total_steps, r.status),
            (22, 44, RunStatus::Finished)
        );
        let (w, losses) = store_rows(&run);
        let g = grads(&run);
        assert_eq!((w.len(), g.len(), losses.len()), (44, 44, 44));
        // Row 0 is the initial network (independently rebuilt from the seed).
        let info = open_run(&run).unwrap();
        let net = info.network(DType::F32, &Device::Cpu).unwrap();
        assert_eq!(w[0], net.flat_weights().unwrap());
        // w_{t+1} = w_t - lr g_t, in f32 as candle evaluates it: g * (lr as f32), then subtract.
        let lr = c.lr as f32;
        for t in 0..43 {
            for i in 0..w[t].len() {
                assert_eq!(w[t + 1][i], w[t][i] - g[t][i] * lr, "step {t} coord {i}");
            }
        }
        // The recorded loss is the minibatch loss at the pre-update weights: recompute step 30.
        net.set_flat_weights(&w[30]).unwrap();
        let loader = info.batch_loader().unwrap();
        let data = info.load_data().unwrap();
        let b = make_batch(
            &data.train,
            &loader.indices(30),
            None,
            info.record.seeds.data,
            30,
        );
        let (x, y) = to_tensors(&b.images, &b.labels, b.shape, DType::F32, &Device::Cpu).unwrap();
        let l = loss(
            &net.forward(&x, true).unwrap(),
            &y,
            LossKind::CrossEntropy,
            10,
        )
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
        assert_eq!(l as f64, losses[30]);
        // Learning happened: two epochs of an MLP on digits beat 60 % (chance: 10 %; this
        // configuration reaches about 75 %).
        assert_eq!(r.epochs.len(), 2);
        assert!(r.epochs[1].test_accuracy > 0.6, "{:?}", r.epochs);
        assert!(r.epochs[1].train_loss < r.epochs[0].train_loss);
        // Epoch checkpoints 0, 1, 2; the last one holds the final weights.
        assert_eq!(info.checkpoints().len(), 3);
        net.load_checkpoint(&info.checkpoint(1).unwrap()).unwrap();
        assert_eq!(net.flat_weights().unwrap(), w[22]);
        // A finished run refuses to resume, and its directory refuses a new run.
        assert!(resume(&run, &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("finished"));
        assert!(train(&c, &run, &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("--resume"));
    }

    #[test]
    fn subsets_pick_the_documented_coordinates() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full");
        let sub = dir.path().join("sub");
        let mut c = cfg("cnn", 32, 0.05, Length::Steps(9));
        c.record = crate::record::Every(3);
        c.record_grad = GradRecord::Full;
        train(&c, &full, &mut Silent).unwrap();
        c.record_weights = WeightRecord::Subset(40);
        c.record_grad = GradRecord::Sample(25);
        train(&c, &sub, &mut Silent).unwrap();
        let coords: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sub.join("record_coords.json")).unwrap())
                .unwrap();
        let wi: Vec<usize> = serde_json::from_value(coords["weights"].clone()).unwrap();
        let gi: Vec<usize> = serde_json::from_value(coords["gradients"].clone()).unwrap();
        let (wf, lf) = store_rows(&full);
        let (ws, ls) = store_rows(&sub);
        let (gf, gs) = (grads(&full), grads(&sub));
        // Steps 0, 3, 6: three rows.
        assert_eq!(
            (wf.len(), ws.len(), ws[0].len(), gs[0].len()),
            (3, 3, 40, 25)
        );
        assert_eq!(lf, ls);
        for t in 0..3 {
            assert_eq!(ws[t], wi.iter().map(|&i| wf[t][i]).collect::<Vec<_>>());
            assert_eq!(gs[t], gi.iter().map(|&i| gf[t][i]).collect::<Vec<_>>());
        }
        assert_eq!(
            StoreReader::open(&sub).unwrap().manifest().subset_seed,
            Some(c.seeds().weight_subset)
        );
        // A projection records (1/sqrt k) R (w_t - w_0) of the same weights.
        let proj = dir.path().join("proj");
        c.record_weights = WeightRecord::Project(16);
        c.record_grad = GradRecord::None;
        train(&c, &proj, &mut Silent).unwrap();
        let (wp, lp) = store_rows(&proj);
        assert_eq!(lp, lf);
        for t in 0..3 {
            let want = crate::record::project(&wf[t], &wf[0], 16, c.seeds().projection);
            assert_eq!(wp[t], want);
        }
        assert!(wp[0].iter().all(|&v| v == 0.0) && wp[2].iter().any(|&v| v != 0.0));
    }

    #[test]
    fn divergence_names_the_step_and_keeps_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let c = cfg("mlp:16", 32, 1e30, Length::Steps(40));
        let e = train(&c, &run, &mut Silent).unwrap_err();
        let Error::Diverged { step, .. } = e else {
            panic!("expected divergence, got {e}");
        };
        assert!((1..40).contains(&step));
        let r = RunRecord::read(&run).unwrap();
        assert_eq!(r.status, RunStatus::Diverged);
        assert_eq!(r.diverged.unwrap().step, step);
        // Every step before the divergent one is recorded and readable.
        let s = StoreReader::open(&run).unwrap();
        assert_eq!(s.n_steps(), step);
        s.validate().unwrap();
        assert!(e.to_string().contains(&format!("step {step}")));
        assert!(resume(&run, &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("diverged"));
    }

    #[test]
    fn resume_after_an_interruption_continues_bit_for_bit() {
        // Simulate a kill: run 30 steps, then cut the run back to the state a kill at step 23
        // leaves (last checkpoint at step 20, the store 3 rows ahead, run.json "running").
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole");
        let cut = dir.path().join("cut");
        let mut c = cfg("resnet8", 16, 0.05, Length::Steps(30));
        c.checkpoint_every = 10;
        c.record = crate::record::Every(2);
        train(&c, &whole, &mut Silent).unwrap();
        c.length = Length::Steps(23);
        train(&c, &cut, &mut Silent).unwrap();
        // The 23-step run checkpointed at 10, 20 and 23; restore the step-20 checkpoint by
        // replaying a 20-step run's last checkpoint into place.
        let twenty = dir.path().join("twenty");
        c.length = Length::Steps(20);
        train(&c, &twenty, &mut Silent).unwrap();
        std::fs::copy(
            twenty.join("checkpoints/last.safetensors"),
            cut.join("checkpoints/last.safetensors"),
        )
        .unwrap();
        let mut r = RunRecord::read(&cut).unwrap();
        r.status = RunStatus::Running;
        r.total_steps = 30;
        r.config.length = Length::Steps(30);
        r.epochs.clear();
        r.write(&cut).unwrap();
        let s = resume(&cut, &mut Silent).unwrap();
        assert_eq!(s.record.status, RunStatus::Finished);
        let (a, la) = store_rows(&whole);
        let (b, lb) = store_rows(&cut);
        assert_eq!(a.len(), 15);
        assert_eq!(a, b);
        assert_eq!(la, lb);
        // A tampered row is caught while replaying.
        let cut2 = dir.path().join("cut2");
        c.length = Length::Steps(23);
        train(&c, &cut2, &mut Silent).unwrap();
        std::fs::copy(
            twenty.join("checkpoints/last.safetensors"),
            cut2.join("checkpoints/last.safetensors"),
        )
        .unwrap();
        let mut r = RunRecord::read(&cut2).unwrap();
        r.status = RunStatus::Running;
        r.write(&cut2).unwrap();
        // Overwrite the committed loss of row 11 (step 22) in its chunk file.
        let m = StoreReader::open(&cut2).unwrap().manifest().clone();
        let lpath = cut2.join(&m.chunks[0].losses);
        let mut bytes = std::fs::read(&lpath).unwrap();
        let n = bytes.len();
        let row11 = n - 8 * (m.chunks[0].steps - 11);
        bytes[row11..row11 + 8].copy_from_slice(&1.5f64.to_le_bytes());
        std::fs::write(&lpath, bytes).unwrap();
        let e = resume(&cut2, &mut Silent).unwrap_err().to_string();
        assert!(e.contains("does not reproduce the recorded step 22"), "{e}");
    }

    #[test]
    fn resume_of_a_run_killed_before_its_store_existed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let c = cfg("mlp:8", 32, 0.1, Length::Steps(5));
        train(&c, &a, &mut Silent).unwrap();
        // Only run.json survived.
        std::fs::create_dir_all(&b).unwrap();
        let mut r = RunRecord::read(&a).unwrap();
        r.status = RunStatus::Running;
        r.epochs.clear();
        r.checkpoints.clear();
        r.write(&b).unwrap();
        resume(&b, &mut Silent).unwrap();
        assert_eq!(store_rows(&a), store_rows(&b));
        assert_eq!(open_run(&b).unwrap().checkpoints().len(), 1);
    }

    #[test]
    fn a_held_directory_refuses_every_trainer_and_a_dead_holder_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let c = cfg("mlp:8", 32, 0.1, Length::Steps(5));
        std::fs::create_dir_all(&run).unwrap();
        let held = RunLock::acquire(&run).unwrap();
        // A directory holding only the lock file counts as empty; the lock itself refuses.
        for e in [
            train(&c, &run, &mut Silent).unwrap_err(),
            train_or_resume(&c, &run, &mut Silent).unwrap_err(),
        ] {
            assert!(matches!(e, Error::RunInUse { .. }), "{e}");
        }
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&run), [LOCK_FILE]);
        drop(held);
        // The lock file a finished holder leaves behind is no obstacle.
        train(&c, &run, &mut Silent).unwrap();
        let mut r = RunRecord::read(&run).unwrap();
        r.status = RunStatus::Running;
        r.write(&run).unwrap();
        let held = RunLock::acquire(&run).unwrap();
        let e = resume(&run, &mut Silent).unwrap_err();
        assert!(matches!(e, Error::RunInUse { .. }), "{e}");
        assert_eq!(RunRecord::read(&run).unwrap().status, RunStatus::Running);
        drop(held);
        let (outcome, s) = train_or_resume(&c, &run, &mut Silent).unwrap();
        assert_eq!(
            (outcome, s.record.status),
            (Outcome::Resumed, RunStatus::Finished)
        );
        // A store that is not a training run is neither trained into nor resumed.
        let other = dir.path().join("store");
        create_store(&other, &r).unwrap();
        let e = train_or_resume(&c, &other, &mut Silent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a training run"), "{e}");
    }

    #[test]
    fn replay_comparison_is_exact_on_cpu_and_tolerant_elsewhere() {
        let a = [1.0f32, -2.0, 0.5];
        let b = [1.0f32, -2.0 + 1e-5, 0.5];
        assert!(replay_matches(&a, &a, Some(0.7), 0.7, true));
        assert!(!replay_matches(&a, &b, Some(0.7), 0.7, true));
        assert!(!replay_matches(&a, &a, Some(0.7), 0.7 + 1e-16, true));
        assert!(replay_matches(&a, &b, Some(0.7), 0.7 + 1e-6, false));
        let far = [1.0f32, -2.1, 0.5];
        assert!(!replay_matches(&a, &far, Some(0.7), 0.7, false));
        assert!(!replay_matches(&a, &a, None, 0.7, false));
    }

    #[test]
    fn bad_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let e = train(&cfg("mlp", 5000, 0.1, Length::Epochs(1)), &run, &mut Silent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch size 5000") && e.contains("1437"), "{e}");
        let e = train(&cfg("mlp", 32, -1.0, Length::Epochs(1)), &run, &mut Silent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr"), "{e}");
        let mut c = cfg("mlp", 32, 0.1, Length::Steps(usize::MAX / 2));
        c.record_grad = GradRecord::Full;
        let e = train(&c, &run, &mut Silent).unwrap_err().to_string();
        assert!(
            e.contains("would not fit") && e.contains("bytes") && e.contains("free"),
            "{e}"
        );
        let mut c = cfg("mlp", 32, 0.1, Length::Epochs(1));
        c.record_weights = WeightRecord::Subset(10_000_000);
        assert!(train(&c, &run, &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("record-weights"));
        c.record_weights = WeightRecord::Project(1_000_000);
        assert!(train(&c, &run, &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("does not reduce"));
        assert!(!run.exists());
    }
}
