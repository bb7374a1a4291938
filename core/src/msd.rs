//! Mean squared displacement of trajectories: time-averaged (eq. 3 of the paper), ensemble and
//! two-time.
//!
//! The time-averaged MSD of a window of `T` steps starting at `t_w` is, for lags `tau = 1..T-1`,
//!
//! ```text
//! MSD(t_w, tau) = 1/(T - tau) * sum_{t = t_w}^{t_w + T - tau - 1} ||w(t + tau) - w(t)||^2
//! ```
//!
//! over the pairs that lie inside the window (the authors' code normalises by `1/(T - tau)`,
//! not eq. 3's `1/T`). [`msd`] computes it for every lag at once with the FFT ("fast
//! correlation") algorithm of Kneller et al. (1995) and tidynamics, `O(d T log T)` per window,
//! but with two changes that make it accurate on network weights: each coordinate is centred
//! (and its least-squares trend removed, then added back exactly) over the window, and
//! everything is accumulated in f64. Weights sit at `|w| ~ 1` and move by `1e-4..1e-2` per
//! step, so the uncentred form `S1 - 2 S2` cancels catastrophically (wrong by 100 % in f32 and
//! by `1e-7` in f64); a drifting coordinate does the same to the merely centred form at large
//! `T` (3e-9 at `T = 3000`). Detrended, the result agrees with the direct `O(d T^2)` sum to
//! [`crate::prec::MSD_RTOL`].
//!
//! Each window is read once through [`TrajectorySource`] with
//! [`crate::trajectory::for_each_panel`]: whole steps (contiguous rows of a file) when the window
//! fits [`crate::trajectory::STREAM_BUDGET_BYTES`], otherwise wide coordinate panels, each
//! split into coordinate blocks in memory and processed in parallel with rayon while the next
//! panel is read. A trajectory far larger than RAM is so streamed once per window at disk speed
//! (see `benches/trajectory.rs`).
//!
//! [`msd_with_blocks`] additionally keeps the contribution of each block of time origins, which
//! the exponent fits in [`crate::exponent`] resample (block bootstrap) to get honest errors.
//!
//! # References
//! - G. R. Kneller, V. Keiner, M. Kneller, M. Schiller, "nMOLDYN", Comp. Phys. Comm. 91 (1995).
//! - P. de Buyl, "tidynamics", J. Open Source Softw. 3 (2018) 877.

use crate::error::{Error, Result};
use crate::trajectory::{for_each_panel, panel_width, TrajectorySource, STREAM_BUDGET_BYTES};
use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;
use std::ops::Range;

pub mod partial;

/// A window of consecutive steps `[start, start + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// First step of the window, `t_w`.
    pub start: usize,
    /// Number of steps `T` in the window.
    pub len: usize,
}

impl Window {
    /// The steps of the window as a range.
    pub fn steps(&self) -> Range<usize> {
        self.start..self.start + self.len
    }

    /// Checks that the window has at least `min_len` steps and lies inside a trajectory of
    /// `n_steps` steps.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `window` when it is too short or runs past the end.
    pub fn check(&self, n_steps: usize, min_len: usize) -> Result<()> {
        if self.len < min_len {
            return Err(Error::param(
                "window",
                format!("a window needs at least {min_len} steps, got {}", self.len),
            ));
        }
        if self
            .start
            .checked_add(self.len)
            .is_none_or(|end| end > n_steps)
        {
            return Err(Error::param(
                "window",
                format!(
                    "window [{}, {}) runs past the end of the trajectory ({n_steps} steps)",
                    self.start,
                    self.start.saturating_add(self.len)
                ),
            ));
        }
        Ok(())
    }
}

/// How a trajectory is cut into windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Windows {
    /// Non-overlapping consecutive windows of `len` steps from step 0, as in the authors' code;
    /// a remainder shorter than `len` is dropped. `len = None` is one window over everything.
    Consecutive {
        /// Window length `T` (`None`: the whole trajectory).
        len: Option<usize>,
    },
    /// Windows of `len` steps starting every `stride` steps (overlapping when `stride < len`).
    Strided {
        /// Window length `T`.
        len: usize,
        /// Distance between consecutive starts.
        stride: usize,
    },
    /// Windows of `len` steps starting at each listed `t_w`.
    Starts {
        /// Window length `T`.
        len: usize,
        /// The start of each window.
        starts: Vec<usize>,
    },
}

impl Windows {
    /// The windows of a trajectory of `n_steps` steps.
    ///
    /// # Errors
    /// A window length below 2 or longer than the trajectory, a zero stride, or a listed start
    /// whose window runs past the end.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::msd::{Window, Windows};
    /// let w = Windows::Strided { len: 4, stride: 3 }.resolve(10).unwrap();
    /// assert_eq!(w, vec![Window { start: 0, len: 4 }, Window { start: 3, len: 4 },
    ///                    Window { start: 6, len: 4 }]);
    /// ```
    pub fn resolve(&self, n_steps: usize) -> Result<Vec<Window>> {
        let check_len = |len: usize| -> Result<()> {
            if len < 2 {
                return Err(Error::param(
                    "window",
                    format!("a window needs at least 2 steps, got {len}"),
                ));
            }
            if len > n_steps {
                return Err(Error::param(
                    "window",
                    format!(
                        "window of {len} steps is longer than the trajectory ({n_steps} steps)"
                    ),
                ));
            }
            Ok(())
        };
        match self {
            Windows::Consecutive { len } => {
                let len = len.unwrap_or(n_steps);
                check_len(len)?;
                Ok((0..n_steps / len)
                    .map(|k| Window {
                        start: k * len,
                        len,
                    })
                    .collect())
            }
            Windows::Strided { len, stride } => {
                check_len(*len)?;
                if *stride == 0 {
                    return Err(Error::param("stride", "must be at least 1"));
                }
                Ok((0..=(n_steps - len) / stride)
                    .map(|k| Window {
                        start: k * stride,
                        len: *len,
                    })
                    .collect())
            }
            Windows::Starts { len, starts } => {
                check_len(*len)?;
                if starts.is_empty() {
                    return Err(Error::param("starts", "no window start given"));
                }
                starts
                    .iter()
                    .map(|&start| {
                        let w = Window { start, len: *len };
                        w.check(n_steps, 2)?;
                        Ok(w)
                    })
                    .collect()
            }
        }
    }
}

/// Which lags to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lags {
    /// Every lag `1..=max`.
    All,
    /// About `n` lags spaced evenly in `log(tau)` between 1 and `max`, rounded to integers and
    /// de-duplicated (so fewer than `n` at short lags).
    Log(usize),
    /// The lags `round(10^(k / n))`, `k = 0, 1, ...`, up to `max`, de-duplicated: `n` per decade
    /// (fewer in the first decade, where they round onto the same integers), on a grid that
    /// does not depend on the window, so windows of different lengths share their lags.
    PerDecade(usize),
}

impl Default for Lags {
    /// Ten log-spaced lags per decade ([`Lags::PerDecade`]`(10)`): each decade of lag gets the
    /// same number of points, so the many noisy long lags of [`Lags::All`] (a few independent
    /// displacements each) do not dominate an exponent fit, and ten per decade resolve a
    /// crossover to a fifth of a decade.
    fn default() -> Self {
        Lags::PerDecade(10)
    }
}

impl Lags {
    /// The lags for a window of `len` steps, limited to `1..=min(len - 1, max_lag)`.
    ///
    /// # Errors
    /// A window shorter than 2, `max_lag = Some(0)`, `Log(n)` with `n < 2`, or `PerDecade(0)`.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::msd::Lags;
    /// assert_eq!(Lags::All.resolve(5, None).unwrap(), vec![1, 2, 3, 4]);
    /// assert_eq!(Lags::Log(3).resolve(101, None).unwrap(), vec![1, 10, 100]);
    /// assert_eq!(Lags::PerDecade(2).resolve(1000, Some(400)).unwrap(), vec![1, 3, 10, 32, 100, 316]);
    /// ```
    pub fn resolve(&self, len: usize, max_lag: Option<usize>) -> Result<Vec<usize>> {
        if len < 2 {
            return Err(Error::param(
                "window",
                format!("a window needs at least 2 steps, got {len}"),
            ));
        }
        if max_lag == Some(0) {
            return Err(Error::param("max-lag", "must be at least 1"));
        }
        let max = (len - 1).min(max_lag.unwrap_or(usize::MAX));
        match *self {
            Lags::All => Ok((1..=max).collect()),
            Lags::Log(n) => {
                if n < 2 {
                    return Err(Error::param(
                        "lags",
                        format!("log spacing needs at least 2 lags, got {n}"),
                    ));
                }
                let lmax = (max as f64).ln();
                let mut v: Vec<usize> = (0..n)
                    .map(|i| {
                        let t = (lmax * i as f64 / (n - 1) as f64).exp().round() as usize;
                        t.clamp(1, max)
                    })
                    .collect();
                v.dedup();
                Ok(v)
            }
            Lags::PerDecade(n) => {
                if n == 0 {
                    return Err(Error::param("lags", "needs at least 1 lag per decade"));
                }
                let mut v: Vec<usize> = (0..)
                    .map(|k| 10f64.powf(k as f64 / n as f64).round() as usize)
                    .take_while(|&t| t <= max)
                    .collect();
                v.dedup();
                Ok(v)
            }
        }
    }
}

/// The per-origin-block pieces of a time-averaged MSD, for block bootstraps over time origins.
///
/// The window's origins `t = 0..T-1` are split into `n_blocks` contiguous blocks; for block `j`
/// and lag `lags[i]`, `sums[j][i]` is `sum ||w(t + tau) - w(t)||^2` over the origins `t` of the
/// block with `t + tau < T`, and `counts[j][i]` the number of those origins. Summing over blocks
/// and dividing gives the MSD.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginBlocks {
    /// `sums[block][lag index]`.
    pub sums: Vec<Vec<f64>>,
    /// `counts[block][lag index]`.
    pub counts: Vec<Vec<usize>>,
}

impl OriginBlocks {
    /// Number of origin blocks.
    pub fn n_blocks(&self) -> usize {
        self.sums.len()
    }

    /// The MSD of a resample that takes block `picks[k]` for each `k` (indices may repeat):
    /// `sum_k sums[picks[k]] / sum_k counts[picks[k]]` per lag, `NaN` where no origin was picked.
    pub fn resample(&self, picks: &[usize]) -> Vec<f64> {
        let n_lags = self.sums.first().map_or(0, Vec::len);
        (0..n_lags)
            .map(|i| {
                let (s, c) = picks.iter().fold((0.0, 0usize), |(s, c), &j| {
                    (s + self.sums[j][i], c + self.counts[j][i])
                });
                if c == 0 {
                    f64::NAN
                } else {
                    s / c as f64
                }
            })
            .collect()
    }
}

/// The time-averaged MSD of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Msd {
    /// The window.
    pub window: Window,
    /// Lags `tau` (steps), increasing.
    pub lags: Vec<usize>,
    /// `MSD(t_w, tau)` for each lag: squared Euclidean distance summed over all coordinates.
    pub msd: Vec<f64>,
    /// Number of pairs `T - tau` averaged at each lag.
    pub pairs: Vec<usize>,
    /// Per-origin-block pieces, when computed by [`msd_with_blocks`].
    pub blocks: Option<OriginBlocks>,
    /// Effective number of independent, equally noisy coordinates,
    /// `(sum_c s_c^2)^2 / sum_c s_c^4` with `s_c^2` the mean squared one-step increment of
    /// coordinate `c` (the participation ratio; `d` for isotropic motion, 1 when one coordinate
    /// dominates). The variance of a log-MSD estimate scales as `1 / d_eff`; [`crate::exponent::fit_msd`]
    /// uses it to size its model-based standard error.
    pub d_eff: f64,
    /// `coord_groups[g][i]`: the MSD at `lags[i]` of the `g`-th of up to [`MAX_COORD_GROUPS`]
    /// contiguous groups of coordinates (summed over the group's coordinates, so the groups add
    /// up to `msd`), for bootstraps over coordinates. Kept by [`msd_with_blocks`] when the
    /// trajectory has at least [`MIN_COORD_GROUPS`] coordinates.
    pub coord_groups: Option<Vec<Vec<f64>>>,
}

/// Fewest coordinates for which [`msd_with_blocks`] keeps coordinate groups.
pub const MIN_COORD_GROUPS: usize = 8;
/// Most coordinate groups kept by [`msd_with_blocks`].
pub const MAX_COORD_GROUPS: usize = 32;

/// Computes the time-averaged MSD of `window` at `lags` (each in `1..window.len`).
///
/// # Errors
/// A window outside the trajectory or shorter than 2 steps, an empty lag list or a lag outside
/// `1..T`, a non-finite weight (the error names the step and coordinate), or a read error.
///
/// # Examples
/// ```
/// use anodiff_core::msd::{msd, Window};
/// # use anodiff_core::trajectory::TrajectorySource;
/// # struct Line(Vec<f32>);
/// # impl TrajectorySource for Line {
/// #     fn n_steps(&self) -> usize { self.0.len() }
/// #     fn dim(&self) -> usize { 1 }
/// #     fn read_weights(&self, s: std::ops::Range<usize>, _c: std::ops::Range<usize>,
/// #                     out: &mut [f32]) -> anodiff_core::Result<()> {
/// #         out.copy_from_slice(&self.0[s]); Ok(()) }
/// #     fn losses(&self, _s: std::ops::Range<usize>) -> anodiff_core::Result<Option<Vec<f64>>> {
/// #         Ok(None) }
/// # }
/// // Ballistic motion w(t) = 3 t in one dimension: MSD(tau) = 9 tau^2.
/// let traj = Line((0..50).map(|t| 3.0 * t as f32).collect());
/// let m = msd(&traj, Window { start: 0, len: 50 }, &[1, 7, 49]).unwrap();
/// for (&tau, &v) in m.lags.iter().zip(&m.msd) {
///     assert!((v - 9.0 * (tau * tau) as f64).abs() < 1e-9 * v);
/// }
/// ```
pub fn msd<S: TrajectorySource + ?Sized>(src: &S, window: Window, lags: &[usize]) -> Result<Msd> {
    compute(src, window, lags, 1, false, 1, None)
}

/// As [`msd`], also keeping the contribution of `n_blocks` contiguous blocks of time origins
/// (see [`OriginBlocks`]) for block-bootstrap errors, and with at least [`MIN_COORD_GROUPS`]
/// coordinates the MSD of contiguous coordinate groups ([`Msd::coord_groups`]) for bootstraps
/// over coordinates. Reads the window once, like [`msd`], and costs about `n_blocks` times as
/// much in FFTs (one forward FFT per coordinate and block).
///
/// # Errors
/// As [`msd`], plus `n_blocks` of 0 or more than the window length.
pub fn msd_with_blocks<S: TrajectorySource + ?Sized>(
    src: &S,
    window: Window,
    lags: &[usize],
    n_blocks: usize,
) -> Result<Msd> {
    if n_blocks == 0 || n_blocks > window.len {
        return Err(Error::param(
            "n_blocks",
            format!(
                "must be in 1..={} (the window length), got {n_blocks}",
                window.len
            ),
        ));
    }
    let dim = src.dim();
    let n_groups = if dim >= MIN_COORD_GROUPS {
        dim.min(MAX_COORD_GROUPS)
    } else {
        1
    };
    compute(src, window, lags, n_blocks, true, n_groups, None)
}

/// The MSD with what [`crate::exponent::fit_msd`]'s bootstrap will resample, and nothing
/// more: with at least [`MIN_COORD_GROUPS`] coordinates the coordinate groups
/// ([`Msd::coord_groups`], no origin blocks: the fit resamples groups then, and origin blocks
/// would cost `n_blocks` forward FFTs per coordinate for nothing), otherwise `n_blocks` blocks
/// of time origins ([`Msd::blocks`]). The choice is made up front from the dimension.
///
/// # Errors
/// As [`msd_with_blocks`].
pub fn msd_for_bootstrap<S: TrajectorySource + ?Sized>(
    src: &S,
    window: Window,
    lags: &[usize],
    n_blocks: usize,
) -> Result<Msd> {
    if src.dim() >= MIN_COORD_GROUPS {
        if n_blocks == 0 || n_blocks > window.len {
            return Err(Error::param(
                "n_blocks",
                format!(
                    "must be in 1..={} (the window length), got {n_blocks}",
                    window.len
                ),
            ));
        }
        let n_groups = src.dim().min(MAX_COORD_GROUPS);
        compute(src, window, lags, 1, false, n_groups, None)
    } else {
        msd_with_blocks(src, window, lags, n_blocks)
    }
}

/// FFT length for a zero-padded correlation of `min` points: the next power of two, unless a
/// `2^a 3^b 5^c` length is more than 20 % shorter (rustfft is fastest on powers of two).
fn fft_len(min: usize) -> usize {
    let p2 = min.max(1).next_power_of_two();
    let smooth = smooth_len(min);
    if (smooth as f64) < 0.8 * p2 as f64 {
        smooth
    } else {
        p2
    }
}

/// Smallest `n >= min` of the form `2^a 3^b 5^c`.
fn smooth_len(min: usize) -> usize {
    let mut n = min.max(1);
    loop {
        let mut m = n;
        for p in [2, 3, 5] {
            while m.is_multiple_of(p) {
                m /= p;
            }
        }
        if m == 1 {
            return n;
        }
        n += 1;
    }
}

/// Coordinates per parallel task: about 1 MiB of f32 per block read.
fn coord_block(len: usize, dim: usize) -> usize {
    ((1 << 18) / len.max(1)).clamp(8, 4096).min(dim.max(1))
}

/// Boundaries of `n` contiguous blocks of `0..len`.
fn block_bounds(len: usize, n: usize) -> Vec<usize> {
    (0..=n).map(|j| j * len / n).collect()
}

/// Checks that lags are in `1..len`, non-empty.
fn check_lags(lags: &[usize], len: usize) -> Result<()> {
    if lags.is_empty() {
        return Err(Error::param("lags", "no lag requested"));
    }
    if let Some(&l) = lags.iter().find(|&&l| l == 0 || l >= len) {
        return Err(Error::param(
            "lags",
            format!(
                "lag {l} is outside 1..{} for a window of {len} steps",
                len - 1
            ),
        ));
    }
    Ok(())
}

/// Returns an error naming the first non-finite weight in a block read at `steps` x `coords`.
pub(crate) fn check_finite(block: &[f32], steps: Range<usize>, coords: Range<usize>) -> Result<()> {
    if let Some(i) = block.iter().position(|v| !v.is_finite()) {
        let nc = coords.len();
        return Err(Error::InvalidData(format!(
            "weight at step {}, coordinate {} is {} (weights must be finite)",
            steps.start + i / nc,
            coords.start + i % nc,
            block[i]
        )));
    }
    Ok(())
}

/// Per-task accumulators of the FFT kernel.
struct Acc {
    /// `spec[j][k] = sum_c conj(Y_{c,j}[k]) X_c[k]` (for one block: `|X_c[k]|^2`).
    spec: Vec<Vec<Complex<f64>>>,
    /// `q[t] = sum_c y_c(t)^2` of the detrended coordinates.
    q: Vec<f64>,
    /// `z[t] = sum_c b_c y_c(t)`, for the trend's cross term.
    z: Vec<f64>,
    /// `sum_c b_c^2`.
    bb: f64,
    /// `sum_c s_c^2` and `sum_c s_c^4`, `s_c^2` the mean squared one-step increment.
    s2: f64,
    s4: f64,
}

impl Acc {
    fn new(n: usize, nf: usize, n_blocks: usize) -> Self {
        Acc {
            spec: vec![vec![Complex::new(0.0, 0.0); nf]; n_blocks],
            q: vec![0.0; n],
            z: vec![0.0; n],
            bb: 0.0,
            s2: 0.0,
            s4: 0.0,
        }
    }

    fn add(mut self, b: &Acc) -> Self {
        for (sa, sb) in self.spec.iter_mut().zip(&b.spec) {
            for (x, y) in sa.iter_mut().zip(sb) {
                *x += y;
            }
        }
        for (x, y) in self.q.iter_mut().zip(&b.q) {
            *x += y;
        }
        for (x, y) in self.z.iter_mut().zip(&b.z) {
            *x += y;
        }
        self.bb += b.bb;
        self.s2 += b.s2;
        self.s4 += b.s4;
        self
    }

    /// The same sums for a single block of origins: the block spectra add up to `|X_c|^2`
    /// (`sum_j conj(Y_j) X = conj(X) X`, by linearity).
    fn one_block(&self) -> Acc {
        let mut spec = self.spec[0].clone();
        for s in &self.spec[1..] {
            for (a, b) in spec.iter_mut().zip(s) {
                *a += b;
            }
        }
        Acc {
            spec: vec![spec],
            q: self.q.clone(),
            z: self.z.clone(),
            bb: self.bb,
            s2: self.s2,
            s4: self.s4,
        }
    }
}

/// FFT plans and window geometry shared by the tasks of one MSD computation.
struct Kernel {
    n: usize,
    l: usize,
    nf: usize,
    fwd: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    inv: std::sync::Arc<dyn realfft::ComplexToReal<f64>>,
    tbar: f64,
    stt: f64,
}

impl Kernel {
    fn new(n: usize) -> Self {
        let l = fft_len(2 * n - 1);
        let mut planner = RealFftPlanner::<f64>::new();
        let tbar = (n as f64 - 1.0) / 2.0;
        Kernel {
            n,
            l,
            nf: l / 2 + 1,
            fwd: planner.plan_fft_forward(l),
            inv: planner.plan_fft_inverse(l),
            tbar,
            stt: (0..n).map(|t| (t as f64 - tbar).powi(2)).sum(),
        }
    }

    /// Accumulates the coordinates of `raw` (`n` steps x `nc` coordinates, row-major) into `acc`.
    fn accumulate(&self, raw: &[f32], nc: usize, bounds: &[usize], acc: &mut Acc) -> Result<()> {
        let (n, nf) = (self.n, self.nf);
        let n_blocks = bounds.len() - 1;
        let mut x = vec![0.0f64; n];
        let mut buf = self.fwd.make_input_vec();
        let mut scratch = self.fwd.make_scratch_vec();
        let mut ys = vec![vec![Complex::new(0.0, 0.0); nf]; n_blocks];
        for c in 0..nc {
            for (t, xt) in x.iter_mut().enumerate() {
                *xt = f64::from(raw[t * nc + c]);
            }
            // Remove each coordinate's mean and least-squares trend over the window; the FFT
            // then works on the residual y, whose rounding error is relative to |y|^2 instead of
            // |w|^2 (offset) or (v T)^2 (drift). The trend's exact contribution is added back in
            // `finish` from `z` and `bb`.
            let sc2 = x.windows(2).map(|p| (p[1] - p[0]).powi(2)).sum::<f64>() / (n - 1) as f64;
            acc.s2 += sc2;
            acc.s4 += sc2 * sc2;
            let mean = x.iter().sum::<f64>() / n as f64;
            let slope = x
                .iter()
                .enumerate()
                .map(|(t, &v)| (t as f64 - self.tbar) * (v - mean))
                .sum::<f64>()
                / self.stt;
            acc.bb += slope * slope;
            for (t, xt) in x.iter_mut().enumerate() {
                *xt -= mean + slope * (t as f64 - self.tbar);
                acc.q[t] += *xt * *xt;
                acc.z[t] += slope * *xt;
            }
            for (j, y) in ys.iter_mut().enumerate() {
                buf.iter_mut().for_each(|b| *b = 0.0);
                buf[bounds[j]..bounds[j + 1]].copy_from_slice(&x[bounds[j]..bounds[j + 1]]);
                self.fwd
                    .process_with_scratch(&mut buf, y, &mut scratch)
                    .map_err(|e| Error::InvalidData(format!("FFT failed: {e}")))?;
            }
            if n_blocks == 1 {
                for (s, y) in acc.spec[0].iter_mut().zip(&ys[0]) {
                    s.re += y.norm_sqr();
                }
            } else {
                // The full transform is the sum of the blocks' (linearity).
                let mut xf = vec![Complex::new(0.0, 0.0); nf];
                for y in &ys {
                    for (a, b) in xf.iter_mut().zip(y) {
                        *a += b;
                    }
                }
                for (s, y) in acc.spec.iter_mut().zip(&ys) {
                    for ((sk, yk), xk) in s.iter_mut().zip(y).zip(&xf) {
                        *sk += yk.conj() * xk;
                    }
                }
            }
        }
        Ok(())
    }

    /// The per-block sums and counts, and the MSD, at `lags` from the accumulated sums.
    fn finish(
        &self,
        acc: Acc,
        lags: &[usize],
        bounds: &[usize],
    ) -> Result<(Vec<f64>, OriginBlocks)> {
        let (n, nf, l) = (self.n, self.nf, self.l);
        let n_blocks = bounds.len() - 1;
        // Cross-correlations C_j(m) = sum_{t in block j} sum_c x_c(t) x_c(t + m), by inverse FFT.
        let mut corr = Vec::with_capacity(n_blocks);
        let mut out = self.inv.make_output_vec();
        let mut scratch = self.inv.make_scratch_vec();
        for mut s in acc.spec {
            // A real sequence's spectrum has real DC and Nyquist terms; drop the rounding residue.
            s[0].im = 0.0;
            s[nf - 1].im = 0.0;
            self.inv
                .process_with_scratch(&mut s, &mut out, &mut scratch)
                .map_err(|e| Error::InvalidData(format!("inverse FFT failed: {e}")))?;
            corr.push(out[..n].iter().map(|v| v / l as f64).collect::<Vec<f64>>());
        }
        let mut prefix = vec![0.0f64; n + 1];
        let mut zpre = vec![0.0f64; n + 1];
        for t in 0..n {
            prefix[t + 1] = prefix[t] + acc.q[t];
            zpre[t + 1] = zpre[t] + acc.z[t];
        }
        let qsum = |a: usize, b: usize| prefix[b] - prefix[a];
        let zsum = |a: usize, b: usize| zpre[b] - zpre[a];
        let mut sums = vec![vec![0.0; lags.len()]; n_blocks];
        let mut counts = vec![vec![0usize; lags.len()]; n_blocks];
        for j in 0..n_blocks {
            let (a, b) = (bounds[j], bounds[j + 1]);
            for (i, &m) in lags.iter().enumerate() {
                let e = b.min(n - m);
                if e <= a {
                    continue;
                }
                // With x = y + b t: |dx|^2 = |dy|^2 + 2 b m dy + b^2 m^2, summed over the origins.
                let mf = m as f64;
                sums[j][i] = qsum(a, e) + qsum(a + m, e + m) - 2.0 * corr[j][m]
                    + 2.0 * mf * (zsum(a + m, e + m) - zsum(a, e))
                    + (e - a) as f64 * mf * mf * acc.bb;
                counts[j][i] = e - a;
            }
        }
        let msd = lags
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                let s: f64 = sums.iter().map(|s| s[i]).sum();
                // Rounding can leave a tiny negative value for a zero displacement.
                (s / (n - m) as f64).max(0.0)
            })
            .collect();
        Ok((msd, OriginBlocks { sums, counts }))
    }
}

/// The MSD of `window`, with `n_blocks` blocks of origins and, when `n_groups > 1`, the MSD of
/// each of `n_groups` contiguous coordinate groups, all from one pass over the window: panels of
/// `panel` coordinates are read with [`for_each_panel`] (whole steps when the window fits the
/// budget) and split into coordinate blocks in memory, processed in parallel.
fn compute<S: TrajectorySource + ?Sized>(
    src: &S,
    window: Window,
    lags: &[usize],
    n_blocks: usize,
    keep_blocks: bool,
    n_groups: usize,
    panel: Option<usize>,
) -> Result<Msd> {
    let n = window.len;
    window.check(src.n_steps(), 2)?;
    check_lags(lags, n)?;
    let dim = src.dim();
    if dim == 0 {
        return Err(Error::InvalidData("trajectory has 0 coordinates".into()));
    }
    let kernel = Kernel::new(n);
    let bounds = block_bounds(n, n_blocks);
    let cb = coord_block(n, dim);
    let steps = window.steps();
    let n_groups = n_groups.clamp(1, dim);
    let group_bounds = block_bounds(dim, n_groups);
    let mut groups: Vec<Option<Acc>> = (0..n_groups).map(|_| None).collect();
    let width = panel.unwrap_or_else(|| panel_width(n, dim, STREAM_BUDGET_BYTES));
    for_each_panel(src, steps.clone(), width, |pc, values| {
        let pw = pc.len();
        // The panel's coordinates cut into tasks of at most `cb` that do not straddle a group
        // boundary, all processed in one parallel pass (one pass per group would leave cores
        // idle when the groups are small).
        let mut tasks: Vec<(usize, Range<usize>)> = Vec::new();
        for g in 0..n_groups {
            let (lo, hi) = (
                group_bounds[g].max(pc.start),
                group_bounds[g + 1].min(pc.end),
            );
            tasks.extend((lo..hi).step_by(cb).map(|c| (g, c..(c + cb).min(hi))));
        }
        let fresh = || -> Vec<Option<Acc>> { (0..n_groups).map(|_| None).collect() };
        let merge = |mut a: Vec<Option<Acc>>, b: Vec<Option<Acc>>| -> Vec<Option<Acc>> {
            for (x, y) in a.iter_mut().zip(b) {
                if let Some(y) = y {
                    *x = Some(match x.take() {
                        Some(prev) => prev.add(&y),
                        None => y,
                    });
                }
            }
            a
        };
        let accs = tasks
            .into_par_iter()
            .try_fold(
                || (fresh(), Vec::<f32>::new()),
                |(mut accs, mut raw), (g, coords)| -> Result<(Vec<Option<Acc>>, Vec<f32>)> {
                    let nc = coords.len();
                    let off = coords.start - pc.start;
                    raw.resize(n * nc, 0.0);
                    for (dst, row) in raw.chunks_exact_mut(nc).zip(values.chunks_exact(pw)) {
                        dst.copy_from_slice(&row[off..off + nc]);
                    }
                    check_finite(&raw, steps.clone(), coords)?;
                    let acc = accs[g].get_or_insert_with(|| Acc::new(n, kernel.nf, n_blocks));
                    kernel.accumulate(&raw, nc, &bounds, acc)?;
                    Ok((accs, raw))
                },
            )
            .map(|r| r.map(|(accs, _)| accs))
            .try_reduce(fresh, |a, b| Ok(merge(a, b)))?;
        let prev = std::mem::replace(&mut groups, fresh());
        groups = merge(prev, accs);
        Ok(())
    })?;
    let groups: Vec<Acc> = groups.into_iter().flatten().collect();
    let coord_groups = if groups.len() > 1 {
        let one = block_bounds(n, 1);
        Some(
            groups
                .iter()
                .map(|g| kernel.finish(g.one_block(), lags, &one).map(|r| r.0))
                .collect::<Result<Vec<_>>>()?,
        )
    } else {
        None
    };
    let acc = groups
        .into_iter()
        .reduce(|a, b| a.add(&b))
        .ok_or_else(|| Error::InvalidData("no coordinate was read".into()))?;
    let d_eff = if acc.s4 > 0.0 {
        acc.s2 * acc.s2 / acc.s4
    } else {
        dim as f64
    };
    let (msd, blocks) = kernel.finish(acc, lags, &bounds)?;
    Ok(Msd {
        window,
        lags: lags.to_vec(),
        msd,
        pairs: lags.iter().map(|&m| n - m).collect(),
        blocks: keep_blocks.then_some(blocks),
        d_eff,
        coord_groups,
    })
}

/// Squared displacements from a fixed origin, `||w(t_w + tau) - w(t_w)||^2` for each lag, read
/// step by step (each a contiguous row of a file).
///
/// # Errors
/// A lag of 0 or one that runs past the end, a non-finite weight, or a read error.
pub fn displacement_from<S: TrajectorySource + ?Sized>(
    src: &S,
    t_w: usize,
    lags: &[usize],
) -> Result<Vec<f64>> {
    let n_steps = src.n_steps();
    if lags.is_empty() {
        return Err(Error::param("lags", "no lag requested"));
    }
    if let Some(&l) = lags
        .iter()
        .find(|&&l| l == 0 || t_w.checked_add(l).is_none_or(|e| e >= n_steps))
    {
        return Err(Error::param(
            "lags",
            format!("lag {l} from t_w = {t_w} is 0 or runs past the end ({n_steps} steps)"),
        ));
    }
    let dim = src.dim();
    let mut origin = vec![0.0f32; dim];
    let mut row = vec![0.0f32; dim];
    src.read_weights(t_w..t_w + 1, 0..dim, &mut origin)?;
    check_finite(&origin, t_w..t_w + 1, 0..dim)?;
    lags.iter()
        .map(|&l| {
            let t = t_w + l;
            src.read_weights(t..t + 1, 0..dim, &mut row)?;
            check_finite(&row, t..t + 1, 0..dim)?;
            Ok(row
                .iter()
                .zip(&origin)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>())
        })
        .collect()
}

/// The two-time mean squared displacement of aging studies (Baity-Jesi et al. 2018),
/// `Delta(t_w, t_w + t) = 1/(R d) sum_runs sum_i (w_i(t_w + t) - w_i(t_w))^2`, averaged over the
/// `d` weights and the `R` runs (not over time origins), for each `t` in `ts`.
///
/// # Errors
/// No run, runs of different dimension, or as [`displacement_from`].
pub fn two_time<S: TrajectorySource + ?Sized>(
    runs: &[&S],
    t_w: usize,
    ts: &[usize],
) -> Result<Vec<f64>> {
    let e = ensemble_from(runs, t_w, ts)?;
    let d = runs[0].dim() as f64;
    Ok(e.into_iter().map(|v| v / d).collect())
}

fn ensemble_from<S: TrajectorySource + ?Sized>(
    runs: &[&S],
    t_w: usize,
    lags: &[usize],
) -> Result<Vec<f64>> {
    let first = runs
        .first()
        .ok_or_else(|| Error::InvalidData("no run given".into()))?;
    if let Some((i, r)) = runs
        .iter()
        .enumerate()
        .find(|(_, r)| r.dim() != first.dim())
    {
        return Err(Error::Shape(format!(
            "run {i} has {} coordinates, run 0 has {}",
            r.dim(),
            first.dim()
        )));
    }
    let mut acc = vec![0.0; lags.len()];
    for r in runs {
        for (a, v) in acc.iter_mut().zip(displacement_from(*r, t_w, lags)?) {
            *a += v;
        }
    }
    let nr = runs.len() as f64;
    Ok(acc.into_iter().map(|v| v / nr).collect())
}

/// MSDs averaged over an ensemble of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleMsd {
    /// Lags.
    pub lags: Vec<usize>,
    /// Ensemble-averaged MSD from the fixed origin `t_w`:
    /// `<||w(t_w + tau) - w(t_w)||^2>` over runs.
    pub eamsd: Vec<f64>,
    /// Mean over runs of the time-averaged MSD of the window.
    pub mean_tamsd: Vec<f64>,
    /// Ergodicity-breaking parameter `EB = Var(TAMSD) / <TAMSD>^2` across runs (Metzler et al.
    /// 2014); 0 for a single run.
    pub eb: Vec<f64>,
}

/// Ensemble-averaged and time-averaged MSD of `window` over several runs of the same model.
///
/// # Errors
/// No run, runs of different dimension, or any error of [`msd`] on one run.
pub fn ensemble_msd<S: TrajectorySource + ?Sized>(
    runs: &[&S],
    window: Window,
    lags: &[usize],
) -> Result<EnsembleMsd> {
    let eamsd = ensemble_from(runs, window.start, lags)?;
    let tamsds = runs
        .iter()
        .map(|r| msd(*r, window, lags).map(|m| m.msd))
        .collect::<Result<Vec<_>>>()?;
    let nr = tamsds.len() as f64;
    let mean_tamsd: Vec<f64> = (0..lags.len())
        .map(|i| tamsds.iter().map(|m| m[i]).sum::<f64>() / nr)
        .collect();
    let eb = (0..lags.len())
        .map(|i| {
            let mu = mean_tamsd[i];
            let var = tamsds.iter().map(|m| (m[i] - mu).powi(2)).sum::<f64>() / nr;
            if mu > 0.0 {
                var / (mu * mu)
            } else {
                0.0
            }
        })
        .collect();
    Ok(EnsembleMsd {
        lags: lags.to_vec(),
        eamsd,
        mean_tamsd,
        eb,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny in-memory trajectory for unit tests (row-major steps x dim).
    pub(crate) struct Mem {
        pub w: Vec<f32>,
        pub dim: usize,
        pub loss: Option<Vec<f64>>,
    }

    impl TrajectorySource for Mem {
        fn n_steps(&self) -> usize {
            self.w.len() / self.dim
        }
        fn dim(&self) -> usize {
            self.dim
        }
        fn read_weights(&self, s: Range<usize>, c: Range<usize>, out: &mut [f32]) -> Result<()> {
            if s.end > self.n_steps() || c.end > self.dim || out.len() != s.len() * c.len() {
                return Err(Error::Shape("bad read".into()));
            }
            for (i, t) in s.enumerate() {
                out[i * c.len()..(i + 1) * c.len()]
                    .copy_from_slice(&self.w[t * self.dim + c.start..t * self.dim + c.end]);
            }
            Ok(())
        }
        fn losses(&self, s: Range<usize>) -> Result<Option<Vec<f64>>> {
            Ok(self.loss.as_ref().map(|l| l[s].to_vec()))
        }
    }

    fn brute(m: &Mem, win: Window, tau: usize) -> f64 {
        let d = m.dim;
        let mut s = 0.0;
        for t in win.start..win.start + win.len - tau {
            for c in 0..d {
                s += (f64::from(m.w[(t + tau) * d + c]) - f64::from(m.w[t * d + c])).powi(2);
            }
        }
        s / (win.len - tau) as f64
    }

    fn walk(n: usize, d: usize, seed: u64) -> Mem {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut w = vec![0.0f32; n * d];
        for t in 1..n {
            for c in 0..d {
                w[t * d + c] = w[(t - 1) * d + c] + rng.random_range(-1.0f32..1.0);
            }
        }
        Mem {
            w,
            dim: d,
            loss: None,
        }
    }

    #[test]
    fn blocks_sum_to_the_plain_msd() {
        let m = walk(97, 3, 1);
        let win = Window { start: 5, len: 90 };
        let lags: Vec<usize> = (1..90).collect();
        let a = msd(&m, win, &lags).unwrap();
        let b = msd_with_blocks(&m, win, &lags, 7).unwrap();
        for (i, &tau) in lags.iter().enumerate() {
            let r = brute(&m, win, tau);
            assert!((a.msd[i] - r).abs() <= 1e-10 * r, "lag {tau}");
            assert!((b.msd[i] - r).abs() <= 1e-10 * r, "blocks, lag {tau}");
        }
        // Resampling every block once reproduces the MSD.
        let bl = b.blocks.unwrap();
        let all: Vec<usize> = (0..7).collect();
        for (x, y) in bl.resample(&all).iter().zip(&b.msd) {
            assert!((x - y).abs() <= 1e-10 * y);
        }
    }

    #[test]
    fn narrow_panels_match_brute_force_and_groups_add_up() {
        // Panels of 3 coordinates over 10 coordinates in 4 groups: panel, group and task
        // boundaries all fall in different places, so every splitting path is exercised.
        let m = walk(61, 10, 7);
        let win = Window { start: 3, len: 55 };
        let lags: Vec<usize> = vec![1, 2, 9, 30, 54];
        let r = compute(&m, win, &lags, 5, true, 4, Some(3)).unwrap();
        let whole = compute(&m, win, &lags, 5, true, 4, None).unwrap();
        let groups = r.coord_groups.as_ref().unwrap();
        assert_eq!(groups.len(), 4);
        for (i, &tau) in lags.iter().enumerate() {
            let want = brute(&m, win, tau);
            assert!((r.msd[i] - want).abs() <= 1e-10 * want, "lag {tau}");
            assert!((whole.msd[i] - want).abs() <= 1e-10 * want, "lag {tau}");
            let g: f64 = groups.iter().map(|g| g[i]).sum();
            assert!((g - want).abs() <= 1e-10 * want, "groups, lag {tau}");
        }
        // Group 1 holds coordinates 2..5 (block_bounds(10, 4) = [0, 2, 5, 7, 10]).
        let sub = Mem {
            w: (0..61)
                .flat_map(|t| m.w[t * 10 + 2..t * 10 + 5].to_vec())
                .collect(),
            dim: 3,
            loss: None,
        };
        for (i, &tau) in lags.iter().enumerate() {
            let want = brute(&sub, win, tau);
            assert!(
                (groups[1][i] - want).abs() <= 1e-10 * want,
                "group 1, lag {tau}"
            );
        }
    }

    #[test]
    fn windows_and_lags() {
        assert_eq!(
            Windows::Consecutive { len: Some(4) }
                .resolve(10)
                .unwrap()
                .len(),
            2
        );
        assert!(Windows::Consecutive { len: Some(11) }.resolve(10).is_err());
        assert!(Windows::Strided { len: 3, stride: 0 }.resolve(10).is_err());
        assert!(Windows::Starts {
            len: 5,
            starts: vec![6]
        }
        .resolve(10)
        .is_err());
        assert_eq!(Lags::All.resolve(10, Some(3)).unwrap(), vec![1, 2, 3]);
        assert!(Lags::Log(1).resolve(10, None).is_err());
        assert_eq!(fft_len(1999), 2048);
        assert_eq!(fft_len(2100), 2160);
        assert_eq!(smooth_len(1999), 2000);
        assert_eq!(fft_len(7), 8);
    }

    #[test]
    fn non_finite_weight_names_the_step() {
        let mut m = walk(20, 2, 3);
        m.w[13 * 2 + 1] = f32::NAN;
        let e = msd(&m, Window { start: 0, len: 20 }, &[1]).unwrap_err();
        assert!(e.to_string().contains("step 13, coordinate 1"), "{e}");
        let e = displacement_from(&m, 0, &[13]).unwrap_err();
        assert!(e.to_string().contains("step 13"), "{e}");
    }

    #[test]
    fn two_time_and_ensemble() {
        let a = walk(30, 2, 4);
        let b = walk(30, 2, 5);
        let runs = [&a, &b];
        let d = two_time(&runs, 3, &[1, 5]).unwrap();
        let direct = |m: &Mem, t: usize| -> f64 {
            (0..2)
                .map(|c| (f64::from(m.w[(3 + t) * 2 + c]) - f64::from(m.w[3 * 2 + c])).powi(2))
                .sum()
        };
        let want = (direct(&a, 5) + direct(&b, 5)) / 4.0;
        assert!((d[1] - want).abs() < 1e-12 * want);
        let e = ensemble_msd(&runs, Window { start: 0, len: 30 }, &[1, 4]).unwrap();
        let want = (brute(&a, Window { start: 0, len: 30 }, 4)
            + brute(&b, Window { start: 0, len: 30 }, 4))
            / 2.0;
        assert!((e.mean_tamsd[1] - want).abs() < 1e-10 * want);
        assert!(e.eb.iter().all(|v| *v >= 0.0));
    }
}
