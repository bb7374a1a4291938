//! [`InMemoryTrajectory`]: a whole trajectory held in a `Vec<f32>`.

use super::{check_block, Step, TrajectorySink, TrajectorySource};
use crate::error::{Error, Result};
use std::ops::Range;

/// A trajectory held in memory: weights row-major (steps x `dim`), optional losses and gradients.
///
/// It is both a [`TrajectorySource`] and a [`TrajectorySink`], so tests, simulations and small
/// runs can record into it and analyse it directly, and [`InMemoryTrajectory::from_source`]
/// materialises any other source (e.g. a [`super::Sketch`]) that fits in memory. Weights,
/// losses and gradients are checked to be finite when they enter, so reads never fail on data.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::{InMemoryTrajectory, Step, TrajectorySink, TrajectorySource};
/// let mut traj = InMemoryTrajectory::new(2);
/// traj.append(&Step { weights: &[0.0, 1.0], loss: 2.0, gradient: None }).unwrap();
/// traj.append(&Step { weights: &[3.0, 4.0], loss: 1.5, gradient: None }).unwrap();
/// let mut col = [0.0f32; 2];
/// traj.read_weights(0..2, 1..2, &mut col).unwrap();
/// assert_eq!(col, [1.0, 4.0]);
/// assert_eq!(traj.losses(1..2).unwrap(), Some(vec![1.5]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryTrajectory {
    dim: usize,
    weights: Vec<f32>,
    losses: Option<Vec<f64>>,
    gradient_dim: usize,
    gradients: Vec<f32>,
}

impl InMemoryTrajectory {
    /// An empty trajectory of `dim` coordinates per step, with losses and without gradients,
    /// ready to be appended to.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            weights: Vec::new(),
            losses: Some(Vec::new()),
            gradient_dim: 0,
            gradients: Vec::new(),
        }
    }

    /// An empty trajectory that also records `gradient_dim` gradient coordinates per step.
    pub fn with_gradient_dim(dim: usize, gradient_dim: usize) -> Self {
        Self {
            gradient_dim,
            ..Self::new(dim)
        }
    }

    /// A trajectory from row-major weights (`weights.len() / dim` steps of `dim` values) and,
    /// optionally, one loss per step.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim == 0`; [`Error::Shape`] if `weights.len()` is not a
    /// multiple of `dim` or the number of losses differs from the number of steps;
    /// [`Error::InvalidData`] naming the step and coordinate of a NaN or infinite value.
    pub fn from_weights(dim: usize, weights: Vec<f32>, losses: Option<Vec<f64>>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::param(
                "dim",
                "a trajectory needs at least one coordinate",
            ));
        }
        if !weights.len().is_multiple_of(dim) {
            return Err(Error::Shape(format!(
                "{} weights are not a whole number of steps of {dim} coordinates",
                weights.len()
            )));
        }
        let n = weights.len() / dim;
        check_finite(&weights, dim, "weight")?;
        if let Some(l) = &losses {
            if l.len() != n {
                return Err(Error::Shape(format!("{} losses for {n} steps", l.len())));
            }
            if let Some(t) = l.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidData(format!("step {t}: loss is {}", l[t])));
            }
        }
        Ok(Self {
            dim,
            weights,
            losses,
            gradient_dim: 0,
            gradients: Vec::new(),
        })
    }

    /// Attaches row-major gradients (`gradient_dim` values per step).
    ///
    /// # Errors
    /// [`Error::Shape`] if the length is not `n_steps * gradient_dim`; [`Error::InvalidData`]
    /// for a non-finite value.
    pub fn with_gradients(mut self, gradient_dim: usize, gradients: Vec<f32>) -> Result<Self> {
        if gradients.len() != self.n_steps() * gradient_dim {
            return Err(Error::Shape(format!(
                "{} gradient values for {} steps of {gradient_dim} coordinates",
                gradients.len(),
                self.n_steps()
            )));
        }
        check_finite(&gradients, gradient_dim.max(1), "gradient")?;
        self.gradient_dim = gradient_dim;
        self.gradients = gradients;
        Ok(self)
    }

    /// Copies all steps, losses and gradients of `source` into memory.
    ///
    /// # Errors
    /// Any read error of `source`.
    pub fn from_source(source: &dyn TrajectorySource) -> Result<Self> {
        let (n, d) = (source.n_steps(), source.dim());
        let mut weights = vec![0.0f32; n * d];
        source.read_weights(0..n, 0..d, &mut weights)?;
        let losses = source.losses(0..n)?;
        let g = source.gradient_dim();
        let mut gradients = vec![0.0f32; n * g];
        if g > 0 {
            source.read_gradients(0..n, 0..g, &mut gradients)?;
        }
        Ok(Self {
            dim: d,
            weights,
            losses,
            gradient_dim: g,
            gradients,
        })
    }

    /// All weights, row-major (steps x `dim`).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The weights of step `t`, or `None` past the end.
    pub fn step(&self, t: usize) -> Option<&[f32]> {
        self.weights.get(t * self.dim..(t + 1) * self.dim)
    }
}

fn check_finite(values: &[f32], width: usize, what: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::InvalidData(format!(
            "step {}, coordinate {}: {what} is {}",
            i / width,
            i % width,
            values[i]
        ))),
        None => Ok(()),
    }
}

fn copy_block(
    src: &[f32],
    width: usize,
    steps: Range<usize>,
    coords: Range<usize>,
    out: &mut [f32],
) {
    let w = coords.len();
    if w == 0 {
        return;
    }
    for (row, dst) in steps.zip(out.chunks_exact_mut(w)) {
        let base = row * width;
        dst.copy_from_slice(&src[base + coords.start..base + coords.end]);
    }
}

impl TrajectorySource for InMemoryTrajectory {
    fn n_steps(&self) -> usize {
        self.weights.len().checked_div(self.dim).unwrap_or(0)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        check_block(&steps, &coords, self.n_steps(), self.dim, out.len())?;
        copy_block(&self.weights, self.dim, steps, coords, out);
        Ok(())
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        check_block(&steps, &(0..0), self.n_steps(), self.dim, 0)?;
        Ok(self.losses.as_ref().map(|l| l[steps].to_vec()))
    }

    fn gradient_dim(&self) -> usize {
        self.gradient_dim
    }

    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        if self.gradient_dim == 0 {
            return Err(Error::InvalidData(
                "this trajectory has no recorded gradients".into(),
            ));
        }
        check_block(
            &steps,
            &coords,
            self.n_steps(),
            self.gradient_dim,
            out.len(),
        )?;
        copy_block(&self.gradients, self.gradient_dim, steps, coords, out);
        Ok(())
    }
}

impl TrajectorySink for InMemoryTrajectory {
    fn append(&mut self, step: &Step<'_>) -> Result<()> {
        step.check(self.len(), self.dim, self.gradient_dim)?;
        let Some(losses) = self.losses.as_mut() else {
            return Err(Error::InvalidData(
                "this trajectory was built without losses; it cannot be appended to".into(),
            ));
        };
        losses.push(step.loss);
        self.weights.extend_from_slice(step.weights);
        if let Some(g) = step.gradient {
            self.gradients.extend_from_slice(g);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.n_steps()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_errors() {
        let w: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let t = InMemoryTrajectory::from_weights(4, w, None).unwrap();
        let mut out = [0.0f32; 4];
        t.read_weights(1..3, 2..4, &mut out).unwrap();
        assert_eq!(out, [6.0, 7.0, 10.0, 11.0]);
        assert!(t.read_weights(2..4, 0..1, &mut out[..2]).is_err());
        assert!(t.read_weights(0..1, 0..4, &mut out[..3]).is_err());
        assert_eq!(t.losses(0..3).unwrap(), None);
        assert!(InMemoryTrajectory::from_weights(5, vec![0.0; 12], None).is_err());
        let e = InMemoryTrajectory::from_weights(2, vec![0.0, 1.0, f32::NAN, 0.0], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("step 1, coordinate 0"), "{e}");
    }

    #[test]
    fn sink_checks_steps() {
        let mut t = InMemoryTrajectory::with_gradient_dim(2, 1);
        let ok = Step {
            weights: &[1.0, 2.0],
            loss: 0.1,
            gradient: Some(&[0.5]),
        };
        t.append(&ok).unwrap();
        assert!(t
            .append(&Step {
                gradient: None,
                ..ok
            })
            .is_err());
        assert!(t
            .append(&Step {
                weights: &[1.0],
                ..ok
            })
            .is_err());
        assert!(t
            .append(&Step {
                loss: f64::NAN,
                ..ok
            })
            .is_err());
        assert_eq!(t.len(), 1);
        let mut g = [0.0f32];
        t.read_gradients(0..1, 0..1, &mut g).unwrap();
        assert_eq!(g, [0.5]);
    }
}
