//! Seeded minibatches with random access by step.
//!
//! A step's indices and augmentation are pure functions of `(seed, step)`: there is no iterator
//! state to save, so a resumed run draws exactly the batches the killed one would have.

use std::sync::{Arc, Mutex};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::{Error, Result};

/// Domain tags that keep the permutation and augmentation streams of one seed independent.
const TAG_PERMUTATION: &[u8; 16] = b"anodiff:perm:v1\0";
const TAG_AUGMENT: &[u8; 16] = b"anodiff:augm:v1\0";

/// A ChaCha8 generator keyed by `(seed, counter, tag)`.
///
/// The three pieces fill the 32-byte key side by side, so distinct `(seed, counter)` pairs
/// never share a stream (a hash-combined `u64` seed could collide).
fn keyed_rng(seed: u64, counter: u64, tag: &[u8; 16]) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&counter.to_le_bytes());
    key[16..].copy_from_slice(tag);
    ChaCha8Rng::from_seed(key)
}

/// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-and-reject method.
///
/// Written out rather than taken from `rand`'s `random_range`, whose algorithm may change between
/// rand releases; the batches must stay bit-identical for a given seed.
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

/// Maps training steps to minibatch indices: epoch-wise random permutations without
/// replacement.
///
/// Step `s` belongs to epoch `e = s / batches_per_epoch()` and takes positions
/// `(s mod batches_per_epoch()) * batch_size ..` of epoch `e`'s permutation. Each epoch's
/// permutation is a Fisher-Yates shuffle driven by ChaCha8 keyed with `(seed, e)`.
///
/// **Drop-last policy:** an epoch has `floor(n_train / batch_size)` batches; the
/// `n_train mod batch_size` images at the end of each permutation are not used in that epoch
/// (they are different images each epoch, so nothing is systematically left out). Every batch
/// therefore has exactly `batch_size` images, which keeps the gradient-noise scale constant.
///
/// The loader stores only its parameters and a cache of the latest epoch's permutation.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::BatchLoader;
///
/// let loader = BatchLoader::new(10, 3, 42)?;
/// assert_eq!(loader.batches_per_epoch(), 3); // image 10 - 9 = 1 is dropped per epoch
/// let a = loader.indices(4);
/// assert_eq!(a.len(), 3);
/// // Random access: a fresh loader gives the same batch for the same step.
/// assert_eq!(BatchLoader::new(10, 3, 42)?.indices(4), a);
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
pub struct BatchLoader {
    n: usize,
    batch_size: usize,
    seed: u64,
    /// The most recently used epoch and its permutation; consecutive steps share it.
    cache: Mutex<Option<(usize, Arc<Vec<usize>>)>>,
}

impl BatchLoader {
    /// A loader over `n_train` images in batches of `batch_size`, seeded by `seed`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when `n_train` is 0 (`dataset`), or `batch_size` is 0 or
    /// larger than `n_train` (`batch-size`).
    pub fn new(n_train: usize, batch_size: usize, seed: u64) -> Result<Self> {
        if n_train == 0 {
            return Err(Error::param("dataset", "the training set is empty"));
        }
        if batch_size == 0 || batch_size > n_train {
            return Err(Error::param(
                "batch-size",
                format!(
                    "{batch_size} is outside 1..={n_train} (the training set has {n_train} images)"
                ),
            ));
        }
        Ok(BatchLoader {
            n: n_train,
            batch_size,
            seed,
            cache: Mutex::new(None),
        })
    }

    /// Number of training images.
    pub fn n_train(&self) -> usize {
        self.n
    }

    /// Images per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The seed of the permutations.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Batches per epoch, `floor(n_train / batch_size)` (the ragged rest is dropped; see the
    /// type's docs).
    pub fn batches_per_epoch(&self) -> usize {
        self.n / self.batch_size
    }

    /// The epoch that step `step` belongs to.
    pub fn epoch_of(&self, step: usize) -> usize {
        step / self.batches_per_epoch()
    }

    /// The permutation of `0..n_train` used in epoch `epoch`.
    pub fn permutation(&self, epoch: usize) -> Vec<usize> {
        let mut perm: Vec<usize> = (0..self.n).collect();
        let mut rng = keyed_rng(self.seed, epoch as u64, TAG_PERMUTATION);
        for i in (1..perm.len()).rev() {
            let j = below(&mut rng, i as u64 + 1) as usize;
            perm.swap(i, j);
        }
        perm
    }

    /// The training-set indices of step `step`'s batch (`batch_size` of them, distinct).
    ///
    /// A pure function of `(seed, step)` for fixed `n_train` and `batch_size`.
    pub fn indices(&self, step: usize) -> Vec<usize> {
        let bpe = self.batches_per_epoch();
        let (epoch, k) = (step / bpe, step % bpe);
        let perm = {
            // A poisoned lock only means another thread panicked mid-update of a cache; the
            // cache is recomputed rather than trusted.
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.as_ref() {
                Some((e, p)) if *e == epoch => Arc::clone(p),
                _ => {
                    let p = Arc::new(self.permutation(epoch));
                    *cache = Some((epoch, Arc::clone(&p)));
                    p
                }
            }
        };
        perm[k * self.batch_size..(k + 1) * self.batch_size].to_vec()
    }
}

impl Clone for BatchLoader {
    fn clone(&self) -> Self {
        BatchLoader {
            n: self.n,
            batch_size: self.batch_size,
            seed: self.seed,
            cache: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for BatchLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLoader")
            .field("n_train", &self.n)
            .field("batch_size", &self.batch_size)
            .field("seed", &self.seed)
            .finish()
    }
}

/// What the pixels a random crop shifts in from outside the image are.
///
/// torchvision's `RandomCrop(32, padding=4)` pads the raw image with black (0) and the authors'
/// `Normalize` runs after it, so a padded pixel of channel `c` reaches the network as
/// `(0 - mean_c) / std_c`. Datasets here are standardised once at load time, before
/// augmentation, so that value has to be put in explicitly ([`Augment::black_padding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Raw black: `(0 - mean_c) / std_c` in standardised units, as torchvision (the default).
    #[default]
    Black,
    /// 0 in the dataset's units, i.e. the training mean on standardised data. What anodiff did
    /// before black padding (runs that recorded no padding mode in `run.json` used it, and
    /// resume with it so their trajectories continue bit for bit).
    Mean,
}

/// Training-time augmentation: random crop with padding, then random horizontal flip.
///
/// The crop pads the image with `crop_padding` pixels on every side and cuts a window of the
/// original size at a uniformly random offset in `0..=2 * crop_padding` per axis; `flip` mirrors
/// the columns with probability 1/2. This is torchvision's `RandomCrop(32, padding=4)` followed
/// by `RandomHorizontalFlip()`, which the authors' CIFAR-10 code used ([`Augment::CIFAR`]).
///
/// The padded pixels of channel `c` take the value `fill[c]` (all 0 when `fill` is empty), in the
/// units of the dataset the batch is cut from. On a dataset standardised by
/// [`load`](super::load), torchvision's black border is
/// `Augment::CIFAR.black_padding(mean, std)` with the training statistics
/// ([`load_with_stats`](super::load_with_stats)), so that augmenting the standardised images
/// gives exactly what padding the raw images with 0, cropping and then standardising gives.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::Augment;
///
/// // Raw pixels in [0, 1] with mean 0.5 and std 0.25: black is (0 - 0.5) / 0.25 = -2.
/// let aug = Augment::CIFAR.black_padding(&[0.5], &[0.25])?;
/// assert_eq!(aug.fill, vec![-2.0]);
/// assert!(Augment::CIFAR.black_padding(&[0.5], &[0.0]).is_err());
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Padding on each side before the random crop; 0 disables cropping.
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
    /// Value of the padded pixels, one per channel, in the dataset's units; empty: 0 everywhere.
    pub fill: Vec<f32>,
}

impl Augment {
    /// The CIFAR-10 setting of the authors' code: padding 4 and horizontal flips, padding with
    /// 0 in the data's units (black for raw pixels; see [`Augment::black_padding`] for
    /// standardised ones).
    pub const CIFAR: Augment = Augment {
        crop_padding: 4,
        flip: true,
        fill: Vec::new(),
    };

    /// The same augmentation padding with raw black, for images standardised per channel as
    /// `(x - mean[c]) / std[c]`: `fill[c] = (0 - mean[c]) / std[c]`, computed in f64 and rounded
    /// to f32 exactly as [`Dataset::normalize`](super::Dataset::normalize) rounds a raw 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when `mean` and `std` differ in length or are empty, or an
    /// entry is not finite, or a standard deviation is not positive.
    pub fn black_padding(self, mean: &[f64], std: &[f64]) -> Result<Augment> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::param(
                "padding",
                format!(
                    "need one mean and one standard deviation per channel, got {} and {}",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if let Some(c) =
            (0..mean.len()).find(|&c| !(mean[c].is_finite() && std[c].is_finite() && std[c] > 0.0))
        {
            return Err(Error::param(
                "padding",
                format!(
                    "channel {c} has mean {} and standard deviation {}; need finite values \
                     and a positive deviation",
                    mean[c], std[c]
                ),
            ));
        }
        let fill = mean
            .iter()
            .zip(std)
            .map(|(m, s)| ((0.0 - m) / s) as f32)
            .collect();
        Ok(Augment { fill, ..self })
    }

    /// This augmentation with the border `padding` asks for, given the statistics the data were
    /// standardised with ([`Padding::Mean`] keeps a zero fill).
    ///
    /// # Errors
    ///
    /// As [`Augment::black_padding`].
    pub fn with_padding(self, padding: Padding, mean: &[f64], std: &[f64]) -> Result<Augment> {
        match padding {
            Padding::Black => self.black_padding(mean, std),
            Padding::Mean => Ok(Augment {
                fill: Vec::new(),
                ..self
            }),
        }
    }
}

impl Default for Augment {
    /// [`Augment::CIFAR`].
    fn default() -> Self {
        Augment::CIFAR
    }
}

/// A minibatch ready for a tensor: pixels NCHW and one label per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `shape.iter().product()` pixel values, NCHW.
    pub images: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
}

/// Gathers the images at `indices` into a batch, augmenting each when `augment` is given.
///
/// The augmentation draws come from ChaCha8 keyed with `(seed, step)` (a stream separate from
/// the [`BatchLoader`] permutations), consumed image by image in `indices` order: the crop's
/// row offset, its column offset (when `crop_padding > 0`), then the flip bit (when `flip`).
/// So a step's batch is a pure function of `(dataset, indices, augment, seed, step)`.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::{make_batch, Augment, Dataset};
///
/// // One 1x1x3 image [1, 2, 3]; flip only.
/// let ds = Dataset::new(vec![1.0, 2.0, 3.0], vec![0], 1, 1, 3, 10)?;
/// let aug = Augment { crop_padding: 0, flip: true, fill: vec![] };
/// let flipped: Vec<_> = (0..16)
///     .map(|step| make_batch(&ds, &[0], Some(&aug), 1, step).images)
///     .collect();
/// assert!(flipped.iter().all(|im| im == &[1.0, 2.0, 3.0] || im == &[3.0, 2.0, 1.0]));
/// assert!(flipped.iter().any(|im| im == &[3.0, 2.0, 1.0]));
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
///
/// # Panics
///
/// When an index is `>= ds.len()` (indices come from a [`BatchLoader`] built for `ds`), or when
/// `augment.fill` is neither empty nor one value per channel of `ds`.
pub fn make_batch(
    ds: &Dataset,
    indices: &[usize],
    augment: Option<&Augment>,
    seed: u64,
    step: usize,
) -> Batch {
    let (c, h, w) = (ds.channels, ds.height, ds.width);
    let mut images = Vec::with_capacity(indices.len() * ds.image_len());
    let labels = indices.iter().map(|&i| ds.labels[i]).collect();
    match augment {
        None => {
            for &i in indices {
                images.extend_from_slice(ds.image(i));
            }
        }
        Some(aug) => {
            assert!(
                aug.fill.is_empty() || aug.fill.len() == c,
                "the augmentation's fill has {} values for {c}-channel images",
                aug.fill.len()
            );
            let zeros = vec![0.0; c];
            let fill = if aug.fill.is_empty() {
                &zeros
            } else {
                &aug.fill
            };
            let mut rng = keyed_rng(seed, step as u64, TAG_AUGMENT);
            let p = aug.crop_padding;
            for &i in indices {
                let (dy, dx) = if p > 0 {
                    let span = 2 * p as u64 + 1;
                    (
                        below(&mut rng, span) as usize,
                        below(&mut rng, span) as usize,
                    )
                } else {
                    (0, 0)
                };
                let flip = aug.flip && rng.next_u64() >> 63 == 1;
                crop_flip(ds.image(i), [c, h, w], p, fill, (dy, dx), flip, &mut images);
            }
        }
    }
    Batch {
        images,
        labels,
        shape: [indices.len(), c, h, w],
    }
}

/// Appends the `h x w` window at offset `(dy, dx)` of `src` padded by `pad` pixels of value
/// `fill[channel]`, mirrored left-right when `flip`.
///
/// Output pixel `(y, x)` is padded pixel `(y + dy, x')` with `x' = w - 1 - x + dx` when flipped
/// and `x + dx` otherwise, where padded pixel `(Y, X)` is `src(Y - pad, X - pad)` inside the
/// image and `fill` outside. Flipping after cropping, as torchvision does.
fn crop_flip(
    src: &[f32],
    [c, h, w]: [usize; 3],
    pad: usize,
    fill: &[f32],
    (dy, dx): (usize, usize),
    flip: bool,
    out: &mut Vec<f32>,
) {
    for (ch, &border) in fill.iter().enumerate().take(c) {
        let plane = &src[ch * h * w..(ch + 1) * h * w];
        for y in 0..h {
            let sy = (y + dy).checked_sub(pad).filter(|&r| r < h);
            for x in 0..w {
                let xc = if flip { w - 1 - x } else { x };
                let sx = (xc + dx).checked_sub(pad).filter(|&s| s < w);
                out.push(match (sy, sx) {
                    (Some(r), Some(s)) => plane[r * w + s],
                    _ => border,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_rejects_bad_sizes() {
        assert!(BatchLoader::new(0, 1, 0).is_err());
        assert!(BatchLoader::new(10, 0, 0).is_err());
        let e = BatchLoader::new(10, 11, 0).unwrap_err().to_string();
        assert!(e.contains("batch-size") && e.contains("10 images"), "{e}");
        assert!(BatchLoader::new(10, 10, 0).is_ok());
    }

    #[test]
    fn permutations_are_permutations_and_epochs_differ() {
        let l = BatchLoader::new(1000, 100, 3).unwrap();
        let p0 = l.permutation(0);
        let mut s = p0.clone();
        s.sort_unstable();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        assert_ne!(p0, l.permutation(1));
        assert_ne!(p0, BatchLoader::new(1000, 100, 4).unwrap().permutation(0));
        // The steps of one epoch tile its permutation, in order.
        let tiled: Vec<usize> = (10..20).flat_map(|s| l.indices(s)).collect();
        assert_eq!(tiled, l.permutation(1));
    }

    #[test]
    fn indices_are_random_access() {
        let l = BatchLoader::new(103, 10, 9).unwrap();
        assert_eq!(l.batches_per_epoch(), 10);
        let forward: Vec<_> = (0..35).map(|s| l.indices(s)).collect();
        let fresh = BatchLoader::new(103, 10, 9).unwrap();
        for s in (0..35).rev() {
            assert_eq!(fresh.indices(s), forward[s], "step {s}");
        }
    }

    #[test]
    fn below_is_uniform_enough() {
        // 60,000 draws in 0..3: each count is Binomial(60000, 1/3), sd ~115; allow 5 sd.
        let mut rng = keyed_rng(1, 2, TAG_AUGMENT);
        let mut counts = [0usize; 3];
        for _ in 0..60_000 {
            counts[below(&mut rng, 3) as usize] += 1;
        }
        for c in counts {
            assert!((c as f64 - 20_000.0).abs() < 5.0 * 115.5, "{counts:?}");
        }
    }

    #[test]
    fn crop_and_flip_on_a_hand_made_image() {
        // 1 channel, 2x3: rows [1 2 3] [4 5 6].
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let run = |pad, dy, dx, flip| {
            let mut out = Vec::new();
            crop_flip(&src, [1, 2, 3], pad, &[0.0], (dy, dx), flip, &mut out);
            out
        };
        assert_eq!(run(0, 0, 0, false), src);
        assert_eq!(run(0, 0, 0, true), [3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        // Padding 1, offset (0, 0): the window's top row and left column are padding.
        assert_eq!(run(1, 0, 0, false), [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]);
        // Offset (1, 1) with padding 1 is the identity.
        assert_eq!(run(1, 1, 1, false), src);
        // Offset (2, 2): shifted up-left, bottom row and right column padding.
        assert_eq!(run(1, 2, 2, false), [5.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
        // Crop then flip: the (2, 2) window [5 6 0; 0 0 0] mirrored.
        assert_eq!(run(1, 2, 2, true), [0.0, 6.0, 5.0, 0.0, 0.0, 0.0]);
    }

    /// torchvision's order, written out independently: pad the RAW image with black (0), cut
    /// the window at `(dy, dx)`, mirror it if `flip`, then standardise as `Dataset::normalize`
    /// does (`((x - m) / s) as f32`, in f64).
    fn torchvision_reference(
        raw: &[f32],
        [c, h, w]: [usize; 3],
        pad: usize,
        (dy, dx, flip): (usize, usize, bool),
        mean: &[f64],
        std: &[f64],
    ) -> Vec<f32> {
        let (ph, pw) = (h + 2 * pad, w + 2 * pad);
        let mut out = Vec::new();
        for ch in 0..c {
            let mut padded = vec![0.0f32; ph * pw];
            for y in 0..h {
                for x in 0..w {
                    padded[(y + pad) * pw + x + pad] = raw[ch * h * w + y * w + x];
                }
            }
            let window: Vec<Vec<f32>> = (0..h)
                .map(|y| (0..w).map(|x| padded[(y + dy) * pw + x + dx]).collect())
                .collect();
            for mut row in window {
                if flip {
                    row.reverse();
                }
                out.extend(
                    row.iter()
                        .map(|&x| ((f64::from(x) - mean[ch]) / std[ch]) as f32),
                );
            }
        }
        out
    }

    /// Augmenting standardised images with black padding equals padding the raw images with 0,
    /// cropping, flipping and standardising afterwards, bit for bit, for every image of many
    /// batches; the draws (offset, flip) are identified by search over all 2 (2p + 1)^2 of
    /// them, so the reference shares no code with `make_batch`.
    #[test]
    fn black_padding_equals_padding_raw_pixels_before_normalising() {
        let (c, h, w, pad, n) = (3, 5, 6, 2, 40);
        let mut rng = keyed_rng(42, 0, TAG_PERMUTATION);
        // Raw pixels in [0.05, 1): no raw black inside the images, so a black border is
        // distinguishable from the image everywhere.
        let raw: Vec<f32> = (0..n * c * h * w)
            .map(|_| 0.05 + 0.95 * (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32)
            .collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        let raw_ds = Dataset::new(raw, labels, c, h, w, 10).unwrap();
        let (mean, std) = raw_ds.channel_stats();
        let mut ds = raw_ds.clone();
        ds.normalize(&mean, &std).unwrap();
        let aug = Augment {
            crop_padding: pad,
            flip: true,
            fill: vec![],
        }
        .black_padding(&mean, &std)
        .unwrap();
        // The border is not 0 (the mean) in standardised units.
        assert!(aug.fill.iter().all(|&f| f < -0.1), "{:?}", aug.fill);

        let span = 2 * pad + 1;
        let mut seen = std::collections::HashSet::new();
        let indices: Vec<usize> = (0..n).collect();
        for step in 0..8 {
            let batch = make_batch(&ds, &indices, Some(&aug), 3, step);
            for (k, &i) in indices.iter().enumerate() {
                let got = &batch.images[k * c * h * w..(k + 1) * c * h * w];
                let matches: Vec<_> = (0..span)
                    .flat_map(|dy| (0..span).flat_map(move |dx| [(dy, dx, false), (dy, dx, true)]))
                    .filter(|&d| {
                        torchvision_reference(raw_ds.image(i), [c, h, w], pad, d, &mean, &std)
                            == got
                    })
                    .collect();
                assert_eq!(matches.len(), 1, "step {step} image {i}: {matches:?}");
                seen.insert(matches[0]);
            }
        }
        // 320 draws from 50 outcomes: the border cases (offset 0 and 2p on each axis, both flip
        // states) all occur, so the comparison covered every part of the padding.
        for corner in [(0, 0), (0, 2 * pad), (2 * pad, 0), (2 * pad, 2 * pad)] {
            assert!(
                seen.iter().any(|&(dy, dx, _)| (dy, dx) == corner),
                "{corner:?} never drawn"
            );
        }
        assert!(seen.len() > 40, "{} of 50 outcomes drawn", seen.len());
    }

    #[test]
    fn padding_modes_and_bad_statistics() {
        let mean_pad = Augment::CIFAR
            .with_padding(Padding::Mean, &[0.5], &[0.25])
            .unwrap();
        assert!(mean_pad.fill.is_empty());
        let black = Augment::CIFAR
            .with_padding(Padding::Black, &[0.5, 0.2], &[0.25, 0.1])
            .unwrap();
        assert_eq!(black.fill, vec![-2.0, -2.0]);
        assert_eq!((black.crop_padding, black.flip), (4, true));
        for (m, s) in [
            (vec![], vec![]),
            (vec![0.5], vec![0.1, 0.2]),
            (vec![f64::NAN], vec![0.1]),
            (vec![0.5], vec![-1.0]),
        ] {
            let e = Augment::CIFAR.black_padding(&m, &s).unwrap_err();
            assert!(e.to_string().contains("padding"), "{e}");
        }
        // Serialised names, as run.json stores them.
        assert_eq!(serde_json::to_string(&Padding::Black).unwrap(), "\"black\"");
        assert_eq!(serde_json::to_string(&Padding::Mean).unwrap(), "\"mean\"");
    }

    #[test]
    fn crop_pads_with_the_fill_of_each_channel() {
        // 2 channels of 1x2: [1 2] and [3 4]; padding 1 at offset (0, 0) shows the top row and
        // the left column of the border.
        let ds = Dataset::new(vec![1.0, 2.0, 3.0, 4.0], vec![0], 2, 1, 2, 1).unwrap();
        let mut out = Vec::new();
        crop_flip(
            ds.image(0),
            [2, 1, 2],
            1,
            &[-7.0, 9.0],
            (0, 0),
            false,
            &mut out,
        );
        assert_eq!(out, [-7.0, -7.0, 9.0, 9.0]);
        out.clear();
        crop_flip(
            ds.image(0),
            [2, 1, 2],
            1,
            &[-7.0, 9.0],
            (1, 0),
            false,
            &mut out,
        );
        assert_eq!(out, [-7.0, 1.0, 9.0, 3.0]);
    }

    #[test]
    fn augmented_batches_are_seeded() {
        let ds = Dataset::new(
            (0..2 * 3 * 16).map(|x| x as f32).collect(),
            vec![0, 1],
            3,
            4,
            4,
            2,
        )
        .unwrap();
        let aug = Augment {
            crop_padding: 2,
            flip: true,
            fill: vec![],
        };
        let a = make_batch(&ds, &[1, 0], Some(&aug), 5, 7);
        assert_eq!(a, make_batch(&ds, &[1, 0], Some(&aug), 5, 7));
        assert_eq!(a.shape, [2, 3, 4, 4]);
        assert_eq!(a.labels, vec![1, 0]);
        let others: Vec<_> = (8..16)
            .map(|s| make_batch(&ds, &[1, 0], Some(&aug), 5, s))
            .chain((6..14).map(|seed| make_batch(&ds, &[1, 0], Some(&aug), seed, 7)))
            .collect();
        // 25 offsets x 2 flips per image: any one of them repeats `a` with chance 1/2500,
        // so more than one repeat among 16 would point at ignored seeds or steps.
        assert!(others.iter().filter(|b| *b == &a).count() <= 1);
        // Without augmentation the batch is a plain gather.
        let plain = make_batch(&ds, &[1], None, 5, 7);
        assert_eq!(plain.images, ds.image(1));
    }
}
