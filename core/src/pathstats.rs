//! The other trajectory statistics of the paper, per window: mean squared loss difference
//! against distance (MSL, eq. 5), contour length against end-to-end distance and the path's
//! fractal dimension, loss fluctuations, and seeded samples of gradient components.
//!
//! All pairwise statistics of a window need only the squared distances
//! `D_ij = ||w_j - w_i||^2` of its `T` points, which [`PairDistances::compute`] gets from the
//! window's Gram matrix (centred, f64, accumulated over coordinate blocks in parallel), at
//! `O(d T^2)` cost and `O(T^2)` memory instead of `O(d T^2)` memory.
//!
//! Differences from the authors' code (see the notes on their repository): the contour length
//! of a pair `(i, j)` is the path length from `w_i` to `w_j` (theirs also counts the step into
//! `w_i`); MSL is the mean of squared loss differences per distance bin (theirs squares a mean
//! over pairs of exactly equal distance, effectively one pair per bin).

use crate::error::{Error, Result};
use crate::exponent::{davies_test, Segmented, SegmentedFit};
use crate::msd::{check_finite, Window};
use crate::regress::LineFit;
use crate::trajectory::{for_each_panel, panel_width, TrajectorySource, STREAM_BUDGET_BYTES};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Squared Euclidean distances between all points of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct PairDistances {
    /// The window.
    pub window: Window,
    /// `d2[i * T + j] = ||w_{t_w + j} - w_{t_w + i}||^2`, symmetric, zero diagonal.
    pub d2: Vec<f64>,
}

impl PairDistances {
    /// Computes all squared distances of `window` from its Gram matrix.
    ///
    /// # Errors
    /// A window outside the trajectory or shorter than 2, a non-finite weight (naming step and
    /// coordinate), or a read error.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::msd::Window;
    /// use anodiff_core::pathstats::PairDistances;
    /// use anodiff_core::trajectory::InMemoryTrajectory;
    /// let t = InMemoryTrajectory::from_weights(2, vec![0.0, 0.0, 3.0, 4.0, 3.0, 5.0], None).unwrap();
    /// let p = PairDistances::compute(&t, Window { start: 0, len: 3 }).unwrap();
    /// assert!((p.get(0, 1) - 25.0).abs() < 1e-12 && (p.get(1, 2) - 1.0).abs() < 1e-12);
    /// ```
    pub fn compute<S: TrajectorySource + ?Sized>(src: &S, window: Window) -> Result<Self> {
        window.check(src.n_steps(), 2)?;
        let n = window.len;
        let dim = src.dim();
        if dim == 0 {
            return Err(Error::InvalidData("trajectory has 0 coordinates".into()));
        }
        let cb = ((1 << 18) / n).clamp(16, 2048).min(dim);
        let steps = window.steps();
        let mut gram = Array2::<f64>::zeros((n, n));
        // One pass over the window: panels of whole steps (or wide coordinate runs) are read
        // within the streaming budget and split into coordinate blocks in memory.
        let width = panel_width(n, dim, STREAM_BUDGET_BYTES);
        for_each_panel(src, steps.clone(), width, |pc, values| {
            let pw = pc.len();
            let tasks: Vec<std::ops::Range<usize>> =
                (0..pw).step_by(cb).map(|c| c..(c + cb).min(pw)).collect();
            let part = tasks
                .into_par_iter()
                .try_fold(
                    || Array2::<f64>::zeros((n, n)),
                    |mut g, local| -> Result<Array2<f64>> {
                        let nc = local.len();
                        let mut raw = vec![0.0f32; n * nc];
                        for (dst, row) in raw.chunks_exact_mut(nc).zip(values.chunks_exact(pw)) {
                            dst.copy_from_slice(&row[local.clone()]);
                        }
                        let coords = pc.start + local.start..pc.start + local.end;
                        check_finite(&raw, steps.clone(), coords)?;
                        let mut x = Array2::<f64>::zeros((n, nc));
                        for c in 0..nc {
                            // Centre each coordinate: distances are shift invariant and the Gram
                            // form's rounding is relative to |x|^2.
                            let mean =
                                (0..n).map(|t| f64::from(raw[t * nc + c])).sum::<f64>() / n as f64;
                            for t in 0..n {
                                x[(t, c)] = f64::from(raw[t * nc + c]) - mean;
                            }
                        }
                        let xv: ArrayView2<f64> = x.view();
                        ndarray::linalg::general_mat_mul(1.0, &xv, &xv.t(), 1.0, &mut g);
                        Ok(g)
                    },
                )
                .try_reduce(|| Array2::<f64>::zeros((n, n)), |a, b| Ok(a + b))?;
            gram += &part;
            Ok(())
        })?;
        let mut d2 = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    d2[i * n + j] = (gram[(i, i)] + gram[(j, j)] - 2.0 * gram[(i, j)]).max(0.0);
                }
            }
        }
        Ok(PairDistances { window, d2 })
    }

    /// `||w_{t_w + j} - w_{t_w + i}||^2`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.d2[i * self.window.len + j]
    }

    /// Step lengths `s_k = ||w_k - w_{k-1}||` for `k = 1..T` (window-relative).
    pub fn step_lengths(&self) -> Vec<f64> {
        (1..self.window.len)
            .map(|k| self.get(k - 1, k).sqrt())
            .collect()
    }
}

/// How pair statistics are binned along their x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binning {
    /// `n` equal-width bins between the smallest and largest x (the authors' plots use 50).
    Linear(usize),
    /// `n` bins of equal width in `ln x` between the smallest positive and the largest x.
    Log(usize),
}

/// One bin of a binned pair statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Mean x of the pairs in the bin.
    pub x: f64,
    /// Mean y of the pairs in the bin.
    pub y: f64,
    /// Number of pairs.
    pub count: usize,
}

/// A power law `y ~ x^exponent` fitted to bin means on log-log axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinnedPowerLaw {
    /// Exponent.
    pub exponent: f64,
    /// Standard error: from the increment-block bootstrap of the path ([`PathBootstrap`]) when
    /// [`msl`] or [`contour`] computed one (`se_method = "increment-bootstrap"`), else the
    /// count-weighted least-squares error over bins (`"wls-bins"`), which treats bins as
    /// independent and is far too small for pair statistics.
    pub se: f64,
    /// 95 % interval: `exponent -+ 1.96 se` for the bootstrap, Student's t with `bins - 2`
    /// degrees of freedom for the least-squares error.
    pub ci95: [f64; 2],
    /// The count-weighted least-squares error over bins (bins treated as independent).
    pub se_wls: f64,
    /// How `se` was obtained: `"increment-bootstrap"` or `"wls-bins"`.
    pub se_method: String,
    /// Number of bins used.
    pub n_bins: usize,
}

/// Bins `(x, y)` pairs and returns bins with at least one pair.
///
/// # Errors
/// No data, mismatched lengths, zero bins, or log bins without a positive x.
pub fn bin_pairs(x: &[f64], y: &[f64], binning: Binning) -> Result<Vec<Bin>> {
    let edges = BinEdges::new(x, binning)?;
    let mut acc = BinAcc::new(edges.n);
    for (&xi, &yi) in x.iter().zip(y) {
        acc.add(&edges, xi, yi);
    }
    Ok(acc.bins(&edges))
}

/// Equal-width bins in x or ln x, fixed from the data.
#[derive(Debug, Clone, Copy)]
struct BinEdges {
    n: usize,
    log: bool,
    lo: f64,
    width: f64,
}

impl BinEdges {
    fn new(x: &[f64], binning: Binning) -> Result<Self> {
        let (n, log) = match binning {
            Binning::Linear(n) => (n, false),
            Binning::Log(n) => (n, true),
        };
        if n == 0 {
            return Err(Error::param("bins", "must be at least 1"));
        }
        let e = BinEdges {
            n,
            log,
            lo: 0.0,
            width: 1.0,
        };
        let (lo, hi) = x
            .iter()
            .filter(|v| e.keep(**v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(e.tr(v)), b.max(e.tr(v)))
            });
        if !lo.is_finite() {
            return Err(Error::InvalidData(
                "no pair to bin (all distances zero or not finite)".into(),
            ));
        }
        let width = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
        Ok(BinEdges { lo, width, ..e })
    }

    fn tr(&self, v: f64) -> f64 {
        if self.log {
            v.ln()
        } else {
            v
        }
    }

    fn keep(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }

    /// The bin of `x`; values past the last edge go to the last bin, values before the first
    /// (possible only for resampled paths) to none.
    fn index(&self, x: f64) -> Option<usize> {
        if !self.keep(x) {
            return None;
        }
        let u = (self.tr(x) - self.lo) / self.width;
        (u >= 0.0).then(|| (u as usize).min(self.n - 1))
    }

    fn edge(&self, k: usize) -> f64 {
        let e = self.lo + self.width * k as f64;
        if self.log {
            e.exp()
        } else {
            e
        }
    }
}

/// Per-bin sums of x and y and counts.
#[derive(Debug, Clone)]
struct BinAcc {
    sx: Vec<f64>,
    sy: Vec<f64>,
    cnt: Vec<usize>,
}

impl BinAcc {
    fn new(n: usize) -> Self {
        BinAcc {
            sx: vec![0.0; n],
            sy: vec![0.0; n],
            cnt: vec![0; n],
        }
    }

    fn add(&mut self, edges: &BinEdges, x: f64, y: f64) {
        if !y.is_finite() {
            return;
        }
        if let Some(k) = edges.index(x) {
            self.sx[k] += x;
            self.sy[k] += y;
            self.cnt[k] += 1;
        }
    }

    fn bins(&self, edges: &BinEdges) -> Vec<Bin> {
        (0..edges.n)
            .filter(|&k| self.cnt[k] > 0)
            .map(|k| Bin {
                lo: edges.edge(k),
                hi: edges.edge(k + 1),
                x: self.sx[k] / self.cnt[k] as f64,
                y: self.sy[k] / self.cnt[k] as f64,
                count: self.cnt[k],
            })
            .collect()
    }
}

/// Fits `y ~ x^b` to the bins whose mean x lies in `range` (all bins if `None`), by least
/// squares on `ln y` vs `ln x` weighted by pair counts.
///
/// The error treats bins as independent; pairs sharing points are not, so read it as a lower
/// bound on the uncertainty ([`msl`] and [`contour`] replace it by a bootstrap error).
///
/// # Errors
/// Fewer than 3 usable bins (positive x and y, inside the range).
pub fn fit_binned_power_law(bins: &[Bin], range: Option<(f64, f64)>) -> Result<BinnedPowerLaw> {
    let sel: Vec<&Bin> = bins
        .iter()
        .filter(|b| b.x > 0.0 && b.y > 0.0)
        .filter(|b| range.is_none_or(|(lo, hi)| b.x >= lo && b.x <= hi))
        .collect();
    if sel.len() < 3 {
        return Err(Error::InvalidData(format!(
            "power-law fit needs at least 3 bins with positive values in range, got {}",
            sel.len()
        )));
    }
    let lx: Vec<f64> = sel.iter().map(|b| b.x.ln()).collect();
    let ly: Vec<f64> = sel.iter().map(|b| b.y.ln()).collect();
    let w: Vec<f64> = sel.iter().map(|b| b.count as f64).collect();
    let f = LineFit::weighted(&lx, &ly, Some(&w))?;
    Ok(BinnedPowerLaw {
        exponent: f.slope,
        se: f.slope_se,
        ci95: f.slope_ci(0.95),
        se_wls: f.slope_se,
        se_method: "wls-bins".into(),
        n_bins: sel.len(),
    })
}

/// Mean squared loss difference against distance (eq. 5 of the paper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msl {
    /// Bins of distance `dr = ||w_j - w_i||` with mean `(L_j - L_i)^2`.
    pub bins: Vec<Bin>,
    /// `MSL ~ dr^(2H)` fitted over the requested range (`None` if too few bins).
    pub fit: Option<BinnedPowerLaw>,
    /// `H = exponent / 2`.
    pub hurst: Option<f64>,
}

/// MSL of all pairs `i < j` of the window: `(L_j - L_i)^2` against `dr_ij`, binned, with a
/// power-law fit over `fit_range` of `dr` and its error from the default [`PathBootstrap`].
///
/// # Errors
/// Losses of the wrong length or not finite (naming the step), or a binning error.
pub fn msl(
    pd: &PairDistances,
    losses: &[f64],
    binning: Binning,
    fit_range: Option<(f64, f64)>,
) -> Result<Msl> {
    msl_with(pd, losses, binning, fit_range, &PathBootstrap::default())
}

/// As [`msl`], with the bootstrap's settings given (`n_boot = 0`: the least-squares error over
/// bins, which treats them as independent).
///
/// # Errors
/// As [`msl`], or an invalid bootstrap setting.
pub fn msl_with(
    pd: &PairDistances,
    losses: &[f64],
    binning: Binning,
    fit_range: Option<(f64, f64)>,
    boot: &PathBootstrap,
) -> Result<Msl> {
    let n = pd.window.len;
    check_losses(losses, n, pd.window.start)?;
    let mut x = Vec::with_capacity(n * (n - 1) / 2);
    let mut y = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            x.push(pd.get(i, j).sqrt());
            y.push((losses[j] - losses[i]).powi(2));
        }
    }
    let edges = BinEdges::new(&x, binning)?;
    let bins = bin_pairs(&x, &y, binning)?;
    let mut fit = fit_binned_power_law(&bins, fit_range).ok();
    if let Some(f) = fit.as_mut() {
        let rs = Resampler::new(pd, Some(losses));
        let se = boot.se(
            &rs,
            |path, acc: &mut BinAcc| {
                path.pairs(|_, dr2, dl| acc.add(&edges, dr2.sqrt(), dl * dl));
            },
            &edges,
            fit_range,
        )?;
        f.apply_bootstrap(se);
    }
    let hurst = fit.as_ref().map(|f| f.exponent / 2.0);
    Ok(Msl { bins, fit, hurst })
}

fn check_losses(losses: &[f64], n: usize, start: usize) -> Result<()> {
    if losses.len() != n {
        return Err(Error::Shape(format!(
            "{} losses for a window of {n} steps",
            losses.len()
        )));
    }
    if let Some(t) = losses.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "loss at step {} is {} (losses must be finite)",
            start + t,
            losses[t]
        )));
    }
    Ok(())
}

/// Contour length against end-to-end distance: `dr^2 ~ ds^lambda`, `D_f = 2 / lambda`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contour {
    /// Log bins of contour length `ds` with mean `dr^2`.
    pub bins: Vec<Bin>,
    /// `lambda` over the requested range.
    pub lambda: BinnedPowerLaw,
    /// Fractal dimension `2 / lambda`.
    pub fractal_dim: f64,
    /// 95 % interval of `D_f`, mapped from that of `lambda` (increment-block bootstrap).
    pub fractal_dim_ci95: [f64; 2],
    /// Broken-line fit of `ln dr^2` vs `ln ds` over the bins (when there are at least 8).
    pub crossover: Option<SegmentedFit>,
    /// Davies' p-value of one segment against two over the bins. It treats bins as independent,
    /// so it rejects one segment too readily: read it as a screening value.
    pub p_one_vs_two: Option<f64>,
}

/// Contour-length statistics of all pairs `i < j`: `ds_ij = sum_{k=i+1..j} s_k` (path length
/// from `w_i` to `w_j`) and `dr^2_ij`, log-binned in `ds` (`n_bins` bins), with `lambda` fitted
/// over `fit_range` of `ds` (error from the default [`PathBootstrap`]) and a crossover search
/// on all bins.
///
/// # Errors
/// Fewer than 3 usable bins (e.g. a trajectory that does not move).
pub fn contour(
    pd: &PairDistances,
    n_bins: usize,
    fit_range: Option<(f64, f64)>,
) -> Result<Contour> {
    contour_with(pd, n_bins, fit_range, &PathBootstrap::default())
}

/// As [`contour`], with the bootstrap's settings given (`n_boot = 0`: the least-squares error
/// over bins, which treats them as independent).
///
/// # Errors
/// As [`contour`], or an invalid bootstrap setting.
pub fn contour_with(
    pd: &PairDistances,
    n_bins: usize,
    fit_range: Option<(f64, f64)>,
    boot: &PathBootstrap,
) -> Result<Contour> {
    let n = pd.window.len;
    let s = pd.step_lengths();
    let mut cum = vec![0.0; n];
    for k in 1..n {
        cum[k] = cum[k - 1] + s[k - 1];
    }
    let mut x = Vec::with_capacity(n * (n - 1) / 2);
    let mut y = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            x.push(cum[j] - cum[i]);
            y.push(pd.get(i, j));
        }
    }
    let bins = bin_pairs(&x, &y, Binning::Log(n_bins))?;
    let mut lambda = fit_binned_power_law(&bins, fit_range)?;
    let edges = BinEdges::new(&x, Binning::Log(n_bins))?;
    let rs = Resampler::new(pd, None);
    let se = boot.se(
        &rs,
        |path, acc: &mut BinAcc| path.pairs(|ds, dr2, _| acc.add(&edges, ds, dr2)),
        &edges,
        fit_range,
    )?;
    lambda.apply_bootstrap(se);
    let (lx, ly): (Vec<f64>, Vec<f64>) = bins
        .iter()
        .filter(|b| b.x > 0.0 && b.y > 0.0)
        .map(|b| (b.x.ln(), b.y.ln()))
        .unzip();
    let (crossover, p) = if lx.len() >= 8 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let seg = Segmented {
            n_boot: 20,
            ..Segmented::default()
        };
        (
            seg.fit(&lx, &ly, &mut rng).ok(),
            davies_test(&lx, &ly, 10).ok(),
        )
    } else {
        (None, None)
    };
    let ci = lambda.ci95;
    let df_ci = if ci[0] > 0.0 {
        [2.0 / ci[1], 2.0 / ci[0]]
    } else {
        [2.0 / ci[1], f64::INFINITY]
    };
    Ok(Contour {
        fractal_dim: 2.0 / lambda.exponent,
        fractal_dim_ci95: df_ci,
        bins,
        lambda,
        crossover,
        p_one_vs_two: p,
    })
}

/// Loss fluctuations of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossFluctuations {
    /// `|L_{t+1} - L_t|` for `t = t_w .. t_w + T - 2`.
    pub abs_diff: Vec<f64>,
    /// Sample variance (divisor `m - 1`) of the losses in the trailing window of `m` steps
    /// ending at each step `t_w + m - 1 .. t_w + T - 1`.
    pub moving_var: Vec<f64>,
    /// The moving-window length `m`.
    pub moving_window: usize,
}

/// `|Delta L|` per step and the moving variance of the loss over `moving_window` steps (100 in
/// the paper).
///
/// # Errors
/// Fewer than 2 losses, a non-finite loss (naming its index), or a moving window not in
/// `2..=losses.len()`.
///
/// # Examples
/// ```
/// use anodiff_core::pathstats::loss_fluctuations;
/// let f = loss_fluctuations(&[1.0, 3.0, 2.0, 6.0], 2).unwrap();
/// assert_eq!(f.abs_diff, vec![2.0, 1.0, 4.0]);
/// assert_eq!(f.moving_var, vec![2.0, 0.5, 8.0]);
/// ```
pub fn loss_fluctuations(losses: &[f64], moving_window: usize) -> Result<LossFluctuations> {
    let n = losses.len();
    check_losses(losses, n, 0)?;
    if n < 2 {
        return Err(Error::InvalidData(
            "loss fluctuations need at least 2 losses".into(),
        ));
    }
    if moving_window < 2 || moving_window > n {
        return Err(Error::param(
            "moving_window",
            format!("must be in 2..={n}, got {moving_window}"),
        ));
    }
    let abs_diff = losses.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    // Centre on the overall mean before the running sums so they do not cancel.
    let mu = losses.iter().sum::<f64>() / n as f64;
    let mut p1 = vec![0.0; n + 1];
    let mut p2 = vec![0.0; n + 1];
    for (t, &l) in losses.iter().enumerate() {
        let c = l - mu;
        p1[t + 1] = p1[t] + c;
        p2[t + 1] = p2[t] + c * c;
    }
    let m = moving_window as f64;
    let moving_var = (moving_window..=n)
        .map(|e| {
            let s1 = p1[e] - p1[e - moving_window];
            let s2 = p2[e] - p2[e - moving_window];
            ((s2 - s1 * s1 / m) / (m - 1.0)).max(0.0)
        })
        .collect();
    Ok(LossFluctuations {
        abs_diff,
        moving_var,
        moving_window,
    })
}

/// A seeded, uniform sample without replacement of `k` gradient components from the
/// `T x gradient_dim` recorded gradients of `window` (all of them if fewer), returned in f64 in
/// step-major order. Every component is equally likely to be drawn, so the sample is an
/// unbiased sample of the window's gradient-component distribution for the stable fits.
///
/// # Errors
/// A source without gradients, `k = 0`, a window outside the trajectory, a non-finite gradient
/// component (naming step and coordinate), or a read error.
pub fn gradient_sample<S: TrajectorySource + ?Sized>(
    src: &S,
    window: Window,
    k: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    window.check(src.n_steps(), 1)?;
    let gd = src.gradient_dim();
    if gd == 0 {
        return Err(Error::InvalidData(
            "this trajectory has no recorded gradients".into(),
        ));
    }
    if k == 0 {
        return Err(Error::param("k", "sample size must be at least 1"));
    }
    let total = window.len * gd;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, total, k.min(total)).into_vec();
    idx.sort_unstable();
    let mut out = Vec::with_capacity(idx.len());
    let mut row = vec![0.0f32; gd];
    let mut i = 0;
    while i < idx.len() {
        let t = idx[i] / gd;
        let step = window.start + t;
        src.read_gradients(step..step + 1, 0..gd, &mut row)?;
        while i < idx.len() && idx[i] / gd == t {
            let c = idx[i] % gd;
            let v = row[c];
            if !v.is_finite() {
                return Err(Error::InvalidData(format!(
                    "gradient at step {step}, coordinate {c} is {v}"
                )));
            }
            out.push(f64::from(v));
            i += 1;
        }
    }
    Ok(out)
}

impl BinnedPowerLaw {
    /// Replaces the least-squares error by a bootstrap one (when there is one).
    fn apply_bootstrap(&mut self, se: Option<f64>) {
        if let Some(se) = se {
            self.se = se;
            self.ci95 = [self.exponent - 1.96 * se, self.exponent + 1.96 * se];
            self.se_method = "increment-bootstrap".into();
        }
    }
}

/// Settings of the increment-block bootstrap that gives [`msl`] and [`contour`] their errors.
///
/// Pairs of points of one path share steps, so the bins of a pair statistic are strongly
/// dependent and a least-squares error over bins is far too small. Instead, replicate paths are
/// built from the window's own steps: whole-step increments `w_{t+1} - w_t` (all coordinates
/// together, with the matching loss increments) are drawn in blocks of `block_len` consecutive
/// steps, with replacement (the moving-block bootstrap, Kuensch 1989), and concatenated until
/// the path has `T - 1` steps. Each replicate's pair statistic is binned on the data's bins and
/// fitted over the same range; the standard deviation of the exponent over replicates is its
/// standard error, and the 95 % interval is `exponent -+ 1.96 se`. A replicate is a whole new
/// path, so it carries the window-scale fluctuations that resampling pairs, bins or origins
/// cannot. Distances of a replicate come from the window's pair distances alone (inner products
/// of increments by polarisation), at `O(T^2)` per replicate.
///
/// Assumptions: increments are stationary over the window and dependent only over fewer than
/// `block_len` steps. That is exact for independent increments (Brownian motion) and
/// approximate for long-memory motion (fBm with `H != 1/2`), whose correlations beyond a block
/// are lost. Measured (core/tests/pathstats_calibration.rs; d = 3, T = 200, 20 log bins, 60
/// walks; ratio = true sd over walks / mean reported SE): Brownian 1.15 (MSL) and 0.87
/// (lambda); fBm H = 0.3 0.76 and 0.67 (conservative); fBm H = 0.7 1.26 and 1.16 (somewhat
/// optimistic). The least-squares error over bins is 3.6-7x too small in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathBootstrap {
    /// Replicates (default 200; 0 keeps the least-squares error over bins).
    pub n_boot: usize,
    /// Steps per block (default `ceil((T - 1) / 20)`: 20 blocks per replicate).
    pub block_len: Option<usize>,
    /// Seed (default 0).
    pub seed: u64,
}

impl Default for PathBootstrap {
    fn default() -> Self {
        PathBootstrap {
            n_boot: 200,
            block_len: None,
            seed: 0,
        }
    }
}

impl PathBootstrap {
    /// The bootstrap standard error of the exponent fitted to the bins that `bin` fills from a
    /// replicate path; `None` without replicates or when fewer than 10 could be fitted.
    fn se<F>(
        &self,
        rs: &Resampler,
        bin: F,
        edges: &BinEdges,
        fit_range: Option<(f64, f64)>,
    ) -> Result<Option<f64>>
    where
        F: Fn(&ResampledPath<'_>, &mut BinAcc) + Sync,
    {
        if self.n_boot == 0 || rs.m < 2 {
            return Ok(None);
        }
        let ell = match self.block_len {
            Some(0) => return Err(Error::param("block_len", "must be at least 1")),
            Some(l) => l.min(rs.m),
            None => rs.m.div_ceil(20),
        };
        let exps: Vec<f64> = (0..self.n_boot)
            .into_par_iter()
            .filter_map(|k| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(k as u64 + 1);
                let path = rs.draw(ell, &mut rng);
                let mut acc = BinAcc::new(edges.n);
                bin(&path, &mut acc);
                fit_binned_power_law(&acc.bins(edges), fit_range)
                    .ok()
                    .map(|f| f.exponent)
            })
            .collect();
        if exps.len() < 10 {
            return Ok(None);
        }
        let n = exps.len() as f64;
        let mu = exps.iter().sum::<f64>() / n;
        Ok(Some(
            (exps.iter().map(|e| (e - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
        ))
    }
}

/// The window's increments, as inner products, and loss increments: what a resampled path needs.
struct Resampler {
    /// Number of increments, `T - 1`.
    m: usize,
    /// `inc[a * m + b] = <w_{a+1} - w_a, w_{b+1} - w_b>` (window-relative), by polarisation
    /// of the pair distances.
    inc: Vec<f64>,
    /// `L_{a+1} - L_a` (empty without losses).
    dl: Vec<f64>,
}

impl Resampler {
    fn new(pd: &PairDistances, losses: Option<&[f64]>) -> Self {
        let m = pd.window.len - 1;
        let mut inc = vec![0.0; m * m];
        for a in 0..m {
            for b in 0..m {
                inc[a * m + b] = 0.5
                    * (pd.get(a, b + 1) + pd.get(a + 1, b) - pd.get(a, b) - pd.get(a + 1, b + 1));
            }
        }
        let dl = losses.map_or_else(Vec::new, |l| l.windows(2).map(|p| p[1] - p[0]).collect());
        Resampler { m, inc, dl }
    }

    /// A replicate: blocks of `ell` increments starting at uniform positions, concatenated.
    fn draw<R: rand::Rng>(&self, ell: usize, rng: &mut R) -> ResampledPath<'_> {
        let mut order = Vec::with_capacity(self.m);
        while order.len() < self.m {
            let s = rng.random_range(0..=self.m - ell);
            order.extend((s..s + ell).take(self.m - order.len()));
        }
        ResampledPath { rs: self, order }
    }
}

/// A path made of the window's increments in the order `order`.
struct ResampledPath<'a> {
    rs: &'a Resampler,
    order: Vec<usize>,
}

impl ResampledPath<'_> {
    /// Calls `f(ds, dr2, dl)` for every pair `i < j` of the path's `T` points: contour length,
    /// squared distance and loss difference (0 without losses).
    fn pairs(&self, mut f: impl FnMut(f64, f64, f64)) {
        let m = self.rs.m;
        let inc = &self.rs.inc;
        let t = m + 1;
        let mut cum_s = vec![0.0; t];
        let mut cum_l = vec![0.0; t];
        for (k, &a) in self.order.iter().enumerate() {
            cum_s[k + 1] = cum_s[k] + inc[a * m + a].max(0.0).sqrt();
            cum_l[k + 1] = cum_l[k] + self.rs.dl.get(a).copied().unwrap_or(0.0);
        }
        // d2[i] = ||x_j - x_i||^2 for the current end point j, updated one step at a time:
        // ||x_{j+1} - x_i||^2 = ||x_j - x_i||^2 + 2 <x_j - x_i, u_j> + |u_j|^2, with
        // <x_j - x_i, u_j> = sum_{k=i}^{j-1} <u_k, u_j>, accumulated from i = j down.
        let mut d2 = vec![0.0; t];
        for (j, &pj) in self.order.iter().enumerate() {
            let row = &inc[pj * m..(pj + 1) * m];
            let uu = row[pj];
            let mut s = 0.0;
            for i in (0..=j).rev() {
                if i < j {
                    s += row[self.order[i]];
                }
                d2[i] += 2.0 * s + uu;
                f(
                    cum_s[j + 1] - cum_s[i],
                    d2[i].max(0.0),
                    cum_l[j + 1] - cum_l[i],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_all_pairs() {
        let x: Vec<f64> = (1..=100).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v * v).collect();
        for b in [Binning::Linear(7), Binning::Log(7)] {
            let bins = bin_pairs(&x, &y, b).unwrap();
            assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 100);
            assert!(bins
                .iter()
                .all(|b| b.lo <= b.x && b.x <= b.hi * (1.0 + 1e-12)));
        }
        assert!(bin_pairs(&[0.0], &[1.0], Binning::Log(3)).is_err());
    }

    #[test]
    fn loss_checks() {
        assert!(loss_fluctuations(&[1.0, f64::NAN, 2.0], 2)
            .unwrap_err()
            .to_string()
            .contains("step 1"));
        assert!(loss_fluctuations(&[1.0, 2.0], 3).is_err());
    }
}
