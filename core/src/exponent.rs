//! Diffusion exponents of an MSD curve with honest errors: the power-law fit [`fit_msd`], its
//! one-vs-two-regime test and crossover `tau0`, and the regime label from the exponent's
//! interval ([`classify`]).
//!
//! The paper's authors read every exponent and `tau0` off log-log plots by hand; everything here
//! is automatic and comes with an uncertainty.
//!
//! MSD values at neighbouring lags share most of their increments, so their errors are strongly
//! and positively correlated and the classical OLS standard error of a log-log slope is far too
//! small (typically 5-20x). [`fit_msd`] therefore weights lags by their effective number of
//! independent displacements, takes the exponent's error from the covariance of the MSD across
//! lags under an fBm model (by simulation) or a bootstrap (over coordinate groups, or over the
//! [`OriginBlocks`] kept by [`crate::msd::msd_for_bootstrap`] when there are too few
//! coordinates), whichever is larger, takes the `tau0` interval from the bootstrap, and
//! calibrates the one-vs-two-segment test by simulation under an fBm null. The generic broken
//! line and Davies' test live in [`crate::regress::segmented`] (re-exported here).
//!
//! # References
//! - H. Qian, M. P. Sheetz, E. L. Elson, "Single particle tracking", Biophys. J. 60 (1991) 910.
//! - V. M. R. Muggeo, Stat. Med. 22 (2003) 3055; R. B. Davies, Biometrika 74 (1987) 33.
//! - N. Tarantino et al., "TNF and IL-1 exhibit distinct ubiquitin requirements for inducing
//!   NEMO-IKK supramolecular structures", J. Cell Biol. 204 (2014) 231 (msdanalyzer: fit the
//!   first 25 % of the MSD curve).

// Checks are written `!(x > 0.0)` (the style guide's form) so that NaN fails them too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod null;
mod shape;

pub use crate::regress::segmented::{davies_bound, davies_test, Segmented, SegmentedFit};
pub use shape::{fit_two_power, local_slopes, LocalSlope, TwoPowerFit};

use crate::error::{Error, Result};
use crate::msd::{Msd, OriginBlocks};
use crate::regress::segmented::{
    davies_grid, davies_statistic, profile_breakpoint, quantile_sorted, slope_change_at,
};
use crate::regress::{coefficient_row, LineFit};
use null::{fbm_log_msd_curves, NULL_DIM_MAX};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Two-sided 95 % normal quantile, `Phi^{-1}(0.975)`.
const Z95: f64 = 1.959_963_984_540_054;

/// Default largest fitted lag as a fraction of the window length `T` (see
/// [`MsdFitOptions::max_lag_fraction`]).
pub const DEFAULT_FIT_FRACTION: f64 = 0.25;

/// How the standard error of a fitted exponent was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeMethod {
    /// Spread of the same fit over exact fBm simulated at the data's exponent, lags, window
    /// length and effective number of coordinates (`"fbm-model"`).
    FbmModel,
    /// Bootstrap over groups of coordinates (`"coordinate-bootstrap"`).
    CoordinateBootstrap,
    /// Bootstrap over blocks of time origins (`"block-bootstrap"`).
    BlockBootstrap,
    /// Classical least-squares error, assuming independent residuals (`"ols"`).
    Ols,
}

impl SeMethod {
    /// The name as serialised (`"fbm-model"`, `"coordinate-bootstrap"`, `"block-bootstrap"`,
    /// `"ols"`).
    pub fn as_str(self) -> &'static str {
        match self {
            SeMethod::FbmModel => "fbm-model",
            SeMethod::CoordinateBootstrap => "coordinate-bootstrap",
            SeMethod::BlockBootstrap => "block-bootstrap",
            SeMethod::Ols => "ols",
        }
    }
}

impl std::fmt::Display for SeMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A power law `y = A tau^alpha` fitted on log-log axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    /// The exponent `alpha`.
    pub alpha: f64,
    /// Standard error of `alpha`: the larger of the fBm-model (parametric bootstrap) and the
    /// bootstrap errors when available, else OLS (see [`fit_msd`]).
    pub alpha_se: f64,
    /// 95 % interval `alpha -/+ 1.96 alpha_se`, from which [`MsdFit::regime`] is read.
    pub alpha_ci95: [f64; 2],
    /// The classical OLS standard error, for comparison (too small for correlated MSDs).
    pub alpha_se_ols: f64,
    /// `ln A`.
    pub log_prefactor: f64,
    /// Smallest and largest lag used.
    pub lag_range: [f64; 2],
    /// Number of lags used.
    pub n_lags: usize,
    /// How `alpha_se` was obtained.
    pub se_method: SeMethod,
}

/// The two-regime description of an MSD curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoRegime {
    /// Exponent below `tau0`.
    pub alpha_short: f64,
    /// Exponent above `tau0`.
    pub alpha_long: f64,
    /// Crossover lag (the breakpoint of the broken line in log-log space).
    pub tau0: f64,
    /// 95 % interval of `tau0` (bootstrap percentiles when available, else delta method).
    pub tau0_ci95: [f64; 2],
    /// p-value of one segment against two (slope changes calibrated under an fBm null; see
    /// [`fit_msd`]).
    pub p_one_vs_two: f64,
}

/// Diffusion regime of a window, read from the 95 % interval of its exponent (see [`classify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// The interval lies below 1: `alpha < 1` at the 2.5 % level (one-sided).
    Subdiffusive,
    /// The interval contains 1 and lies below 2: no significant departure from normal
    /// diffusion, and ballistic motion excluded.
    Normal,
    /// The interval lies inside (1, 2): both normal and ballistic motion excluded.
    Superdiffusive,
    /// The interval lies above 1 and reaches 2 (or beyond): normal diffusion excluded, ballistic
    /// motion not.
    Ballistic,
    /// The interval contains both 1 and 2: too wide to tell normal from ballistic motion.
    Undetermined,
}

/// The regime of an exponent whose 95 % interval is `ci = [lo, hi]`:
///
/// | interval | label |
/// | --- | --- |
/// | `hi < 1` | subdiffusive |
/// | `lo <= 1 <= hi < 2` | normal |
/// | `1 < lo`, `hi < 2` | superdiffusive |
/// | `1 < lo`, `hi >= 2` | ballistic |
/// | `lo <= 1`, `hi >= 2` | undetermined |
/// | not finite | undetermined |
///
/// Each label other than "normal" and "undetermined" rejects a value at the 5 % level
/// (two-sided): a wrong "subdiffusive", "superdiffusive" or "ballistic" for normal diffusion
/// happens with the interval's non-coverage, 5 % when the interval is calibrated (measured in
/// core/tests/calibration_msd.rs). "Normal" is a failure to reject `alpha = 1`, not a proof of
/// it: a wide interval that holds 1 says "normal" while still admitting mild sub- or
/// superdiffusion, so read it with the interval.
///
/// # Examples
/// ```
/// use anodiff_core::exponent::{classify_interval, Regime};
/// assert_eq!(classify_interval([0.55, 0.75]), Regime::Subdiffusive);
/// assert_eq!(classify_interval([0.9, 1.3]), Regime::Normal);
/// assert_eq!(classify_interval([1.2, 1.6]), Regime::Superdiffusive);
/// assert_eq!(classify_interval([1.7, 2.1]), Regime::Ballistic);
/// assert_eq!(classify_interval([0.8, 2.3]), Regime::Undetermined);
/// ```
pub fn classify_interval(ci: [f64; 2]) -> Regime {
    let [lo, hi] = ci;
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Regime::Undetermined;
    }
    match (lo > 1.0, hi < 1.0, hi < 2.0) {
        (_, true, _) => Regime::Subdiffusive,
        (true, _, true) => Regime::Superdiffusive,
        (true, _, false) => Regime::Ballistic,
        (false, false, true) => Regime::Normal,
        (false, false, false) => Regime::Undetermined,
    }
}

/// The regime of an exponent `alpha` with standard error `se`, from the 95 % normal interval
/// `alpha -/+ 1.96 se` ([`classify_interval`]); a non-finite or negative `se` gives
/// [`Regime::Undetermined`].
///
/// # Examples
/// ```
/// use anodiff_core::exponent::{classify, Regime};
/// assert_eq!(classify(0.7, 0.05), Regime::Subdiffusive);
/// assert_eq!(classify(0.9, 0.1), Regime::Normal); // 1 is inside 0.9 -/+ 0.196
/// assert_eq!(classify(1.97, 0.03), Regime::Ballistic); // 2 is inside 1.97 -/+ 0.059
/// assert_eq!(classify(1.97, 0.01), Regime::Superdiffusive); // 2 is excluded
/// assert_eq!(classify(1.4, 0.4), Regime::Undetermined);
/// ```
pub fn classify(alpha: f64, se: f64) -> Regime {
    if !(se >= 0.0 && se.is_finite()) {
        return Regime::Undetermined;
    }
    classify_interval([alpha - Z95 * se, alpha + Z95 * se])
}

/// Options of [`fit_msd`].
#[derive(Debug, Clone, PartialEq)]
pub struct MsdFitOptions {
    /// Only lags in `[lo, hi]` are fitted; overrides `max_lag_fraction` (default `None`).
    pub fit_range: Option<(f64, f64)>,
    /// Without `fit_range`, only lags up to `max_lag_fraction * T` are fitted (default
    /// [`DEFAULT_FIT_FRACTION`] = 1/4; range (0, 1]). See [`fit_msd`] for why.
    pub max_lag_fraction: f64,
    /// Bootstrap replicates (default 200).
    pub n_boot: usize,
    /// Restarts of the segmented regression on the data itself (default 20).
    pub restarts: usize,
    /// Significance level at which one segment is rejected in favour of two (default 0.05).
    pub test_level: f64,
    /// Half-width in decades of lag of the local-slope windows (default 0.15).
    pub local_half_width_decades: f64,
    /// Seed of the bootstrap, the restarts and the simulations (default 0).
    pub seed: u64,
    /// Weight each lag by its effective number of independent displacements `(T - tau) / tau`
    /// (default `true`); `false` gives ordinary least squares on log-log axes.
    pub weighted: bool,
    /// Simulations of the fBm null that calibrate the one-vs-two-segment test and give the
    /// model-based error (default 199; `max(null_sims, n_boot)` are run. With `null_sims = 0`
    /// the test uses Davies' analytic bound with bootstrap standard errors instead).
    pub null_sims: usize,
    /// Statistic of the simulated one-vs-two-segment test (default
    /// [`SegmentTest::Standardised`]).
    pub segment_test: SegmentTest,
}

/// The statistic of [`fit_msd`]'s one-vs-two-segment test; both are calibrated by simulating
/// exact fBm under the null of one power law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentTest {
    /// The slope changes at 10 candidate breakpoints, each standardised by its spread over the
    /// null simulations in `min(round(d_eff), 16)` coordinates scaled to the data's `d_eff`;
    /// the maximum is calibrated against the same simulations.
    #[default]
    Standardised,
    /// Davies' Wald statistic `max |b / se|` with classical (residual) standard errors,
    /// calibrated against the same simulations. Weaker than [`SegmentTest::Standardised`]: the
    /// residuals of a time-averaged MSD are correlated across lags, and their classical error
    /// says little about how far a slope change can wander.
    DaviesWald,
}

impl Default for MsdFitOptions {
    fn default() -> Self {
        MsdFitOptions {
            fit_range: None,
            max_lag_fraction: DEFAULT_FIT_FRACTION,
            n_boot: 200,
            restarts: 20,
            test_level: 0.05,
            local_half_width_decades: 0.15,
            seed: 0,
            weighted: true,
            null_sims: 199,
            segment_test: SegmentTest::Standardised,
        }
    }
}

/// Everything [`fit_msd`] finds about one MSD curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsdFit {
    /// The single power law over the fitted lags.
    pub power_law: PowerLawFit,
    /// The broken line in log-log space (when there are at least 8 lags).
    pub segmented: Option<SegmentedFit>,
    /// p-value of one segment against two (when there are at least 8 lags and the test could
    /// be calibrated).
    pub p_one_vs_two: Option<f64>,
    /// The two regimes, present when one segment is rejected at `test_level`.
    pub two_regime: Option<TwoRegime>,
    /// The smooth two-power-law alternative (when the broken line exists).
    pub two_power: Option<TwoPowerFit>,
    /// Local slopes `alpha(tau)`.
    pub local: Vec<LocalSlope>,
    /// Regime of the single power law, from its 95 % interval ([`classify_interval`]).
    pub regime: Regime,
}

/// The summary of an [`MsdFit`] that `anodiff msd` prints as each window's `"fit"` object and
/// `anodiff analyze` as the head of each window's `"msd"` object: the exponent with its error
/// and interval, the two regimes when the one-segment test rejects, and the regime label.
///
/// # Examples
/// ```
/// use anodiff_core::exponent::{fit_msd, MsdFitOptions, Regime};
/// use anodiff_core::msd::{msd, Lags, Window};
/// use anodiff_core::trajectory::InMemoryTrajectory;
/// // Ballistic motion w(t) = t in 8 coordinates: MSD = 8 tau^2, alpha = 2 exactly.
/// let (t, d) = (400, 8);
/// let w: Vec<f32> = (0..t * d).map(|i| (i / d) as f32).collect();
/// let traj = InMemoryTrajectory::from_weights(d, w, None).unwrap();
/// let lags = Lags::default().resolve(t, None).unwrap();
/// let m = msd(&traj, Window { start: 0, len: t }, &lags).unwrap();
/// let r = fit_msd(&m, &MsdFitOptions::default()).unwrap().report();
/// assert!((r.alpha - 2.0).abs() < 1e-9);
/// assert_eq!(r.regime, Regime::Ballistic);
/// let json = serde_json::to_value(&r).unwrap();
/// assert_eq!(json["regime"], "ballistic");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsdFitReport {
    /// The exponent of the single power law ([`PowerLawFit::alpha`]).
    pub alpha: f64,
    /// Its standard error ([`PowerLawFit::alpha_se`]).
    pub alpha_se: f64,
    /// Its 95 % interval ([`PowerLawFit::alpha_ci95`]).
    pub alpha_ci95: [f64; 2],
    /// The two regimes, present when one segment is rejected ([`MsdFit::two_regime`]).
    pub two_regime: Option<TwoRegime>,
    /// The regime read from `alpha_ci95` ([`MsdFit::regime`]).
    pub regime: Regime,
}

impl MsdFit {
    /// The fit's summary (see [`MsdFitReport`]).
    pub fn report(&self) -> MsdFitReport {
        MsdFitReport {
            alpha: self.power_law.alpha,
            alpha_se: self.power_law.alpha_se,
            alpha_ci95: self.power_law.alpha_ci95,
            two_regime: self.two_regime.clone(),
            regime: self.regime,
        }
    }
}

/// What one bootstrap replicate contributes.
struct RepOut {
    slope: Option<f64>,
    psi: Option<f64>,
    /// Slope changes at the test grid (only for the analytic-bound test).
    changes: Vec<Option<f64>>,
}

/// Fits exponents, the two-regime shape and the regime of one window's MSD.
///
/// # Lags
/// Lines are fitted to `ln MSD` against `ln tau`, by default weighted by the effective number
/// of independent displacements at each lag, `(T - tau) / tau` (Qian, Sheetz & Elson 1991),
/// over the computed lags up to `T / 4` ([`MsdFitOptions::max_lag_fraction`]). Log-spaced lags
/// ([`crate::msd::Lags::default`], 10 per decade) give each decade the same say; with every
/// integer lag the long lags, few and strongly correlated, would dominate. The cut at `T / 4`
/// is msdanalyzer's "first 25 % of the curve" rule (Tarantino et al. 2014) and inside the range
/// over which the error below is calibrated (up to `T / 2`): beyond it a lag has fewer than 3
/// independent displacements and the time-averaged MSD of a single window fluctuates on the
/// window's own scale. `T / 10` would be safer still for the origin-block bootstrap but loses
/// most of a decade of lags in which a crossover can show.
///
/// # Error of alpha
/// `alpha_se` is the larger of two errors:
/// - **fBm model** (parametric bootstrap): the spread of the same weighted fit over exact
///   fractional Brownian motions with `H = alpha / 2`, the window's length and
///   `k = min(round(d_eff), 16)` coordinates, analysed at the same lags and scaled by
///   `sqrt(k / d_eff)` ([`Msd::d_eff`](crate::msd::Msd::d_eff), the participation ratio of the
///   coordinates' step variances). This carries the full covariance of the time-averaged MSD
///   across lags, which for Brownian motion Qian et al. (1991) give in closed form, including
///   the window-scale fluctuations a resampling of origins inside one window cannot see.
/// - **bootstrap**: the standard deviation of the slope over `n_boot` resampled curves. With
///   at least 8 coordinate groups ([`Msd::coord_groups`](crate::msd::Msd::coord_groups)) the
///   groups are resampled ([`SeMethod::CoordinateBootstrap`]); otherwise blocks of time origins
///   ([`SeMethod::BlockBootstrap`]). It sees non-Gaussian and non-stationary noise the model
///   ignores; the origin-block version is optimistic for fits reaching into the window, since
///   resampling origins inside one window cannot see fluctuations on the window's scale.
///
/// The larger is reported (`se_method` says which); without either, the classical OLS error.
/// `alpha_ci95` is `alpha -/+ 1.96 alpha_se`, and the regime label is read from it
/// ([`classify_interval`]). Measured coverage and label error rates: CALIBRATION.md, "MSD
/// exponent and crossover".
///
/// # Crossover
/// The one-vs-two-segment p-value ([`SegmentTest::Standardised`], the default) looks at the
/// weighted slope change `b(theta)` of the broken line at 10 candidate breakpoints and
/// calibrates it by Monte Carlo under the null of a single power law: `max(null_sims, n_boot)`
/// exact fBm simulations (the same as the model error's) give each `b(theta)`'s null mean and
/// spread, scaled to the data's `d_eff` (variance by `k / d_eff`); the statistic is the largest
/// standardised `|b(theta)|` and `p = (1 + #exceed) / (1 + sims)` over the simulations' own
/// maxima. Size and power by simulation: CALIBRATION.md (core/tests/calibration_msd.rs).
/// Davies' analytic bound assumes independent residuals and rejects almost every Brownian MSD
/// curve; with `null_sims = 0` it is used with bootstrap standard errors instead.
///
/// The `tau0` interval is the 2.5 and 97.5 % percentiles of the breakpoint over the bootstrap
/// replicates (else the delta method); each replicate's breakpoint is found by a global profile
/// search (200 candidates) refined by Muggeo's iteration, since the broken line's RSS has a
/// local minimum between every pair of lags.
///
/// Error-model assumptions (both the fBm-model `alpha_se` and the segment test): increments
/// are Gaussian and stationary like fBm's (a single exponent `H = alpha / 2`), and coordinates
/// are independent, so that `d_eff` coordinates average their noise; heavy-tailed or strongly
/// coupled coordinates make the model errors optimistic, which the bootstrap branch of
/// `alpha_se` partly guards against.
///
/// # Errors
/// Fewer than 3 positive MSD values in the fit range, or an invalid option.
///
/// # Examples
/// ```
/// use anodiff_core::exponent::{fit_msd, MsdFitOptions, Regime};
/// use anodiff_core::msd::{msd_for_bootstrap, Lags, Window};
/// use anodiff_core::trajectory::InMemoryTrajectory;
/// use rand::{Rng, SeedableRng};
/// use rand_distr::StandardNormal;
/// // A Brownian walk in 20 coordinates over 1000 steps.
/// let (t, d) = (1000, 20);
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
/// let mut w = vec![0.0f32; t * d];
/// for s in 1..t {
///     for c in 0..d {
///         let z: f64 = rng.sample(StandardNormal);
///         w[s * d + c] = w[(s - 1) * d + c] + z as f32;
///     }
/// }
/// let traj = InMemoryTrajectory::from_weights(d, w, None).unwrap();
/// let win = Window { start: 0, len: t };
/// let lags = Lags::default().resolve(t, None).unwrap();
/// let m = msd_for_bootstrap(&traj, win, &lags, 20).unwrap();
/// let f = fit_msd(&m, &MsdFitOptions::default()).unwrap();
/// let [lo, hi] = f.power_law.alpha_ci95;
/// assert!(lo < 1.0 && 1.0 < hi, "{lo} {hi}");
/// assert_eq!(f.regime, Regime::Normal);
/// ```
pub fn fit_msd(m: &Msd, opts: &MsdFitOptions) -> Result<MsdFit> {
    if let Some((lo, hi)) = opts.fit_range {
        if !(lo > 0.0 && hi > lo) {
            return Err(Error::param(
                "fit-range",
                format!("needs 0 < LO < HI, got {lo},{hi}"),
            ));
        }
    }
    if !(opts.max_lag_fraction > 0.0 && opts.max_lag_fraction <= 1.0) {
        return Err(Error::param(
            "max_lag_fraction",
            format!("must be in (0, 1], got {}", opts.max_lag_fraction),
        ));
    }
    if !(opts.test_level > 0.0 && opts.test_level < 1.0) {
        return Err(Error::param("test_level", "must be in (0, 1)"));
    }
    let t_len = m.window.len;
    let (fit_lo, fit_hi) = opts
        .fit_range
        .unwrap_or((0.0, (opts.max_lag_fraction * t_len as f64).max(1.0)));
    let sel: Vec<usize> = (0..m.lags.len())
        .filter(|&i| {
            let t = m.lags[i] as f64;
            t >= fit_lo && t <= fit_hi && m.msd[i] > 0.0
        })
        .collect();
    if sel.len() < 3 {
        return Err(Error::InvalidData(format!(
            "exponent fit needs at least 3 lags with positive MSD in the fit range \
             [{fit_lo}, {fit_hi}], got {}",
            sel.len()
        )));
    }
    let lx: Vec<f64> = sel.iter().map(|&i| (m.lags[i] as f64).ln()).collect();
    let ly: Vec<f64> = sel.iter().map(|&i| m.msd[i].ln()).collect();
    // Relative precision of ln MSD(tau): the effective number of independent displacements,
    // about (T - tau) / tau (Qian et al. 1991), as trackpy and msdanalyzer weight.
    let wts: Option<Vec<f64>> = opts.weighted.then(|| {
        sel.iter()
            .map(|&i| (t_len - m.lags[i]) as f64 / m.lags[i] as f64)
            .collect()
    });
    let wts = wts.as_deref();
    let line = LineFit::weighted(&lx, &ly, wts)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);

    let two_segments = sel.len() >= 8;
    let seg = if two_segments {
        Segmented {
            n_boot: opts.restarts,
            ..Segmented::default()
        }
        .fit_weighted(&lx, &ly, wts, &mut rng)
        .ok()
    } else {
        None
    };
    let thetas = two_segments.then(|| davies_grid(&lx, 10));

    // Null simulations, shared by the model error and the segment test.
    let lags_sel: Vec<usize> = sel.iter().map(|&i| m.lags[i]).collect();
    let d_eff = if m.d_eff.is_finite() && m.d_eff >= 1.0 {
        m.d_eff
    } else {
        1.0
    };
    let k = (d_eff.round() as usize).clamp(1, NULL_DIM_MAX);
    let n_sims = opts.null_sims.max(opts.n_boot);
    let sims: Vec<Vec<f64>> = if n_sims >= 10 && t_len >= 3 {
        let h = (line.slope / 2.0).clamp(0.02, 0.98);
        // A stream of its own, so that the bootstrap and restarts are unchanged by this step.
        fbm_log_msd_curves(
            h,
            t_len,
            k,
            &lags_sel,
            n_sims,
            opts.seed ^ 0x5eed_f0b5_0de1_5e00,
        )?
    } else {
        Vec::new()
    };
    let usable = sims.len() >= 10;
    let ones = vec![1.0; lx.len()];
    let dot = |r: &[f64], y: &[f64]| r.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();

    let model_se = if usable {
        coefficient_row(&[ones.clone(), lx.clone()], wts, 1).map(|row| {
            let slopes: Vec<f64> = sims.iter().map(|s| dot(&row, s)).collect();
            sd(&slopes) * (k as f64 / d_eff).sqrt()
        })
    } else {
        None
    };

    // Bootstrap replicates of the curve at the selected lags: over coordinate groups when there
    // are enough (independent replicates of the whole window, so window-scale fluctuations are
    // seen), else over blocks of time origins.
    let (reps, boot_method) = match (&m.coord_groups, &m.blocks) {
        (Some(g), _) if g.len() >= crate::msd::MIN_COORD_GROUPS && opts.n_boot >= 2 => (
            coord_replicates(g, &sel, opts.n_boot, &mut rng),
            SeMethod::CoordinateBootstrap,
        ),
        (_, Some(b)) if b.n_blocks() >= 2 && opts.n_boot >= 2 => (
            replicates(b, &sel, opts.n_boot, &mut rng),
            SeMethod::BlockBootstrap,
        ),
        _ => (Vec::new(), SeMethod::Ols),
    };
    let boot = !reps.is_empty();
    let analytic_test = opts.null_sims == 0;
    let outs: Vec<RepOut> = reps
        .par_iter()
        .map(|rep| {
            bootstrap_replicate(
                rep,
                &lx,
                wts,
                seg.as_ref(),
                thetas.as_deref(),
                analytic_test,
            )
        })
        .collect();
    let slopes: Vec<f64> = outs.iter().filter_map(|o| o.slope).collect();
    let mut psis: Vec<f64> = outs.iter().filter_map(|o| o.psi).collect();
    let boot_se = (slopes.len() >= 10).then(|| sd(&slopes));
    // The larger of the two: the model sees the window-scale fluctuations the block bootstrap
    // misses, the bootstrap sees non-Gaussian or non-fBm noise the model ignores.
    let (alpha_se, se_method) = match (model_se, boot_se) {
        (Some(a), Some(b)) if b > a => (b, boot_method),
        (Some(a), _) => (a, SeMethod::FbmModel),
        (None, Some(b)) => (b, boot_method),
        (None, None) => (line.slope_se, SeMethod::Ols),
    };
    let alpha_ci95 = [line.slope - Z95 * alpha_se, line.slope + Z95 * alpha_se];
    let power_law = PowerLawFit {
        alpha: line.slope,
        alpha_se,
        alpha_ci95,
        alpha_se_ols: line.slope_se,
        log_prefactor: line.intercept,
        lag_range: [lags_sel[0] as f64, lags_sel[lags_sel.len() - 1] as f64],
        n_lags: sel.len(),
        se_method,
    };

    let p_one_vs_two = thetas.as_ref().and_then(|th| {
        if !analytic_test {
            if !usable {
                return None;
            }
            return Some(match opts.segment_test {
                SegmentTest::DaviesWald => {
                    let stat = |y: &[f64]| davies_statistic(&lx, y, wts, th);
                    let m_obs = stat(&ly);
                    let exceed = sims.par_iter().filter(|s| stat(s) >= m_obs).count();
                    (1 + exceed) as f64 / (1 + sims.len()) as f64
                }
                SegmentTest::Standardised => {
                    let rows: Vec<Vec<f64>> = th
                        .iter()
                        .filter_map(|&t| {
                            let u: Vec<f64> = lx.iter().map(|&v| (v - t).max(0.0)).collect();
                            coefficient_row(&[ones.clone(), lx.clone(), u], wts, 2)
                        })
                        .collect();
                    let changes =
                        |y: &[f64]| -> Vec<f64> { rows.iter().map(|r| dot(r, y)).collect() };
                    let null: Vec<Vec<f64>> = sims.iter().map(|s| changes(s)).collect();
                    standardised_p(&changes(&ly), &null, k as f64 / d_eff)
                }
            });
        }
        let z: Vec<f64> = th
            .iter()
            .enumerate()
            .map(|(j, &t)| {
                let Some((b, se_ols)) = slope_change_at(&lx, &ly, wts, t) else {
                    return 0.0;
                };
                let bz: Vec<f64> = outs.iter().filter_map(|o| o.changes[j]).collect();
                let se = if boot && bz.len() >= 10 {
                    sd(&bz)
                } else {
                    se_ols
                };
                if se > 0.0 {
                    b / se
                } else {
                    0.0
                }
            })
            .collect();
        Some(davies_bound(&z))
    });

    let two_regime = match (&seg, p_one_vs_two) {
        (Some(s), Some(p)) if p < opts.test_level => {
            let ci = if boot && psis.len() >= 20 {
                psis.sort_by(f64::total_cmp);
                [
                    quantile_sorted(&psis, 0.025).min(s.breakpoint),
                    quantile_sorted(&psis, 0.975).max(s.breakpoint),
                ]
            } else {
                s.breakpoint_ci95
            };
            Some(TwoRegime {
                alpha_short: s.slope_left,
                alpha_long: s.slope_right,
                tau0: s.breakpoint.exp(),
                tau0_ci95: [ci[0].exp(), ci[1].exp()],
                p_one_vs_two: p,
            })
        }
        _ => None,
    };
    let taus: Vec<f64> = lags_sel.iter().map(|&l| l as f64).collect();
    let vals: Vec<f64> = sel.iter().map(|&i| m.msd[i]).collect();
    let two_power = seg
        .as_ref()
        .and_then(|s| fit_two_power(&taus, &vals, s).ok());
    let local = local_slopes(
        &taus,
        &vals,
        opts.local_half_width_decades * std::f64::consts::LN_10,
    )?;
    Ok(MsdFit {
        regime: classify_interval(alpha_ci95),
        power_law,
        segmented: seg,
        p_one_vs_two,
        two_regime,
        two_power,
        local,
    })
}

/// Sample standard deviation.
fn sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mu = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Slope, breakpoint and (for the analytic-bound test) slope changes of one bootstrap curve.
fn bootstrap_replicate(
    rep: &[f64],
    lx: &[f64],
    wts: Option<&[f64]>,
    seg: Option<&SegmentedFit>,
    thetas: Option<&[f64]>,
    with_changes: bool,
) -> RepOut {
    let keep: Vec<usize> = (0..rep.len())
        .filter(|&k| rep[k] > 0.0 && rep[k].is_finite())
        .collect();
    let xs: Vec<f64> = keep.iter().map(|&k| lx[k]).collect();
    let ys: Vec<f64> = keep.iter().map(|&k| rep[k].ln()).collect();
    let ws: Option<Vec<f64>> = wts.map(|w| keep.iter().map(|&k| w[k]).collect());
    let ws = ws.as_deref();
    let mut out = RepOut {
        slope: None,
        psi: None,
        changes: vec![None; thetas.map_or(0, <[f64]>::len)],
    };
    if xs.len() < 3 {
        return out;
    }
    out.slope = LineFit::weighted(&xs, &ys, ws).ok().map(|f| f.slope);
    if xs.len() < 8 {
        return out;
    }
    if let Some(s) = seg {
        let sf = Segmented {
            n_boot: 0,
            start: Some(s.breakpoint),
            ..Segmented::default()
        };
        let (lo, hi) = sf.bounds(lx);
        // A global profile search first: the broken line's RSS has a local minimum between
        // every pair of lags, and a Muggeo run from the data's breakpoint stays in its basin,
        // which made the interval far too narrow.
        let start = profile_breakpoint(&xs, &ys, ws, lo, hi, 200).unwrap_or(s.breakpoint);
        out.psi = sf.muggeo(&xs, &ys, ws, start, lo, hi).map(|mg| mg.psi);
    }
    if let (Some(th), true) = (thetas, with_changes) {
        for (c, &t) in out.changes.iter_mut().zip(th) {
            *c = slope_change_at(&xs, &ys, ws, t).map(|r| r.0);
        }
    }
    out
}

/// Monte Carlo p-value of one power law against a change of slope. `b_obs[k]` is the data's
/// weighted slope change at the `k`-th grid breakpoint, `null[s][k]` the same for simulation
/// `s`, simulated in `var_scale * d_eff` coordinates: the null mean `mu_k` and spread `sd_k` of
/// each change, scaled to the data (variance by `var_scale`, and the mean, a Jensen bias of
/// the log, with it), standardise the data's changes; the statistic is
/// `max_k |b_obs - mu| / sd`, and the p-value the share of simulations whose own maximum is at
/// least as large, `(1 + #exceed) / (1 + sims)`. Standardising by the simulated spread rather
/// than by the residuals (Davies' Wald statistic) is what gives the test its power.
fn standardised_p(b_obs: &[f64], null: &[Vec<f64>], var_scale: f64) -> f64 {
    let ns = null.len() as f64;
    let nk = b_obs.len();
    let mu: Vec<f64> = (0..nk)
        .map(|j| null.iter().map(|s| s[j]).sum::<f64>() / ns)
        .collect();
    let sdv: Vec<f64> = (0..nk)
        .map(|j| (null.iter().map(|s| (s[j] - mu[j]).powi(2)).sum::<f64>() / (ns - 1.0)).sqrt())
        .collect();
    let stat = |b: &[f64], scale: f64| -> f64 {
        (0..nk)
            .filter(|&j| sdv[j] > 0.0)
            .map(|j| ((b[j] - mu[j] * scale) / (sdv[j] * scale.sqrt())).abs())
            .fold(0.0, f64::max)
    };
    let m_obs = stat(b_obs, var_scale);
    let exceed = null.iter().filter(|s| stat(s, 1.0) >= m_obs).count();
    (1 + exceed) as f64 / (1.0 + ns)
}

/// `n_boot` resampled MSD curves at the lag indices `sel`: each picks as many coordinate groups
/// as there are, with replacement, and sums their MSDs.
fn coord_replicates<R: Rng + ?Sized>(
    groups: &[Vec<f64>],
    sel: &[usize],
    n_boot: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    let ng = groups.len();
    (0..n_boot)
        .map(|_| {
            let mut rep = vec![0.0; sel.len()];
            for _ in 0..ng {
                let g = &groups[rng.random_range(0..ng)];
                for (r, &i) in rep.iter_mut().zip(sel) {
                    *r += g[i];
                }
            }
            rep
        })
        .collect()
}

/// `n_boot` resampled MSD curves at the lag indices `sel`: each picks as many origin blocks as
/// there are, with replacement.
fn replicates<R: Rng + ?Sized>(
    b: &OriginBlocks,
    sel: &[usize],
    n_boot: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    let nb = b.n_blocks();
    let mut picks = vec![0usize; nb];
    (0..n_boot)
        .map(|_| {
            for p in picks.iter_mut() {
                *p = rng.random_range(0..nb);
            }
            let full = b.resample(&picks);
            sel.iter().map(|&i| full[i]).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cell of the table in [`classify_interval`]'s documentation, at and around its
    /// edges.
    #[test]
    fn labels_follow_the_interval() {
        use Regime::*;
        let cases = [
            ([0.2, 0.99], Subdiffusive),
            ([0.2, 1.0], Normal),
            ([1.0, 1.5], Normal),
            ([1.01, 1.5], Superdiffusive),
            ([1.01, 1.99], Superdiffusive),
            ([1.01, 2.0], Ballistic),
            ([2.1, 2.3], Ballistic),
            ([0.99, 2.0], Undetermined),
            ([-1.0, 3.0], Undetermined),
            ([f64::NAN, 1.0], Undetermined),
        ];
        for (ci, want) in cases {
            assert_eq!(classify_interval(ci), want, "{ci:?}");
        }
        assert_eq!(classify(0.5, f64::NAN), Undetermined);
        assert_eq!(classify(0.5, 0.2), Subdiffusive); // 0.5 + 1.96 * 0.2 = 0.892 < 1
        assert_eq!(classify(0.5, 0.3), Normal); // 0.5 + 0.588 > 1
    }

    #[test]
    fn se_method_names() {
        for (m, s) in [
            (SeMethod::FbmModel, "\"fbm-model\""),
            (SeMethod::CoordinateBootstrap, "\"coordinate-bootstrap\""),
            (SeMethod::BlockBootstrap, "\"block-bootstrap\""),
            (SeMethod::Ols, "\"ols\""),
        ] {
            assert_eq!(serde_json::to_string(&m).unwrap(), s);
            assert_eq!(format!("\"{m}\""), s);
        }
    }
}
