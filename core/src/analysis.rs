//! The per-window trajectory analyses of `anodiff msd` and `anodiff analyze`, as typed results
//! that serialise to the JSON those commands print (and that the Python package returns).
//!
//! - [`msd_window`]: one window's MSD at the requested lags and its exponent fit
//!   ([`MsdWindow`], an element of `anodiff msd`'s `"windows"`).
//! - [`analyse_window`]: everything `anodiff analyze` computes on one window
//!   ([`WindowAnalysis`]): the MSD fit with its shape alternatives, contour length against
//!   end-to-end distance, the mean squared loss against distance, loss fluctuations and a sample
//!   of gradient components.
//! - [`Analysis::from_windows`]: the whole summary, with the test of a change of exponent across
//!   the analysed windows ([`crate::regime::regime_change`]).
//!
//! Windows are analysed one at a time so that a caller can report progress or be interrupted
//! between them; the serialised summaries omit the per-lag, per-bin and per-step tables, which
//! stay available as typed fields (`#[serde(skip)]`) for callers that write them out.
//!
//! # Examples
//! ```
//! use anodiff_core::analysis::{analyse_window, Analysis, AnalyzeOptions, TrajectoryInfo};
//! use anodiff_core::msd::Windows;
//! use anodiff_core::trajectory::InMemoryTrajectory;
//! use rand::{Rng, SeedableRng};
//! use rand_distr::StandardNormal;
//! // A Brownian walk in 8 coordinates with its squared distance from the start as the loss.
//! let (t, d) = (400, 8);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let mut w = vec![0.0f32; t * d];
//! for s in 1..t {
//!     for c in 0..d {
//!         let z: f64 = rng.sample(StandardNormal);
//!         w[s * d + c] = w[(s - 1) * d + c] + z as f32;
//!     }
//! }
//! let loss: Vec<f64> = w.chunks(d).map(|r| r.iter().map(|&v| (v * v) as f64).sum()).collect();
//! let traj = InMemoryTrajectory::from_weights(d, w, Some(loss)).unwrap();
//! let opts = AnalyzeOptions { bins: 12, ..AnalyzeOptions::default() };
//! let wins = Windows::Consecutive { len: Some(200) }.resolve(t).unwrap();
//! let windows: Vec<_> = wins.iter().map(|&win| analyse_window(&traj, win, &opts).unwrap()).collect();
//! let a = Analysis::from_windows(TrajectoryInfo::of(&traj, "<memory>"), windows, &opts);
//! let alpha = a.windows[0].msd.fit.alpha;
//! assert!((alpha - 1.0).abs() < 0.3, "Brownian motion has alpha = 1, got {alpha}");
//! assert!(a.windows[0].msl.is_some() && a.windows[0].gradients.is_none());
//! // Two windows are too few for the change test: the reason is reported instead.
//! let json = serde_json::to_value(&a).unwrap();
//! assert!(json["regime"]["change"].is_null() && json["regime"]["error"].is_string());
//! assert_eq!(json["windows"][1]["T"], 200);
//! ```

use crate::error::{Error, Result};
use crate::exponent::{
    fit_msd, MsdFit, MsdFitOptions, MsdFitReport, PowerLawFit, SegmentedFit, TwoPowerFit,
};
use crate::msd::{msd_for_bootstrap, Lags, Msd, Window};
use crate::pathstats::{
    contour_with, gradient_sample, loss_fluctuations, msl_with, Binning, Contour, LossFluctuations,
    Msl, PairDistances, PathBootstrap,
};
use crate::regime::{regime_change, RegimeAnalysis, RegimeChange, RegimeOptions, WindowExponent};
use crate::trajectory::TrajectorySource;
use serde::Serialize;

/// How a window's MSD is computed and fitted (the `--lags`, `--max-lag`, `--blocks` and fit
/// flags of `anodiff msd` and `anodiff analyze`).
#[derive(Debug, Clone, PartialEq)]
pub struct MsdSettings {
    /// Lags at which the MSD is computed (default ten per decade, [`Lags::default`]).
    pub lags: Lags,
    /// Largest lag (default: none beyond the window's `T - 1`).
    pub max_lag: Option<usize>,
    /// Blocks of time origins kept for the bootstrap when there are fewer than 8 coordinates
    /// (default 20; with more coordinates the bootstrap resamples coordinate groups).
    pub blocks: usize,
    /// The exponent fit.
    pub fit: MsdFitOptions,
}

impl Default for MsdSettings {
    fn default() -> Self {
        MsdSettings {
            lags: Lags::default(),
            max_lag: None,
            blocks: 20,
            fit: MsdFitOptions::default(),
        }
    }
}

impl MsdSettings {
    /// Checks the settings that are not checked where they are used.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `max_lag = Some(0)` or `blocks = 0`.
    pub fn check(&self) -> Result<()> {
        if self.max_lag == Some(0) {
            return Err(Error::param("max_lag", "must be at least 1"));
        }
        if self.blocks == 0 {
            return Err(Error::param("blocks", "must be at least 1"));
        }
        Ok(())
    }
}

/// The MSD of one window at the lags of `s` and its exponent fit; the origin blocks for the
/// bootstrap are computed only when it will use them (fewer than 8 coordinates).
///
/// # Errors
/// Invalid settings ([`MsdSettings::check`]), a window outside the trajectory, a non-finite
/// weight, or an MSD curve the fit rejects ([`fit_msd`]).
pub fn fit_window<S: TrajectorySource + ?Sized>(
    src: &S,
    win: Window,
    s: &MsdSettings,
) -> Result<(Msd, MsdFit)> {
    s.check()?;
    let lags = s.lags.resolve(win.len, s.max_lag)?;
    let m = msd_for_bootstrap(src, win, &lags, s.blocks.clamp(1, win.len.max(1)))?;
    let fit = fit_msd(&m, &s.fit)?;
    Ok((m, fit))
}

/// One window of `anodiff msd`: the MSD curve and the fit's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MsdWindow {
    /// First step of the window.
    pub t_w: usize,
    /// Steps in the window.
    #[serde(rename = "T")]
    pub len: usize,
    /// Lags.
    pub lags: Vec<usize>,
    /// Time-averaged MSD at each lag.
    pub msd: Vec<f64>,
    /// The exponent fit.
    pub fit: MsdFitReport,
}

/// [`fit_window`] as `anodiff msd` reports it.
///
/// # Errors
/// As [`fit_window`].
pub fn msd_window<S: TrajectorySource + ?Sized>(
    src: &S,
    win: Window,
    s: &MsdSettings,
) -> Result<MsdWindow> {
    let (m, fit) = fit_window(src, win, s)?;
    Ok(MsdWindow {
        t_w: win.start,
        len: win.len,
        lags: m.lags,
        msd: m.msd,
        fit: fit.report(),
    })
}

/// Settings of `anodiff analyze` (its flags, with the same defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// The MSD and its fit.
    pub msd: MsdSettings,
    /// Distances `(lo, hi)` over which `MSL ~ dr^(2H)` is fitted (default: all bins).
    pub msl_range: Option<(f64, f64)>,
    /// Distance and contour-length bins (default 30; at least 3).
    pub bins: usize,
    /// Moving-variance window of the loss, in steps (default 100; shortened to the window).
    pub moving_window: usize,
    /// Gradient components sampled per window (default 10 000; 0 skips the sample).
    pub grad_samples: usize,
    /// Longest window for which the pair statistics (contour length, MSL), which need
    /// `O(T^2)` memory, are computed (default 4000).
    pub max_pair_window: usize,
    /// Seed of the path bootstraps and the gradient sample (combined with each window's start).
    pub seed: u64,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            msd: MsdSettings::default(),
            msl_range: None,
            bins: 30,
            moving_window: 100,
            grad_samples: 10_000,
            max_pair_window: 4000,
            seed: 0,
        }
    }
}

impl AnalyzeOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for fewer than 3 bins, an MSL range that is not
    /// `0 < lo < hi < inf`, or invalid MSD settings ([`MsdSettings::check`]).
    pub fn check(&self) -> Result<()> {
        self.msd.check()?;
        if self.bins < 3 {
            return Err(Error::param(
                "bins",
                format!("must be at least 3, got {}", self.bins),
            ));
        }
        if let Some((lo, hi)) = self.msl_range {
            if !(lo > 0.0 && hi > lo && hi.is_finite()) {
                return Err(Error::param(
                    "msl_range",
                    format!("needs 0 < lo < hi, got ({lo}, {hi})"),
                ));
            }
        }
        Ok(())
    }
}

/// The MSD part of a [`WindowAnalysis`]: the summary of `anodiff msd` followed by the shape
/// fits behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowMsd {
    /// Exponent, interval, two regimes and regime label.
    #[serde(flatten)]
    pub fit: MsdFitReport,
    /// The single power law in full.
    pub power_law: PowerLawFit,
    /// The broken line in log-log space.
    pub segmented: Option<SegmentedFit>,
    /// p-value of one segment against two.
    pub p_one_vs_two: Option<f64>,
    /// The smooth two-power-law alternative.
    pub two_power: Option<TwoPowerFit>,
}

/// Contour length against end-to-end distance, summarised: `dr^2 ~ ds^lambda` and
/// `D_f = 2 / lambda` with their intervals, and the crossover search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContourSummary {
    /// `lambda`.
    pub lambda: f64,
    /// Its standard error.
    pub lambda_se: f64,
    /// Its 95 % interval.
    pub lambda_ci95: [f64; 2],
    /// How the error was obtained.
    pub se_method: String,
    /// `D_f = 2 / lambda`.
    pub fractal_dim: f64,
    /// Its 95 % interval.
    pub fractal_dim_ci95: [f64; 2],
    /// Broken-line fit over the bins.
    pub crossover: Option<SegmentedFit>,
    /// Davies' screening p-value of one segment against two.
    pub p_one_vs_two: Option<f64>,
}

impl From<&Contour> for ContourSummary {
    fn from(c: &Contour) -> Self {
        ContourSummary {
            lambda: c.lambda.exponent,
            lambda_se: c.lambda.se,
            lambda_ci95: c.lambda.ci95,
            se_method: c.lambda.se_method.clone(),
            fractal_dim: c.fractal_dim,
            fractal_dim_ci95: c.fractal_dim_ci95,
            crossover: c.crossover.clone(),
            p_one_vs_two: c.p_one_vs_two,
        }
    }
}

/// The contour statistics of a window: computed, failed (a path that does not move far enough
/// for 3 bins is a finding, not an error of the whole analysis), or skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ContourOutcome {
    /// The fit.
    Fitted(ContourSummary),
    /// Why the fit could not be made.
    Failed {
        /// The error message.
        error: String,
    },
    /// The window is longer than [`AnalyzeOptions::max_pair_window`].
    Skipped {
        /// The reason.
        skipped: String,
    },
}

/// `MSL ~ dr^(2H)` of one binning, summarised (`None` where too few bins were filled).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MslSummary {
    /// The exponent `2H`.
    pub exponent_2h: Option<f64>,
    /// Its standard error.
    pub exponent_se: Option<f64>,
    /// Its 95 % interval.
    pub exponent_ci95: Option<[f64; 2]>,
    /// How the error was obtained.
    pub se_method: Option<String>,
    /// `H`.
    pub hurst: Option<f64>,
}

impl From<&Msl> for MslSummary {
    fn from(m: &Msl) -> Self {
        MslSummary {
            exponent_2h: m.fit.as_ref().map(|f| f.exponent),
            exponent_se: m.fit.as_ref().map(|f| f.se),
            exponent_ci95: m.fit.as_ref().map(|f| f.ci95),
            se_method: m.fit.as_ref().map(|f| f.se_method.clone()),
            hurst: m.hurst,
        }
    }
}

/// The MSL of a window with losses: on log and linear distance bins, or skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MslOutcome {
    /// Both binnings.
    Fitted {
        /// Log-spaced distance bins.
        log: MslSummary,
        /// Equal-width distance bins.
        linear: MslSummary,
    },
    /// The window is longer than [`AnalyzeOptions::max_pair_window`].
    Skipped {
        /// The reason.
        skipped: String,
    },
}

/// Loss fluctuations of a window, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossSummary {
    /// Mean of `|L_{t+1} - L_t|`.
    pub mean_abs_dloss: f64,
    /// Mean of the moving variance.
    pub mean_moving_var: f64,
    /// The moving-variance window used (the requested one, at most `T`, at least 2).
    pub moving_window: usize,
}

/// The gradient-component sample of a window, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradientSummary {
    /// Components drawn.
    pub n_samples: usize,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation (divisor `n - 1`).
    pub sd: f64,
}

/// Everything `anodiff analyze` computes on one window. Serialises to the command's per-window
/// JSON object; the tables behind it (MSD curve, bins, per-step loss fluctuations, the gradient
/// sample) are kept in the skipped fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowAnalysis {
    /// First step of the window.
    pub t_w: usize,
    /// Steps in the window.
    #[serde(rename = "T")]
    pub len: usize,
    /// The MSD fit.
    pub msd: WindowMsd,
    /// Contour length against end-to-end distance.
    pub contour: ContourOutcome,
    /// MSL against distance (`None` without losses).
    pub msl: Option<MslOutcome>,
    /// Loss fluctuations (`None` without losses or with a single step).
    pub loss: Option<LossSummary>,
    /// Gradient sample (`None` without recorded gradients or with no components requested).
    pub gradients: Option<GradientSummary>,
    /// The MSD curve.
    #[serde(skip)]
    pub msd_curve: Msd,
    /// The full MSD fit (local slopes included).
    #[serde(skip)]
    pub msd_fit: MsdFit,
    /// The contour statistics with their bins, when computed.
    #[serde(skip)]
    pub contour_bins: Option<Contour>,
    /// The MSL with its bins, by binning name (`"log"`, `"linear"`), when computed.
    #[serde(skip)]
    pub msl_bins: Vec<(&'static str, Msl)>,
    /// Per-step loss fluctuations, when computed.
    #[serde(skip)]
    pub loss_fluctuations: Option<LossFluctuations>,
    /// The sampled gradient components.
    #[serde(skip)]
    pub gradient_sample: Vec<f64>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Analyses one window as `anodiff analyze` does (see [`WindowAnalysis`] and the module docs).
///
/// # Errors
/// Invalid options ([`AnalyzeOptions::check`]), a window outside the trajectory, a non-finite
/// weight, loss or gradient, or an MSD curve the fit rejects. A contour fit that fails is
/// reported in [`ContourOutcome::Failed`] instead.
pub fn analyse_window<S: TrajectorySource + ?Sized>(
    src: &S,
    win: Window,
    opts: &AnalyzeOptions,
) -> Result<WindowAnalysis> {
    opts.check()?;
    let tw = win.start;
    let (m, fit) = fit_window(src, win, &opts.msd)?;
    let msd = WindowMsd {
        fit: fit.report(),
        power_law: fit.power_law.clone(),
        segmented: fit.segmented.clone(),
        p_one_vs_two: fit.p_one_vs_two,
        two_power: fit.two_power.clone(),
    };
    let losses = src.losses(win.steps())?;
    let mut contour_bins = None;
    let mut msl_bins = Vec::new();
    let (contour, msl) = if win.len <= opts.max_pair_window {
        let pd = PairDistances::compute(src, win)?;
        let boot = PathBootstrap {
            seed: opts.seed ^ tw as u64,
            ..PathBootstrap::default()
        };
        let contour = match contour_with(&pd, opts.bins, None, &boot) {
            Ok(c) => {
                let s = ContourOutcome::Fitted(ContourSummary::from(&c));
                contour_bins = Some(c);
                s
            }
            Err(e) => ContourOutcome::Failed {
                error: e.to_string(),
            },
        };
        let msl = match &losses {
            Some(l) => {
                for (name, b) in [
                    ("log", Binning::Log(opts.bins)),
                    ("linear", Binning::Linear(opts.bins)),
                ] {
                    msl_bins.push((name, msl_with(&pd, l, b, opts.msl_range, &boot)?));
                }
                Some(MslOutcome::Fitted {
                    log: MslSummary::from(&msl_bins[0].1),
                    linear: MslSummary::from(&msl_bins[1].1),
                })
            }
            None => None,
        };
        (contour, msl)
    } else {
        let skipped = format!(
            "window longer than --max-pair-window {}",
            opts.max_pair_window
        );
        let msl = losses.as_ref().map(|_| MslOutcome::Skipped {
            skipped: skipped.clone(),
        });
        (ContourOutcome::Skipped { skipped }, msl)
    };

    let mut loss_fluct = None;
    let loss = match &losses {
        Some(l) if win.len >= 2 => {
            let mw = opts.moving_window.min(win.len).max(2);
            let f = loss_fluctuations(l, mw)?;
            let s = LossSummary {
                mean_abs_dloss: mean(&f.abs_diff),
                mean_moving_var: mean(&f.moving_var),
                moving_window: mw,
            };
            loss_fluct = Some(f);
            Some(s)
        }
        _ => None,
    };

    let (gradients, sample) = if src.gradient_dim() > 0 && opts.grad_samples > 0 {
        let s = gradient_sample(src, win, opts.grad_samples, opts.seed ^ tw as u64)?;
        let n = s.len() as f64;
        let mu = s.iter().sum::<f64>() / n;
        let sd = (s.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let g = GradientSummary {
            n_samples: s.len(),
            mean: mu,
            sd,
        };
        (Some(g), s)
    } else {
        (None, Vec::new())
    };

    Ok(WindowAnalysis {
        t_w: tw,
        len: win.len,
        msd,
        contour,
        msl,
        loss,
        gradients,
        msd_curve: m,
        msd_fit: fit,
        contour_bins,
        msl_bins,
        loss_fluctuations: loss_fluct,
        gradient_sample: sample,
    })
}

/// The change of exponent across the analysed windows: `anodiff regime`'s analysis, or, when
/// the test cannot be run (too few windows, windows not evenly spaced), the window exponents
/// with `change` null and the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum WindowsRegime {
    /// The test was run.
    Tested(RegimeAnalysis),
    /// The test could not be run.
    Untested {
        /// The window exponents that were available.
        windows: Vec<WindowExponent>,
        /// Always `None`.
        change: Option<RegimeChange>,
        /// Why the test could not be run.
        error: String,
    },
}

/// Runs [`regime_change`] on the exponents of `windows` (those with a finite exponent and
/// error), all of the length of the first, at the lags of `opts.msd`.
pub fn regime_across(windows: &[WindowAnalysis], opts: &AnalyzeOptions) -> WindowsRegime {
    let ex: Vec<WindowExponent> = windows
        .iter()
        .filter(|w| w.msd.fit.alpha.is_finite() && w.msd.fit.alpha_se.is_finite())
        .map(|w| WindowExponent {
            t_w: w.t_w,
            alpha: w.msd.fit.alpha,
            alpha_se: w.msd.fit.alpha_se,
        })
        .collect();
    let len = windows.first().map_or(0, |w| w.len);
    let ropts = RegimeOptions {
        seed: opts.seed,
        ..RegimeOptions::default()
    };
    let res = opts
        .msd
        .lags
        .resolve(len, opts.msd.max_lag)
        .and_then(|l| regime_change(&ex, len, &l, &opts.msd.fit, &ropts));
    match res {
        Ok(r) => WindowsRegime::Tested(r),
        Err(e) => WindowsRegime::Untested {
            windows: ex,
            change: None,
            error: e.to_string(),
        },
    }
}

/// The trajectory an analysis was run on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrajectoryInfo {
    /// Where it was read from, as the caller names it.
    pub path: String,
    /// Steps.
    pub n_steps: usize,
    /// Weights per step.
    pub dim: usize,
    /// Recorded gradient components per step (0 if none).
    pub gradient_dim: usize,
}

impl TrajectoryInfo {
    /// The shape of `src`, under the name `path`.
    pub fn of<S: TrajectorySource + ?Sized>(src: &S, path: impl Into<String>) -> Self {
        TrajectoryInfo {
            path: path.into(),
            n_steps: src.n_steps(),
            dim: src.dim(),
            gradient_dim: src.gradient_dim(),
        }
    }
}

/// `anodiff analyze`'s summary: the trajectory, each window's analysis and the change of
/// exponent across the windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The trajectory.
    pub trajectory: TrajectoryInfo,
    /// One analysis per window.
    pub windows: Vec<WindowAnalysis>,
    /// The change of exponent across the windows ([`regime_across`]).
    pub regime: WindowsRegime,
}

impl Analysis {
    /// Assembles the summary from windows analysed with `opts`, running the regime test.
    pub fn from_windows(
        trajectory: TrajectoryInfo,
        windows: Vec<WindowAnalysis>,
        opts: &AnalyzeOptions,
    ) -> Analysis {
        let regime = regime_across(&windows, opts);
        Analysis {
            trajectory,
            windows,
            regime,
        }
    }
}
