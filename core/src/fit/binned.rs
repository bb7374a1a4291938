//! Grouped (binned) maximum likelihood for very large samples.
//!
//! One streaming pass puts every value into a fine histogram keyed by its IEEE-754 single
//! precision bits: sign, exponent and the top `m` mantissa bits (default m = 10, so every bin is
//! at most 2^-10 ~ 1e-3 wide relative to its values, and there are at most 2^(9+m) bins). Each bin
//! keeps a u64 count and the f64 sum of its values, so the fit evaluates the log-density at the
//! exact bin mean, where the first-order grouping error vanishes; the remaining bias is of order
//! (bin width / scale)^2 ~ 1e-6 relative, far below the statistical noise at any n that fits in
//! memory. The pass also keeps compensated sums of x and x^2, min, max, the number of exact zeros
//! and of non-finite values. After the pass the cost of the fit depends only on the number of
//! non-empty bins (typically 10^4-10^5), not on n.

use super::likelihood::{bin_correction, Obs};
use super::quantile::from_quantiles;
use super::{Estimator, Method, Mle, Param, StableFit, MIN_N};
use crate::npy::{Dtype, NpyArray};
use crate::{Error, Result};
use rayon::prelude::*;
use std::path::Path;

/// Neumaier-compensated running sum.
#[derive(Debug, Clone, Copy, Default)]
struct KahanSum {
    s: f64,
    c: f64,
}

impl KahanSum {
    #[inline]
    fn add(&mut self, v: f64) {
        let t = self.s + v;
        if self.s.abs() >= v.abs() {
            self.c += (self.s - t) + v;
        } else {
            self.c += (v - t) + self.s;
        }
        self.s = t;
    }
    fn merge(&mut self, o: &KahanSum) {
        self.add(o.s);
        self.add(o.c);
    }
    fn value(&self) -> f64 {
        self.s + self.c
    }
}

/// A fine histogram of values keyed by their f32 bit pattern (see the module documentation).
///
/// # Examples
///
/// ```
/// use anodiff_core::fit::Histogram;
/// let mut h = Histogram::new(10).unwrap();
/// h.extend_f64(&[1.0, 1.0001, -3.0, 0.0]);
/// assert_eq!(h.n(), 4);
/// assert_eq!(h.zeros(), 1);
/// assert_eq!(h.bins().len(), 3); // 1.0 and 1.0001 share a bin of relative width 2^-10
/// ```
#[derive(Debug, Clone)]
pub struct Histogram {
    m: u32,
    counts: Vec<u64>,
    sums: Vec<f64>,
    n: u64,
    zeros: u64,
    nonfinite: u64,
    sum: KahanSum,
    sum_sq: KahanSum,
    min: f64,
    max: f64,
}

/// One non-empty bin: mean of its values, count, and edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    /// Mean of the values in the bin.
    pub mean: f64,
    /// Number of values.
    pub count: u64,
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
}

impl Histogram {
    /// An empty histogram with `mantissa_bits` (4 to 20) mantissa bits per bin key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] outside 4..=20.
    pub fn new(mantissa_bits: u32) -> Result<Histogram> {
        if !(4..=20).contains(&mantissa_bits) {
            return Err(Error::param(
                "mantissa_bits",
                format!("must be in 4..=20, got {mantissa_bits}"),
            ));
        }
        Ok(Histogram::empty(mantissa_bits))
    }

    /// An empty histogram; `mantissa_bits` already validated.
    fn empty(mantissa_bits: u32) -> Histogram {
        let len = 1usize << (9 + mantissa_bits);
        Histogram {
            m: mantissa_bits,
            counts: vec![0; len],
            sums: vec![0.0; len],
            n: 0,
            zeros: 0,
            nonfinite: 0,
            sum: KahanSum::default(),
            sum_sq: KahanSum::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    #[inline]
    fn push(&mut self, x: f64) {
        if !x.is_finite() {
            self.nonfinite += 1;
            return;
        }
        let f = x as f32;
        // f64 values beyond f32's range go to the largest finite f32 bin (their exact value
        // still enters the bin's sum).
        let f = if f.is_finite() {
            f
        } else {
            f32::MAX.copysign(f)
        };
        let key = (f.to_bits() >> (23 - self.m)) as usize;
        self.counts[key] += 1;
        self.sums[key] += x;
        self.n += 1;
        if x == 0.0 {
            self.zeros += 1;
        }
        self.sum.add(x);
        self.sum_sq.add(x * x);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    fn push_bytes(&mut self, c: &[u8], dtype: Dtype) {
        // One loop per dtype, so that the byte-order branch is outside the loop.
        match dtype {
            Dtype::F32Le => c
                .chunks_exact(4)
                .for_each(|b| self.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)),
            Dtype::F32Be => c
                .chunks_exact(4)
                .for_each(|b| self.push(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64)),
            Dtype::F64Le => c.chunks_exact(8).for_each(|b| {
                self.push(f64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }),
            Dtype::F64Be => c.chunks_exact(8).for_each(|b| {
                self.push(f64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }),
        }
    }

    /// Adds f64 values.
    pub fn extend_f64(&mut self, xs: &[f64]) {
        for &x in xs {
            self.push(x);
        }
    }

    /// Adds f32 values (accumulated in f64).
    pub fn extend_f32(&mut self, xs: &[f32]) {
        for &x in xs {
            self.push(x as f64);
        }
    }

    /// Adds the counts and sums of another histogram with the same resolution.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] if the mantissa bits differ.
    pub fn merge(&mut self, other: &Histogram) -> Result<()> {
        if other.m != self.m {
            return Err(Error::Shape(format!(
                "histograms with {} and {} mantissa bits cannot be merged",
                self.m, other.m
            )));
        }
        self.merge_same(other);
        Ok(())
    }

    fn merge_same(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        self.n += other.n;
        self.zeros += other.zeros;
        self.nonfinite += other.nonfinite;
        self.sum.merge(&other.sum);
        self.sum_sq.merge(&other.sum_sq);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Histogram of f64 values, built in parallel.
    ///
    /// # Errors
    ///
    /// As [`Histogram::new`].
    pub fn from_f64(xs: &[f64], mantissa_bits: u32) -> Result<Histogram> {
        Histogram::new(mantissa_bits)?;
        let parts = rayon::current_num_threads().max(1);
        let len = xs.len().div_ceil(parts).max(1);
        let h = xs
            .par_chunks(len)
            .map(|c| {
                let mut h = Histogram::empty(mantissa_bits);
                h.extend_f64(c);
                h
            })
            .reduce(
                || Histogram::empty(mantissa_bits),
                |mut a, b| {
                    a.merge_same(&b);
                    a
                },
            );
        Ok(h)
    }

    /// Histogram of a `.npy` file of f32 or f64 (any shape, C or Fortran order: read flat),
    /// streamed through memory maps of 64 MiB segments in parallel, so memory stays bounded by
    /// the histograms (2^(9+m) x 16 bytes per thread, 8 MiB at m = 10) plus one segment, whatever
    /// the file size.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or mapped; [`Error::Format`] if it is not a
    /// `.npy` file, its dtype is not f32/f64, or it is shorter or longer than its header says
    /// (the same checks and messages as [`NpyArray::open`]).
    pub fn from_npy(path: impl AsRef<Path>, mantissa_bits: u32) -> Result<Histogram> {
        let path = path.as_ref();
        Histogram::new(mantissa_bits)?;
        // The crate's one `.npy` reader checks the header and that the file holds exactly the
        // data it announces (truncation reported with both counts).
        let array = NpyArray::open(path)?;
        let (dtype, offset, count) = (array.dtype(), array.header().data_offset, array.len());
        drop(array);
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let size = dtype.size();
        // Map and scan the data in 64 MiB segments, so the resident mapped pages stay bounded
        // too; each thread keeps one histogram across segments.
        let threads = rayon::current_num_threads().max(1);
        let mut accs: Vec<Histogram> = (0..threads)
            .map(|_| Histogram::empty(mantissa_bits))
            .collect();
        let seg = ((64usize << 20) / size).max(1);
        let mut done = 0usize;
        while done < count {
            let len = seg.min(count - done);
            // SAFETY: the map is read-only and the file is not modified by this process; a file
            // truncated underneath by another process is outside what any reader can guard
            // against.
            let part = unsafe {
                memmap2::MmapOptions::new()
                    .offset((offset + done * size) as u64)
                    .len(len * size)
                    .map(&file)
            }
            .map_err(|e| Error::io(path, e))?;
            #[cfg(unix)]
            let _ = part.advise(memmap2::Advice::Sequential);
            let per = len.div_ceil(threads) * size;
            accs.par_iter_mut()
                .zip(part.par_chunks(per))
                .for_each(|(h, c)| h.push_bytes(c, dtype));
            done += len;
        }
        let mut h = Histogram::empty(mantissa_bits);
        for a in &accs {
            h.merge_same(a);
        }
        Ok(h)
    }

    /// Number of finite values.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Number of exact zeros among them.
    pub fn zeros(&self) -> u64 {
        self.zeros
    }

    /// Mantissa bits of the bin keys (relative bin width `2^-mantissa_bits`).
    pub fn mantissa_bits(&self) -> u32 {
        self.m
    }

    /// Number of NaN or infinite values seen (not binned).
    pub fn nonfinite(&self) -> u64 {
        self.nonfinite
    }

    /// Compensated sum of the values.
    pub fn sum(&self) -> f64 {
        self.sum.value()
    }

    /// Compensated sum of the squared values.
    pub fn sum_sq(&self) -> f64 {
        self.sum_sq.value()
    }

    /// Smallest and largest value.
    pub fn min_max(&self) -> (f64, f64) {
        (self.min, self.max)
    }

    fn edges(&self, key: usize) -> (f64, f64) {
        let shift = 23 - self.m;
        let mag = key & ((1usize << (8 + self.m)) - 1);
        let lo = f32::from_bits((mag as u32) << shift) as f64;
        let hi = f32::from_bits(((mag + 1) as u32) << shift) as f64;
        let hi = if hi.is_finite() { hi } else { lo };
        if key >> (8 + self.m) == 1 {
            (-hi, -lo)
        } else {
            (lo, hi)
        }
    }

    /// Non-empty bins in increasing order of value.
    pub fn bins(&self) -> Vec<Bin> {
        let half = 1usize << (8 + self.m);
        let neg = (half..2 * half).rev();
        let pos = 0..half;
        neg.chain(pos)
            .filter(|&k| self.counts[k] > 0)
            .map(|k| {
                let (lo, hi) = self.edges(k);
                Bin {
                    mean: self.sums[k] / self.counts[k] as f64,
                    count: self.counts[k],
                    lo,
                    hi,
                }
            })
            .collect()
    }

    /// Approximate quantile (linear within the bin), p in [0, 1].
    fn quantiles(bins: &[Bin], n: u64, ps: &[f64]) -> Vec<f64> {
        ps.iter()
            .map(|&p| {
                let target = p * (n - 1) as f64;
                let mut cum = 0.0;
                for b in bins {
                    let c = b.count as f64;
                    if cum + c > target {
                        let frac = ((target - cum + 0.5) / c).clamp(0.0, 1.0);
                        return b.lo + frac * (b.hi - b.lo);
                    }
                    cum += c;
                }
                bins.last().map_or(0.0, |b| b.hi)
            })
            .collect()
    }
}

/// Maximum likelihood on a [`Histogram`] (grouped data), with the configuration of an [`Mle`].
///
/// # Examples
///
/// ```
/// use anodiff_core::fit::{BinnedMle, Histogram};
/// let x: Vec<f64> = (1..4000).map(|i| (std::f64::consts::PI * (i as f64 / 4000.0 - 0.5)).tan()).collect();
/// let h = Histogram::from_f64(&x, 10).unwrap();
/// let f = BinnedMle::new().fit_histogram(&h).unwrap();
/// assert!(f.converged && (f.alpha - 1.0).abs() < 0.03);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BinnedMle {
    /// The likelihood settings (symmetry, fixed loc, tolerance, profile, sandwich, output param).
    pub mle: Mle,
    /// Mantissa bits of the histogram built by [`Estimator::fit`] (default 10).
    pub mantissa_bits: u32,
}

impl Default for BinnedMle {
    fn default() -> Self {
        BinnedMle::new()
    }
}

impl BinnedMle {
    /// Four-parameter binned fit with 10 mantissa bits.
    pub fn new() -> BinnedMle {
        BinnedMle {
            mle: Mle::new(),
            mantissa_bits: 10,
        }
    }

    /// Uses these likelihood settings.
    pub fn with_mle(mut self, mle: Mle) -> BinnedMle {
        self.mle = mle;
        self
    }

    /// Fits on a histogram.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidData`] if it holds non-finite values, fewer than 5 values, or a single
    /// distinct value.
    pub fn fit_histogram(&self, h: &Histogram) -> Result<StableFit> {
        if h.nonfinite > 0 {
            return Err(Error::InvalidData(format!(
                "{} values are NaN or infinite",
                h.nonfinite
            )));
        }
        if h.n == 0 {
            return Err(Error::InvalidData("no values to fit".into()));
        }
        if (h.n as usize) < MIN_N {
            return Err(Error::InvalidData(format!(
                "{} values are too few to fit a stable law (need at least {MIN_N})",
                h.n
            )));
        }
        if h.min == h.max {
            return Err(Error::InvalidData(format!(
                "all {} values are equal ({}); a stable law needs spread",
                h.n, h.min
            )));
        }
        let bins = h.bins();
        let q = Histogram::quantiles(&bins, h.n, &[0.05, 0.25, 0.5, 0.75, 0.95]);
        let mut start = from_quantiles([q[0], q[1], q[2], q[3], q[4]]);
        if !(start.2 > 0.0 && start.2.is_finite()) {
            // Over half the mass in one bin: fall back to the bin spread for a starting scale.
            start.2 = ((h.max - h.min) / 100.0).max(f64::MIN_POSITIVE);
        }
        let x: Vec<f64> = bins.iter().map(|b| b.mean).collect();
        let w: Vec<f64> = bins.iter().map(|b| b.count as f64).collect();
        let width: Vec<f64> = bins.iter().map(|b| b.hi - b.lo).collect();
        let obs = Obs::bins(&x, &w, &width);
        // Fit and report in S0 first: the grouping correction is computed there.
        let report = self.mle_param();
        let mut fit = self
            .mle
            .with_param(Param::S0)
            .fit_obs(&obs, start, Method::Binned);
        let theta = [fit.alpha, fit.beta, fit.scale.ln(), fit.loc];
        fit.loglik += bin_correction(&obs, &theta, self.mle_eval());
        fit.n = h.n;
        fit.zeros = Some(h.zeros);
        Ok(super::report(fit, report))
    }

    fn mle_param(&self) -> Param {
        self.mle.param()
    }

    fn mle_eval(&self) -> super::Evaluation {
        self.mle.evaluation()
    }

    /// Streams a `.npy` file into a histogram and fits it.
    ///
    /// # Errors
    ///
    /// As [`Histogram::from_npy`] and [`BinnedMle::fit_histogram`].
    pub fn fit_npy(&self, path: impl AsRef<Path>) -> Result<StableFit> {
        let h = Histogram::from_npy(path, self.mantissa_bits)?;
        self.fit_histogram(&h)
    }
}

impl Estimator for BinnedMle {
    type Fit = StableFit;

    fn fit(&self, data: &[f64]) -> Result<StableFit> {
        super::check_data(data)?;
        let h = Histogram::from_f64(data, self.mantissa_bits)?;
        self.fit_histogram(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_ordered_and_hold_their_values() {
        let xs = [-1000.0, -1.5, -1e-30, 0.0, 2.0e-3, 1.0, 3.5, 7.0e20];
        let h = Histogram::from_f64(&xs, 10).unwrap();
        let b = h.bins();
        assert_eq!(b.len(), xs.len());
        for (bin, &x) in b.iter().zip(&xs) {
            assert_eq!(bin.mean, x);
            assert!(
                bin.lo <= x && x <= bin.hi,
                "{x} not in [{}, {}]",
                bin.lo,
                bin.hi
            );
            if x != 0.0 {
                assert!((bin.hi - bin.lo) / x.abs() <= 2f64.powi(-10) * 1.0001);
            }
        }
        assert_eq!(h.zeros(), 1);
        assert_eq!(h.min_max(), (-1000.0, 7.0e20));
    }

    #[test]
    fn compensated_sums_are_exact_for_cancelling_values() {
        let mut h = Histogram::new(10).unwrap();
        h.extend_f64(&[1e16, 1.0, -1e16, 1.0]);
        assert_eq!(h.sum(), 2.0);
    }

    #[test]
    fn npy_header_errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        std::fs::write(&p, b"hello world").unwrap();
        assert!(Histogram::from_npy(&p, 10)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let hdr = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
        b.extend_from_slice(hdr.as_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(Histogram::from_npy(&p, 10)
            .unwrap_err()
            .to_string()
            .contains("'<i4'"));
        let hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
        b.extend_from_slice(hdr.as_bytes());
        b.extend_from_slice(&1.5f32.to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(Histogram::from_npy(&p, 10)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        b.extend_from_slice(&2.5f32.to_le_bytes());
        b.extend_from_slice(&(-1.0f32).to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        let h = Histogram::from_npy(&p, 10).unwrap();
        assert_eq!(h.n(), 3);
        assert_eq!(h.sum(), 3.0);
    }
}
