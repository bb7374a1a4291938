//! Trajectories of SGD: the [`TrajectorySource`] trait that every analysis reads through, and
//! the [`TrajectorySink`] trait that every producer (trainer, simulation, converter) writes to.
//!
//! A trajectory is a sequence of steps `t = 0, 1, ..., n_steps - 1`. Step `t` carries the weight
//! vector `w_t` (`dim` values, f32, the weights *before* the update of step `t`), the minibatch
//! loss at those weights, and optionally the minibatch gradient (or a fixed subset of its
//! coordinates). Trajectories of real networks do not fit in memory (ResNet-14 for 24,000 steps
//! is 17 GB), so the source is read in rectangular blocks of steps x coordinates, and analyses
//! stream over blocks rather than asking for the whole matrix.
//!
//! Implementations:
//!
//! - [`InMemoryTrajectory`]: a `Vec<f32>` of steps x d, also a sink (tests, small runs, sketches);
//! - [`NpyTrajectory`]: a 2-D `.npy` file (steps x d, `f32` or `f64`, C order), memory-mapped;
//! - [`store::StoreReader`] / [`store::StoreWriter`]: the project's own crash-safe on-disk store,
//!   a directory of `.npy` chunks plus a JSON manifest that numpy reads without this crate;
//! - [`zarr::ZarrTrajectory`] / [`zarr::write_zarr`]: a Zarr v3 group (weights, losses and
//!   gradients as chunked arrays), the exchange format that zarr-python, Dask and xarray read;
//! - [`sketch::Sketch`]: a Johnson-Lindenstrauss random projection of another source to k << d
//!   coordinates that keeps all pairwise distances (hence MSD) within a stated relative error.
//!
//! [`for_each_block`] streams any source in blocks of steps x coordinates; [`for_each_panel`]
//! reads a window of whole steps (or wide coordinate panels, within a memory budget) for
//! analyses that need every step of a coordinate, such as the MSD. Every source in this
//! module checks values as it reads them: a NaN or infinite weight is an error naming the step,
//! the coordinate and (for files) the file; [`TrajectorySource::validate`] reads everything once.

pub mod memory;
pub mod npy;
pub mod sketch;
pub mod store;
pub mod zarr;

pub use memory::InMemoryTrajectory;
pub use npy::NpyTrajectory;
pub use sketch::Sketch;
pub use store::{StoreOptions, StoreReader, StoreWriter};
pub use zarr::ZarrTrajectory;

use crate::error::{Error, Result};
use std::ops::Range;
use std::path::Path;

/// Opens a trajectory on disk: a directory with a `zarr.json` is read as a Zarr v3 group or
/// array ([`ZarrTrajectory`]), any other directory as the project's store ([`StoreReader`]), a
/// file as a 2-D `.npy` of steps x weights ([`NpyTrajectory`]).
///
/// # Errors
/// [`Error::Io`] naming the path if it does not exist or cannot be read; the errors of
/// [`ZarrTrajectory::open`], [`StoreReader::open`] or [`NpyTrajectory::open`] otherwise.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{self, npy::write_npy_f32};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("w.npy");
/// write_npy_f32(&path, 4, 2, &[0.0; 8]).unwrap();
/// let traj = trajectory::open(&path).unwrap();
/// assert_eq!((traj.n_steps(), traj.dim()), (4, 2));
/// assert!(trajectory::open(dir.path().join("missing.npy")).is_err());
/// ```
pub fn open(path: impl AsRef<Path>) -> Result<Box<dyn TrajectorySource>> {
    let path = path.as_ref();
    if zarr::is_zarr(path) {
        Ok(Box::new(ZarrTrajectory::open(path)?))
    } else if path.is_dir() {
        Ok(Box::new(StoreReader::open(path)?))
    } else {
        Ok(Box::new(NpyTrajectory::open(path)?))
    }
}

/// One step handed to a [`TrajectorySink`].
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// The weights before this step's update, in the producer's fixed, documented order.
    pub weights: &'a [f32],
    /// The minibatch loss at `weights`.
    pub loss: f64,
    /// The minibatch gradient at `weights` (all coordinates, or the producer's fixed subset).
    pub gradient: Option<&'a [f32]>,
}

impl Step<'_> {
    /// Checks this step as step `t` of a sink that records `dim` weights and `gradient_dim`
    /// gradient values per step (0: no gradients): lengths, and that every value is finite.
    ///
    /// # Errors
    /// [`Error::Shape`] for a weight or gradient vector of the wrong length,
    /// [`Error::InvalidData`] naming the step and coordinate of a NaN or infinite value.
    pub fn check(&self, t: usize, dim: usize, gradient_dim: usize) -> Result<()> {
        if self.weights.len() != dim {
            return Err(Error::Shape(format!(
                "step {t}: {} weights, the trajectory has {dim} coordinates",
                self.weights.len()
            )));
        }
        if let Some(c) = self.weights.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidData(format!(
                "step {t}, coordinate {c}: weight is {}",
                self.weights[c]
            )));
        }
        if !self.loss.is_finite() {
            return Err(Error::InvalidData(format!(
                "step {t}: loss is {}",
                self.loss
            )));
        }
        match (self.gradient, gradient_dim) {
            (None, 0) => Ok(()),
            (Some(g), gd) if gd > 0 && g.len() == gd => {
                match g.iter().position(|v| !v.is_finite()) {
                    Some(c) => Err(Error::InvalidData(format!(
                        "step {t}, gradient coordinate {c}: {}",
                        g[c]
                    ))),
                    None => Ok(()),
                }
            }
            (g, gd) => Err(Error::Shape(format!(
                "step {t}: gradient of {} values, the trajectory records {gd} per step",
                g.map_or(0, <[f32]>::len)
            ))),
        }
    }
}

/// A read-only trajectory, readable in blocks.
///
/// Shaped like argmin's problem traits: a small surface of `&self` methods returning `Result`,
/// so an implementation backed by a file can report I/O errors and corruption instead of
/// panicking. Implementations must be `Sync` so analyses can read coordinate blocks in parallel.
pub trait TrajectorySource: Sync {
    /// Number of recorded steps.
    fn n_steps(&self) -> usize;

    /// Number of weight coordinates per step.
    fn dim(&self) -> usize;

    /// Copies the weights of `steps` x `coords` into `out`, row-major (step-major):
    /// `out[(t - steps.start) * coords.len() + (c - coords.start)] = w_t[c]`.
    ///
    /// # Errors
    /// A range outside the trajectory, `out` of the wrong length, or an I/O or corruption error.
    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()>;

    /// The minibatch losses of `steps`, or `None` if the source has no losses.
    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>>;

    /// Number of gradient coordinates recorded per step (0 when gradients are not recorded).
    fn gradient_dim(&self) -> usize {
        0
    }

    /// Copies recorded gradients of `steps` x `coords` into `out`, row-major, like
    /// [`TrajectorySource::read_weights`].
    ///
    /// # Errors
    /// As `read_weights`; the default implementation says that no gradients were recorded.
    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let _ = (steps, coords, out);
        Err(crate::error::Error::InvalidData(
            "this trajectory has no recorded gradients".into(),
        ))
    }

    /// Copies the weights of step `t` (all `dim` coordinates) into `out`.
    ///
    /// # Errors
    /// As [`TrajectorySource::read_weights`].
    fn read_step(&self, t: usize, out: &mut [f32]) -> Result<()> {
        self.read_weights(t..t.saturating_add(1), 0..self.dim(), out)
    }

    /// Reads every weight and loss once and reports the first NaN or infinite value, naming the
    /// step and coordinate (file-backed sources also name the file). Sources that validate on
    /// read (all of this crate's) make this a full integrity check of the data.
    ///
    /// # Errors
    /// The first read error, or [`Error::InvalidData`] for a non-finite weight or loss.
    fn validate(&self) -> Result<()> {
        let (n, d) = (self.n_steps(), self.dim());
        let step_block = (1 << 20) / d.max(1);
        let step_block = step_block.clamp(1, n.max(1));
        let mut buf = vec![0.0f32; step_block * d];
        let mut t0 = 0;
        while t0 < n {
            let t1 = (t0 + step_block).min(n);
            let out = &mut buf[..(t1 - t0) * d];
            self.read_weights(t0..t1, 0..d, out)?;
            if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidData(format!(
                    "step {}, coordinate {}: weight is {}",
                    t0 + i / d,
                    i % d,
                    out[i]
                )));
            }
            t0 = t1;
        }
        if let Some(losses) = self.losses(0..n)? {
            if let Some(t) = losses.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidData(format!(
                    "step {t}: loss is {}",
                    losses[t]
                )));
            }
        }
        Ok(())
    }
}

/// Streams `steps` of `source` in blocks of at most `step_block` steps x `coord_block`
/// coordinates, calling `f(steps, coords, values)` for each (values row-major, as
/// [`TrajectorySource::read_weights`] writes them). Blocks go step block by step block, and within
/// one, coordinate block by coordinate block, so a file is read front to back. `buf` is the
/// scratch space and must hold `step_block * coord_block` values; choosing it cache-sized (e.g.
/// 1 x 32768 = 128 KB) makes streaming run near the speed of `cat` (see `benches/trajectory.rs`).
///
/// Access pattern: file-backed sources are row-major (step-major), so whole-step blocks read the
/// file front to back, while narrow coordinate blocks over many steps are strided reads. Once a
/// file no longer fits in the page cache, every coordinate-major pass re-reads it; there, use
/// [`for_each_panel`], which reads a window of whole steps (or wide coordinate panels, at least
/// 8192 coordinates, read with one `pread` per step) into memory to be split into coordinate
/// blocks there.
///
/// # Errors
/// [`Error::InvalidParameter`] for a zero block size, a `buf` too small or `steps` outside the
/// trajectory; any read error of the source, or the first error `f` returns.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{for_each_block, InMemoryTrajectory};
/// let traj = InMemoryTrajectory::from_weights(3, (0..12).map(|v| v as f32).collect(), None).unwrap();
/// let mut total = 0.0;
/// let mut buf = vec![0.0f32; 4];
/// for_each_block(&traj, 1..4, 2, 2, &mut buf, |_, _, v| {
///     total += v.iter().map(|&x| x as f64).sum::<f64>();
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(total, (3..12).sum::<i32>() as f64);
/// ```
pub fn for_each_block<S, F>(
    source: &S,
    steps: Range<usize>,
    step_block: usize,
    coord_block: usize,
    buf: &mut [f32],
    mut f: F,
) -> Result<()>
where
    S: TrajectorySource + ?Sized,
    F: FnMut(Range<usize>, Range<usize>, &[f32]) -> Result<()>,
{
    if step_block == 0 || coord_block == 0 {
        return Err(Error::param("block", "block sizes must be at least 1"));
    }
    let need = step_block.saturating_mul(coord_block);
    if buf.len() < need {
        return Err(Error::param(
            "buf",
            format!("holds {} values, blocks need {need}", buf.len()),
        ));
    }
    check_block(&steps, &(0..0), source.n_steps(), source.dim(), 0)?;
    let d = source.dim();
    let mut t = steps.start;
    while t < steps.end {
        let te = (t + step_block).min(steps.end);
        let mut c = 0;
        while c < d {
            let ce = (c + coord_block).min(d);
            let out = &mut buf[..(te - t) * (ce - c)];
            source.read_weights(t..te, c..ce, out)?;
            f(t..te, c..ce, out)?;
            c = ce;
        }
        t = te;
    }
    Ok(())
}

/// Default memory budget of [`panel_width`] for analyses that read a window of steps: 1 GiB, so
/// that a window of 1000 steps of ResNet-14 (175k weights, 700 MB) is read as whole steps, front
/// to back.
pub const STREAM_BUDGET_BYTES: usize = 1 << 30;

/// Fewest coordinates per panel that [`panel_width`] chooses (when the trajectory has that
/// many): 8192 f32 = 32 KB per step, long enough that a file-backed source reads each step's run
/// with one `pread`.
pub const MIN_PANEL_COORDS: usize = 8192;

/// Coordinates per panel for reading `n_steps` steps of `dim` coordinates with
/// [`for_each_panel`] within `budget_bytes`: all `dim` when the window of whole steps fits the
/// budget (one panel, one buffer), so the file is read front to back at disk speed; otherwise as
/// many as fit half the budget (two panel buffers, one read while the other is used), but at
/// least [`MIN_PANEL_COORDS`], which may exceed the budget for very long windows.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{panel_width, MIN_PANEL_COORDS};
/// assert_eq!(panel_width(1000, 175_258, 1 << 30), 175_258);
/// assert_eq!(panel_width(1000, 175_258, 512 << 20), 67_108);
/// assert_eq!(panel_width(24_000, 175_258, 64 << 20), MIN_PANEL_COORDS);
/// ```
pub fn panel_width(n_steps: usize, dim: usize, budget_bytes: usize) -> usize {
    let step_bytes = n_steps.max(1) * std::mem::size_of::<f32>();
    if step_bytes.saturating_mul(dim) <= budget_bytes {
        return dim.max(1);
    }
    let fit = budget_bytes / 2 / step_bytes;
    fit.max(MIN_PANEL_COORDS).min(dim).max(1)
}

/// Streams `steps` x all coordinates of `source` as panels of at most `width` coordinates:
/// `f(coords, panel)` gets the values of `steps` x `coords` row-major (`panel[(t - steps.start)
/// * coords.len() + (c - coords.start)]`), panels in increasing coordinate order.
///
/// This is the access pattern for analyses that need every step of a window for each coordinate
/// (MSD, pair distances): a panel of whole steps (`width >= dim`) is one front-to-back read of
/// the window, and a narrower panel is one contiguous run per step; the analysis then splits
/// the panel into coordinate blocks in memory. Reading coordinate blocks directly from a file
/// instead re-reads it strided once per block (2x slower than `cat` on a cold 1 GB file, 3.7x
/// warm; see `benches/trajectory.rs`). The next panel is read on a second thread while `f`
/// works on the current one, so I/O and computation overlap; memory is two panels. Choose
/// `width` with [`panel_width`].
///
/// # Errors
/// [`Error::InvalidParameter`] for `width = 0` or `steps` outside the trajectory; any read
/// error of the source, or the first error `f` returns.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{for_each_panel, InMemoryTrajectory};
/// let traj = InMemoryTrajectory::from_weights(3, (0..12).map(|v| v as f32).collect(), None).unwrap();
/// let mut seen = Vec::new();
/// for_each_panel(&traj, 1..3, 2, |coords, panel| {
///     seen.push((coords, panel.to_vec()));
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(seen, vec![(0..2, vec![3.0, 4.0, 6.0, 7.0]), (2..3, vec![5.0, 8.0])]);
/// ```
pub fn for_each_panel<S, F>(source: &S, steps: Range<usize>, width: usize, mut f: F) -> Result<()>
where
    S: TrajectorySource + ?Sized,
    F: FnMut(Range<usize>, &[f32]) -> Result<()>,
{
    if width == 0 {
        return Err(Error::param("width", "panels need at least 1 coordinate"));
    }
    check_block(&steps, &(0..0), source.n_steps(), source.dim(), 0)?;
    let d = source.dim();
    let n = steps.len();
    if n == 0 || d == 0 {
        return Ok(());
    }
    let width = width.min(d);
    let panels: Vec<Range<usize>> = (0..d)
        .step_by(width)
        .map(|c| c..(c + width).min(d))
        .collect();
    let read = |coords: &Range<usize>, buf: &mut Vec<f32>| -> Result<()> {
        let need = n * coords.len();
        if buf.len() < need {
            // A fresh zeroed allocation (calloc: untouched pages, no memset) rather than
            // `resize`, which would write every byte once before the read writes it again.
            *buf = vec![0.0; need];
        }
        source.read_weights(steps.clone(), coords.clone(), &mut buf[..need])
    };
    // Reuse this thread's buffers from the previous call: on warm data, the page faults of a
    // fresh buffer the size of a window cost more than reading the window (measured 2.1 s
    // against 0.4 s for 1 GB on the build VM).
    let (mut cur, mut next) = PANEL_BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let result = panels_into(&panels, n, &read, &mut cur, &mut next, &mut f);
    PANEL_BUFFERS.with(|b| *b.borrow_mut() = (cur, next));
    result
}

thread_local! {
    /// The two panel buffers of [`for_each_panel`], kept between calls on the same thread.
    static PANEL_BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Frees the panel buffers that [`for_each_panel`] keeps on the calling thread between calls
/// (up to the memory budget of its last call).
pub fn release_panel_buffers() {
    PANEL_BUFFERS.with(|b| *b.borrow_mut() = (Vec::new(), Vec::new()));
}

fn panels_into<F, R>(
    panels: &[Range<usize>],
    n: usize,
    read: &R,
    cur: &mut Vec<f32>,
    next: &mut Vec<f32>,
    f: &mut F,
) -> Result<()>
where
    F: FnMut(Range<usize>, &[f32]) -> Result<()>,
    R: Fn(&Range<usize>, &mut Vec<f32>) -> Result<()> + Sync,
{
    read(&panels[0], cur)?;
    for (i, coords) in panels.iter().enumerate() {
        let ahead = panels.get(i + 1);
        let need = n * coords.len();
        let (done, fetched) = std::thread::scope(|s| {
            let reader = ahead.map(|c| s.spawn(|| read(c, next)));
            let done = f(coords.clone(), &cur[..need]);
            let fetched = match reader {
                Some(h) => h.join().unwrap_or_else(|_| {
                    Err(Error::InvalidData("panel reader thread panicked".into()))
                }),
                None => Ok(()),
            };
            (done, fetched)
        });
        done?;
        fetched?;
        std::mem::swap(cur, next);
    }
    Ok(())
}

/// Implements [`TrajectorySource`] for pointer types by forwarding every method to the source
/// they point to.
macro_rules! forward_source {
    ($($ptr:ty),*) => {$(
        impl<T: TrajectorySource + ?Sized> TrajectorySource for $ptr {
            fn n_steps(&self) -> usize {
                (**self).n_steps()
            }
            fn dim(&self) -> usize {
                (**self).dim()
            }
            fn read_weights(
                &self,
                steps: Range<usize>,
                coords: Range<usize>,
                out: &mut [f32],
            ) -> Result<()> {
                (**self).read_weights(steps, coords, out)
            }
            fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
                (**self).losses(steps)
            }
            fn gradient_dim(&self) -> usize {
                (**self).gradient_dim()
            }
            fn read_gradients(
                &self,
                steps: Range<usize>,
                coords: Range<usize>,
                out: &mut [f32],
            ) -> Result<()> {
                (**self).read_gradients(steps, coords, out)
            }
            fn read_step(&self, t: usize, out: &mut [f32]) -> Result<()> {
                (**self).read_step(t, out)
            }
            fn validate(&self) -> Result<()> {
                (**self).validate()
            }
        }
    )*};
}

// A shared reference reads like the source itself, so adapters such as [`Sketch`] can wrap a
// borrowed source; boxed sources (e.g. `Box<dyn TrajectorySource>` chosen at run time from a
// path) read like the source inside.
forward_source!(&T, Box<T>);

/// Checks the arguments of a block read: both ranges inside the trajectory and `out_len` equal to
/// `steps.len() * coords.len()`. Implementations of [`TrajectorySource`] call it first.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `steps`, `coords` or `out`.
pub fn check_block(
    steps: &Range<usize>,
    coords: &Range<usize>,
    n_steps: usize,
    dim: usize,
    out_len: usize,
) -> Result<()> {
    if steps.start > steps.end || steps.end > n_steps {
        return Err(Error::param(
            "steps",
            format!(
                "range {}..{} is outside the trajectory's {n_steps} steps",
                steps.start, steps.end
            ),
        ));
    }
    if coords.start > coords.end || coords.end > dim {
        return Err(Error::param(
            "coords",
            format!(
                "range {}..{} is outside the trajectory's {dim} coordinates",
                coords.start, coords.end
            ),
        ));
    }
    let need = steps.len() * coords.len();
    if out_len != need {
        return Err(Error::param(
            "out",
            format!(
                "buffer holds {out_len} values, the block of {} steps x {} coordinates needs {need}",
                steps.len(),
                coords.len()
            ),
        ));
    }
    Ok(())
}

/// A destination for steps, appended one at a time while a run is in progress.
pub trait TrajectorySink {
    /// Appends one step. Implementations that persist must make the step durable and visible to
    /// readers atomically: after a crash, readers see either all of it or none of it.
    ///
    /// # Errors
    /// A step whose lengths disagree with earlier steps, a non-finite weight, or an I/O error.
    fn append(&mut self, step: &Step<'_>) -> Result<()>;

    /// Number of steps appended so far (including those from before a resume).
    fn len(&self) -> usize;

    /// Whether no step has been appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
