//! [`Sketch`]: a Johnson-Lindenstrauss random projection of a trajectory to k << d coordinates,
//! as a [`TrajectorySource`] adapter, so that MSD, MSL and path statistics of huge runs can be
//! computed from a small matrix that fits in memory.
//!
//! # Projection
//!
//! ```text
//! y_t = (1/sqrt(k)) R (w_t - m),   R in {-1, +1}^(k x d), entries independent and equiprobable
//! ```
//!
//! (Achlioptas' database-friendly projection), with `m` the mean of the trajectory over all its
//! steps. Subtracting `m` is a translation, so it changes no distance; it keeps the stored `f32`
//! coordinates of the size of the trajectory's spread rather than of `||w||`, so that small
//! displacements are not lost to `f32` rounding (the same cancellation that ruins uncentred MSD).
//! Column `c` of `R` is drawn from `ChaCha8Rng::seed_from_u64(seed)` at word position
//! `c * ceil(k / 32)`: the matrix depends only on `(seed, k, d)`, never on block sizes or thread
//! counts, and is never stored; it is regenerated block by block while the source is streamed
//! once over blocks of coordinates (and, in parallel, blocks of steps), accumulating in `f64`.
//! Cost: one pass over the data and `n_steps * k * d` multiply-adds (done as `f64` GEMMs);
//! memory `8 * n_steps * k` bytes while building, half that afterwards.
//!
//! # Error
//!
//! For any vector `x`, `||P x||^2` with `P = R / sqrt(k)` is an **unbiased** estimate of
//! `||x||^2`, with relative variance `(2/k) (1 - sum_i x_i^4 / ||x||^4) <= 2/k`: a typical
//! relative error of `sqrt(2/k)` per pair (3.2 % at k = 2000). Every MSD value is a mean of squared
//! distances between steps, so the sketch's MSD is also unbiased, and MSL and path statistics that
//! use distances inherit the same bound. Uniformly over all pairs, [`jl_dimension`] gives the `k`
//! for which, with probability at least `1 - delta` over the seed, **every** pairwise squared
//! distance of the `n` steps satisfies
//!
//! ```text
//! (1 - eps) ||w_s - w_t||^2 <= ||y_s - y_t||^2 <= (1 + eps) ||w_s - w_t||^2,
//! k >= (4 ln n + 2 ln(1/delta)) / (eps^2/2 - eps^3/3)
//! ```
//!
//! (Achlioptas 2003, Theorem 1, with `n^-beta = delta`); every MSD value then lies within the
//! same factors of the exact one. Diffusion exponents (log-log slopes) are unaffected by a
//! common factor and move only through the pair-to-pair fluctuation.
//!
//! # References
//! - D. Achlioptas, "Database-friendly random projections: Johnson-Lindenstrauss with binary
//!   coins", J. Comput. Syst. Sci. 66 (2003) 671-687.
//! - S. Dasgupta, A. Gupta, "An elementary proof of a theorem of Johnson and Lindenstrauss",
//!   Random Struct. Algorithms 22 (2003) 60-65 (the Gaussian version of the same bound).

use super::{check_block, TrajectorySource};
use crate::error::{Error, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::ops::Range;

/// The sketch dimension `k` that keeps all pairwise squared distances of `n_points` points within
/// relative error `eps` with probability at least `1 - delta`:
/// `k = ceil((4 ln n + 2 ln(1/delta)) / (eps^2/2 - eps^3/3))` (Achlioptas 2003, Theorem 1).
///
/// # Errors
/// [`Error::InvalidParameter`] unless `0 < eps < 1`, `0 < delta < 1` and `n_points >= 1`.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::sketch::jl_dimension;
/// // 24,000 steps, 10 % error, 1 % failure probability.
/// let k = jl_dimension(0.1, 24_000, 0.01).unwrap();
/// assert_eq!(k, 10_619); // (4 ln 24000 + 2 ln 100) / (0.005 - 0.001/3) = 10618.4
/// ```
pub fn jl_dimension(eps: f64, n_points: usize, delta: f64) -> Result<usize> {
    if !(eps > 0.0 && eps < 1.0) {
        return Err(Error::param(
            "eps",
            format!("relative error must lie in (0, 1), got {eps}"),
        ));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::param(
            "delta",
            format!("failure probability must lie in (0, 1), got {delta}"),
        ));
    }
    if n_points == 0 {
        return Err(Error::param("n_points", "need at least one point"));
    }
    let c = eps * eps / 2.0 - eps * eps * eps / 3.0;
    let k = (4.0 * (n_points as f64).ln() + 2.0 * (1.0 / delta).ln()) / c;
    Ok(k.ceil().max(1.0) as usize)
}

/// A random projection of another trajectory to `k` coordinates (see the [module docs](self)
/// for the projection and the error it introduces).
///
/// The projection is computed once, when the sketch is built, in one streaming pass over the
/// source; afterwards reads are served from memory. Losses and gradients are passed through from
/// the wrapped source unchanged (gradients are not projected: heavy-tail fits need raw
/// components).
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{InMemoryTrajectory, Sketch, TrajectorySource};
/// // A straight walk in 5,000 dimensions: step t sits at distance t from step 0.
/// let d = 5000;
/// let w: Vec<f32> = (0..10).flat_map(|t| (0..d).map(move |c| t as f32 * if c % 2 == 0 { 1.0 } else { -1.0 } / (d as f32).sqrt())).collect();
/// let traj = InMemoryTrajectory::from_weights(d, w, None).unwrap();
/// let sketch = Sketch::with_error(&traj, 0.3, 0.01, 42).unwrap();
/// assert!(sketch.k() < d);
/// let (mut a, mut b) = (vec![0.0f32; sketch.k()], vec![0.0f32; sketch.k()]);
/// sketch.read_step(0, &mut a).unwrap();
/// sketch.read_step(9, &mut b).unwrap();
/// let dist2: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
/// assert!((dist2 / 81.0 - 1.0).abs() < 0.3);
/// ```
#[derive(Debug)]
pub struct Sketch<S> {
    inner: S,
    k: usize,
    seed: u64,
    data: Vec<f32>,
}

impl<S: TrajectorySource> Sketch<S> {
    /// Projects `inner` to `k` coordinates with the projection matrix of `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `k == 0`; any read error of `inner` (including a NaN or
    /// infinite weight, named by step).
    pub fn with_k(inner: S, k: usize, seed: u64) -> Result<Self> {
        Self::build(inner, k, seed, None)
    }

    /// Projects `inner` to the `k` that [`jl_dimension`] gives for relative error `eps`, failure
    /// probability `delta` and the source's number of steps.
    ///
    /// # Errors
    /// As [`jl_dimension`] and [`Sketch::with_k`].
    pub fn with_error(inner: S, eps: f64, delta: f64, seed: u64) -> Result<Self> {
        let k = jl_dimension(eps, inner.n_steps().max(1), delta)?;
        Self::with_k(inner, k, seed)
    }

    fn build(inner: S, k: usize, seed: u64, coord_block: Option<usize>) -> Result<Self> {
        if k == 0 {
            return Err(Error::param(
                "k",
                "the sketch needs at least one coordinate",
            ));
        }
        let (n, d) = (inner.n_steps(), inner.dim());
        let mut acc = vec![0.0f64; n * k];
        if n > 0 && d > 0 {
            // Blocks: R block of about 4M f64 (32 MB), step blocks of 128 rows for rayon.
            let cb = coord_block
                .unwrap_or_else(|| ((1usize << 22) / k).clamp(16, 4096))
                .min(d);
            let sb = 128usize.min(n);
            let words_per_col = k.div_ceil(32);
            let mut reference = vec![0.0f32; d];
            inner.read_weights(0..1, 0..d, &mut reference)?;
            let mut rt = vec![0.0f64; cb * k];
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut c0 = 0;
            while c0 < d {
                let c1 = (c0 + cb).min(d);
                let width = c1 - c0;
                fill_signs(&mut rng, c0, k, words_per_col, &mut rt[..width * k]);
                let rt_view = ArrayView2::from_shape((width, k), &rt[..width * k])
                    .map_err(|e| Error::Shape(e.to_string()))?;
                let refblock = &reference[c0..c1];
                acc.par_chunks_mut(sb * k).enumerate().try_for_each(
                    |(i, acc_blk)| -> Result<()> {
                        let t0 = i * sb;
                        let rows = acc_blk.len() / k;
                        let mut x = vec![0.0f32; rows * width];
                        inner.read_weights(t0..t0 + rows, c0..c1, &mut x)?;
                        // Differences from step 0 in f64: exact for f32 inputs.
                        let xd: Vec<f64> = x
                            .chunks_exact(width)
                            .flat_map(|row| {
                                row.iter().zip(refblock).map(|(v, r)| *v as f64 - *r as f64)
                            })
                            .collect();
                        let xv = ArrayView2::from_shape((rows, width), &xd)
                            .map_err(|e| Error::Shape(e.to_string()))?;
                        let mut av = ArrayViewMut2::from_shape((rows, k), acc_blk)
                            .map_err(|e| Error::Shape(e.to_string()))?;
                        general_mat_mul(1.0, &xv, &rt_view, 1.0, &mut av);
                        Ok(())
                    },
                )?;
                c0 = c1;
            }
        }
        // Centre on the mean step (P(w_t - m) = P(w_t - w_0) - mean_t P(w_t - w_0)), scale.
        let scale = 1.0 / (k as f64).sqrt();
        let mut mean = vec![0.0f64; k];
        for row in acc.chunks_exact(k) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let data = acc
            .chunks_exact(k)
            .flat_map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(move |(v, m)| ((v - m) * scale) as f32)
            })
            .collect();
        Ok(Self {
            inner,
            k,
            seed,
            data,
        })
    }

    /// The sketch dimension.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The seed of the projection matrix.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The projected trajectory, row-major (steps x k).
    pub fn projected(&self) -> &[f32] {
        &self.data
    }
}

/// Writes rows `c0 .. c0 + out.len() / k` of `R^T` (k signs each) into `out`, row-major. Column
/// `c` of `R` takes the `words_per_col` 32-bit words from word position `c * words_per_col`.
fn fill_signs(rng: &mut ChaCha8Rng, c0: usize, k: usize, words_per_col: usize, out: &mut [f64]) {
    rng.set_word_pos(c0 as u128 * words_per_col as u128);
    for row in out.chunks_exact_mut(k) {
        // chunks_mut(32) yields exactly words_per_col = ceil(k / 32) pieces.
        for signs in row.chunks_mut(32) {
            let bits = rng.next_u32();
            for (j, s) in signs.iter_mut().enumerate() {
                *s = if (bits >> j) & 1 == 1 { 1.0 } else { -1.0 };
            }
        }
    }
}

impl<S: TrajectorySource> TrajectorySource for Sketch<S> {
    fn n_steps(&self) -> usize {
        self.inner.n_steps()
    }

    fn dim(&self) -> usize {
        self.k
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        check_block(&steps, &coords, self.n_steps(), self.k, out.len())?;
        let w = coords.len();
        if w == 0 {
            return Ok(());
        }
        for (t, dst) in steps.zip(out.chunks_exact_mut(w)) {
            let base = t * self.k;
            dst.copy_from_slice(&self.data[base + coords.start..base + coords.end]);
        }
        Ok(())
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        self.inner.losses(steps)
    }

    fn gradient_dim(&self) -> usize {
        self.inner.gradient_dim()
    }

    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        self.inner.read_gradients(steps, coords, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trajectory::InMemoryTrajectory;

    fn walk(n: usize, d: usize) -> InMemoryTrajectory {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut w = vec![0.0f32; n * d];
        for t in 1..n {
            for c in 0..d {
                let u = (rng.next_u32() as f32 / u32::MAX as f32) - 0.5;
                w[t * d + c] = w[(t - 1) * d + c] + u;
            }
        }
        InMemoryTrajectory::from_weights(d, w, None).unwrap()
    }

    #[test]
    fn projection_does_not_depend_on_block_size() {
        let t = walk(300, 777);
        let a = Sketch::build(&t, 45, 3, Some(16)).unwrap();
        let b = Sketch::build(&t, 45, 3, Some(500)).unwrap();
        // Same matrix; sums in a different order: equal to f64 rounding, then f32.
        for (x, y) in a.projected().iter().zip(b.projected()) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
        }
        let c = Sketch::build(&t, 45, 4, Some(16)).unwrap();
        assert_ne!(a.projected(), c.projected());
    }

    #[test]
    fn bad_parameters() {
        assert!(jl_dimension(0.0, 10, 0.1).is_err());
        assert!(jl_dimension(1.0, 10, 0.1).is_err());
        assert!(jl_dimension(f64::NAN, 10, 0.1).is_err());
        assert!(jl_dimension(0.1, 10, 0.0).is_err());
        assert!(jl_dimension(0.1, 0, 0.5).is_err());
        assert!(Sketch::with_k(walk(3, 4), 0, 1).is_err());
    }
}
