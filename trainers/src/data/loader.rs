//! Seeded minibatches with random access by step.
//!
//! A step's indices and augmentation are pure functions of `(seed, step)`: there is no iterator
//! state to save, so a resumed run draws exactly the batches the killed one would have.

use std::sync::{Arc, Mutex};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// Training-time augmentation: random crop with zero padding, then random horizontal flip.
///
/// The crop pads the image with `crop_padding` zeros on every side and cuts a window of the
/// original size at a uniformly random offset in `0..=2 * crop_padding` per axis; `flip` mirrors
/// the columns with probability 1/2. This is torchvision's `RandomCrop(32, padding=4)` followed
/// by `RandomHorizontalFlip()`, which the authors' CIFAR-10 code used ([`Augment::CIFAR`]).
///
/// One difference: augmentation here runs on the dataset as stored, which [`load`](super::load)
/// has standardised, so the padding is 0 in standardised units (the training mean), where
/// torchvision pads raw black before normalising. A 4-pixel border is at most 23% of a 32x32
/// window's pixels, and the network sees a constant border either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// Zero padding on each side before the random crop; 0 disables cropping.
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
}

impl Augment {
    /// The CIFAR-10 setting of the authors' code: padding 4 and horizontal flips.
    pub const CIFAR: Augment = Augment {
        crop_padding: 4,
        flip: true,
    };
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
/// let aug = Augment { crop_padding: 0, flip: true };
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
/// When an index is `>= ds.len()` (indices come from a [`BatchLoader`] built for `ds`).
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
                crop_flip(ds.image(i), [c, h, w], p, dy, dx, flip, &mut images);
            }
        }
    }
    Batch {
        images,
        labels,
        shape: [indices.len(), c, h, w],
    }
}

/// Appends the `h x w` window at offset `(dy, dx)` of `src` zero-padded by `pad`, mirrored
/// left-right when `flip`.
///
/// Output pixel `(y, x)` is padded pixel `(y + dy, x')` with `x' = w - 1 - x + dx` when flipped
/// and `x + dx` otherwise, where padded pixel `(Y, X)` is `src(Y - pad, X - pad)` inside the
/// image and 0 outside. Flipping after cropping, as torchvision does.
fn crop_flip(
    src: &[f32],
    [c, h, w]: [usize; 3],
    pad: usize,
    dy: usize,
    dx: usize,
    flip: bool,
    out: &mut Vec<f32>,
) {
    for ch in 0..c {
        let plane = &src[ch * h * w..(ch + 1) * h * w];
        for y in 0..h {
            let sy = (y + dy).checked_sub(pad).filter(|&r| r < h);
            for x in 0..w {
                let xc = if flip { w - 1 - x } else { x };
                let sx = (xc + dx).checked_sub(pad).filter(|&s| s < w);
                out.push(match (sy, sx) {
                    (Some(r), Some(s)) => plane[r * w + s],
                    _ => 0.0,
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
            crop_flip(&src, [1, 2, 3], pad, dy, dx, flip, &mut out);
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
