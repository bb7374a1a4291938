//! Trajectories of SGD: the [`TrajectorySource`] trait that every analysis reads through, and
//! the [`TrajectorySink`] trait that every producer (trainer, simulation, converter) writes to.
//!
//! A trajectory is a sequence of steps `t = 0, 1, ..., n_steps - 1`. Step `t` carries the weight
//! vector `w_t` (`dim` values, f32, the weights *before* the update of step `t`), the minibatch
//! loss at those weights, and optionally the minibatch gradient (or a fixed subset of its
//! coordinates). Trajectories of real networks do not fit in memory (ResNet-14 for 24,000 steps
//! is 17 GB), so the source is read in rectangular blocks of steps x coordinates, and analyses
//! stream over blocks rather than asking for the whole matrix.

use crate::error::Result;
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
    fn read_weights(&self, steps: Range<usize>, coords: Range<usize>, out: &mut [f32])
        -> Result<()>;

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
