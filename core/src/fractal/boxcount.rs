//! Box counting of binary images and point clouds.

use super::range::select_flat_range;
use super::Bitmap;
use crate::error::{Error, Result};
use crate::regress::LineFit;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// How the counts of the shifted grids at one box size are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetAggregate {
    /// The smallest count over the shifts (default): the closest of the grids to the minimal
    /// cover that defines the box-counting dimension, and exact on dyadic rasters whose natural
    /// grid is among the shifts. FracLac's "minimum cover".
    #[default]
    Min,
    /// The mean count over the shifts: smoother in the box size, slightly larger than `Min`.
    Mean,
}

/// Which box sizes enter the least-squares fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FitRange {
    /// The widest run of at least `min_points` consecutive box sizes whose local slopes differ by
    /// at most `tolerance` (see [`select_flat_range`](super::select_flat_range)); when no run is
    /// flat, the run of exactly `min_points` sizes with the smallest spread is used and
    /// [`BoxCount::auto_fallback`] is set (the local slopes still drift there: treat the
    /// dimension as an estimate from a short range).
    Auto {
        /// Largest allowed spread (max - min) of the local slopes, in units of dimension.
        tolerance: f64,
        /// Fewest box sizes in the fit (at least 3).
        min_points: usize,
    },
    /// Every box size counted.
    All,
    /// The box sizes `s` with `lo <= s <= hi` (at least 3 of them).
    Scales(f64, f64),
}

impl Default for FitRange {
    /// `Auto { tolerance: 0.1, min_points: 4 }`. The tolerance is a little above the local
    /// slope spread of the rasterised oracles (Koch curve 1.21-1.34 at 2048², see the crate
    /// notes), so that genuine power laws pass and crossovers do not.
    fn default() -> Self {
        FitRange::Auto {
            tolerance: 0.1,
            min_points: 4,
        }
    }
}

/// Settings of [`box_count_image`] and [`box_count_points`], validated by the `with_*` setters.
///
/// # Examples
/// ```
/// use anodiff_core::fractal::{BoxCountConfig, FitRange};
/// let cfg = BoxCountConfig::default()
///     .with_min_scale(2.0).unwrap()
///     .with_max_scale(256.0).unwrap()
///     .with_fit_range(FitRange::All).unwrap();
/// assert_eq!(cfg.ratio(), 2.0);
/// assert!(BoxCountConfig::default().with_ratio(1.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BoxCountConfig {
    min_scale: Option<f64>,
    max_scale: Option<f64>,
    ratio: f64,
    offsets: usize,
    aggregate: OffsetAggregate,
    fit: FitRange,
}

impl Default for BoxCountConfig {
    fn default() -> Self {
        BoxCountConfig {
            min_scale: None,
            max_scale: None,
            ratio: 2.0,
            offsets: 4,
            aggregate: OffsetAggregate::Min,
            fit: FitRange::default(),
        }
    }
}

impl BoxCountConfig {
    /// Smallest box size (pixels for images, coordinate units for point clouds), > 0.
    /// Default: 1 pixel for images; for point clouds the ladder stops before the count exceeds a
    /// quarter of the number of points (below that, every point sits in its own box).
    ///
    /// # Errors
    /// A size that is not finite and positive.
    pub fn with_min_scale(mut self, s: f64) -> Result<Self> {
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::param(
                "min_scale",
                format!("must be finite and > 0, got {s}"),
            ));
        }
        self.min_scale = Some(s);
        Ok(self)
    }

    /// Largest box size, > 0. Default: a quarter of the longest side of the set's bounding
    /// box, so that the largest boxes still number at least ~4 along that side. Sizes above
    /// the set's extent are never counted (every such box count is 1 or a few).
    ///
    /// # Errors
    /// A size that is not finite and positive.
    pub fn with_max_scale(mut self, s: f64) -> Result<Self> {
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::param(
                "max_scale",
                format!("must be finite and > 0, got {s}"),
            ));
        }
        self.max_scale = Some(s);
        Ok(self)
    }

    /// Ratio between consecutive box sizes, in (1, 16]. Default 2 (dyadic), which is exact on
    /// dyadic rasters; non-dyadic ladders sample the lacunarity oscillations of self-similar
    /// sets and fluctuate more.
    ///
    /// # Errors
    /// A ratio outside (1, 16].
    pub fn with_ratio(mut self, r: f64) -> Result<Self> {
        if !(r > 1.0 && r <= 16.0) {
            return Err(Error::param(
                "ratio",
                format!("must be in (1, 16], got {r}"),
            ));
        }
        self.ratio = r;
        Ok(self)
    }

    /// Number of grid shifts per axis, in [1, 16]. Default 4. Shifts are `j s / m` for
    /// `j = 0..m` with `m = min(offsets, s)` per axis on images (all `m²` combinations), and
    /// along the diagonal `(1, ..., 1) j s / m` on point clouds.
    ///
    /// # Errors
    /// A count outside [1, 16].
    pub fn with_offsets(mut self, m: usize) -> Result<Self> {
        if !(1..=16).contains(&m) {
            return Err(Error::param(
                "offsets",
                format!("must be in [1, 16], got {m}"),
            ));
        }
        self.offsets = m;
        Ok(self)
    }

    /// How the shifted grids are combined. Default [`OffsetAggregate::Min`].
    pub fn with_aggregate(mut self, a: OffsetAggregate) -> Self {
        self.aggregate = a;
        self
    }

    /// Which box sizes are fitted. Default [`FitRange::default`].
    ///
    /// # Errors
    /// `Auto` with a tolerance that is not finite and positive or `min_points < 3`; `Scales`
    /// with bounds that are not finite, positive and ordered.
    pub fn with_fit_range(mut self, f: FitRange) -> Result<Self> {
        match f {
            FitRange::Auto {
                tolerance,
                min_points,
            } => {
                if !(tolerance > 0.0 && tolerance.is_finite()) {
                    return Err(Error::param(
                        "tolerance",
                        format!("must be finite and > 0, got {tolerance}"),
                    ));
                }
                if min_points < 3 {
                    return Err(Error::param(
                        "min_points",
                        format!("a line fit with an error needs at least 3, got {min_points}"),
                    ));
                }
            }
            FitRange::All => {}
            FitRange::Scales(lo, hi) => {
                if !(lo > 0.0 && hi.is_finite() && lo <= hi) {
                    return Err(Error::param(
                        "fit_range",
                        format!("needs 0 < lo <= hi < inf, got [{lo}, {hi}]"),
                    ));
                }
            }
        }
        self.fit = f;
        Ok(self)
    }

    /// Ratio between consecutive box sizes.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Grid shifts per axis.
    pub fn offsets(&self) -> usize {
        self.offsets
    }

    /// The fit-range rule.
    pub fn fit_range(&self) -> FitRange {
        self.fit
    }
}

/// The result of box counting: the counts, the local slopes and the fitted dimension.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BoxCount {
    /// Box-counting dimension: the least-squares slope of ln N(s) against ln(1/s) over
    /// [`fit_range`](Self::fit_range).
    pub dimension: f64,
    /// Classical standard error of the slope. The residuals of a box-counting plot are
    /// correlated (the same set at nested scales), so this understates the uncertainty; the
    /// local-slope spread is the honest companion.
    pub se: f64,
    /// Student-t 95% interval of the slope (same caveat as `se`).
    pub ci95: [f64; 2],
    /// Box sizes, ascending (pixels or coordinate units).
    pub scales: Vec<f64>,
    /// Number of occupied boxes at each size, combined over grid shifts.
    pub counts: Vec<f64>,
    /// Local slopes `-(ln N(s_{k+1}) - ln N(s_k)) / (ln s_{k+1} - ln s_k)`, one per pair of
    /// consecutive sizes.
    pub local_slopes: Vec<f64>,
    /// Smallest and largest box size in the fit.
    pub fit_range: [f64; 2],
    /// Largest minus smallest local slope inside the fit range.
    pub slope_spread: f64,
    /// True when [`FitRange::Auto`] found no flat run and fell back to the flattest run of
    /// `min_points` sizes.
    pub auto_fallback: bool,
    /// How the shifted grids were combined.
    pub aggregate: OffsetAggregate,
    /// The full line fit (intercept, R², residual sum of squares).
    pub fit: LineFit,
}

/// Box-counting dimension of the set pixels of a binary image.
///
/// The image is cropped to the set's bounding box; for each box size `s` of the ladder the
/// `s x s` boxes of every shifted grid are tested for a set pixel through a summed-area table
/// (O(1) per box, rows of boxes in parallel), and the counts of the shifts are combined by
/// [`OffsetAggregate`]. Box sizes are integers: `round(min_scale * ratio^k)` without repeats.
///
/// # Errors
/// [`Error::InvalidData`] for an empty (all-zero) image, or a set whose bounding box is smaller
/// than the smallest box or leaves fewer than 3 box sizes; [`Error::InvalidParameter`] when
/// `max_scale < min_scale`; errors of the line fit.
///
/// # Examples
/// ```
/// use anodiff_core::fractal::{box_count_image, Bitmap, BoxCountConfig};
/// // A filled 200 x 200 square has dimension 2.
/// let sq = Bitmap::from_fn(256, 256, |x, y| x < 200 && y < 200).unwrap();
/// let bc = box_count_image(&sq, &BoxCountConfig::default()).unwrap();
/// assert!((bc.dimension - 2.0).abs() < 0.05);
/// ```
pub fn box_count_image(image: &Bitmap, cfg: &BoxCountConfig) -> Result<BoxCount> {
    let bbox = image.bounding_box().ok_or_else(|| {
        Error::InvalidData(format!(
            "the {} x {} image has no set pixel (all zero): nothing to box-count",
            image.width(),
            image.height()
        ))
    })?;
    let img = image.crop(bbox);
    let (w, h) = (img.width(), img.height());
    if (w as u64) * (h as u64) >= u64::from(u32::MAX) {
        return Err(Error::InvalidData(format!(
            "the set's bounding box of {w} x {h} pixels is too large (limit 2^32 pixels)"
        )));
    }
    let extent = w.max(h) as f64;
    let min_s = cfg.min_scale.unwrap_or(1.0);
    let max_s = cfg.max_scale.unwrap_or((extent / 4.0).floor());
    if min_s > extent {
        return Err(Error::InvalidData(format!(
            "the set spans only {w} x {h} pixels, smaller than the smallest box ({min_s} px)"
        )));
    }
    if cfg.max_scale.is_some() && max_s < min_s {
        return Err(Error::param(
            "max_scale",
            format!("must be >= min_scale ({min_s}), got {max_s}"),
        ));
    }
    let mut scales: Vec<usize> = Vec::new();
    let mut s = min_s;
    // Boxes larger than the set all count 1 (or a few, shifted): they carry no scaling.
    while s <= max_s.min(extent) * (1.0 + 1e-12) {
        let si = s.round().max(1.0) as usize;
        if scales.last() != Some(&si) {
            scales.push(si);
        }
        s *= cfg.ratio;
    }
    if scales.len() < 3 {
        return Err(Error::InvalidData(format!(
            "the set spans {w} x {h} pixels, which leaves {} box size(s) between {min_s} and \
             {max_s} px with ratio {}; at least 3 are needed (a set this small has no \
             measurable dimension)",
            scales.len(),
            cfg.ratio
        )));
    }
    let sat = SummedArea::new(&img);
    let counts: Vec<f64> = scales
        .iter()
        .map(|&s| count_image_boxes(&img, &sat, s, cfg.offsets, cfg.aggregate))
        .collect();
    let scales: Vec<f64> = scales.into_iter().map(|s| s as f64).collect();
    finish(scales, counts, cfg)
}

/// Box-counting dimension of a point cloud: `points` has one row per point and one column per
/// coordinate (any number of dimensions).
///
/// At each box size the coordinates are quantised, `floor((x - min + shift) / s)`, packed into
/// one integer key per point and the distinct keys counted by a parallel sort. The default
/// ladder runs down from a quarter of the bounding box's longest side by `ratio` and stops
/// before the count exceeds a quarter of the number of points, where boxes start to hold
/// single points and the curve flattens.
///
/// # Errors
/// [`Error::InvalidData`] for no points, no columns, a non-finite coordinate, all points
/// equal, or a cloud whose extent is smaller than the smallest box; [`Error::InvalidParameter`]
/// when `max_scale < min_scale`.
///
/// # Examples
/// ```
/// use anodiff_core::fractal::{box_count_points, BoxCountConfig};
/// use ndarray::Array2;
/// // 4096 points evenly spaced on a segment: dimension 1 (read a little low, 0.975, because
/// // the closed segment needs one box more than its length in boxes at every size).
/// let pts = Array2::from_shape_fn((4096, 2), |(i, j)| if j == 0 { i as f64 } else { 0.5 * i as f64 });
/// let bc = box_count_points(pts.view(), &BoxCountConfig::default()).unwrap();
/// assert!((bc.dimension - 1.0).abs() < 0.04);
/// ```
pub fn box_count_points(points: ArrayView2<'_, f64>, cfg: &BoxCountConfig) -> Result<BoxCount> {
    let (n, d) = points.dim();
    if n == 0 || d == 0 {
        return Err(Error::InvalidData(format!(
            "point cloud is empty ({n} points x {d} coordinates)"
        )));
    }
    if let Some(((i, j), v)) = points.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "point {i}, coordinate {j} is {v}; coordinates must be finite"
        )));
    }
    let mins: Vec<f64> = (0..d)
        .map(|j| {
            points
                .column(j)
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let extent = (0..d)
        .map(|j| {
            points
                .column(j)
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
                - mins[j]
        })
        .fold(0.0, f64::max);
    if extent <= 0.0 {
        return Err(Error::InvalidData(format!(
            "all {n} points coincide: a single point has no measurable dimension"
        )));
    }
    let max_s = cfg.max_scale.unwrap_or(extent / 4.0).min(extent);
    // Below ~2^-40 of the extent, quantised coordinates no longer fit the integer keys and
    // f64 coordinates carry no more information.
    let floor_s = extent * (-40f64).exp2();
    if let Some(m) = cfg.min_scale {
        if m < floor_s {
            return Err(Error::param(
                "min_scale",
                format!("{m} is below 2^-40 of the cloud's extent {extent}; use a larger size"),
            ));
        }
        if m >= extent {
            return Err(Error::InvalidData(format!(
                "the cloud's extent {extent} is smaller than the smallest box ({m})"
            )));
        }
        if m > max_s {
            return Err(Error::param(
                "max_scale",
                format!("must be >= min_scale ({m}), got {max_s}"),
            ));
        }
    }
    // Coordinates relative to the minimum corner, row-major, so that keys are non-negative.
    let rel: Vec<f64> = points
        .rows()
        .into_iter()
        .flat_map(|r| r.iter().zip(&mins).map(|(v, m)| v - m).collect::<Vec<_>>())
        .collect();
    let mut scales = Vec::new();
    let mut counts = Vec::new();
    let mut s = max_s;
    while s >= floor_s {
        if let Some(m) = cfg.min_scale {
            if s < m * (1.0 - 1e-12) {
                break;
            }
        }
        let c = count_point_boxes(&rel, d, extent, s, cfg.offsets, cfg.aggregate);
        if cfg.min_scale.is_none() && c > n as f64 / 4.0 {
            break;
        }
        scales.push(s);
        counts.push(c);
        s /= cfg.ratio;
    }
    if scales.len() < 3 {
        return Err(Error::InvalidData(format!(
            "only {} box size(s) fit between the smallest box and the cloud's extent {extent} \
             with {n} points; at least 3 are needed (more points or a smaller min_scale)",
            scales.len()
        )));
    }
    scales.reverse();
    counts.reverse();
    finish(scales, counts, cfg)
}

/// Fits the dimension over the chosen range; `scales` ascending.
fn finish(scales: Vec<f64>, counts: Vec<f64>, cfg: &BoxCountConfig) -> Result<BoxCount> {
    let x: Vec<f64> = scales.iter().map(|s| -s.ln()).collect();
    let y: Vec<f64> = counts.iter().map(|c| c.ln()).collect();
    let local_slopes: Vec<f64> = (0..x.len() - 1)
        .map(|k| (y[k + 1] - y[k]) / (x[k + 1] - x[k]))
        .collect();
    let last = scales.len() - 1;
    let mut auto_fallback = false;
    let (a, b) = match cfg.fit {
        FitRange::All => (0, last),
        FitRange::Auto {
            tolerance,
            min_points,
        } => match select_flat_range(&x, &y, tolerance, min_points) {
            Some(r) => r,
            None => {
                auto_fallback = true;
                flattest_run(&local_slopes, min_points.min(scales.len()))
            }
        },
        FitRange::Scales(lo, hi) => {
            let inside: Vec<usize> = (0..=last)
                .filter(|&k| scales[k] >= lo * (1.0 - 1e-9) && scales[k] <= hi * (1.0 + 1e-9))
                .collect();
            if inside.len() < 3 {
                return Err(Error::param(
                    "fit_range",
                    format!(
                        "[{lo}, {hi}] holds {} of the box sizes {scales:?}; at least 3 needed",
                        inside.len()
                    ),
                ));
            }
            (inside[0], inside[inside.len() - 1])
        }
    };
    let fit = LineFit::ols(&x[a..=b], &y[a..=b])?;
    let window = &local_slopes[a..b];
    let slope_spread = window.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - window.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(BoxCount {
        dimension: fit.slope,
        se: fit.slope_se,
        ci95: fit.slope_ci(0.95),
        fit_range: [scales[a], scales[b]],
        scales,
        counts,
        local_slopes,
        slope_spread,
        auto_fallback,
        aggregate: cfg.aggregate,
        fit,
    })
}

/// Inclusive point indices of the `len` consecutive points whose local slopes spread least.
fn flattest_run(local_slopes: &[f64], len: usize) -> (usize, usize) {
    let width = len.max(2) - 1;
    let spread = |a: usize| {
        let w = &local_slopes[a..a + width];
        w.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - w.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let a = (0..=local_slopes.len() - width)
        .min_by(|&i, &j| spread(i).total_cmp(&spread(j)))
        .unwrap_or(0);
    (a, a + width)
}

/// Summed-area table: `at(x, y)` = number of set pixels in `[0, x) x [0, y)`.
struct SummedArea {
    stride: usize,
    // u32 with wrapping arithmetic: every box sum is < 2^32 (checked by the caller), so the
    // wrapped differences are exact.
    table: Vec<u32>,
}

impl SummedArea {
    fn new(img: &Bitmap) -> SummedArea {
        let (w, h) = (img.width(), img.height());
        let stride = w + 1;
        let mut table = vec![0u32; stride * (h + 1)];
        let bytes = img.bytes();
        table[stride..]
            .par_chunks_mut(stride)
            .zip(bytes.par_chunks(w))
            .for_each(|(out, row)| {
                let mut acc = 0u32;
                for (o, &p) in out[1..].iter_mut().zip(row) {
                    acc += u32::from(p);
                    *o = acc;
                }
            });
        for y in 1..=h {
            let (prev, cur) = table.split_at_mut(y * stride);
            let prev = &prev[(y - 1) * stride..];
            for (c, p) in cur[..stride].iter_mut().zip(prev) {
                *c = c.wrapping_add(*p);
            }
        }
        SummedArea { stride, table }
    }

    #[inline]
    fn occupied(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> bool {
        let t = &self.table;
        let r0 = y0 * self.stride;
        let r1 = y1 * self.stride;
        t[r1 + x1]
            .wrapping_sub(t[r0 + x1])
            .wrapping_sub(t[r1 + x0])
            .wrapping_add(t[r0 + x0])
            != 0
    }
}

/// Grid lines of boxes of size `s` shifted by `t` (0 <= t < s) on `[0, len)`.
fn edges(len: usize, s: usize, t: usize) -> Vec<usize> {
    let mut e = vec![0];
    let mut p = if t == 0 { s } else { t };
    while p < len {
        e.push(p);
        p += s;
    }
    e.push(len);
    e
}

fn count_image_boxes(
    img: &Bitmap,
    sat: &SummedArea,
    s: usize,
    offsets: usize,
    aggregate: OffsetAggregate,
) -> f64 {
    if s == 1 {
        return img.count() as f64;
    }
    let m = offsets.min(s);
    let shifts: Vec<usize> = (0..m).map(|j| j * s / m).collect();
    let mut counts = Vec::with_capacity(m * m);
    for &ty in &shifts {
        let ey = edges(img.height(), s, ty);
        for &tx in &shifts {
            let ex = edges(img.width(), s, tx);
            let c: usize = ey
                .par_windows(2)
                .map(|yy| {
                    ex.windows(2)
                        .filter(|xx| sat.occupied(xx[0], yy[0], xx[1], yy[1]))
                        .count()
                })
                .sum();
            counts.push(c as f64);
        }
    }
    combine(&counts, aggregate)
}

fn count_point_boxes(
    rel: &[f64],
    d: usize,
    extent: f64,
    s: f64,
    offsets: usize,
    aggregate: OffsetAggregate,
) -> f64 {
    let max_q = (((extent + s) / s).floor() as u64).saturating_add(1);
    let bits = (64 - max_q.leading_zeros()) as usize;
    let counts: Vec<f64> = (0..offsets)
        .map(|j| {
            let t = j as f64 * s / offsets as f64;
            let q = |v: f64| ((v + t) / s).floor() as u64;
            if d * bits <= 128 {
                let mut keys: Vec<u128> = rel
                    .par_chunks(d)
                    .map(|p| p.iter().fold(0u128, |k, &v| (k << bits) | u128::from(q(v))))
                    .collect();
                keys.par_sort_unstable();
                keys.dedup();
                keys.len() as f64
            } else {
                let mut keys: Vec<Vec<u64>> = rel
                    .par_chunks(d)
                    .map(|p| p.iter().map(|&v| q(v)).collect())
                    .collect();
                keys.par_sort_unstable();
                keys.dedup();
                keys.len() as f64
            }
        })
        .collect();
    combine(&counts, aggregate)
}

fn combine(counts: &[f64], aggregate: OffsetAggregate) -> f64 {
    match aggregate {
        OffsetAggregate::Min => counts.iter().copied().fold(f64::INFINITY, f64::min),
        OffsetAggregate::Mean => counts.iter().sum::<f64>() / counts.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: boxes of one shifted grid counted pixel by pixel.
    fn brute(img: &Bitmap, s: usize, tx: usize, ty: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for y in 0..img.height() {
            for x in 0..img.width() {
                if img.get(x, y) {
                    seen.insert(((x + s - tx) / s, (y + s - ty) / s));
                }
            }
        }
        seen.len()
    }

    #[test]
    fn summed_area_counts_match_brute_force() {
        // A scattered pattern on a non-square image, so that edge boxes are partial.
        let bits: Vec<bool> = (0..37 * 23)
            .map(|i| (i * 7919 + i / 5 * 31) % 13 == 0)
            .collect();
        let img = Bitmap::new(37, 23, &bits).unwrap();
        let sat = SummedArea::new(&img);
        for s in [2usize, 3, 5, 8] {
            for (tx, ty) in [(0, 0), (1, 0), (0, s - 1), (s / 2, s / 3)] {
                let ex = edges(37, s, tx);
                let ey = edges(23, s, ty);
                let mut c = 0;
                for yy in ey.windows(2) {
                    for xx in ex.windows(2) {
                        c += usize::from(sat.occupied(xx[0], yy[0], xx[1], yy[1]));
                    }
                }
                assert_eq!(c, brute(&img, s, tx, ty), "s={s} shift=({tx},{ty})");
            }
        }
    }

    #[test]
    fn bad_input_is_rejected() {
        let cfg = BoxCountConfig::default();
        let empty = Bitmap::from_fn(64, 64, |_, _| false).unwrap();
        assert!(box_count_image(&empty, &cfg)
            .unwrap_err()
            .to_string()
            .contains("all zero"));
        let dot = Bitmap::from_fn(64, 64, |x, y| x == 3 && y == 4).unwrap();
        assert!(box_count_image(&dot, &cfg).is_err());
        let sq = Bitmap::from_fn(64, 64, |x, y| x < 10 && y < 10).unwrap();
        let big = cfg.clone().with_min_scale(20.0).unwrap();
        let e = box_count_image(&sq, &big).unwrap_err().to_string();
        assert!(e.contains("smaller than the smallest box"), "{e}");
        let pts = ndarray::Array2::<f64>::zeros((10, 2));
        assert!(box_count_points(pts.view(), &cfg).is_err());
        let mut nan = ndarray::Array2::<f64>::zeros((10, 2));
        nan[[3, 1]] = f64::NAN;
        assert!(box_count_points(nan.view(), &cfg)
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        // Many copies of one point and a few others: the ladder must stop, not overflow.
        let mut lumpy = ndarray::Array2::<f64>::zeros((4000, 2));
        for i in 0..10 {
            lumpy[[i, 0]] = i as f64;
        }
        let _ = box_count_points(lumpy.view(), &cfg);
        let tiny = cfg.clone().with_min_scale(1e-300).unwrap();
        assert!(box_count_points(lumpy.view(), &tiny).is_err());
        assert!(cfg.clone().with_offsets(0).is_err());
        assert!(cfg.clone().with_min_scale(f64::NAN).is_err());
        assert!(cfg
            .clone()
            .with_fit_range(FitRange::Scales(4.0, 2.0))
            .is_err());
    }
}
