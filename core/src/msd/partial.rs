//! The MSD as a map-reduce over blocks of coordinates, for distributed engines (Dask, Ray):
//! [`msd_partial`] computes the additive pieces of one block's MSD, [`MsdPartial::merge`] adds
//! the pieces of other blocks, and [`MsdPartial::into_msd`] turns the total into the [`Msd`]
//! that [`super::msd`], [`super::msd_with_blocks`] or [`super::msd_for_bootstrap`] computes on
//! the whole trajectory, with the same layout of coordinate groups and origin blocks for the
//! exponent fits and bootstraps.
//!
//! Every piece is a sum over coordinates (eq. 3 of the paper sums squared displacements over
//! coordinates), so blocks may be computed anywhere, in any order; only the order of the
//! floating-point additions differs from the single-process computation (the sums are f64,
//! accumulated on centred, detrended coordinates as there).
//!
//! # Examples
//! ```
//! use anodiff_core::msd::partial::{msd_partial, MsdLayout};
//! use anodiff_core::msd::{msd, Window};
//! use anodiff_core::trajectory::InMemoryTrajectory;
//! let (n, d) = (40, 5);
//! let w: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 113) as f32 / 10.0).collect();
//! let win = Window { start: 0, len: n };
//! let lags = [1, 3, 10];
//! // Two blocks of columns, computed separately and merged.
//! let cols = |c: std::ops::Range<usize>| -> Vec<f32> {
//!     (0..n).flat_map(|t| w[t * d + c.start..t * d + c.end].to_vec()).collect()
//! };
//! let mut total = msd_partial(&cols(0..2), win, 0..2, d, &lags, MsdLayout::plain()).unwrap();
//! total.merge(&msd_partial(&cols(2..5), win, 2..5, d, &lags, MsdLayout::plain()).unwrap()).unwrap();
//! let m = total.into_msd().unwrap();
//! let whole = msd(&InMemoryTrajectory::from_weights(d, w.clone(), None).unwrap(), win, &lags).unwrap();
//! for (a, b) in m.msd.iter().zip(&whole.msd) {
//!     assert!((a - b).abs() <= 1e-12 * b);
//! }
//! ```

use super::{
    block_bounds, check_finite, check_lags, coord_block, Acc, Kernel, Msd, OriginBlocks, Window,
    MAX_COORD_GROUPS, MIN_COORD_GROUPS,
};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How the pieces of an MSD are laid out: `n_groups` contiguous groups of coordinates x
/// `n_blocks` contiguous blocks of time origins, and whether the result keeps the origin blocks
/// ([`Msd::blocks`]). Coordinate groups are kept ([`Msd::coord_groups`]) when `n_groups > 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsdLayout {
    /// Contiguous coordinate groups (1: none).
    pub n_groups: usize,
    /// Contiguous blocks of time origins (1: none).
    pub n_blocks: usize,
    /// Whether [`MsdPartial::into_msd`] keeps the origin blocks.
    pub keep_blocks: bool,
}

impl MsdLayout {
    /// The layout of [`super::msd`]: the MSD alone.
    pub fn plain() -> Self {
        MsdLayout {
            n_groups: 1,
            n_blocks: 1,
            keep_blocks: false,
        }
    }

    /// The layout of [`super::msd_with_blocks`] on `dim` coordinates with `n_blocks` origin
    /// blocks (the window exponents of [`crate::regime::window_exponent`]).
    pub fn with_blocks(dim: usize, n_blocks: usize) -> Self {
        MsdLayout {
            n_groups: if dim >= MIN_COORD_GROUPS {
                dim.min(MAX_COORD_GROUPS)
            } else {
                1
            },
            n_blocks,
            keep_blocks: true,
        }
    }

    /// The layout of [`super::msd_for_bootstrap`] (`anodiff msd`): coordinate groups when
    /// `dim >= MIN_COORD_GROUPS`, else `n_blocks` origin blocks.
    pub fn for_bootstrap(dim: usize, n_blocks: usize) -> Self {
        if dim >= MIN_COORD_GROUPS {
            MsdLayout {
                n_groups: dim.min(MAX_COORD_GROUPS),
                n_blocks: 1,
                keep_blocks: false,
            }
        } else {
            Self::with_blocks(dim, n_blocks)
        }
    }
}

/// The additive pieces of an MSD from some of the coordinates: per coordinate group, origin
/// block and lag the sum of squared displacements over those coordinates and origins, and the
/// sums behind [`Msd::d_eff`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsdPartial {
    /// The window.
    pub window: Window,
    /// The lags.
    pub lags: Vec<usize>,
    /// Coordinates of the whole trajectory.
    pub dim: usize,
    /// The layout of `sums`.
    pub layout: MsdLayout,
    /// `sums[(g * n_blocks + j) * lags.len() + i]`: the sum over the coordinates of group `g`
    /// seen so far and the origins of block `j` of `||dx(t, lags[i])||^2`.
    pub sums: Vec<f64>,
    /// `sum_c s_c^2` over the coordinates seen, `s_c^2` the mean squared one-step increment.
    pub s2: f64,
    /// `sum_c s_c^4`.
    pub s4: f64,
    /// Number of coordinates seen.
    pub coords_seen: usize,
}

fn check_layout(layout: &MsdLayout, window: &Window, dim: usize) -> Result<()> {
    if layout.n_groups == 0 || layout.n_groups > dim.max(1) {
        return Err(Error::param(
            "n_groups",
            format!(
                "must be in 1..={dim} (the coordinates), got {}",
                layout.n_groups
            ),
        ));
    }
    if layout.n_blocks == 0 || layout.n_blocks > window.len {
        return Err(Error::param(
            "n_blocks",
            format!(
                "must be in 1..={} (the window length), got {}",
                window.len, layout.n_blocks
            ),
        ));
    }
    Ok(())
}

/// The MSD pieces of coordinates `coords` (of `dim`) over `window`: `values` holds the window's
/// `window.len` steps x `coords.len()` coordinates, row-major (a chunk column of a Zarr array or
/// a block of a Dask array). Coordinate blocks are processed in parallel (rayon).
///
/// # Errors
/// A window shorter than 2 steps, lags outside `1..T`, `coords` outside `0..dim`, `values` of
/// the wrong length, an invalid layout, or a non-finite weight (naming the step, relative to
/// the window start, and the coordinate).
pub fn msd_partial(
    values: &[f32],
    window: Window,
    coords: Range<usize>,
    dim: usize,
    lags: &[usize],
    layout: MsdLayout,
) -> Result<MsdPartial> {
    let n = window.len;
    if n < 2 {
        return Err(Error::param(
            "window",
            format!("a window needs at least 2 steps, got {n}"),
        ));
    }
    check_lags(lags, n)?;
    check_layout(&layout, &window, dim)?;
    if coords.start > coords.end || coords.end > dim {
        return Err(Error::param(
            "coords",
            format!(
                "range {}..{} is outside the trajectory's {dim} coordinates",
                coords.start, coords.end
            ),
        ));
    }
    let nc = coords.len();
    if values.len() != n * nc {
        return Err(Error::Shape(format!(
            "{} values for a block of {n} steps x {nc} coordinates",
            values.len()
        )));
    }
    check_finite(values, window.steps(), coords.clone())?;
    let (ng, nb, nl) = (layout.n_groups, layout.n_blocks, lags.len());
    let kernel = Kernel::new(n);
    let bounds = block_bounds(n, nb);
    let group_bounds = block_bounds(dim, ng);
    let cb = coord_block(n, dim);
    let mut sums = vec![0.0; ng * nb * nl];
    let (mut s2, mut s4) = (0.0, 0.0);
    for g in 0..ng {
        let (lo, hi) = (
            group_bounds[g].max(coords.start),
            group_bounds[g + 1].min(coords.end),
        );
        if lo >= hi {
            continue;
        }
        let tasks: Vec<Range<usize>> = (lo..hi).step_by(cb).map(|c| c..(c + cb).min(hi)).collect();
        let acc = tasks
            .into_par_iter()
            .map(|sub| -> Result<Acc> {
                let k = sub.len();
                let off = sub.start - coords.start;
                let mut raw = vec![0.0f32; n * k];
                for (dst, row) in raw.chunks_exact_mut(k).zip(values.chunks_exact(nc)) {
                    dst.copy_from_slice(&row[off..off + k]);
                }
                let mut acc = Acc::new(n, kernel.nf, nb);
                kernel.accumulate(&raw, k, &bounds, &mut acc)?;
                Ok(acc)
            })
            .try_reduce_with(|a, b| Ok(a.add(&b)))
            .ok_or_else(|| Error::InvalidData("no coordinate in the block".into()))??;
        s2 += acc.s2;
        s4 += acc.s4;
        let (_, blocks) = kernel.finish(acc, lags, &bounds)?;
        for (j, row) in blocks.sums.iter().enumerate() {
            sums[(g * nb + j) * nl..(g * nb + j + 1) * nl].copy_from_slice(row);
        }
    }
    Ok(MsdPartial {
        window,
        lags: lags.to_vec(),
        dim,
        layout,
        sums,
        s2,
        s4,
        coords_seen: nc,
    })
}

impl MsdPartial {
    /// Adds the pieces of other coordinates.
    ///
    /// # Errors
    /// [`Error::Shape`] if `other` has another window, lags, dimension or layout.
    pub fn merge(&mut self, other: &MsdPartial) -> Result<()> {
        if other.window != self.window
            || other.lags != self.lags
            || other.dim != self.dim
            || other.layout != self.layout
            || other.sums.len() != self.sums.len()
        {
            return Err(Error::Shape(
                "MSD pieces of different windows, lags, dimensions or layouts cannot be added"
                    .into(),
            ));
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        self.s2 += other.s2;
        self.s4 += other.s4;
        self.coords_seen += other.coords_seen;
        Ok(())
    }

    /// The MSD of all the coordinates merged, laid out as [`MsdPartial::layout`] says.
    ///
    /// # Errors
    /// [`Error::Shape`] unless exactly `dim` coordinates were merged (a block missing or counted
    /// twice).
    pub fn into_msd(self) -> Result<Msd> {
        if self.coords_seen != self.dim {
            return Err(Error::Shape(format!(
                "MSD pieces cover {} coordinates, the trajectory has {}",
                self.coords_seen, self.dim
            )));
        }
        let n = self.window.len;
        let (ng, nb, nl) = (self.layout.n_groups, self.layout.n_blocks, self.lags.len());
        let bounds = block_bounds(n, nb);
        let at = |g: usize, j: usize, i: usize| self.sums[(g * nb + j) * nl + i];
        let norm = |s: f64, m: usize| (s / (n - m) as f64).max(0.0);
        let mut block_sums = vec![vec![0.0; nl]; nb];
        let mut counts = vec![vec![0usize; nl]; nb];
        for j in 0..nb {
            for (i, &m) in self.lags.iter().enumerate() {
                let e = bounds[j + 1].min(n - m);
                if e > bounds[j] {
                    counts[j][i] = e - bounds[j];
                }
                block_sums[j][i] = (0..ng).map(|g| at(g, j, i)).sum();
            }
        }
        let msd = self
            .lags
            .iter()
            .enumerate()
            .map(|(i, &m)| norm(block_sums.iter().map(|s| s[i]).sum(), m))
            .collect();
        let coord_groups = (ng > 1).then(|| {
            (0..ng)
                .map(|g| {
                    self.lags
                        .iter()
                        .enumerate()
                        .map(|(i, &m)| norm((0..nb).map(|j| at(g, j, i)).sum(), m))
                        .collect()
                })
                .collect()
        });
        let d_eff = if self.s4 > 0.0 {
            self.s2 * self.s2 / self.s4
        } else {
            self.dim as f64
        };
        Ok(Msd {
            window: self.window,
            pairs: self.lags.iter().map(|&m| n - m).collect(),
            lags: self.lags,
            msd,
            blocks: self.layout.keep_blocks.then_some(OriginBlocks {
                sums: block_sums,
                counts,
            }),
            d_eff,
            coord_groups,
        })
    }
}
