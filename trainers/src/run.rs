//! A run directory: the configuration of a training run ([`TrainConfig`]), its `run.json`
//! ([`RunRecord`]) and [`open_run`], which gives another tool (Hessian spectra, loss surfaces)
//! everything needed to rebuild the network and the data.
//!
//! ```text
//! RUNDIR/
//!   run.json                      configuration, status, per-epoch metrics, checkpoints
//!   manifest.json, weights_*.npy, losses_*.npy, gradients_*.npy
//!                                 the trajectory store (anodiff_core::trajectory::store)
//!   record_coords.json            the recorded coordinate subsets, when subsets are recorded
//!   checkpoints/epoch-<E>.safetensors   weights + BN statistics after epoch E (E = 0: initial)
//!   checkpoints/last.safetensors  the resume point (its metadata holds the step)
//!   .lock                         held by the training process (crate::lock), pid and host
//! ```
//!
//! `run.json`'s `status` is `running` while the trainer works (also after a crash or kill),
//! `finished`, `diverged` (with the step and loss) or `failed` (with the error): a run is
//! complete only when it says `finished`.

use crate::data::{Augment, BatchLoader, DatasetSpec, Padding, Splits};
use crate::error::{Error, Result};
use crate::init::{InitOptions, LinearInit};
use crate::model::{Arch, LossKind, Network};
use crate::record::{Every, GradRecord, WeightRecord};
use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// File name of the run description inside a run directory.
pub const RUN_JSON: &str = "run.json";
/// Sub-directory of the checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";
/// The resume checkpoint's file name inside [`CHECKPOINTS`].
pub const LAST: &str = "last.safetensors";
/// Value of `run.json`'s `format` key.
pub const RUN_FORMAT: &str = "anodiff-run";

/// Serialises a field through its `Display` / `FromStr` spelling (the command-line one).
mod as_string {
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// Where the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// The CPU (bitwise reproducible across thread counts).
    #[default]
    Cpu,
    /// CUDA device with this ordinal (needs a build with the `cuda` feature).
    Cuda(usize),
}

impl FromStr for DeviceKind {
    type Err = Error;

    /// `cpu`, `cuda` (ordinal 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s == "cpu" {
            return Ok(DeviceKind::Cpu);
        }
        if s == "cuda" {
            return Ok(DeviceKind::Cuda(0));
        }
        if let Some(n) = s.strip_prefix("cuda:") {
            if let Ok(n) = n.parse() {
                return Ok(DeviceKind::Cuda(n));
            }
        }
        Err(Error::param(
            "device",
            format!("unknown device '{s}' (accepted: cpu, cuda, cuda:N)"),
        ))
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceKind::Cpu => f.write_str("cpu"),
            DeviceKind::Cuda(0) => f.write_str("cuda"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceKind {
    /// Opens the device.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `cuda` in a build without the `cuda` feature (saying
    /// how to build one); [`Error::Candle`] if the CUDA device cannot be opened.
    pub fn open(&self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda(n) => Ok(Device::new_cuda(*n)?),
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda(_) => Err(Error::param(
                "device",
                "this anodiff was built without CUDA support; build the GPU binary with \
                 scripts/build-cuda.sh (or `cargo build --release --features cuda` where nvcc \
                 and the CUDA libraries are installed), or use --device cpu",
            )),
        }
    }
}

/// How long a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// Whole epochs of `floor(n_train / batch_size)` steps.
    Epochs(usize),
    /// A number of SGD steps.
    Steps(usize),
}

/// The configuration of a training run (stored in `run.json` under `config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The architecture.
    #[serde(with = "as_string")]
    pub model: Arch,
    /// The dataset.
    #[serde(with = "as_string")]
    pub dataset: DatasetSpec,
    /// The loss.
    #[serde(with = "as_string")]
    pub loss: LossKind,
    /// Minibatch size.
    pub batch_size: usize,
    /// Learning rate `eta` of `w <- w - eta g`.
    pub lr: f64,
    /// Epochs or steps.
    pub length: Length,
    /// Seed of the initialisation, the data order and the augmentation (and, derived from it,
    /// of the recorded subsets and projection: see [`Seeds`]).
    pub seed: u64,
    /// Classifier initialisation.
    #[serde(with = "as_string")]
    pub linear_init: LinearInit,
    /// Random crop + flip on the training batches (default: on for CIFAR-10, as the authors).
    pub augment: bool,
    /// What the random crop pads with: raw black (default, as torchvision) or the training
    /// mean. A `run.json` written before this option existed reads as `mean`, the padding
    /// those runs used, so that they resume bit for bit.
    #[serde(default = "legacy_padding")]
    pub augment_padding: Padding,
    /// Recording schedule.
    #[serde(with = "as_string")]
    pub record: Every,
    /// Recorded weights.
    #[serde(with = "as_string")]
    pub record_weights: WeightRecord,
    /// Recorded gradients.
    #[serde(with = "as_string")]
    pub record_grad: GradRecord,
    /// Device.
    #[serde(with = "as_string")]
    pub device: DeviceKind,
    /// Steps between resume checkpoints (besides one at every epoch end).
    pub checkpoint_every: usize,
    /// `fdatasync` every recorded step (default off): protects committed steps against a power
    /// loss or kernel crash. A killed process loses nothing committed either way, and resume
    /// re-checks replayed rows bit for bit. Off by default because one flush per step (about
    /// 30 ms on a busy disk) would dominate a GPU step.
    pub sync: bool,
}

impl TrainConfig {
    /// A configuration with the defaults: cross-entropy, batch 128, lr 0.1, 1 epoch, seed 0,
    /// the authors' classifier init, augmentation on CIFAR-10 only, every step recorded (full
    /// weights, no gradients), CPU, a resume checkpoint every 100 steps, syncing on.
    pub fn new(model: Arch, dataset: DatasetSpec) -> Self {
        let augment = matches!(dataset, DatasetSpec::Cifar10(_));
        Self {
            model,
            dataset,
            loss: LossKind::CrossEntropy,
            batch_size: 128,
            lr: 0.1,
            length: Length::Epochs(1),
            seed: 0,
            linear_init: LinearInit::default(),
            augment,
            augment_padding: Padding::Black,
            record: Every(1),
            record_weights: WeightRecord::Full,
            record_grad: GradRecord::None,
            device: DeviceKind::Cpu,
            checkpoint_every: 100,
            sync: false,
        }
    }

    /// Checks the parameters that need no data: learning rate, batch size, length, schedule.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the option.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::param(
                "lr",
                format!(
                    "the learning rate must be a positive finite number, got {}",
                    self.lr
                ),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch-size", "must be at least 1"));
        }
        match self.length {
            Length::Epochs(0) => return Err(Error::param("epochs", "must be at least 1")),
            Length::Steps(0) => return Err(Error::param("steps", "must be at least 1")),
            _ => {}
        }
        if self.record.0 == 0 {
            return Err(Error::param("record", "every:K needs K >= 1"));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::param("checkpoint-every", "must be at least 1"));
        }
        Ok(())
    }

    /// The settings in which `other` would record a different trajectory from `self`, one
    /// line each (`"lr: 0.05 here, 0.1 there"`); empty when the two describe the same run.
    ///
    /// Every field counts except where and how the run executes: the device, the checkpoint
    /// interval, `sync`, and the directory the dataset is read from (its kind counts). A run
    /// trained on a cluster, with its data at another path, is the same run as one trained
    /// here with the same settings. CPU and CUDA runs agree in distribution, not bit for bit.
    ///
    /// ```
    /// use anodiff_trainers::run::TrainConfig;
    /// let a = TrainConfig::new("mlp:8".parse()?, "digits".parse()?);
    /// let mut b = a.clone();
    /// b.checkpoint_every = 7;
    /// assert!(a.run_differences(&b).is_empty());
    /// b.lr = 0.05;
    /// assert_eq!(a.run_differences(&b), ["lr: 0.1 here, 0.05 there"]);
    /// # Ok::<(), anodiff_trainers::Error>(())
    /// ```
    pub fn run_differences(&self, other: &TrainConfig) -> Vec<String> {
        fn kind(d: &DatasetSpec) -> &'static str {
            match d {
                DatasetSpec::Digits => "digits",
                DatasetSpec::Mnist(_) => "mnist",
                DatasetSpec::Cifar10(_) => "cifar10",
            }
        }
        let mut out = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: {a} here, {b} there"));
            }
        };
        cmp("model", self.model.to_string(), other.model.to_string());
        cmp(
            "dataset",
            kind(&self.dataset).into(),
            kind(&other.dataset).into(),
        );
        cmp("loss", self.loss.to_string(), other.loss.to_string());
        cmp(
            "batch_size",
            self.batch_size.to_string(),
            other.batch_size.to_string(),
        );
        // f64's Display is the shortest text that reads back to the same bits, so a learning
        // rate that differs in its last bit shows as different.
        cmp("lr", self.lr.to_string(), other.lr.to_string());
        let length = |l: Length| match l {
            Length::Epochs(e) => format!("{e} epochs"),
            Length::Steps(n) => format!("{n} steps"),
        };
        cmp("length", length(self.length), length(other.length));
        cmp("seed", self.seed.to_string(), other.seed.to_string());
        cmp(
            "linear_init",
            self.linear_init.to_string(),
            other.linear_init.to_string(),
        );
        cmp(
            "augment",
            self.augment.to_string(),
            other.augment.to_string(),
        );
        if self.augment || other.augment {
            cmp(
                "augment_padding",
                format!("{:?}", self.augment_padding).to_lowercase(),
                format!("{:?}", other.augment_padding).to_lowercase(),
            );
        }
        cmp("record", self.record.to_string(), other.record.to_string());
        cmp(
            "record_weights",
            self.record_weights.to_string(),
            other.record_weights.to_string(),
        );
        cmp(
            "record_grad",
            self.record_grad.to_string(),
            other.record_grad.to_string(),
        );
        out
    }

    /// The initialisation options.
    pub fn init_options(&self) -> InitOptions {
        InitOptions {
            linear: self.linear_init,
        }
    }

    /// The augmentation applied to training batches, if any, for data standardised with the
    /// per-channel training statistics `mean`, `std` ([`crate::data::load_with_stats`]): the
    /// crop pads with [`TrainConfig::augment_padding`].
    ///
    /// # Errors
    /// As [`Augment::black_padding`].
    pub fn augmentation(&self, mean: &[f64], std: &[f64]) -> Result<Option<Augment>> {
        if !self.augment {
            return Ok(None);
        }
        Augment::CIFAR
            .with_padding(self.augment_padding, mean, std)
            .map(Some)
    }

    /// The derived seeds.
    pub fn seeds(&self) -> Seeds {
        Seeds::from_run_seed(self.seed)
    }
}

/// The seeds a run derives from its one seed `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    /// Initial weights ([`crate::init`]): `s`.
    pub init: u64,
    /// Minibatch order and augmentation (the data module keys its streams by epoch/step and
    /// purpose): `s`.
    pub data: u64,
    /// The recorded weight subset: `splitmix64(s ^ 1)`.
    pub weight_subset: u64,
    /// The recorded gradient subset: `splitmix64(s ^ 2)`.
    pub grad_subset: u64,
    /// The projection matrix: `splitmix64(s ^ 3)`.
    pub projection: u64,
}

/// SplitMix64's output function (Steele, Lea, Flood 2014): decorrelates derived seeds.
/// The padding of runs whose `run.json` predates [`TrainConfig::augment_padding`].
fn legacy_padding() -> Padding {
    Padding::Mean
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Seeds {
    /// The seeds of a run with seed `s`.
    pub fn from_run_seed(s: u64) -> Self {
        Self {
            init: s,
            data: s,
            weight_subset: splitmix64(s ^ 1),
            grad_subset: splitmix64(s ^ 2),
            projection: splitmix64(s ^ 3),
        }
    }
}

/// The state of a run, as `run.json` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Training (or killed while training: resumable).
    Running,
    /// Completed every step.
    Finished,
    /// Stopped at a NaN or infinite loss.
    Diverged,
    /// Stopped by an error (resumable once the cause is fixed).
    Failed,
}

/// Metrics at the end of an epoch (or at the end of a run that stops mid-epoch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1-based); for a mid-epoch end, the epoch in progress.
    pub epoch: usize,
    /// Steps completed.
    pub step: usize,
    /// Mean minibatch loss (at the pre-update weights) over the epoch's steps.
    pub train_loss: f64,
    /// Mean test loss in eval mode.
    pub test_loss: f64,
    /// Test accuracy in eval mode, in [0, 1].
    pub test_accuracy: f64,
}

/// One checkpoint listed in `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    /// Epochs completed when it was written (0: the initial weights).
    pub epoch: usize,
    /// Steps completed when it was written.
    pub step: usize,
    /// Path relative to the run directory.
    pub file: String,
}

/// Where and why a run diverged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The step whose minibatch loss was not finite (not recorded; every earlier recorded
    /// step is).
    pub step: usize,
    /// The loss (NaN or infinite; stored as a string in JSON).
    #[serde(with = "as_string")]
    pub loss: f64,
}

/// Wall-clock accounting of the training steps.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds spent in SGD steps (forward, backward, update, recording), this process.
    pub step_seconds: f64,
    /// Of which recording (flat readout, subset/projection, store append).
    pub record_seconds: f64,
    /// Steps timed.
    pub steps: usize,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always [`RUN_FORMAT`].
    pub format: String,
    /// Schema version (1).
    pub version: u32,
    /// Where the run stands.
    pub status: RunStatus,
    /// The configuration.
    pub config: TrainConfig,
    /// Derived seeds.
    pub seeds: Seeds,
    /// Input image shape `[c, h, w]`.
    pub input: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Training images.
    pub n_train: usize,
    /// Trainable parameters `d`.
    pub num_params: usize,
    /// Recorded weight coordinates per row.
    pub recorded_dim: usize,
    /// Recorded gradient coordinates per row.
    pub gradient_dim: usize,
    /// SGD steps per epoch.
    pub steps_per_epoch: usize,
    /// Steps the run is to take.
    pub total_steps: usize,
    /// Steps completed as of the last update of this file.
    pub steps_done: usize,
    /// Per-epoch metrics (an extra entry for a run that ends mid-epoch).
    pub epochs: Vec<EpochMetrics>,
    /// The epoch checkpoints.
    pub checkpoints: Vec<CheckpointEntry>,
    /// Set when the loss became NaN or infinite.
    pub diverged: Option<Divergence>,
    /// Set when the run failed with an error.
    pub error: Option<String>,
    /// Step timing of the last process that trained this run.
    pub timing: Timing,
}

impl RunRecord {
    /// Writes `dir/run.json` atomically.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(RUN_JSON);
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::format(&path, format!("cannot serialise: {e}")))?;
        text.push(b'\n');
        crate::checkpoint::write_atomic(&path, &text)
    }

    /// Reads `dir/run.json`.
    ///
    /// # Errors
    /// [`Error::Io`] if missing or unreadable, [`Error::Format`] if not a run description.
    pub fn read(dir: &Path) -> Result<RunRecord> {
        let path = dir.join(RUN_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let r: RunRecord = serde_json::from_str(&text)
            .map_err(|e| Error::format(&path, format!("not a valid run description: {e}")))?;
        if r.format != RUN_FORMAT {
            return Err(Error::format(
                &path,
                format!("format is '{}', expected '{RUN_FORMAT}'", r.format),
            ));
        }
        Ok(r)
    }
}

/// A run directory opened for reading (see [`open_run`]).
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `run.json`.
    pub record: RunRecord,
}

/// Opens a run directory written by [`crate::train::train`].
///
/// # Errors
/// As [`RunRecord::read`].
///
/// # Examples
/// ```no_run
/// use anodiff_trainers::run::open_run;
/// use candle_core::{DType, Device};
/// let run = open_run(std::path::Path::new("runs/r14")).unwrap();
/// let net = run.network(DType::F64, &Device::Cpu).unwrap();
/// net.load_checkpoint(&run.checkpoint(5).unwrap()).unwrap();
/// let data = run.load_data().unwrap();
/// ```
pub fn open_run(dir: &Path) -> Result<RunInfo> {
    Ok(RunInfo {
        dir: dir.to_path_buf(),
        record: RunRecord::read(dir)?,
    })
}

impl RunInfo {
    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.record.config
    }

    /// The epoch checkpoints on disk, `(epoch, path)`, in epoch order.
    pub fn checkpoints(&self) -> Vec<(usize, PathBuf)> {
        let mut v: Vec<(usize, PathBuf)> = self
            .record
            .checkpoints
            .iter()
            .map(|c| (c.epoch, self.dir.join(&c.file)))
            .filter(|(_, p)| p.exists())
            .collect();
        v.sort_by_key(|(e, _)| *e);
        v
    }

    /// The path of the checkpoint after epoch `epoch` (0: initial weights).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`checkpoint`) listing the available epochs if there is none.
    pub fn checkpoint(&self, epoch: usize) -> Result<PathBuf> {
        let all = self.checkpoints();
        all.iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| {
                Error::param(
                    "checkpoint",
                    format!(
                        "{} has no checkpoint for epoch {epoch}; available: {:?}",
                        self.dir.display(),
                        all.iter().map(|(e, _)| *e).collect::<Vec<_>>()
                    ),
                )
            })
    }

    /// A fresh network of the run's architecture and input shape (initial weights; load a
    /// checkpoint into it), in `dtype` on `device`.
    ///
    /// # Errors
    /// As [`Network::new`].
    pub fn network(&self, dtype: DType, device: &Device) -> Result<Network> {
        let c = self.config();
        Network::new(
            &c.model,
            self.record.input,
            self.record.num_classes,
            dtype,
            device,
            c.seed,
            &c.init_options(),
        )
    }

    /// The run with its data read from `dataset` instead of the directory it was trained
    /// with: a run trained on another machine, or data that moved since.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`dataset`) when `dataset` is another kind of dataset than
    /// the run's (MNIST for a CIFAR-10 run). That the files hold the same images is checked
    /// by [`RunInfo::load_data`] as far as it can: the training split's size.
    pub fn with_dataset(mut self, dataset: DatasetSpec) -> Result<Self> {
        let probe = TrainConfig {
            dataset: dataset.clone(),
            ..self.record.config.clone()
        };
        if let Some(d) = probe.run_differences(&self.record.config).first() {
            return Err(Error::param(
                "dataset",
                format!(
                    "{d}: the run {} was trained on another dataset",
                    self.dir.display()
                ),
            ));
        }
        self.record.config.dataset = dataset;
        Ok(self)
    }

    /// The run's data, normalised as for training.
    ///
    /// # Errors
    /// As [`crate::data::load`] (e.g. the dataset directory moved), and
    /// [`Error::InvalidParameter`] (`dataset`) when its training split does not have the run's
    /// number of images (other files than those the run was trained on).
    pub fn load_data(&self) -> Result<Splits> {
        let splits = crate::data::load(&self.config().dataset)?;
        if splits.train.len() != self.record.n_train {
            return Err(Error::param(
                "dataset",
                format!(
                    "{} holds {} training images; the run {} was trained on {}",
                    self.config().dataset,
                    splits.train.len(),
                    self.dir.display(),
                    self.record.n_train
                ),
            ));
        }
        Ok(splits)
    }

    /// The run's minibatch schedule: `batch_loader()?.indices(step)` are the training images
    /// of `step`; build the batch with [`crate::data::make_batch`] and
    /// [`TrainConfig::augmentation`] (with the statistics of [`crate::data::load_with_stats`]) /
    /// [`Seeds::data`].
    ///
    /// # Errors
    /// As [`BatchLoader::new`].
    pub fn batch_loader(&self) -> Result<BatchLoader> {
        BatchLoader::new(
            self.record.n_train,
            self.config().batch_size,
            self.record.seeds.data,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New runs pad the crop with raw black; a `run.json` without the field (written before it
    /// existed) reads as the mean padding it was trained with, so its resume replays bit for bit.
    #[test]
    fn augmentation_padding_new_and_legacy() {
        let c = TrainConfig::new(
            "cnn".parse().unwrap(),
            DatasetSpec::Cifar10("/data/cifar".into()),
        );
        assert_eq!(c.augment_padding, Padding::Black);
        let (mean, std) = ([0.5, 0.4, 0.25], [0.25, 0.2, 0.125]);
        let aug = c.augmentation(&mean, &std).unwrap().unwrap();
        assert_eq!(aug.fill, vec![-2.0, -2.0, -2.0]);
        let mut j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["augment_padding"], "black");
        j.as_object_mut().unwrap().remove("augment_padding");
        let old: TrainConfig = serde_json::from_value(j).unwrap();
        assert_eq!(old.augment_padding, Padding::Mean);
        let aug = old.augmentation(&mean, &std).unwrap().unwrap();
        assert!(aug.fill.is_empty());
        assert_eq!(
            (aug.crop_padding, aug.flip),
            (Augment::CIFAR.crop_padding, true)
        );
        let mut off = c.clone();
        off.augment = false;
        assert_eq!(off.augmentation(&mean, &std).unwrap(), None);
    }

    #[test]
    fn config_json_round_trip() {
        let mut c = TrainConfig::new("resnet14-noshort".parse().unwrap(), DatasetSpec::Digits);
        c.record_weights = WeightRecord::Project(100);
        c.record_grad = GradRecord::Sample(7);
        c.length = Length::Steps(30);
        c.linear_init = LinearInit::KaimingUniform;
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains("\"model\":\"resnet14-noshort\""), "{j}");
        assert!(j.contains("\"length\":{\"steps\":30}"), "{j}");
        let back: TrainConfig = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn validation_names_the_option() {
        let base = TrainConfig::new("cnn".parse().unwrap(), DatasetSpec::Digits);
        for (f, name) in [
            (
                Box::new(|c: &mut TrainConfig| c.lr = 0.0) as Box<dyn Fn(&mut TrainConfig)>,
                "lr",
            ),
            (Box::new(|c: &mut TrainConfig| c.lr = f64::NAN), "lr"),
            (
                Box::new(|c: &mut TrainConfig| c.batch_size = 0),
                "batch-size",
            ),
            (
                Box::new(|c: &mut TrainConfig| c.length = Length::Steps(0)),
                "steps",
            ),
            (
                Box::new(|c: &mut TrainConfig| c.checkpoint_every = 0),
                "checkpoint-every",
            ),
        ] {
            let mut c = base.clone();
            f(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        assert!(base.validate().is_ok());
    }

    #[test]
    fn device_names() {
        assert_eq!("cpu".parse::<DeviceKind>().unwrap(), DeviceKind::Cpu);
        assert_eq!("cuda:1".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(1));
        assert!("tpu".parse::<DeviceKind>().is_err());
        #[cfg(not(feature = "cuda"))]
        {
            let e = DeviceKind::Cuda(0).open().unwrap_err().to_string();
            assert!(
                e.contains("--features cuda") && e.contains("build-cuda.sh"),
                "{e}"
            );
        }
    }

    #[test]
    fn run_differences_ignore_where_the_run_executes() {
        let a = TrainConfig::new(
            "resnet8".parse().unwrap(),
            "mnist:/data/mnist".parse().unwrap(),
        );
        let mut b = a.clone();
        b.dataset = "mnist:/cluster/shared/mnist".parse().unwrap();
        b.device = DeviceKind::Cuda(0);
        b.checkpoint_every = 1;
        b.sync = !a.sync;
        assert!(a.run_differences(&b).is_empty());
        b.dataset = "cifar10:/data/mnist".parse().unwrap();
        b.length = Length::Steps(40);
        b.seed = 3;
        b.record_weights = "subset:64".parse().unwrap();
        assert_eq!(
            a.run_differences(&b),
            [
                "dataset: mnist here, cifar10 there",
                "length: 1 epochs here, 40 steps there",
                "seed: 0 here, 3 there",
                "record_weights: full here, subset:64 there",
            ]
        );
        let mut c = a.clone();
        c.lr = f64::from_bits(a.lr.to_bits() + 1);
        assert_eq!(c.run_differences(&a).len(), 1);
    }

    #[test]
    fn derived_seeds_differ() {
        let s = Seeds::from_run_seed(0);
        assert_ne!(s.weight_subset, s.grad_subset);
        assert_ne!(s.grad_subset, s.projection);
        assert_eq!(s, Seeds::from_run_seed(0));
    }
}
