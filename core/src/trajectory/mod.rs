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
//! - [`sketch::Sketch`]: a Johnson-Lindenstrauss random projection of another source to k << d
//!   coordinates that keeps all pairwise distances (hence MSD) within a stated relative error.

pub mod memory;
pub mod npy;
pub mod sketch;
pub mod store;

pub use memory::InMemoryTrajectory;
pub use npy::NpyTrajectory;
pub use sketch::Sketch;
pub use store::{StoreOptions, StoreReader, StoreWriter};

use crate::error::{Error, Result};
use std::ops::Range;

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

/// A shared reference reads like the source itself, so adapters such as [`Sketch`] can wrap a
/// borrowed source.
impl<T: TrajectorySource + ?Sized> TrajectorySource for &T {
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

/// Boxed sources (e.g. `Box<dyn TrajectorySource>` chosen at run time from a path) read like the
/// source inside.
impl<T: TrajectorySource + ?Sized> TrajectorySource for Box<T> {
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
