//! Datasets read from the standard files a user gives: MNIST IDX, CIFAR-10 binary batches and
//! the UCI digits CSV. Nothing is ever downloaded.
//!
//! The readers ([`read_mnist_dir`], [`read_cifar10_dir`], [`read_cifar_batch`],
//! [`read_digits_csv`], [`bundled_digits`]) return raw pixels scaled to `[0, 1]`. [`load`] is the
//! front door: it reads a [`DatasetSpec`], then standardises both splits per channel with the
//! *training* split's mean and standard deviation, so that no test-set information leaks into the
//! preprocessing.
//!
//! Minibatches come from [`BatchLoader`], which maps a step number to its indices as a pure
//! function of `(seed, step)`, and [`make_batch`], which gathers them (optionally with seeded
//! crop-and-flip augmentation, [`Augment`]).
//!
//! # Examples
//!
//! ```
//! use anodiff_trainers::data::{load, BatchLoader, DatasetSpec, make_batch};
//!
//! let splits = load(&DatasetSpec::Digits)?;
//! let loader = BatchLoader::new(splits.train.len(), 128, 7)?;
//! let batch = make_batch(&splits.train, &loader.indices(0), None, 7, 0);
//! assert_eq!(batch.shape, [128, 1, 8, 8]);
//! # Ok::<(), anodiff_trainers::Error>(())
//! ```

mod cifar;
mod digits;
mod io;
mod loader;
mod mnist;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{Error, Result};

pub use cifar::{
    read_cifar10_dir, read_cifar_batch, CIFAR10_BATCH_BYTES, CIFAR10_RECORD_BYTES,
    CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES,
};
pub use digits::{
    bundled_digits, parse_digits_csv, read_digits_csv, split_digits, DIGITS_BUNDLED_ROWS,
    DIGITS_TRAIN_ROWS,
};
pub use loader::{make_batch, Augment, Batch, BatchLoader, Padding};
pub use mnist::{read_idx_images, read_idx_labels, read_mnist_dir, read_mnist_pair};

/// An in-memory labelled image set, `f32` pixels in NCHW order.
///
/// Pixels are raw-scaled to [0, 1] by the readers; [`Dataset::normalize`] applies per-channel
/// standardisation with statistics the caller chooses (usually the training set's).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len * channels * height * width` pixel values, image-major, NCHW.
    pub images: Vec<f32>,
    /// One label per image, each `< num_classes`.
    pub labels: Vec<u8>,
    /// Channels per image (1 for MNIST and digits, 3 for CIFAR-10).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of classes (10 for all three built-in sets).
    pub num_classes: usize,
}

impl Dataset {
    /// Builds a dataset after checking that the pieces fit together.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when a dimension or `num_classes` is zero, when
    /// `images.len() != labels.len() * channels * height * width`, or when a label is
    /// `>= num_classes`.
    pub fn new(
        images: Vec<f32>,
        labels: Vec<u8>,
        channels: usize,
        height: usize,
        width: usize,
        num_classes: usize,
    ) -> Result<Dataset> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(Error::param(
                "shape",
                format!("image shape {channels}x{height}x{width} has a zero dimension"),
            ));
        }
        if num_classes == 0 || num_classes > 256 {
            return Err(Error::param(
                "num_classes",
                format!("{num_classes} is outside 1..=256 (labels are bytes)"),
            ));
        }
        let per = channels * height * width;
        if images.len() != labels.len() * per {
            return Err(Error::param(
                "images",
                format!(
                    "{} pixel values for {} labels of {channels}x{height}x{width} images; expected {}",
                    images.len(),
                    labels.len(),
                    labels.len() * per
                ),
            ));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= num_classes)
        {
            return Err(Error::param(
                "labels",
                format!("label {l} at index {i} is out of range 0..{num_classes}"),
            ));
        }
        Ok(Dataset {
            images,
            labels,
            channels,
            height,
            width,
            num_classes,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixel values per image, `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The `[channels, height, width]` shape of one image, as networks take it.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// The pixels of image `i` (CHW).
    ///
    /// # Panics
    ///
    /// When `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Per-channel mean and standard deviation over every pixel of every image.
    ///
    /// Accumulates in `f64` with two passes (mean, then squared deviations), so a 50,000-image
    /// CIFAR-10 split loses no precision to `f32` summation. The standard deviation is the
    /// population one (divide by the count), as `numpy.std` computes the published CIFAR-10
    /// constants. An empty set gives NaN for every channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use anodiff_trainers::data::Dataset;
    ///
    /// // Two 1x1x2 images: channel values 0, 1, 0, 1.
    /// let ds = Dataset::new(vec![0.0, 1.0, 0.0, 1.0], vec![0, 1], 1, 1, 2, 2)?;
    /// let (mean, std) = ds.channel_stats();
    /// assert_eq!(mean, vec![0.5]);
    /// assert_eq!(std, vec![0.5]);
    /// # Ok::<(), anodiff_trainers::Error>(())
    /// ```
    pub fn channel_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let hw = self.height * self.width;
        let count = (self.len() * hw) as f64;
        let plane = |img: usize, c: usize| {
            let start = (img * self.channels + c) * hw;
            &self.images[start..start + hw]
        };
        let mut mean = vec![0.0f64; self.channels];
        let mut std = vec![0.0f64; self.channels];
        for c in 0..self.channels {
            let sum: f64 = (0..self.len())
                .map(|i| plane(i, c).iter().map(|&x| f64::from(x)).sum::<f64>())
                .sum();
            let m = sum / count;
            let ss: f64 = (0..self.len())
                .map(|i| {
                    plane(i, c)
                        .iter()
                        .map(|&x| (f64::from(x) - m).powi(2))
                        .sum::<f64>()
                })
                .sum();
            mean[c] = m;
            std[c] = (ss / count).sqrt();
        }
        (mean, std)
    }

    /// Standardises every pixel in place: `x <- (x - mean[c]) / std[c]` for channel `c`
    /// (computed in `f64`, stored as `f32`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when `mean` or `std` does not have one entry per channel, when
    /// an entry is not finite, or when a standard deviation is not positive (a constant channel
    /// cannot be standardised).
    pub fn normalize(&mut self, mean: &[f64], std: &[f64]) -> Result<()> {
        for (name, v) in [("mean", mean), ("std", std)] {
            if v.len() != self.channels {
                return Err(Error::param(
                    name,
                    format!("{} values for {} channels", v.len(), self.channels),
                ));
            }
            if let Some((c, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(Error::param(name, format!("channel {c} has {x}")));
            }
        }
        if let Some((c, s)) = std.iter().enumerate().find(|(_, &s)| s <= 0.0) {
            return Err(Error::param(
                "std",
                format!("channel {c} has standard deviation {s}; the channel is constant and cannot be standardised"),
            ));
        }
        let hw = self.height * self.width;
        for (k, chunk) in self.images.chunks_mut(hw).enumerate() {
            let c = k % self.channels;
            let (m, s) = (mean[c], std[c]);
            for x in chunk {
                *x = ((f64::from(*x) - m) / s) as f32;
            }
        }
        Ok(())
    }

    /// A new dataset holding the images at `indices`, in that order (repeats allowed).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when an index is `>= self.len()`.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::param(
                "indices",
                format!(
                    "index {bad} is out of range for a set of {} images",
                    self.len()
                ),
            ));
        }
        let n = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Ok(Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            num_classes: self.num_classes,
        })
    }
}

/// Which dataset to load; the command line spells it `digits`, `mnist:DIR` or `cifar10:DIR`.
///
/// [`FromStr`] and [`Display`](fmt::Display) round-trip, so a run's configuration can store the
/// spec as a string.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::{load, DatasetSpec};
///
/// // The bundled digits need no file, from any working directory.
/// let spec: DatasetSpec = "digits".parse()?;
/// assert_eq!(spec, DatasetSpec::Digits);
/// let splits = load(&spec)?;
/// assert_eq!(splits.train.len() + splits.test.len(), 1797);
/// assert_eq!(splits.train.num_classes, 10);
///
/// let mnist: DatasetSpec = "mnist:/data/mnist".parse()?;
/// assert_eq!(mnist.to_string(), "mnist:/data/mnist");
/// assert!("imagenet:/x".parse::<DatasetSpec>().is_err());
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetSpec {
    /// The UCI optdigits set bundled in the binary (1797 8x8 one-channel images; see
    /// [`split_digits`] for the train/test split). Needs no file.
    Digits,
    /// A directory with the four MNIST IDX files (see [`read_mnist_dir`]).
    Mnist(PathBuf),
    /// A directory with the six CIFAR-10 binary batches (see [`read_cifar10_dir`]).
    Cifar10(PathBuf),
}

const SPEC_FORMS: &str = "digits, mnist:DIR or cifar10:DIR";

impl FromStr for DatasetSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s == "digits" {
            return Ok(DatasetSpec::Digits);
        }
        let (kind, dir) = match s.split_once(':') {
            Some((k, d)) => (k, d),
            None if s == "mnist" || s == "cifar10" => {
                return Err(Error::param(
                    "dataset",
                    format!("`{s}` needs the directory holding its files: {s}:DIR"),
                ))
            }
            None => {
                return Err(Error::param(
                    "dataset",
                    format!("unknown dataset `{s}`; expected {SPEC_FORMS}"),
                ))
            }
        };
        if dir.is_empty() {
            return Err(Error::param(
                "dataset",
                format!("`{s}` names no directory; expected {kind}:DIR"),
            ));
        }
        match kind {
            "mnist" => Ok(DatasetSpec::Mnist(PathBuf::from(dir))),
            "cifar10" => Ok(DatasetSpec::Cifar10(PathBuf::from(dir))),
            _ => Err(Error::param(
                "dataset",
                format!("unknown dataset kind `{kind}` in `{s}`; expected {SPEC_FORMS}"),
            )),
        }
    }
}

impl fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetSpec::Digits => f.write_str("digits"),
            DatasetSpec::Mnist(d) => write!(f, "mnist:{}", d.display()),
            DatasetSpec::Cifar10(d) => write!(f, "cifar10:{}", d.display()),
        }
    }
}

/// A training and a test split of one dataset, with the same image shape and classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The split SGD samples minibatches from.
    pub train: Dataset,
    /// The held-out split for end-of-epoch accuracy and loss.
    pub test: Dataset,
}

/// Reads a dataset and standardises both splits with the training split's per-channel statistics.
///
/// Pixels are first scaled to `[0, 1]` (bytes / 255, digits / 16), then every channel of both
/// splits becomes `(x - mean_train) / std_train` ([`Dataset::channel_stats`],
/// [`Dataset::normalize`]). Use [`load_raw`] for the unstandardised pixels.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::{load, DatasetSpec};
///
/// let splits = load(&"digits".parse::<DatasetSpec>()?)?;
/// assert_eq!((splits.train.len(), splits.test.len()), (1437, 360));
/// assert_eq!(splits.train.image_shape(), [1, 8, 8]);
/// let (mean, std) = splits.train.channel_stats();
/// assert!(mean[0].abs() < 1e-6 && (std[0] - 1.0).abs() < 1e-6);
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
///
/// # Errors
///
/// Whatever the reader reports (missing, truncated or corrupt files, labels out of range, empty
/// sets; each names the file), and [`Error::Format`] when a channel of the training split is
/// constant.
pub fn load(spec: &DatasetSpec) -> Result<Splits> {
    load_with_stats(spec).map(|(splits, _, _)| splits)
}

/// [`load`], also returning the training split's per-channel `(mean, std)` the splits were
/// standardised with (what [`Augment::black_padding`] needs).
///
/// # Errors
///
/// As [`load`].
pub fn load_with_stats(spec: &DatasetSpec) -> Result<(Splits, Vec<f64>, Vec<f64>)> {
    let mut splits = load_raw(spec)?;
    let (mean, std) = splits.train.channel_stats();
    if let Some(c) = std.iter().position(|&s| s.is_nan() || s <= 0.0) {
        return Err(Error::format(
            spec_path(spec),
            format!(
                "channel {c} of the training split is constant ({}); it cannot be standardised",
                mean[c]
            ),
        ));
    }
    splits.train.normalize(&mean, &std)?;
    splits.test.normalize(&mean, &std)?;
    Ok((splits, mean, std))
}

/// Reads a dataset's splits with pixels scaled to `[0, 1]` and no standardisation.
///
/// # Errors
///
/// As [`load`], less the constant-channel check.
pub fn load_raw(spec: &DatasetSpec) -> Result<Splits> {
    match spec {
        DatasetSpec::Digits => Ok(split_digits(&bundled_digits()?)),
        DatasetSpec::Mnist(dir) => read_mnist_dir(dir),
        DatasetSpec::Cifar10(dir) => read_cifar10_dir(dir),
    }
}

/// The path an error about a whole dataset should name.
fn spec_path(spec: &DatasetSpec) -> &Path {
    match spec {
        DatasetSpec::Digits => Path::new(digits::BUNDLED_NAME),
        DatasetSpec::Mnist(d) | DatasetSpec::Cifar10(d) => d,
    }
}

/// Checks that the train and test splits read from `dir` have the same image shape.
fn check_same_shape(dir: &Path, train: &Dataset, test: &Dataset) -> Result<()> {
    if train.image_shape() != test.image_shape() {
        return Err(Error::format(
            dir,
            format!(
                "training images are {:?} (CxHxW) but test images are {:?}",
                train.image_shape(),
                test.image_shape()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // 3 images, 2 channels, 1x2 pixels; channel 0 = [0,1], [2,3], [4,5]; channel 1 = 10*that.
        let mut images = Vec::new();
        for i in 0..3 {
            let a = (2 * i) as f32;
            images.extend_from_slice(&[a, a + 1.0, 10.0 * a, 10.0 * (a + 1.0)]);
        }
        Dataset::new(images, vec![0, 1, 2], 2, 1, 2, 3).unwrap()
    }

    #[test]
    fn new_rejects_inconsistent_pieces() {
        assert!(Dataset::new(vec![0.0; 3], vec![0], 1, 2, 2, 10).is_err());
        assert!(Dataset::new(vec![0.0; 4], vec![0], 1, 0, 4, 10).is_err());
        let e = Dataset::new(vec![0.0; 4], vec![10], 1, 2, 2, 10).unwrap_err();
        assert!(e.to_string().contains("label 10 at index 0"), "{e}");
    }

    #[test]
    fn channel_stats_match_hand_computation() {
        // Channel 0 holds 0..=5: mean 2.5, population variance 35/12.
        let (m, s) = tiny().channel_stats();
        assert!((m[0] - 2.5).abs() < 1e-12 && (m[1] - 25.0).abs() < 1e-12);
        let sd0 = (35.0f64 / 12.0).sqrt();
        assert!((s[0] - sd0).abs() < 1e-12 && (s[1] - 10.0 * sd0).abs() < 1e-11);
    }

    #[test]
    fn normalize_standardises_each_channel() {
        let mut ds = tiny();
        let (m, s) = ds.channel_stats();
        ds.normalize(&m, &s).unwrap();
        let (m2, s2) = ds.channel_stats();
        for c in 0..2 {
            // f32 storage: a few ulps of 1.
            assert!(
                m2[c].abs() < 1e-6 && (s2[c] - 1.0).abs() < 1e-6,
                "{m2:?} {s2:?}"
            );
        }
        // Pixel 0 of channel 0 is (0 - 2.5) / sd0.
        let want = (-2.5 / (35.0f64 / 12.0).sqrt()) as f32;
        assert_eq!(ds.images[0], want);
    }

    #[test]
    fn normalize_rejects_bad_stats() {
        let mut ds = tiny();
        assert!(ds.normalize(&[0.0], &[1.0, 1.0]).is_err());
        assert!(ds.normalize(&[0.0, f64::NAN], &[1.0, 1.0]).is_err());
        let e = ds.normalize(&[0.0, 0.0], &[1.0, 0.0]).unwrap_err();
        assert!(e.to_string().contains("constant"), "{e}");
    }

    #[test]
    fn subset_gathers_in_order_and_checks_range() {
        let ds = tiny();
        let sub = ds.subset(&[2, 0, 2]).unwrap();
        assert_eq!(sub.labels, vec![2, 0, 2]);
        assert_eq!(sub.image(0), ds.image(2));
        assert_eq!(sub.image(1), ds.image(0));
        let e = ds.subset(&[3]).unwrap_err();
        assert!(e.to_string().contains("index 3"), "{e}");
    }

    #[test]
    fn spec_parses_and_round_trips() {
        for s in [
            "digits",
            "mnist:/data/mnist",
            "cifar10:rel/dir",
            "cifar10:C:\\x",
        ] {
            let spec: DatasetSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
        assert_eq!(
            "mnist:d".parse::<DatasetSpec>().unwrap(),
            DatasetSpec::Mnist("d".into())
        );
        for bad in [
            "",
            "mnist",
            "mnist:",
            "imagenet:/x",
            "Digits",
            "cifar100:/x",
        ] {
            let e = bad.parse::<DatasetSpec>().unwrap_err().to_string();
            assert!(e.contains("dataset"), "{bad}: {e}");
        }
        let e = "imagenet:/x"
            .parse::<DatasetSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("digits, mnist:DIR or cifar10:DIR"), "{e}");
    }

    #[test]
    fn load_rejects_a_constant_training_channel() {
        let dir = tempfile::tempdir().unwrap();
        // One-record CIFAR batches, all pixels equal: the train split is constant.
        let rec: Vec<u8> = std::iter::once(3u8)
            .chain(std::iter::repeat_n(7u8, 3072))
            .collect();
        for name in CIFAR10_TRAIN_FILES.iter().chain([&CIFAR10_TEST_FILE]) {
            std::fs::write(dir.path().join(name), &rec).unwrap();
        }
        let e = load(&DatasetSpec::Cifar10(dir.path().into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("constant"), "{e}");
    }
}
