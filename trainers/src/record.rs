//! What a training run records at each recorded step, and the maps from the full flat weight
//! or gradient vector to the recorded one.
//!
//! - weights: `full` (all `d` coordinates), `subset:M` (a fixed seeded subset of `M`
//!   coordinates, ascending) or `project:K` (a Johnson-Lindenstrauss random projection to `K`
//!   coordinates, `y_t = (1/sqrt K) R (w_t - w_0)` with `R` in `{-1, +1}^(K x d)`, the same matrix
//!   as [`anodiff_core::trajectory::Sketch`] draws for that seed: column `c` of `R` comes from
//!   `ChaCha8Rng::seed_from_u64(seed)` at word position `c * ceil(K / 32)`, bit `j` of each word
//!   giving row `j` of the 32-row group, 1 for `+1`). The projection is centred on the initial
//!   weights `w_0` rather than on the trajectory's mean (which is unknown while training); the two
//!   differ by a translation, which changes no distance.
//! - gradients: `none`, `full` or `sample:M` (a fixed seeded subset of `M` coordinates).
//!
//! Subsets are `rand::seq::index::sample(ChaCha8Rng::seed_from_u64(seed), d, M)`, sorted.

use crate::error::{Error, Result};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::fmt;
use std::str::FromStr;

/// Which weight coordinates a run records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightRecord {
    /// All `d` trainable weights in the flat order.
    #[default]
    Full,
    /// A fixed seeded subset of this many coordinates (ascending order).
    Subset(usize),
    /// A random projection to this many coordinates.
    Project(usize),
}

/// Which gradient coordinates a run records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradRecord {
    /// No gradients.
    #[default]
    None,
    /// The full minibatch gradient (`d` values).
    Full,
    /// A fixed seeded subset of this many coordinates (ascending order).
    Sample(usize),
}

fn count(s: &str, prefix: &str, name: &'static str, accepted: &str) -> Result<Option<usize>> {
    match s.strip_prefix(prefix) {
        None => Ok(None),
        Some(n) => match n.parse::<usize>() {
            Ok(m) if m > 0 => Ok(Some(m)),
            _ => Err(Error::param(
                name,
                format!("'{s}': '{n}' is not a positive integer (accepted: {accepted})"),
            )),
        },
    }
}

impl FromStr for WeightRecord {
    type Err = Error;

    /// `full`, `subset:M`, `project:K`.
    fn from_str(s: &str) -> Result<Self> {
        const A: &str = "full, subset:M, project:K";
        let s = s.trim();
        if s == "full" {
            return Ok(WeightRecord::Full);
        }
        if let Some(m) = count(s, "subset:", "record-weights", A)? {
            return Ok(WeightRecord::Subset(m));
        }
        if let Some(k) = count(s, "project:", "record-weights", A)? {
            return Ok(WeightRecord::Project(k));
        }
        Err(Error::param(
            "record-weights",
            format!("unknown weight recording '{s}' (accepted: {A})"),
        ))
    }
}

impl fmt::Display for WeightRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightRecord::Full => f.write_str("full"),
            WeightRecord::Subset(m) => write!(f, "subset:{m}"),
            WeightRecord::Project(k) => write!(f, "project:{k}"),
        }
    }
}

impl FromStr for GradRecord {
    type Err = Error;

    /// `none`, `full`, `sample:M`.
    fn from_str(s: &str) -> Result<Self> {
        const A: &str = "none, full, sample:M";
        match s.trim() {
            "none" => Ok(GradRecord::None),
            "full" => Ok(GradRecord::Full),
            s => match count(s, "sample:", "record-grad", A)? {
                Some(m) => Ok(GradRecord::Sample(m)),
                None => Err(Error::param(
                    "record-grad",
                    format!("unknown gradient recording '{s}' (accepted: {A})"),
                )),
            },
        }
    }
}

impl fmt::Display for GradRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradRecord::None => f.write_str("none"),
            GradRecord::Full => f.write_str("full"),
            GradRecord::Sample(m) => write!(f, "sample:{m}"),
        }
    }
}

/// Record every `K`-th step (`every:K` on the command line); step `t` is recorded when
/// `t % K == 0`, as row `t / K` of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub usize);

impl Default for Every {
    fn default() -> Self {
        Every(1)
    }
}

impl FromStr for Every {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        const A: &str = "every:K with K >= 1";
        match count(s.trim(), "every:", "record", A)? {
            Some(k) => Ok(Every(k)),
            None => Err(Error::param(
                "record",
                format!("unknown recording schedule '{s}' (accepted: {A})"),
            )),
        }
    }
}

impl fmt::Display for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "every:{}", self.0)
    }
}

/// A fixed seeded subset of `m` of `d` coordinates, ascending.
///
/// # Errors
/// [`Error::InvalidParameter`] (named `name`) if `m > d`.
pub fn seeded_subset(d: usize, m: usize, seed: u64, name: &'static str) -> Result<Vec<usize>> {
    if m > d {
        return Err(Error::param(
            name,
            format!("cannot pick {m} coordinates out of the network's {d}"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, d, m).into_vec();
    idx.sort_unstable();
    Ok(idx)
}

/// Columns per parallel block of the projection (fixed, so the result does not depend on the
/// number of threads).
const PROJ_BLOCK: usize = 2048;

/// `(1/sqrt k) R (w - w0)` with the matrix of the [module docs](self), accumulated in `f64`:
/// blocks of columns in parallel, block sums added in block order (bitwise reproducible for
/// any thread count).
pub fn project(w: &[f32], w0: &[f32], k: usize, seed: u64) -> Vec<f32> {
    let d = w.len().min(w0.len());
    let words = k.div_ceil(32);
    let partial: Vec<Vec<f64>> = (0..d.div_ceil(PROJ_BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c0 = b * PROJ_BLOCK;
            rng.set_word_pos(c0 as u128 * words as u128);
            let mut acc = vec![0.0f64; k];
            for c in c0..(c0 + PROJ_BLOCK).min(d) {
                let x = w[c] as f64 - w0[c] as f64;
                for group in acc.chunks_mut(32) {
                    let bits = rng.next_u32();
                    for (j, a) in group.iter_mut().enumerate() {
                        // +x or -x without a branch (vectorises); the same values as a branch.
                        let sign = ((bits >> j) & 1) as f64 * 2.0 - 1.0;
                        *a += sign * x;
                    }
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; k];
    for p in &partial {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    let scale = 1.0 / (k as f64).sqrt();
    total.iter().map(|v| (v * scale) as f32).collect()
}

/// The map from the full flat weight vector to the recorded one.
#[derive(Debug, Clone)]
pub(crate) enum WeightMap {
    Full,
    Subset(Vec<usize>),
    Project { k: usize, seed: u64, w0: Vec<f32> },
}

impl WeightMap {
    pub fn dim(&self, d: usize) -> usize {
        match self {
            WeightMap::Full => d,
            WeightMap::Subset(i) => i.len(),
            WeightMap::Project { k, .. } => *k,
        }
    }

    pub fn apply(&self, w: Vec<f32>) -> Vec<f32> {
        match self {
            WeightMap::Full => w,
            WeightMap::Subset(idx) => idx.iter().map(|&i| w[i]).collect(),
            WeightMap::Project { k, seed, w0 } => project(&w, w0, *k, *seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ["full", "subset:10", "project:64"] {
            assert_eq!(s.parse::<WeightRecord>().unwrap().to_string(), s);
        }
        for s in ["none", "full", "sample:5"] {
            assert_eq!(s.parse::<GradRecord>().unwrap().to_string(), s);
        }
        assert_eq!("every:3".parse::<Every>().unwrap(), Every(3));
        for bad in ["every:0", "every:x", "3", "every:-1"] {
            assert!(bad.parse::<Every>().is_err(), "{bad}");
        }
        assert!("subset:0".parse::<WeightRecord>().is_err());
        assert!("sample:".parse::<GradRecord>().is_err());
        assert!("some"
            .parse::<GradRecord>()
            .unwrap_err()
            .to_string()
            .contains("sample:M"));
    }

    #[test]
    fn subset_is_sorted_distinct_and_seeded() {
        let a = seeded_subset(1000, 50, 9, "x").unwrap();
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, seeded_subset(1000, 50, 9, "x").unwrap());
        assert_ne!(a, seeded_subset(1000, 50, 10, "x").unwrap());
        assert!(seeded_subset(10, 11, 0, "x").is_err());
    }

    #[test]
    fn projection_matches_the_core_sketch() {
        use anodiff_core::trajectory::{InMemoryTrajectory, Sketch, TrajectorySource};
        // Three steps in d = 5000 (crosses two projection blocks); the core sketch centres on
        // the mean step, ours on step 0: compare after centring ours on its mean.
        let d = 5000;
        let k = 40;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w: Vec<f32> = (0..3 * d)
            .map(|_| (rng.next_u32() % 1000) as f32 / 1000.0)
            .collect();
        let traj = InMemoryTrajectory::from_weights(d, w.clone(), None).unwrap();
        let sketch = Sketch::with_k(&traj, k, 77).unwrap();
        let ours: Vec<Vec<f32>> = (0..3)
            .map(|t| project(&w[t * d..(t + 1) * d], &w[..d], k, 77))
            .collect();
        for t in 0..3 {
            let mut theirs = vec![0.0f32; k];
            sketch.read_step(t, &mut theirs).unwrap();
            for j in 0..k {
                let mean = (ours[0][j] as f64 + ours[1][j] as f64 + ours[2][j] as f64) / 3.0;
                let mine = ours[t][j] as f64 - mean;
                // Both round to f32 from f64 sums of the same terms: a few f32 ulps of the
                // projected values (which are O(10)).
                assert!(
                    (mine - theirs[j] as f64).abs() < 1e-4,
                    "t {t} j {j}: {mine} vs {}",
                    theirs[j]
                );
            }
        }
    }
}
