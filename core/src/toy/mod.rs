//! The simplified 2-D SGD model of the paper (eq. 6, Fig. 8).
//!
//! A walker descends a gridded [`Landscape`] on `[-1, 1]^2` by
//!
//! ```text
//! w_{t+1} = w_t - eta grad L(w_t) + eta sigma Z_t,    Z_t ~ N(0, I_2)
//! ```
//!
//! with the gradient bilinearly interpolated from central differences ([`Landscape::gradient`]).
//! [`simulate`] runs one walker with a caller-supplied RNG; [`simulate_many`] runs many in
//! parallel (rayon), walker `k` seeded by `ChaCha8Rng::seed_from_u64(seeds[k])`, so results do not
//! depend on the number of threads. Each [`ToyRun`] holds the positions, the gradients seen, the
//! losses, and `t0`, the step at which the walker enters its final basin ([`final_basin_entry`]).
//! [`segment_exponent`] gives the MSD exponent of a stretch of the path.
//!
//! # Differences from the authors' code
//! The authors' `simplified_SGD_model.m` used `eta = 0.02` and added `0.01 N(0, 1)` per
//! coordinate, i.e. `eta sigma = 0.01`: [`ToyConfig::default`] uses `eta = 0.02`, `sigma = 0.5`,
//! which gives the same noise through eq. 6 as written. Their walker read the gradient at the next
//! node up (not interpolated), pooled the y-gradient twice (a bug), redrew the noise up to 500
//! times at the border and silently froze the walker after that, and picked `t0` from hand-set
//! coordinate thresholds. By default the gradient here is interpolated, both components are
//! recorded, the border rule is explicit ([`Boundary`]) and `t0` is found from the path.
//! [`ToyConfig::authors`] runs their walker instead ([`GradientRule::AUTHORS`], 500 redraws;
//! a walker whose redraws fail is an error, which [`simulate_each`] keeps per walker), with
//! both gradient components recorded and `t0` still found from the path.
//!
//! # What the model reproduces
//! Measured over 12 diamond-square landscapes (257 x 257, Douillet's defaults) x 5 walkers with
//! the default settings (`core/tests/toy_paper.rs`): after `t0` the walker is subdiffusive (all runs,
//! median alpha ~0.1); convex landscapes are near-ballistic before the minimum (cone ~1.7,
//! paraboloid ~1.65 from `(-1, -1)`; exactly 2 without noise); the shuffled-smoothed landscape
//! traps the walker (whole-run alpha ~0.65); gradients on the fractal landscapes have a far
//! wider range than on the baselines. **Not** reproduced as typical: superdiffusion before `t0`
//! is the exception (median alpha ~0.6, about one run in five above 1), and the gradient
//! components are only mildly heavy-tailed (symmetric stable MLE per landscape 1.96-2.0; ~1.93
//! when many walkers with different gradient scales are pooled, against the paper's 1.9 from
//! one hand-picked run).

mod basin;
mod msd2d;

pub use basin::{final_basin_entry, BasinRule};
pub use msd2d::{brownian_exponent_bias, log_lags, segment_exponent, tamsd};

use crate::error::{Error, Result};
use crate::landscape::Landscape;
use crate::trajectory::TrajectorySource;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::ops::Range;

/// What happens when a step would take the walker outside `[-1, 1]^2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Boundary {
    /// Mirror the proposal back into the square, coordinate by coordinate, as often as needed
    /// (`x -> 2 - x` above 1, `x -> -2 - x` below -1). The default: it keeps the step length
    /// and never stops a run.
    #[default]
    Reflect,
    /// Clamp each coordinate to `[-1, 1]` (the walker sticks to the wall while pushed outward).
    Clamp,
    /// Stop with an error naming the walker's step and proposed position.
    Error,
    /// Redraw the noise, keeping the drift, up to `max_tries` times (the authors used 500), and
    /// stop with an error if every proposal is outside. (The authors' code instead froze the
    /// walker silently.)
    Redraw {
        /// Maximum number of noise redraws per step (>= 1).
        max_tries: usize,
    },
}

/// Where a walker starts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Start {
    /// Uniformly at random in `[-1, 1]^2`, drawn from the walker's RNG (the authors' HEAD code).
    #[default]
    Uniform,
    /// At a fixed point of `[-1, 1]^2` (the authors' June-2020 code started at `(-1, -1)`).
    At([f64; 2]),
}

/// Where the walker reads the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum GradientRule {
    /// Bilinear interpolation of the central-difference gradients of the four surrounding
    /// nodes ([`Landscape::gradient`]): continuous in the position. The default.
    #[default]
    Interpolated,
    /// The authors' lookup (`simplified_SGD_model.m`): the landscape resampled bilinearly on a
    /// fine grid of spacing `step` over `[-1, 1]` (they used `1e-3`, 2001 nodes), its gradient
    /// by central differences on that grid (MATLAB `gradient`, one-sided at the border), read
    /// at the first fine node strictly above the walker in each coordinate (`find(grid > x, 1)`;
    /// the last node at `x = 1`). The gradient is then piecewise constant on the fine cells and
    /// jumps across the coarse grid lines, where the bilinear surface has kinks.
    NextNode {
        /// Spacing of the fine grid (range: finite, in (0, 1]).
        step: f64,
    },
}

impl GradientRule {
    /// The authors' rule: [`GradientRule::NextNode`] on a grid of spacing `1e-3`.
    pub const AUTHORS: GradientRule = GradientRule::NextNode { step: 1e-3 };

    fn check(&self) -> Result<()> {
        if let GradientRule::NextNode { step } = *self {
            if !(step > 0.0 && step <= 1.0 && step.is_finite()) {
                return Err(Error::param(
                    "step",
                    format!("the fine-grid spacing must lie in (0, 1], got {step}"),
                ));
            }
        }
        Ok(())
    }

    /// The gradient at `p` under this rule, or `None` outside `[-1, 1]^2`.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::landscape::Landscape;
    /// use anodiff_core::toy::GradientRule;
    /// use ndarray::Array2;
    /// // z = x^2 on 3 x 3 nodes: the bilinear surface has slope -1 on [-1, 0] and 1 on [0, 1].
    /// let z = Array2::from_shape_fn((3, 3), |(i, _)| (i as f64 - 1.0).powi(2));
    /// let land = Landscape::new(z).unwrap();
    /// // Right of the kink at 0 the next fine node up is 0.001, on the rising side.
    /// let g = GradientRule::AUTHORS.gradient(&land, [0.0004, 0.3]).unwrap();
    /// assert!((g[0] - 1.0).abs() < 1e-9, "{g:?}");
    /// // Left of it the next node up is 0.0 itself: a central difference across the kink.
    /// let g = GradientRule::AUTHORS.gradient(&land, [-0.0004, 0.3]).unwrap();
    /// assert!(g[0].abs() < 1e-9, "{g:?}");
    /// let g = GradientRule::AUTHORS.gradient(&land, [-0.0015, 0.3]).unwrap();
    /// assert!((g[0] + 1.0).abs() < 1e-9, "{g:?}");
    /// ```
    pub fn gradient(&self, land: &Landscape, p: [f64; 2]) -> Option<[f64; 2]> {
        match *self {
            GradientRule::Interpolated => land.gradient(p),
            GradientRule::NextNode { step } => {
                if !inside(p) {
                    return None;
                }
                let last = (2.0 / step).round() as i64;
                let node = |x: f64| -> i64 { (((x + 1.0) / step).floor() as i64 + 1).min(last) };
                let at = |k: i64| (-1.0 + k as f64 * step).clamp(-1.0, 1.0);
                let (kx, ky) = (node(p[0]), node(p[1]));
                let (x, y) = (at(kx), at(ky));
                let diff = |k: i64, f: &dyn Fn(f64) -> Option<f64>| -> Option<f64> {
                    if k == 0 {
                        Some((f(at(1))? - f(at(0))?) / (at(1) - at(0)))
                    } else if k == last {
                        Some((f(at(last))? - f(at(last - 1))?) / (at(last) - at(last - 1)))
                    } else {
                        Some((f(at(k + 1))? - f(at(k - 1))?) / (at(k + 1) - at(k - 1)))
                    }
                };
                let gx = diff(kx, &|u| land.value([u, y]))?;
                let gy = diff(ky, &|v| land.value([x, v]))?;
                Some([gx, gy])
            }
        }
    }
}

/// Settings of the SGD model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyConfig {
    /// Learning rate `eta` (default 0.02, the authors' code; range: finite and > 0).
    pub eta: f64,
    /// Noise scale `sigma`; the noise added per step and coordinate has standard deviation
    /// `eta sigma` (default 0.5, so that `eta sigma = 0.01` as in the authors' code; range:
    /// finite and >= 0).
    pub sigma: f64,
    /// Number of updates; the path has `steps + 1` points (default 1000; range >= 1).
    pub steps: usize,
    /// Border rule (default [`Boundary::Reflect`]).
    pub boundary: Boundary,
    /// Starting point (default [`Start::Uniform`]).
    pub start: Start,
    /// How `t0` is found (default [`BasinRule::default`]).
    pub basin: BasinRule,
    /// Where the gradient is read (default [`GradientRule::Interpolated`]).
    pub gradient: GradientRule,
}

impl Default for ToyConfig {
    fn default() -> Self {
        ToyConfig {
            eta: 0.02,
            sigma: 0.5,
            steps: 1000,
            boundary: Boundary::default(),
            start: Start::default(),
            basin: BasinRule::default(),
            gradient: GradientRule::default(),
        }
    }
}

impl ToyConfig {
    /// The authors' protocol (`simplified_SGD_model.m`, HEAD): `eta = 0.02`, per-step noise
    /// `0.01 N(0, 1)` per coordinate (`sigma = 0.5`), 1000 updates, a uniform random start, the
    /// gradient read at the next node up of a `1e-3` grid ([`GradientRule::AUTHORS`]) and up to
    /// 500 noise redraws at the border ([`Boundary::Redraw`]). Their landscape was `L = 10 - z`
    /// for a generated `z`: the inversion is the caller's (it is a property of the landscape,
    /// not of the walker). Where the authors froze a walker whose 500 redraws all failed and
    /// skipped its analysis, [`simulate`] returns an error and [`simulate_each`] reports it per
    /// walker.
    ///
    /// # Examples
    /// ```
    /// let cfg = anodiff_core::toy::ToyConfig::authors();
    /// assert_eq!(cfg.eta * cfg.sigma, 0.01);
    /// assert_eq!(cfg.steps, 1000);
    /// ```
    pub fn authors() -> ToyConfig {
        ToyConfig {
            boundary: Boundary::Redraw { max_tries: 500 },
            gradient: GradientRule::AUTHORS,
            ..ToyConfig::default()
        }
    }
}

impl ToyConfig {
    /// Checks every setting against its documented range.
    ///
    /// # Errors
    /// The first setting out of range, by name.
    pub fn check(&self) -> Result<()> {
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return Err(Error::param(
                "eta",
                format!("the learning rate must be finite and > 0, got {}", self.eta),
            ));
        }
        if !(self.sigma >= 0.0 && self.sigma.is_finite()) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {}", self.sigma),
            ));
        }
        if self.steps == 0 {
            return Err(Error::param("steps", "must be at least 1"));
        }
        if let Boundary::Redraw { max_tries: 0 } = self.boundary {
            return Err(Error::param("max_tries", "must be at least 1"));
        }
        if let Start::At(p) = self.start {
            if !p.iter().all(|v| (-1.0..=1.0).contains(v)) {
                return Err(Error::param(
                    "start",
                    format!("must lie in [-1, 1]^2, got ({}, {})", p[0], p[1]),
                ));
            }
        }
        self.gradient.check()?;
        self.basin.check()
    }
}

/// One walker's run: `steps + 1` positions with the loss and gradient at each.
///
/// Implements [`TrajectorySource`] with `dim = 2` (weights `x, y` as f32), the losses, and
/// `gradient_dim = 2`. The gradient stored at the last point was not used for any update;
/// [`ToyRun::gradients_seen`] gives the `steps` gradients that drove the walker.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyRun {
    /// Positions `w_0 .. w_steps`.
    pub positions: Vec<[f64; 2]>,
    /// Gradients at each position (interpolated, unnoised).
    pub gradients: Vec<[f64; 2]>,
    /// Loss (bilinear landscape height) at each position.
    pub losses: Vec<f64>,
    /// Step at which the walker enters its final basin ([`final_basin_entry`]).
    pub t0: usize,
    /// Number of steps at which the border rule acted.
    pub boundary_events: usize,
}

impl ToyRun {
    /// The `steps` gradients used in the updates (all but the last stored one).
    pub fn gradients_seen(&self) -> &[[f64; 2]] {
        &self.gradients[..self.gradients.len() - 1]
    }
}

impl TrajectorySource for ToyRun {
    fn n_steps(&self) -> usize {
        self.positions.len()
    }

    fn dim(&self) -> usize {
        2
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        copy_block(&self.positions, steps, coords, out)
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        if steps.start > steps.end || steps.end > self.losses.len() {
            return Err(Error::Shape(format!(
                "steps {steps:?} outside a trajectory of {} steps",
                self.losses.len()
            )));
        }
        Ok(Some(self.losses[steps].to_vec()))
    }

    fn gradient_dim(&self) -> usize {
        2
    }

    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        copy_block(&self.gradients, steps, coords, out)
    }
}

fn copy_block(
    rows: &[[f64; 2]],
    steps: Range<usize>,
    coords: Range<usize>,
    out: &mut [f32],
) -> Result<()> {
    if steps.start > steps.end
        || steps.end > rows.len()
        || coords.start > coords.end
        || coords.end > 2
    {
        return Err(Error::Shape(format!(
            "block steps {steps:?} x coords {coords:?} outside a trajectory of {} steps x 2",
            rows.len()
        )));
    }
    let w = coords.len();
    if out.len() != steps.len() * w {
        return Err(Error::Shape(format!(
            "output buffer has {} values, the block needs {}",
            out.len(),
            steps.len() * w
        )));
    }
    for (r, t) in steps.enumerate() {
        for (c, k) in coords.clone().enumerate() {
            out[r * w + c] = rows[t][k] as f32;
        }
    }
    Ok(())
}

/// Folds `x` into `[-1, 1]` by repeated mirror reflection at the walls.
fn reflect(x: f64) -> f64 {
    let u = (x + 1.0).rem_euclid(4.0);
    let u = if u > 2.0 { 4.0 - u } else { u };
    -1.0 + u
}

fn inside(p: [f64; 2]) -> bool {
    (-1.0..=1.0).contains(&p[0]) && (-1.0..=1.0).contains(&p[1])
}

/// Runs one walker.
///
/// # Errors
/// Settings out of range ([`ToyConfig::check`]); with [`Boundary::Error`], a step that leaves
/// the grid; with [`Boundary::Redraw`], a step whose every redraw leaves it; a non-finite
/// proposal (an exploding gradient times `eta`).
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{cone, Landscape};
/// use anodiff_core::toy::{simulate, Start, ToyConfig};
/// use rand::SeedableRng;
/// // The authors' cone: |grad L| = 0.5, so each step moves eta * 0.5 = 0.01 towards the apex.
/// let land = Landscape::new(cone(257, 0.5).unwrap()).unwrap();
/// let cfg = ToyConfig { sigma: 0.0, steps: 300, start: Start::At([-0.5, -0.5]), ..Default::default() };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let run = simulate(&land, &cfg, &mut rng).unwrap();
/// let w = run.positions[10];
/// assert!((w[0] + 0.5 - 10.0 * 0.01 / 2f64.sqrt()).abs() < 1e-3);
/// assert!(run.positions[300][0].abs() < 0.02); // at the apex
/// ```
pub fn simulate<R: Rng + ?Sized>(land: &Landscape, cfg: &ToyConfig, rng: &mut R) -> Result<ToyRun> {
    cfg.check()?;
    let mut w = match cfg.start {
        Start::Uniform => [rng.random_range(-1.0..=1.0), rng.random_range(-1.0..=1.0)],
        Start::At(p) => p,
    };
    let n = cfg.steps + 1;
    let mut positions = Vec::with_capacity(n);
    let mut gradients = Vec::with_capacity(n);
    let mut losses = Vec::with_capacity(n);
    let noise = cfg.eta * cfg.sigma;
    let mut boundary_events = 0;
    let at = |w: [f64; 2]| -> Result<([f64; 2], f64)> {
        match (cfg.gradient.gradient(land, w), land.value(w)) {
            (Some(g), Some(v)) => Ok((g, v)),
            _ => Err(Error::InvalidData(format!(
                "walker at ({}, {}) is outside the grid [-1, 1]^2",
                w[0], w[1]
            ))),
        }
    };
    for t in 0..=cfg.steps {
        let (g, v) = at(w)?;
        positions.push(w);
        gradients.push(g);
        losses.push(v);
        if t == cfg.steps {
            break;
        }
        let drift = [w[0] - cfg.eta * g[0], w[1] - cfg.eta * g[1]];
        let propose = |rng: &mut R| -> [f64; 2] {
            let z0: f64 = rng.sample(StandardNormal);
            let z1: f64 = rng.sample(StandardNormal);
            [drift[0] + noise * z0, drift[1] + noise * z1]
        };
        let mut p = propose(rng);
        if !(p[0].is_finite() && p[1].is_finite()) {
            return Err(Error::InvalidData(format!(
                "step {t}: the update is not finite (gradient ({}, {}), eta {})",
                g[0], g[1], cfg.eta
            )));
        }
        if !inside(p) {
            boundary_events += 1;
            p = match cfg.boundary {
                Boundary::Reflect => [reflect(p[0]), reflect(p[1])],
                Boundary::Clamp => [p[0].clamp(-1.0, 1.0), p[1].clamp(-1.0, 1.0)],
                Boundary::Error => {
                    return Err(Error::InvalidData(format!(
                        "the walker left the grid [-1, 1]^2 at step {t}: from ({:.6}, {:.6}) to \
                         ({:.6}, {:.6}); lower eta or sigma, or use the reflect or clamp rule",
                        w[0], w[1], p[0], p[1]
                    )))
                }
                Boundary::Redraw { max_tries } => {
                    let mut tries = 1;
                    while !inside(p) && tries <= max_tries {
                        p = propose(rng);
                        tries += 1;
                    }
                    if !inside(p) {
                        return Err(Error::InvalidData(format!(
                            "the walker left the grid [-1, 1]^2 at step {t} from ({:.6}, {:.6}) \
                             and {max_tries} redraws of the noise did not bring it back",
                            w[0], w[1]
                        )));
                    }
                    p
                }
            };
        }
        w = p;
    }
    let t0 = final_basin_entry(&positions, &cfg.basin)?;
    Ok(ToyRun {
        positions,
        gradients,
        losses,
        t0,
        boundary_events,
    })
}

/// Runs one walker per seed in parallel (rayon); walker `k` uses
/// `ChaCha8Rng::seed_from_u64(seeds[k])`, so the output does not depend on the thread count.
///
/// # Errors
/// As [`simulate`]; the first failing walker's error, prefixed with its seed.
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{paraboloid, Landscape};
/// use anodiff_core::toy::{simulate_many, ToyConfig};
/// let land = Landscape::new(paraboloid(65, 0.5).unwrap()).unwrap();
/// let cfg = ToyConfig { steps: 50, ..Default::default() };
/// let runs = simulate_many(&land, &cfg, &[1, 2, 3]).unwrap();
/// assert_eq!(runs.len(), 3);
/// assert_eq!(runs[0].positions.len(), 51);
/// ```
pub fn simulate_many(land: &Landscape, cfg: &ToyConfig, seeds: &[u64]) -> Result<Vec<ToyRun>> {
    cfg.check()?;
    seeds
        .par_iter()
        .map(|&s| {
            let mut rng = ChaCha8Rng::seed_from_u64(s);
            simulate(land, cfg, &mut rng).map_err(|e| match e {
                Error::InvalidData(m) => Error::InvalidData(format!("walker with seed {s}: {m}")),
                other => other,
            })
        })
        .collect()
}

/// Runs one walker per seed in parallel like [`simulate_many`], but keeps each walker's
/// outcome: a walker that fails (e.g. every [`Boundary::Redraw`] of a step left the grid) is
/// an `Err` in its slot and the others still run, as the authors skipped such a repeat.
///
/// # Errors
/// Settings out of range ([`ToyConfig::check`]).
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{paraboloid, Landscape};
/// use anodiff_core::toy::{simulate_each, ToyConfig};
/// let land = Landscape::new(paraboloid(65, 0.5).unwrap()).unwrap();
/// let cfg = ToyConfig { steps: 50, ..ToyConfig::authors() };
/// let runs = simulate_each(&land, &cfg, &[1, 2]).unwrap();
/// assert!(runs.iter().all(|r| r.is_ok()));
/// ```
pub fn simulate_each(
    land: &Landscape,
    cfg: &ToyConfig,
    seeds: &[u64],
) -> Result<Vec<Result<ToyRun>>> {
    cfg.check()?;
    Ok(seeds
        .par_iter()
        .map(|&s| {
            let mut rng = ChaCha8Rng::seed_from_u64(s);
            simulate(land, cfg, &mut rng)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::{cone, paraboloid};
    use ndarray::Array2;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn reflection_folds_into_the_square() {
        assert_eq!(reflect(0.5), 0.5);
        assert!((reflect(1.2) - 0.8).abs() < 1e-15);
        assert!((reflect(-1.3) + 0.7).abs() < 1e-15);
        assert!((reflect(3.5) + 0.5).abs() < 1e-15); // 1.5 past the wall, then past the other
        for x in [-7.3, -2.0, 5.9, 1e6] {
            assert!((-1.0..=1.0).contains(&reflect(x)));
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let land = Landscape::new(paraboloid(9, 1.0).unwrap()).unwrap();
        for (cfg, name) in [
            (
                ToyConfig {
                    eta: 0.0,
                    ..Default::default()
                },
                "eta",
            ),
            (
                ToyConfig {
                    eta: -0.1,
                    ..Default::default()
                },
                "eta",
            ),
            (
                ToyConfig {
                    eta: f64::NAN,
                    ..Default::default()
                },
                "eta",
            ),
            (
                ToyConfig {
                    sigma: -1.0,
                    ..Default::default()
                },
                "sigma",
            ),
            (
                ToyConfig {
                    steps: 0,
                    ..Default::default()
                },
                "steps",
            ),
            (
                ToyConfig {
                    start: Start::At([2.0, 0.0]),
                    ..Default::default()
                },
                "start",
            ),
            (
                ToyConfig {
                    boundary: Boundary::Redraw { max_tries: 0 },
                    ..Default::default()
                },
                "max_tries",
            ),
        ] {
            match simulate(&land, &cfg, &mut rng(0)) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn error_rule_reports_the_step_and_other_rules_stay_inside() {
        // A steep plane pushes the walker out through x = 1 within a few steps.
        let n = 33;
        let z = Array2::from_shape_fn((n, n), |(i, _)| -(i as f64));
        let land = Landscape::new(z).unwrap();
        let base = ToyConfig {
            steps: 200,
            start: Start::At([0.9, 0.0]),
            ..Default::default()
        };
        let cfg = ToyConfig {
            boundary: Boundary::Error,
            ..base.clone()
        };
        let e = simulate(&land, &cfg, &mut rng(1)).unwrap_err().to_string();
        assert!(e.contains("left the grid") && e.contains("step"), "{e}");
        for boundary in [Boundary::Reflect, Boundary::Clamp] {
            let cfg = ToyConfig {
                boundary,
                ..base.clone()
            };
            let run = simulate(&land, &cfg, &mut rng(1)).unwrap();
            assert!(run.positions.iter().all(|&p| inside(p)));
            assert!(run.boundary_events > 0);
        }
        // Redraw cannot help against a drift that always points outside by more than the noise.
        let cfg = ToyConfig {
            boundary: Boundary::Redraw { max_tries: 500 },
            ..base
        };
        let e = simulate(&land, &cfg, &mut rng(1)).unwrap_err().to_string();
        assert!(e.contains("500 redraws"), "{e}");
    }

    #[test]
    fn noiseless_cone_descends_at_constant_speed() {
        // |grad| = 0.5 on a cone of slope 0.5: each step is exactly eta/2 long until the apex
        // (up to the bilinear blend of central differences near the apex and along the diagonal).
        let land = Landscape::new(cone(257, 0.5).unwrap()).unwrap();
        let cfg = ToyConfig {
            sigma: 0.0,
            steps: 100,
            start: Start::At([-0.8, 0.3]),
            ..Default::default()
        };
        let run = simulate(&land, &cfg, &mut rng(0)).unwrap();
        for t in 0..60 {
            let (a, b) = (run.positions[t], run.positions[t + 1]);
            let step = (b[0] - a[0]).hypot(b[1] - a[1]);
            assert!((step - 0.01).abs() < 2e-4, "step {t}: {step}");
        }
    }

    #[test]
    fn many_is_deterministic_and_source_reads_back() {
        let land = Landscape::new(paraboloid(33, 0.5).unwrap()).unwrap();
        let cfg = ToyConfig {
            steps: 40,
            ..Default::default()
        };
        let a = simulate_many(&land, &cfg, &[4, 5]).unwrap();
        let b = simulate_many(&land, &cfg, &[5]).unwrap();
        assert_eq!(a[1], b[0]);
        let single = simulate(&land, &cfg, &mut rng(4)).unwrap();
        assert_eq!(a[0], single);
        let run = &a[0];
        assert_eq!(run.n_steps(), 41);
        let mut out = vec![0f32; 6];
        run.read_weights(10..13, 0..2, &mut out).unwrap();
        assert_eq!(out[2], run.positions[11][0] as f32);
        run.read_gradients(40..41, 1..2, &mut out[..1]).unwrap();
        assert_eq!(out[0], run.gradients[40][1] as f32);
        assert!(run.read_weights(40..42, 0..2, &mut out[..4]).is_err());
        assert!(run.read_weights(0..1, 0..3, &mut out[..3]).is_err());
        assert!(run.read_weights(0..2, 0..2, &mut out[..3]).is_err());
        assert_eq!(run.losses(0..2).unwrap().unwrap().len(), 2);
        assert_eq!(run.gradients_seen().len(), 40);
    }

    #[test]
    fn next_node_gradient_matches_the_bilinear_slope_and_bad_steps_are_named() {
        // z = x y (bilinear, so the resampled surface is exact): dz/dx = y, dz/dy = x at the
        // fine node above the point (interior nodes: central differences of a linear function).
        let n = 17;
        let h = 2.0 / (n - 1) as f64;
        let z = Array2::from_shape_fn((n, n), |(i, j)| {
            (-1.0 + i as f64 * h) * (-1.0 + j as f64 * h)
        });
        let land = Landscape::new(z).unwrap();
        let rule = GradientRule::NextNode { step: 0.01 };
        let g = rule.gradient(&land, [0.123, -0.456]).unwrap();
        // Next nodes up: x = 0.13, y = -0.45.
        assert!((g[0] - (-0.45)).abs() < 1e-9, "{g:?}");
        assert!((g[1] - 0.13).abs() < 1e-9, "{g:?}");
        // At the corner x = y = 1 there is no node above: the last node, one-sided.
        let g = rule.gradient(&land, [1.0, 1.0]).unwrap();
        assert!(
            (g[0] - 1.0).abs() < 1e-9 && (g[1] - 1.0).abs() < 1e-9,
            "{g:?}"
        );
        assert!(rule.gradient(&land, [1.01, 0.0]).is_none());
        let cfg = ToyConfig {
            gradient: GradientRule::NextNode { step: 0.0 },
            ..Default::default()
        };
        match simulate(&land, &cfg, &mut rng(0)) {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "step"),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn each_walker_keeps_its_own_outcome() {
        // A steep plane pushes walkers out through x = 1; the redraw rule fails for a walker
        // starting at the wall and not for one starting far inside with few steps.
        let n = 33;
        let z = Array2::from_shape_fn((n, n), |(i, _)| -(i as f64));
        let land = Landscape::new(z).unwrap();
        let cfg = ToyConfig {
            steps: 200,
            start: Start::At([0.95, 0.0]),
            boundary: Boundary::Redraw { max_tries: 20 },
            ..Default::default()
        };
        let out = simulate_each(&land, &cfg, &[1, 2, 3]).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|r| r.is_err()));
        let cfg = ToyConfig {
            steps: 3,
            start: Start::At([-0.9, 0.0]),
            ..cfg
        };
        assert!(simulate_each(&land, &cfg, &[1]).unwrap()[0].is_ok());
    }

    #[test]
    fn next_node_gradient_matches_scipy_resampling_and_numpy_gradient() {
        // The authors' procedure done independently in numpy/scipy: the 9 x 9 grid
        // z[i, j] = sin(1.3 i) + 0.5 i cos(0.7 j) on [-1, 1]^2 resampled by
        // scipy.interpolate.RegularGridInterpolator(method="linear") onto u = -1 + 0.01 k
        // (k = 0..200), numpy.gradient(F, 0.01, axis=0 / 1), read at
        // argmax(u > x), argmax(u > y).
        let n = 9;
        let z = Array2::from_shape_fn((n, n), |(i, j)| {
            (1.3 * i as f64).sin() + 0.5 * i as f64 * (0.7 * j as f64).cos()
        });
        let land = Landscape::new(z).unwrap();
        let rule = GradientRule::NextNode { step: 0.01 };
        for (p, want) in [
            ([0.123, -0.456], [4.464307562032316, -6.1003117574008945]),
            ([-0.999, 0.5031], [2.927852954248436, 0.05414185526106223]),
            ([0.7712, 0.9951], [-3.036567568719528, 8.388121969408457]),
            ([0.3333, -0.7777], [4.70100305375063, -2.5208917523102725]),
            ([0.995, -0.995], [-2.606511950757273, -3.7625250034482027]),
        ] {
            let g = rule.gradient(&land, p).unwrap();
            for k in 0..2 {
                assert!((g[k] - want[k]).abs() < 1e-9, "{p:?}: {g:?} vs {want:?}");
            }
        }
    }
}
