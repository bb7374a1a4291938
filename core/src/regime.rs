//! A change of diffusion regime across windows: the step `t0` at which the MSD exponent of
//! sliding windows changes, the exponents before and after with 95 % intervals, and a test of
//! "no change", all from the sequence of window exponents, their standard errors and their
//! correlation.
//!
//! # Model
//! Windows `[t_w, t_w + T)` start every `S` steps; window `i` has a fitted exponent `a_i` with
//! standard error `s_i` ([`window_exponent`]: [`crate::exponent::fit_msd`] on
//! [`crate::msd::msd_with_blocks`]). The vector `a` is modelled as Gaussian,
//! `a ~ N(mu, sigma^2 D R D)`, with `D = diag(s_i)`, `R` the correlation of the exponents of two
//! windows as a function of their shift ([`exponent_correlation`]) and `sigma` a common scale
//! estimated from the residuals (1 when the standard errors are right; reported as `se_scale`).
//!
//! Under "no change" every `mu_i` is one exponent. Under a change at a step `t0` in the cell
//! `(t_k, t_{k+1}]` between two window starts, windows that end before the cell
//! (`i <= k - q`, `q = ceil(T / S)`) have exponent `alpha_before`, windows that start after it
//! (`i >= k + 1`) have `alpha_after`, and the `q` windows in between, which may straddle `t0`,
//! get a free mean each. No shape is assumed for the straddling windows because there is none
//! to trust: the exponent of a window that mixes two regimes depends on both prefactors and on
//! the fitted lags, not only on the share of its steps after `t0`. The price is that `t0` is
//! resolved to a cell of `S` steps; its estimate is the cell's midpoint.
//!
//! # Inference
//! - **Test of no change**: the likelihood ratio `m ln(RSS_0 / min_k RSS_k)` (generalised least
//!   squares, scale profiled out) maximised over the cells with at least `min_windows` pure
//!   windows on each side. Its null distribution does not depend on the common exponent nor on
//!   `sigma`, so it is simulated exactly from the fitted no-change model with the same
//!   covariance: `p = (1 + #{sim >= obs}) / (1 + null_sims)`.
//! - **`t0` interval**: the cells whose profile likelihood ratio `m ln(RSS_k / RSS_khat)` is at
//!   most `c`, with `c` the 95 % point of the same ratio at the estimated cell over a parametric
//!   bootstrap of the fitted change model; reported as the hull `[t_klo, t_{khi+1}]`.
//! - **Exponent intervals**: bootstrap-t over the same replicates (each replicate re-estimates
//!   the cell, so the uncertainty of `t0` is carried into the exponents).
//!
//! # Correlation of overlapping windows
//! Two windows shifted by `j S < T` share `T - j S` steps. To first order an exponent is a
//! linear functional of the time-averaged MSD, an average over time origins of squared
//! displacements whose correlation length is the lag; for lags much shorter than `T` the
//! correlation of the two exponents is therefore the shared fraction `1 - j S / T`, and longer
//! lags, whose displacements straddle the shared part, raise it. [`exponent_correlation`]
//! measures it by simulation at the actual window length, lags, fit options and the mean
//! exponent: exact fractional Brownian motion in 4 coordinates, every window fitted by
//! [`crate::exponent::fit_msd`] as the data were, and the correlation pooled over all pairs at
//! each shift. Windows without common steps are treated as independent (fractional Gaussian
//! noise's long-range dependence between disjoint windows is neglected).
//!
//! # Calibration
//! Measured end to end (core/tests/calibration_regime.rs, ignored full version; d = 20
//! coordinates of exact fBm, T = 200, S = 100, 14 windows): the `t0` interval covered a change
//! from H = 0.7 to 0.35 at a uniform step in 194 / 200 trajectories (97.0 %, Wilson 93.6-98.6 %),
//! the test found it in 200 / 200, a change from 0.55 to 0.45 in 50 / 50 and from 0.5 to 0.45
//! in 42 / 50; on stationary fBm it reported a change in 4 / 100 (H = 0.35), 8 / 100 (H = 0.5)
//! and 4 / 100 (H = 0.7); the exponent intervals covered `2 H` in 90-92 % of the planted
//! changes. Tables and the command in CALIBRATION.md.
//!
//! # Assumptions
//! The window exponents are Gaussian around their means with covariance proportional to
//! `D R D`; the exponent is constant within each regime (stationary increments before and after
//! `t0`, like fBm with one Hurst exponent each); there is at most one change; `R` is computed at
//! the mean exponent of all windows (the correlation depends weakly on it).

// Checks are written `!(x > 0.0)` (the style guide's form) so that NaN fails them too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{Error, Result};
use crate::exponent::{fit_msd, MsdFitOptions};
use crate::landscape::fgn;
use crate::msd::{msd, msd_with_blocks, Lags, Window};
use crate::trajectory::{InMemoryTrajectory, TrajectorySource};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The lags at which every window's MSD is computed for the regime analysis (the CLI's
/// `--max-lag` limits them); the fit range and weights are those of
/// [`MsdFitOptions::default`].
pub const WINDOW_LAGS: Lags = Lags::Log(30);

/// Blocks of time origins kept per window for the MSD bootstrap (as `anodiff msd`'s default).
pub const WINDOW_BLOCKS: usize = 20;

/// Coordinates of each simulated path in [`exponent_correlation`].
const CORR_DIM: usize = 4;

/// Extra windows per simulated path in [`exponent_correlation`] beyond the `q` shifts needed,
/// so that each path gives several pairs at every shift.
const CORR_EXTRA_WINDOWS: usize = 8;

/// Fit options of each window's exponent: [`MsdFitOptions::default`] without the
/// within-window one-vs-two-segment simulations, whose result is not used here (the exponent
/// and its standard error are unchanged by them).
pub fn exponent_options() -> MsdFitOptions {
    MsdFitOptions {
        null_sims: 0,
        ..MsdFitOptions::default()
    }
}

/// The lags of a window of `len` steps ([`WINDOW_LAGS`] limited to `max_lag`).
///
/// # Errors
/// As [`Lags::resolve`].
pub fn window_lags(len: usize, max_lag: Option<usize>) -> Result<Vec<usize>> {
    WINDOW_LAGS.resolve(len, max_lag)
}

/// One window's exponent and its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowExponent {
    /// First step of the window.
    pub t_w: usize,
    /// Fitted MSD exponent.
    pub alpha: f64,
    /// Its standard error.
    pub alpha_se: f64,
}

/// The exponent of one window: the MSD at [`window_lags`] by
/// [`crate::msd::msd_with_blocks`], fitted by [`crate::exponent::fit_msd`] with
/// [`exponent_options`].
///
/// # Errors
/// A window that does not fit in the trajectory, a non-finite value in it, or an MSD curve
/// without an exponent (fewer than 3 positive values).
pub fn window_exponent<S: TrajectorySource + ?Sized>(
    src: &S,
    win: Window,
    max_lag: Option<usize>,
) -> Result<WindowExponent> {
    let lags = window_lags(win.len, max_lag)?;
    let m = msd_with_blocks(src, win, &lags, WINDOW_BLOCKS.clamp(1, win.len))?;
    let f = fit_msd(&m, &exponent_options())?;
    Ok(WindowExponent {
        t_w: win.start,
        alpha: f.power_law.alpha,
        alpha_se: f.power_law.alpha_se,
    })
}

/// A regime analysis of one trajectory laid out: the windows of `window` steps every `stride`
/// that cover it, their lags, and the options of the test. Callers (the command line, the
/// Python binding) run [`RegimePlan::exponent`] on each window, with their own progress and
/// interruption, then [`RegimePlan::finish`].
///
/// # Examples
/// ```
/// use anodiff_core::regime::{fbm_paths, RegimeOptions, RegimePlan};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// // 1200 steps of 3 coordinates, H = 0.7 then 0.35 from step 600.
/// let traj = fbm_paths(1200, 3, |t| if t < 600 { 0.7 } else { 0.35 }, &mut rng).unwrap();
/// let opts = RegimeOptions { null_sims: 199, boot: 199, corr_sims: 20, ..Default::default() };
/// let plan = RegimePlan::new(1200, 200, None, None, opts).unwrap();
/// let ex: Vec<_> = plan.windows().iter().map(|&w| plan.exponent(&traj, w).unwrap()).collect();
/// let r = plan.finish(&ex).unwrap();
/// let c = r.change.expect("a clear change");
/// assert!(c.t0_ci95[0] <= 600.0 && 600.0 <= c.t0_ci95[1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RegimePlan {
    windows: Vec<Window>,
    lags: Vec<usize>,
    window: usize,
    max_lag: Option<usize>,
    options: RegimeOptions,
}

impl RegimePlan {
    /// Lays out windows of `window` steps every `stride` steps (default `window / 2`) over a
    /// trajectory of `n_steps`, with lags limited to `max_lag`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a window of fewer than 2 steps, a zero stride or
    /// `max_lag`, or a level outside (0, 1); [`Error::InvalidData`] when the trajectory gives
    /// fewer windows than the test needs ([`windows_needed`]), with what would help.
    pub fn new(
        n_steps: usize,
        window: usize,
        stride: Option<usize>,
        max_lag: Option<usize>,
        options: RegimeOptions,
    ) -> Result<RegimePlan> {
        if window < 2 {
            return Err(Error::param(
                "window",
                format!("must be at least 2 steps, got {window}"),
            ));
        }
        let stride = stride.unwrap_or((window / 2).max(1));
        if stride == 0 {
            return Err(Error::param("stride", "must be at least 1"));
        }
        if max_lag == Some(0) {
            return Err(Error::param("max_lag", "must be at least 1"));
        }
        crate::vuong::check_level(options.level)?;
        let windows = crate::msd::Windows::Strided {
            len: window,
            stride,
        }
        .resolve(n_steps)?;
        let need = windows_needed(window, stride, options.min_windows);
        if windows.len() < need {
            return Err(Error::InvalidData(format!(
                "{n_steps} steps give {} windows of {window} steps every {stride}; the change \
                 test needs at least {need} ({} wholly before the change, ceil(T / S) = {} that \
                 may straddle it, {} wholly after): use a smaller stride, a shorter window or a \
                 longer trajectory",
                windows.len(),
                options.min_windows,
                window.div_ceil(stride),
                options.min_windows
            )));
        }
        let lags = window_lags(window, max_lag)?;
        Ok(RegimePlan {
            windows,
            lags,
            window,
            max_lag,
            options,
        })
    }

    /// The windows, in order.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The lags every window's MSD is computed at.
    pub fn lags(&self) -> &[usize] {
        &self.lags
    }

    /// The exponent of one of the windows ([`window_exponent`]).
    ///
    /// # Errors
    /// As [`window_exponent`].
    pub fn exponent<S: TrajectorySource + ?Sized>(
        &self,
        src: &S,
        win: Window,
    ) -> Result<WindowExponent> {
        window_exponent(src, win, self.max_lag)
    }

    /// The change test on the windows' exponents ([`regime_change`]).
    ///
    /// # Errors
    /// As [`regime_change`].
    pub fn finish(&self, exponents: &[WindowExponent]) -> Result<RegimeAnalysis> {
        regime_change(
            exponents,
            self.window,
            &self.lags,
            &exponent_options(),
            &self.options,
        )
    }
}

/// Correlation of the exponents of two windows of `len` steps as a function of their shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExponentCorrelation {
    /// Window length `T`.
    pub len: usize,
    /// Shift between consecutive windows `S`.
    pub stride: usize,
    /// Hurst exponent of the simulated fBm.
    pub hurst: f64,
    /// `rho[j]` is the correlation at shift `j S`, for `j = 0..ceil(T / S)` (the shifts at
    /// which windows overlap); larger shifts have correlation 0.
    pub rho: Vec<f64>,
    /// Simulated paths behind `rho`.
    pub sims: usize,
}

impl ExponentCorrelation {
    /// The correlation of windows `j` strides apart.
    pub fn at(&self, j: usize) -> f64 {
        self.rho.get(j).copied().unwrap_or(0.0)
    }
}

/// Correlation of the fitted exponents of windows of `len` steps shifted by multiples of
/// `stride`, by simulation: `sims` exact fBm paths with Hurst exponent `hurst` in 4 coordinates,
/// each long enough for `ceil(T / S) + 8` windows, every window's MSD computed at `lags` and
/// fitted by [`crate::exponent::fit_msd`] with `fit`'s fit range and weights (its bootstrap and
/// tests are skipped: only the exponent is used). The correlation at shift `j S` is pooled over
/// all pairs of windows `j` apart. For lags much shorter than `T` it approaches the shared
/// fraction of steps `1 - j S / T` (see the module docs).
///
/// # Errors
/// `len < 3`, `stride == 0`, `hurst` outside (0, 1), `sims < 20` when windows overlap, or lags
/// that do not fit in a window.
///
/// # Examples
/// ```
/// use anodiff_core::exponent::MsdFitOptions;
/// use anodiff_core::regime::exponent_correlation;
/// let lags: Vec<usize> = (1..=10).collect();
/// let c = exponent_correlation(200, 100, &lags, &MsdFitOptions::default(), 0.5, 100, 1).unwrap();
/// assert_eq!(c.rho.len(), 2);
/// assert_eq!(c.rho[0], 1.0);
/// // Lags up to T/20: close to the shared fraction of steps, 1/2.
/// assert!((c.rho[1] - 0.5).abs() < 0.15, "{}", c.rho[1]);
/// ```
pub fn exponent_correlation(
    len: usize,
    stride: usize,
    lags: &[usize],
    fit: &MsdFitOptions,
    hurst: f64,
    sims: usize,
    seed: u64,
) -> Result<ExponentCorrelation> {
    if len < 3 {
        return Err(Error::param(
            "window",
            format!("needs at least 3 steps, got {len}"),
        ));
    }
    if stride == 0 {
        return Err(Error::param("stride", "must be at least 1"));
    }
    if !(hurst > 0.0 && hurst < 1.0) {
        return Err(Error::param(
            "hurst",
            format!("must be in (0, 1), got {hurst}"),
        ));
    }
    if let Some(&l) = lags.iter().find(|&&l| l == 0 || l >= len) {
        return Err(Error::param(
            "lags",
            format!("lag {l} does not fit in a window of {len} steps"),
        ));
    }
    let q = len.div_ceil(stride);
    if q == 1 {
        return Ok(ExponentCorrelation {
            len,
            stride,
            hurst,
            rho: vec![1.0],
            sims: 0,
        });
    }
    if sims < 20 {
        return Err(Error::param(
            "corr_sims",
            format!("needs at least 20 simulations, got {sims}"),
        ));
    }
    let n_w = q + CORR_EXTRA_WINDOWS;
    let n = len + (n_w - 1) * stride;
    let cheap = MsdFitOptions {
        n_boot: 0,
        restarts: 0,
        null_sims: 0,
        ..fit.clone()
    };
    let runs: Vec<Vec<f64>> = (0..sims)
        .into_par_iter()
        .map(|s| -> Result<Option<Vec<f64>>> {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                seed.wrapping_add((s as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            );
            let traj = fbm_paths(n, CORR_DIM, |_| hurst, &mut rng)?;
            let mut a = Vec::with_capacity(n_w);
            for i in 0..n_w {
                let win = Window {
                    start: i * stride,
                    len,
                };
                let m = msd(&traj, win, lags)?;
                match fit_msd(&m, &cheap) {
                    Ok(f) if f.power_law.alpha.is_finite() => a.push(f.power_law.alpha),
                    _ => return Ok(None),
                }
            }
            Ok(Some(a))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if runs.len() < 20 {
        return Err(Error::NotConverged(format!(
            "only {} of {sims} simulated paths gave an exponent in every window",
            runs.len()
        )));
    }
    let all: Vec<f64> = runs.iter().flatten().copied().collect();
    let mu = all.iter().sum::<f64>() / all.len() as f64;
    let var = all.iter().map(|a| (a - mu).powi(2)).sum::<f64>() / (all.len() - 1) as f64;
    let mut rho = vec![1.0];
    for j in 1..q {
        let mut acc = 0.0;
        let mut cnt = 0usize;
        for r in &runs {
            for i in 0..n_w - j {
                acc += (r[i] - mu) * (r[i + j] - mu);
                cnt += 1;
            }
        }
        rho.push((acc / cnt as f64 / var).clamp(-0.99, 0.99));
    }
    Ok(ExponentCorrelation {
        len,
        stride,
        hurst,
        rho,
        sims: runs.len(),
    })
}

/// A trajectory of `n` steps in `dim` independent coordinates whose increment from step `t` to
/// `t + 1` is exact fractional Gaussian noise with Hurst exponent `hurst(t)`: one independent
/// fGn series per distinct exponent, switched step by step. With a constant `hurst` this is
/// exact fBm; with a step function, fBm whose exponent changes at the step.
///
/// # Errors
/// `n < 2`, `dim == 0`, or a Hurst exponent outside (0, 1).
///
/// # Examples
/// ```
/// use anodiff_core::regime::fbm_paths;
/// use anodiff_core::trajectory::TrajectorySource;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let tr = fbm_paths(1000, 3, |t| if t < 500 { 0.7 } else { 0.35 }, &mut rng).unwrap();
/// assert_eq!((tr.n_steps(), tr.dim()), (1000, 3));
/// ```
pub fn fbm_paths<R: Rng + ?Sized>(
    n: usize,
    dim: usize,
    hurst: impl Fn(usize) -> f64,
    rng: &mut R,
) -> Result<InMemoryTrajectory> {
    if n < 2 {
        return Err(Error::param(
            "n",
            format!("needs at least 2 steps, got {n}"),
        ));
    }
    if dim == 0 {
        return Err(Error::param("dim", "needs at least one coordinate"));
    }
    let hs: Vec<f64> = (0..n - 1).map(&hurst).collect();
    let mut distinct: Vec<f64> = hs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let which: Vec<usize> = hs
        .iter()
        .map(|h| distinct.partition_point(|d| d < h))
        .collect();
    let mut w = vec![0.0f32; n * dim];
    for c in 0..dim {
        let series = distinct
            .iter()
            .map(|&h| fgn(n - 1, h, rng))
            .collect::<Result<Vec<_>>>()?;
        let mut x = 0.0f64;
        for t in 1..n {
            x += series[which[t - 1]][t - 1];
            w[t * dim + c] = x as f32;
        }
    }
    InMemoryTrajectory::from_weights(dim, w, None)
}

/// Options of [`regime_change`] and [`fit_change`].
#[derive(Debug, Clone, PartialEq)]
pub struct RegimeOptions {
    /// Level of the test of "no change" (default 0.05): a change is reported when `p < level`.
    pub level: f64,
    /// Windows wholly before and wholly after the change needed at each candidate cell
    /// (default 2, so that one window alone is never a regime; at least 2).
    pub min_windows: usize,
    /// Simulations of the null distribution of the test (default 9999).
    pub null_sims: usize,
    /// Parametric-bootstrap replicates of the fitted change model for the intervals (default
    /// 1999).
    pub boot: usize,
    /// Simulated paths behind the correlation of overlapping windows (default 200).
    pub corr_sims: usize,
    /// Seed of every simulation (default 0).
    pub seed: u64,
}

impl Default for RegimeOptions {
    fn default() -> Self {
        RegimeOptions {
            level: 0.05,
            min_windows: 2,
            null_sims: 9999,
            boot: 1999,
            corr_sims: 200,
            seed: 0,
        }
    }
}

/// The estimated change of regime.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RegimeChange {
    /// Step at which the exponent changes: the midpoint of the estimated cell between two
    /// window starts.
    pub t0: f64,
    /// 95 % interval of `t0`: from the start of the first to the end of the last cell the
    /// profile likelihood ratio does not reject.
    pub t0_ci95: [f64; 2],
    /// Exponent of the windows wholly before `t0`.
    pub alpha_before: f64,
    /// Its 95 % interval (bootstrap-t).
    pub alpha_before_ci95: [f64; 2],
    /// Exponent of the windows wholly after `t0`.
    pub alpha_after: f64,
    /// Its 95 % interval (bootstrap-t).
    pub alpha_after_ci95: [f64; 2],
    /// p-value of the test of "no change".
    pub p_value: f64,
}

/// The test of "no change" and the quantities behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeTest {
    /// Likelihood ratio `m ln(RSS_0 / min_k RSS_k)`.
    pub statistic: f64,
    /// Its Monte Carlo p-value.
    pub p_value: f64,
    /// Simulations of the null distribution.
    pub null_sims: usize,
    /// `ceil(T / S)`: windows that may straddle the change, each with a free mean.
    pub straddling_windows: usize,
    /// Fewest windows the test needs: `2 min_windows + straddling_windows`.
    pub windows_needed: usize,
    /// Ratio of the residual scatter of the exponents to their standard errors under the
    /// change model (about 1 when the standard errors and the model are right).
    pub se_scale: f64,
    /// Correlation of the exponents of windows `j` strides apart, `j = 0, 1, ...`.
    pub correlation: Vec<f64>,
}

/// Result of [`regime_change`] (serialised as `anodiff regime` prints it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeAnalysis {
    /// The window exponents analysed.
    pub windows: Vec<WindowExponent>,
    /// The change, when the test rejects "no change" at `level`.
    pub change: Option<RegimeChange>,
    /// Level of the test.
    pub level: f64,
    /// Name of the test.
    pub test_name: String,
    /// The test.
    pub test: ChangeTest,
    /// The change-model estimates whatever the test says (not serialised).
    #[serde(skip)]
    pub estimate: RegimeChange,
}

/// Checks the windows and returns their stride.
fn check_windows(windows: &[WindowExponent]) -> Result<usize> {
    if windows.len() < 2 {
        return Err(Error::InvalidData(format!(
            "a change of regime needs several windows, got {}",
            windows.len()
        )));
    }
    for w in windows {
        if !w.alpha.is_finite() {
            return Err(Error::InvalidData(format!(
                "window t_w = {}: exponent is {}",
                w.t_w, w.alpha
            )));
        }
        if !(w.alpha_se > 0.0 && w.alpha_se.is_finite()) {
            return Err(Error::InvalidData(format!(
                "window t_w = {}: standard error is {} (must be finite and > 0)",
                w.t_w, w.alpha_se
            )));
        }
    }
    let stride = windows[1].t_w.saturating_sub(windows[0].t_w);
    if stride == 0
        || windows
            .windows(2)
            .any(|p| p[1].t_w.checked_sub(p[0].t_w) != Some(stride))
    {
        return Err(Error::InvalidData(
            "window starts must increase by one constant stride".into(),
        ));
    }
    Ok(stride)
}

/// Fewest windows the change test needs for windows of `len` steps every `stride` steps.
pub fn windows_needed(len: usize, stride: usize, min_windows: usize) -> usize {
    2 * min_windows + len.div_ceil(stride.max(1))
}

fn check_options(opts: &RegimeOptions) -> Result<()> {
    if !(opts.level > 0.0 && opts.level < 1.0) {
        return Err(Error::param(
            "level",
            format!("must be in (0, 1), got {}", opts.level),
        ));
    }
    if opts.min_windows < 2 {
        return Err(Error::param(
            "min_windows",
            format!("must be at least 2, got {}", opts.min_windows),
        ));
    }
    if opts.null_sims < 99 {
        return Err(Error::param(
            "null_sims",
            format!("must be at least 99, got {}", opts.null_sims),
        ));
    }
    if opts.boot < 199 {
        return Err(Error::param(
            "boot",
            format!("must be at least 199, got {}", opts.boot),
        ));
    }
    Ok(())
}

fn check_count(m: usize, len: usize, stride: usize, min_windows: usize) -> Result<()> {
    let need = windows_needed(len, stride, min_windows);
    if m < need {
        let q = len.div_ceil(stride);
        return Err(Error::InvalidData(format!(
            "the change test needs at least {need} windows ({min_windows} wholly before the \
             change, {q} = ceil(T / S) that may straddle it, {min_windows} wholly after), got \
             {m}: use a smaller stride, a shorter window or a longer trajectory"
        )));
    }
    Ok(())
}

/// Tests for a change of the exponent across windows of `len` steps and estimates it: the
/// correlation of overlapping windows by [`exponent_correlation`] at the windows' `lags` and
/// `fit` options and [`correlation_hurst`], then [`fit_change`].
///
/// # Errors
/// Fewer windows than [`windows_needed`], starts that are not evenly spaced, a non-finite
/// exponent or a standard error that is not positive, or an invalid option.
///
/// # Examples
/// ```
/// use anodiff_core::msd::{Window, Windows};
/// use anodiff_core::regime::{fbm_paths, regime_change, window_exponent, window_lags,
///                            exponent_options, RegimeOptions};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// // 24 coordinates of fBm whose Hurst exponent drops from 0.7 to 0.35 at step 1050.
/// let tr = fbm_paths(2200, 24, |t| if t < 1050 { 0.7 } else { 0.35 }, &mut rng).unwrap();
/// let wins = Windows::Strided { len: 200, stride: 100 }.resolve(2200).unwrap();
/// let ex: Vec<_> = wins.iter().map(|&w| window_exponent(&tr, w, None).unwrap()).collect();
/// let lags = window_lags(200, None).unwrap();
/// let opts = RegimeOptions { null_sims: 999, boot: 499, corr_sims: 50, ..Default::default() };
/// let r = regime_change(&ex, 200, &lags, &exponent_options(), &opts).unwrap();
/// let c = r.change.expect("a change this large is found");
/// assert!(c.t0_ci95[0] <= 1050.0 && 1050.0 <= c.t0_ci95[1]);
/// assert!(c.alpha_before > 1.0 && c.alpha_after < 1.0);
/// println!("{}", serde_json::to_string(&r).unwrap());
/// ```
pub fn regime_change(
    windows: &[WindowExponent],
    len: usize,
    lags: &[usize],
    fit: &MsdFitOptions,
    opts: &RegimeOptions,
) -> Result<RegimeAnalysis> {
    check_options(opts)?;
    let stride = check_windows(windows)?;
    check_count(windows.len(), len, stride, opts.min_windows)?;
    let hurst = correlation_hurst(windows);
    let corr = exponent_correlation(len, stride, lags, fit, hurst, opts.corr_sims, opts.seed)?;
    fit_change(windows, &corr, opts)
}

/// The Hurst exponent at which [`regime_change`] simulates the correlation of the windows'
/// exponents: half their mean exponent, rounded to a multiple of 0.05 within [0.05, 0.95]
/// (the correlation varies slowly with it, and rounding lets equal layouts share one
/// simulation).
///
/// # Examples
/// ```
/// use anodiff_core::regime::{correlation_hurst, WindowExponent};
/// let w = |alpha| WindowExponent { t_w: 0, alpha, alpha_se: 0.1 };
/// assert_eq!(correlation_hurst(&[w(1.4), w(0.75)]), 0.55);
/// ```
pub fn correlation_hurst(windows: &[WindowExponent]) -> f64 {
    let mean = windows.iter().map(|w| w.alpha).sum::<f64>() / windows.len().max(1) as f64;
    ((mean / 2.0 * 20.0).round() / 20.0).clamp(0.05, 0.95)
}

/// One candidate cell's design in whitened space.
struct Cell {
    /// Orthonormal basis of the whitened design (m x p).
    q: DMatrix<f64>,
    /// Its triangular factor (p x p).
    r: DMatrix<f64>,
}

impl Cell {
    /// Residual sum of squares of `y` (whose squared norm is `yy`).
    fn rss(&self, y: &DVector<f64>, yy: f64) -> f64 {
        (yy - (self.q.transpose() * y).norm_squared()).max(0.0)
    }

    /// Coefficients and their unscaled standard errors (`sqrt` of the diagonal of
    /// `(X'X)^{-1}`) for the first two columns.
    fn coef(&self, y: &DVector<f64>) -> Option<([f64; 2], [f64; 2])> {
        let qty = self.q.transpose() * y;
        let beta = self.r.solve_upper_triangular(&qty)?;
        let rinv = self
            .r
            .solve_upper_triangular(&DMatrix::identity(self.r.nrows(), self.r.ncols()))?;
        let se = |j: usize| rinv.row(j).norm();
        Some(([beta[0], beta[1]], [se(0), se(1)]))
    }
}

/// The change model's fit to given window exponents with a given correlation of overlapping
/// windows (see the module docs for the model and the inference).
///
/// # Errors
/// As [`regime_change`], or a correlation computed for another window length or stride.
pub fn fit_change(
    windows: &[WindowExponent],
    corr: &ExponentCorrelation,
    opts: &RegimeOptions,
) -> Result<RegimeAnalysis> {
    check_options(opts)?;
    let stride = check_windows(windows)?;
    let len = corr.len;
    if corr.stride != stride {
        return Err(Error::param(
            "correlation",
            format!(
                "computed for stride {}, the windows are {stride} apart",
                corr.stride
            ),
        ));
    }
    check_count(windows.len(), len, stride, opts.min_windows)?;
    let m = windows.len();
    let q = len.div_ceil(stride);
    let p = 2 + q;

    // Covariance D R D, repaired to be positive definite if the simulated correlations are not.
    let mut r = DMatrix::from_fn(m, m, |i, j| corr.at(i.abs_diff(j)));
    let eig = SymmetricEigen::new(r.clone());
    if eig.eigenvalues.min() < 1e-3 {
        let lam = eig.eigenvalues.map(|l| l.max(1e-3));
        let v = &eig.eigenvectors;
        r = v * DMatrix::from_diagonal(&lam) * v.transpose();
        let d: Vec<f64> = (0..m).map(|i| r[(i, i)].sqrt()).collect();
        r = DMatrix::from_fn(m, m, |i, j| r[(i, j)] / (d[i] * d[j]));
    }
    let sigma = DMatrix::from_fn(m, m, |i, j| {
        windows[i].alpha_se * windows[j].alpha_se * r[(i, j)]
    });
    let chol = sigma
        .cholesky()
        .ok_or_else(|| Error::NotConverged("covariance of the window exponents".into()))?;
    let linv = chol
        .l()
        .solve_lower_triangular(&DMatrix::identity(m, m))
        .ok_or_else(|| Error::NotConverged("whitening of the window exponents".into()))?;
    let a = DVector::from_iterator(m, windows.iter().map(|w| w.alpha));
    let y = &linv * a;
    let mut u = &linv * DVector::from_element(m, 1.0);
    u /= u.norm();

    let k_lo = opts.min_windows + q - 1;
    let k_hi = m - 1 - opts.min_windows;
    let cells: Vec<Cell> = (k_lo..=k_hi)
        .map(|k| {
            let x = DMatrix::from_fn(m, p, |i, c| match c {
                0 => f64::from(u8::from(i + q <= k)),
                1 => f64::from(u8::from(i > k)),
                _ => f64::from(u8::from(i + q == k + c - 1)),
            });
            let qr = (&linv * x).qr();
            Cell {
                q: qr.q(),
                r: qr.r(),
            }
        })
        .collect();
    let profile = |y: &DVector<f64>| -> (f64, Vec<f64>) {
        let yy = y.norm_squared();
        let rss0 = (yy - y.dot(&u).powi(2)).max(0.0);
        (rss0, cells.iter().map(|c| c.rss(y, yy)).collect())
    };
    let argmin = |v: &[f64]| -> usize {
        (0..v.len())
            .min_by(|&i, &j| v[i].total_cmp(&v[j]))
            .unwrap_or(0)
    };
    let mf = m as f64;
    let lr = |num: f64, den: f64| -> f64 {
        if den > 0.0 {
            mf * (num / den).ln()
        } else {
            f64::INFINITY
        }
    };

    let (rss0, rss) = profile(&y);
    let kh = argmin(&rss);
    if !(rss[kh] > 1e-12 * y.norm_squared()) {
        return Err(Error::InvalidData(
            "the window exponents fit the change model exactly: no residual scatter to \
             calibrate against"
                .into(),
        ));
    }
    let stat = lr(rss0, rss[kh]);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed ^ 0x7e61_3e00_c4a1_0001);
    let normal = |rng: &mut rand_chacha::ChaCha8Rng| -> DVector<f64> {
        DVector::from_iterator(m, (0..m).map(|_| rng.sample::<f64, _>(StandardNormal)))
    };
    let mut exceed = 0usize;
    for _ in 0..opts.null_sims {
        let z = normal(&mut rng);
        let (r0, rk) = profile(&z);
        if lr(r0, rk[argmin(&rk)]) >= stat {
            exceed += 1;
        }
    }
    let p_value = (1 + exceed) as f64 / (1 + opts.null_sims) as f64;

    // Parametric bootstrap of the fitted change model.
    let cell = &cells[kh];
    let fitted = &cell.q * (cell.q.transpose() * &y);
    let df = (m - p) as f64;
    let s = (rss[kh] / df).sqrt();
    let (beta, se_unit) = cell
        .coef(&y)
        .ok_or_else(|| Error::NotConverged("change model's least squares".into()))?;
    let mut lr_true = Vec::with_capacity(opts.boot);
    let mut t_stats: [Vec<f64>; 2] = [Vec::with_capacity(opts.boot), Vec::new()];
    for _ in 0..opts.boot {
        let ys = &fitted + normal(&mut rng) * s;
        let (_, rk) = profile(&ys);
        let kb = argmin(&rk);
        lr_true.push(lr(rk[kh], rk[kb]));
        let sb = (rk[kb] / df).sqrt();
        if let Some((b, su)) = cells[kb].coef(&ys) {
            for j in 0..2 {
                if sb * su[j] > 0.0 {
                    t_stats[j].push((b[j] - beta[j]) / (sb * su[j]));
                }
            }
        }
    }
    let cutoff = upper_quantile(&mut lr_true, 0.95);
    let accepted: Vec<usize> = (0..cells.len())
        .filter(|&c| lr(rss[c], rss[kh]) <= cutoff)
        .collect();
    let start = |k: usize| windows[k].t_w as f64;
    let (c_lo, c_hi) = (
        accepted.first().copied().unwrap_or(kh) + k_lo,
        accepted.last().copied().unwrap_or(kh) + k_lo,
    );
    let k = kh + k_lo;
    let ci = |j: usize| -> [f64; 2] {
        let se = s * se_unit[j];
        let t = &mut t_stats[j].clone();
        if t.len() < 20 {
            return [f64::NAN, f64::NAN];
        }
        t.sort_by(f64::total_cmp);
        let hi = quantile_sorted(t, 0.975);
        let lo = quantile_sorted(t, 0.025);
        [beta[j] - hi * se, beta[j] - lo * se]
    };
    let estimate = RegimeChange {
        t0: 0.5 * (start(k) + start(k + 1)),
        t0_ci95: [start(c_lo), start(c_hi + 1)],
        alpha_before: beta[0],
        alpha_before_ci95: ci(0),
        alpha_after: beta[1],
        alpha_after_ci95: ci(1),
        p_value,
    };
    Ok(RegimeAnalysis {
        windows: windows.to_vec(),
        change: (p_value < opts.level).then_some(estimate),
        level: opts.level,
        test_name: "max-likelihood-ratio over change cells, GLS with simulated window \
                    correlation, Monte Carlo calibrated"
            .into(),
        test: ChangeTest {
            statistic: stat,
            p_value,
            null_sims: opts.null_sims,
            straddling_windows: q,
            windows_needed: windows_needed(len, stride, opts.min_windows),
            se_scale: s,
            correlation: corr.rho.clone(),
        },
        estimate,
    })
}

/// The `p` quantile by linear interpolation between order statistics (sorts `v`).
fn upper_quantile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    quantile_sorted(v, p)
}

fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    let h = p * (v.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(alphas: &[f64], se: f64, stride: usize) -> Vec<WindowExponent> {
        alphas
            .iter()
            .enumerate()
            .map(|(i, &alpha)| WindowExponent {
                t_w: i * stride,
                alpha,
                alpha_se: se,
            })
            .collect()
    }

    #[test]
    fn design_columns_and_cells() {
        // T = 2 S: q = 2 straddling windows; 8 windows, 2 per side -> cells k = 3..=5.
        let corr = ExponentCorrelation {
            len: 200,
            stride: 100,
            hurst: 0.5,
            rho: vec![1.0, 0.5],
            sims: 0,
        };
        // A clean step between windows 4 and 5 (t0 in (400, 500]); window 3 and 4 straddle.
        let a = [1.4, 1.41, 1.39, 1.2, 0.9, 0.7, 0.71, 0.69];
        let r = fit_change(&synthetic(&a, 0.01, 100), &corr, &RegimeOptions::default()).unwrap();
        let c = r.change.unwrap();
        assert_eq!(c.t0, 450.0);
        assert!(c.t0_ci95[0] <= 400.0 && c.t0_ci95[1] >= 500.0);
        assert!((c.alpha_before - 1.4).abs() < 0.02, "{}", c.alpha_before);
        assert!((c.alpha_after - 0.7).abs() < 0.02, "{}", c.alpha_after);
        assert!(c.p_value < 0.001);
        assert_eq!(r.test.windows_needed, 6);
    }

    #[test]
    fn too_few_windows_says_how_many() {
        let corr = ExponentCorrelation {
            len: 300,
            stride: 100,
            hurst: 0.5,
            rho: vec![1.0, 0.66, 0.33],
            sims: 0,
        };
        let e = fit_change(
            &synthetic(&[1.0; 6], 0.1, 100),
            &corr,
            &RegimeOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at least 7 windows"), "{e}");
    }

    #[test]
    fn uneven_starts_and_bad_errors_are_rejected() {
        let mut w = synthetic(&[1.0; 8], 0.1, 100);
        w[3].t_w = 301;
        assert!(check_windows(&w).is_err());
        let mut w = synthetic(&[1.0; 8], 0.1, 100);
        w[2].alpha_se = 0.0;
        assert!(check_windows(&w)
            .unwrap_err()
            .to_string()
            .contains("t_w = 200"));
        w[2].alpha_se = 0.1;
        w[5].alpha = f64::NAN;
        assert!(check_windows(&w).is_err());
    }
}
