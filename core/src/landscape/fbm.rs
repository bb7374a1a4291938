//! Exact fractional Brownian motion: 1-D by Davies-Harte, 2-D surfaces by Stein's circulant
//! embedding.

use super::fft2::fft2_forward;
use super::{check_hurst, check_size};
use crate::error::{Error, Result};
use ndarray::Array2;
use rand::Rng;
use rand_distr::StandardNormal;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

/// Relative size of a negative circulant eigenvalue that is still rounding error: larger ones
/// mean the embedding is not a covariance and the output would not be exact.
const NEG_EIG_TOL: f64 = 1e-8;

/// Autocovariance of unit-lag fractional Gaussian noise, `gamma(k)`.
///
/// # Formula
/// ```text
/// gamma(k) = ( |k+1|^{2H} - 2 |k|^{2H} + |k-1|^{2H} ) / 2
/// ```
///
/// # Examples
/// ```
/// use anodiff_core::landscape::fgn_autocovariance;
/// assert_eq!(fgn_autocovariance(0, 0.7), 1.0);
/// assert!(fgn_autocovariance(1, 0.5).abs() < 1e-15); // white noise at H = 1/2
/// ```
pub fn fgn_autocovariance(k: usize, hurst: f64) -> f64 {
    let a = 2.0 * hurst;
    let k = k as f64;
    0.5 * ((k + 1.0).powf(a) - 2.0 * k.powf(a) + (k - 1.0).abs().powf(a))
}

/// Exact fractional Gaussian noise: `n` increments of a standard fBm at unit lag, with
/// autocovariance [`fgn_autocovariance`], by the Davies-Harte circulant embedding (size `2n`).
///
/// # Errors
/// `n == 0`, a Hurst exponent outside (0, 1), or (never observed for fGn) a negative circulant
/// eigenvalue, reported as [`Error::NotConverged`].
///
/// # Examples
/// ```
/// use anodiff_core::landscape::fgn;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let x = fgn(4096, 0.5, &mut rng).unwrap();
/// let var = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
/// assert!((var - 1.0).abs() < 0.1); // 4096 white-noise values: sd of var ~ 0.022
/// ```
///
/// # References
/// R. B. Davies, D. S. Harte, Biometrika 74, 95 (1987); C. R. Dietrich, G. N. Newsam,
/// SIAM J. Sci. Comput. 18, 1088 (1997).
pub fn fgn<R: Rng + ?Sized>(n: usize, hurst: f64, rng: &mut R) -> Result<Vec<f64>> {
    Ok(FgnGenerator::new(n, hurst)?.sample(rng))
}

/// Exact fractional Gaussian noise of a fixed length and Hurst exponent, with the circulant
/// eigenvalues and the FFT plan computed once: for the many draws of a Monte Carlo study.
/// [`FgnGenerator::sample`] gives the same series as [`fgn`] from the same generator state;
/// [`FgnGenerator::sample_pair`] gives two independent series for one FFT (the real and
/// imaginary parts of the same complex transform, each exact fGn).
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{fgn, FgnGenerator};
/// use rand::SeedableRng;
/// let gen = FgnGenerator::new(100, 0.3).unwrap();
/// let a = gen.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
/// let b = fgn(100, 0.3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5)).unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Clone)]
pub struct FgnGenerator {
    n: usize,
    sqrt_eig: Vec<f64>,
    fft: std::sync::Arc<dyn rustfft::Fft<f64>>,
}

impl std::fmt::Debug for FgnGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FgnGenerator").field("n", &self.n).finish()
    }
}

impl FgnGenerator {
    /// A generator of `n` increments with Hurst exponent `hurst`.
    ///
    /// # Errors
    /// As [`fgn`].
    pub fn new(n: usize, hurst: f64) -> Result<Self> {
        if n == 0 {
            return Err(Error::param("n", "must be at least 1"));
        }
        check_hurst(hurst)?;
        let m = 2 * n;
        let mut row: Vec<Complex64> = (0..m)
            .map(|k| Complex64::new(fgn_autocovariance(k.min(m - k), hurst), 0.0))
            .collect();
        let fft = FftPlanner::<f64>::new().plan_fft_forward(m);
        fft.process(&mut row);
        let lam = checked_eigenvalues(row.iter().map(|c| c.re))?;
        let sqrt_eig = lam.iter().map(|&l| (l / m as f64).sqrt()).collect();
        Ok(FgnGenerator { n, sqrt_eig, fft })
    }

    /// Number of increments per series.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always `false` (a generator has at least one increment).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn transform<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<Complex64> {
        let mut w: Vec<Complex64> = self
            .sqrt_eig
            .iter()
            .map(|&s| {
                let a: f64 = rng.sample(StandardNormal);
                let b: f64 = rng.sample(StandardNormal);
                Complex64::new(s * a, s * b)
            })
            .collect();
        self.fft.process(&mut w);
        w.truncate(self.n);
        w
    }

    /// One series of `n` increments.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        self.transform(rng).iter().map(|c| c.re).collect()
    }

    /// Two independent series of `n` increments from one transform.
    pub fn sample_pair<R: Rng + ?Sized>(&self, rng: &mut R) -> (Vec<f64>, Vec<f64>) {
        let w = self.transform(rng);
        (
            w.iter().map(|c| c.re).collect(),
            w.iter().map(|c| c.im).collect(),
        )
    }
}

/// Settings of [`fbm_1d`].
#[derive(Debug, Clone, PartialEq)]
pub struct Fbm1dConfig {
    /// Number of increments; the path has `n + 1` points (default 1024, range >= 1).
    pub n: usize,
    /// Hurst exponent (default 0.5, range (0, 1)).
    pub hurst: f64,
    /// Time span of the path: point `k` is at time `k * span / n` (default 1, range > 0).
    pub span: f64,
}

impl Default for Fbm1dConfig {
    fn default() -> Self {
        Fbm1dConfig {
            n: 1024,
            hurst: 0.5,
            span: 1.0,
        }
    }
}

/// Exact fractional Brownian motion `B(t_k)`, `t_k = k span / n`, `k = 0..=n`, with `B(0) = 0`
/// and `Var(B(t) - B(s)) = |t - s|^{2H}`: the cumulative sum of [`fgn`] scaled by
/// `(span / n)^H`.
///
/// # Errors
/// As [`fgn`], plus a span that is not finite and positive.
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{fbm_1d, Fbm1dConfig};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
/// let b = fbm_1d(&Fbm1dConfig { n: 256, hurst: 0.8, span: 1.0 }, &mut rng).unwrap();
/// assert_eq!(b.len(), 257);
/// assert_eq!(b[0], 0.0);
/// ```
pub fn fbm_1d<R: Rng + ?Sized>(cfg: &Fbm1dConfig, rng: &mut R) -> Result<Vec<f64>> {
    if !(cfg.span > 0.0 && cfg.span.is_finite()) {
        return Err(Error::param(
            "span",
            format!("must be finite and > 0, got {}", cfg.span),
        ));
    }
    let inc = fgn(cfg.n, cfg.hurst, rng)?;
    let scale = (cfg.span / cfg.n as f64).powf(cfg.hurst);
    let mut out = Vec::with_capacity(cfg.n + 1);
    let mut acc = 0.0;
    out.push(0.0);
    for v in inc {
        acc += v * scale;
        out.push(acc);
    }
    Ok(out)
}

/// Settings of [`fbm_surface`].
#[derive(Debug, Clone, PartialEq)]
pub struct FbmSurfaceConfig {
    /// Grid side (default 513, range >= 3; any size, `2^k + 1` is not required).
    pub size: usize,
    /// Hurst exponent (default 0.5, range (0, 1)).
    pub hurst: f64,
    /// Scale `s`: `Var(B(p) - B(q)) = s^2 |p - q|^{2H}` with `p, q` in the unit square that the
    /// grid spans (default 1, range > 0).
    pub scale: f64,
}

impl Default for FbmSurfaceConfig {
    fn default() -> Self {
        FbmSurfaceConfig {
            size: 513,
            hurst: 0.5,
            scale: 1.0,
        }
    }
}

/// Stein's embedding constants `(R, beta, c0, c2)` for `alpha = 2H`.
fn stein_constants(alpha: f64) -> (f64, f64, f64, f64) {
    if alpha <= 1.5 {
        (1.0, 0.0, 1.0 - alpha / 2.0, alpha / 2.0)
    } else {
        let r = 2.0;
        let beta = alpha * (2.0 - alpha) / (3.0 * r * (r * r - 1.0));
        let c2 = (alpha - beta * (r - 1.0).powi(2) * (r + 2.0)) / 2.0;
        let c0 = beta * (r - 1.0).powi(3) + 1.0 - c2;
        (r, beta, c0, c2)
    }
}

/// Stein's compactly supported covariance with `c0 - c(r) = r^alpha - c2 r^2` for `r <= 1`.
fn stein_cov(r: f64, alpha: f64, (big_r, beta, c0, c2): (f64, f64, f64, f64)) -> f64 {
    if r <= 1.0 {
        c0 - r.powf(alpha) + c2 * r * r
    } else if r <= big_r {
        beta * (big_r - r).powi(3) / r
    } else {
        0.0
    }
}

/// Smallest integer `>= n` whose only prime factors are 2, 3 and 5 (fast FFT sizes).
fn smooth_size(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut k = m;
        for p in [2, 3, 5] {
            while k.is_multiple_of(p) {
                k /= p;
            }
        }
        if k == 1 {
            return m;
        }
        m += 1;
    }
}

/// Eigenvalues (as the real parts of the 2-D DFT) of the `n x n` block-circulant embedding of
/// Stein's covariance on a torus of `n` nodes of spacing `d` per side.
fn embedding_spectrum(
    n: usize,
    d: f64,
    alpha: f64,
    consts: (f64, f64, f64, f64),
) -> Vec<Complex64> {
    let mut row = vec![Complex64::new(0.0, 0.0); n * n];
    for k in 0..n {
        let dk = k.min(n - k) as f64 * d;
        for l in 0..n {
            let dl = l.min(n - l) as f64 * d;
            row[k * n + l] = Complex64::new(stein_cov(dk.hypot(dl), alpha, consts), 0.0);
        }
    }
    fft2_forward(&mut row, n, n);
    row
}

fn checked_eigenvalues(re: impl Iterator<Item = f64>) -> Result<Vec<f64>> {
    let lam: Vec<f64> = re.collect();
    let max = lam.iter().cloned().fold(0.0f64, f64::max);
    let min = lam.iter().cloned().fold(f64::INFINITY, f64::min);
    if max.is_nan() || max <= 0.0 || min < -NEG_EIG_TOL * max {
        return Err(Error::NotConverged(format!(
            "circulant embedding is not non-negative definite (smallest eigenvalue {min:.3e}, \
             largest {max:.3e}); an exact sample cannot be drawn"
        )));
    }
    Ok(lam.into_iter().map(|l| l.max(0.0)).collect())
}

/// Exact fractional Brownian surface on a `size x size` grid spanning the unit square, with
/// `B = 0` at node `[0, 0]`, by Stein's (2002) circulant embedding.
///
/// # Notes
/// Stein embeds the compactly supported covariance `c(r)` (`c0 - r^{2H} + c2 r^2` for `r <= 1`,
/// `beta (R - r)^3 / r` for `1 < r <= R`, 0 beyond) in a torus of side `2R`, draws a stationary
/// field `F` with it by FFT, and returns `B(p) = [F(p) - F(0) + sqrt(2 c2) (X1 p1 + X2 p2)] / sqrt 2`
/// with `X1, X2 ~ N(0, 1)`, whose variogram is exactly `|p - q|^{2H}` for `|p - q| <= 1`. The
/// grid is placed in `[0, R / sqrt 2]^2` (diameter `R`, so every pair is within reach) and
/// rescaled to the unit square by self-similarity. The torus side is therefore about
/// `2 sqrt 2 (size - 1)` nodes (rounded up to a 2-3-5 FFT size): 1025 x 1025 takes a 2916^2
/// FFT (about 0.4 GB of buffers).
///
/// **Range of H.** Stein proves the `R = 1` embedding (`beta = 0`, `c0 = 1 - H`, `c2 = H`) valid
/// for `H <= 0.75`. Above 0.75 this function switches to his `R = 2` piecewise-cubic embedding
/// (`beta = 2H(2 - 2H) / 18`), which is still exact whenever the circulant's eigenvalues are
/// non-negative; they are checked on every call, and a significantly negative one (relative
/// `1e-8`) is an error, never a silent approximation.
///
/// # Errors
/// `size < 3`, `hurst` outside (0, 1), a scale that is not finite and positive, or
/// [`Error::NotConverged`] if the embedding fails the eigenvalue check.
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{fbm_surface, FbmSurfaceConfig};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// let cfg = FbmSurfaceConfig { size: 65, hurst: 0.5, scale: 1.0 };
/// let z = fbm_surface(&cfg, &mut rng).unwrap();
/// assert_eq!(z.dim(), (65, 65));
/// assert_eq!(z[[0, 0]], 0.0);
/// ```
///
/// # References
/// M. L. Stein, "Fast and exact simulation of fractional Brownian surfaces",
/// J. Comput. Graph. Stat. 11, 587 (2002).
pub fn fbm_surface<R: Rng + ?Sized>(cfg: &FbmSurfaceConfig, rng: &mut R) -> Result<Array2<f64>> {
    check_size(cfg.size)?;
    check_hurst(cfg.hurst)?;
    if !(cfg.scale > 0.0 && cfg.scale.is_finite()) {
        return Err(Error::param(
            "scale",
            format!("must be finite and > 0, got {}", cfg.scale),
        ));
    }
    let alpha = 2.0 * cfg.hurst;
    let consts = stein_constants(alpha);
    let big_r = consts.0;
    let m = cfg.size;
    let target = (2.0 * std::f64::consts::SQRT_2 * (m - 1) as f64).ceil() as usize;
    let n = smooth_size(target);
    let d = 2.0 * big_r / n as f64;
    let mut row = embedding_spectrum(n, d, alpha, consts);
    let lam = checked_eigenvalues(row.iter().map(|c| c.re))?;
    let total = (n * n) as f64;
    for (slot, l) in row.iter_mut().zip(&lam) {
        let s = (l / total).sqrt();
        let a: f64 = rng.sample(StandardNormal);
        let b: f64 = rng.sample(StandardNormal);
        *slot = Complex64::new(s * a, s * b);
    }
    fft2_forward(&mut row, n, n);
    let x1: f64 = rng.sample(StandardNormal);
    let x2: f64 = rng.sample(StandardNormal);
    let lin = (2.0 * consts.3).sqrt();
    // Physical side of the grid is s = (m - 1) d <= R / sqrt 2; B(s u) ~ s^H B(u).
    let side = (m - 1) as f64 * d;
    let norm = cfg.scale / (std::f64::consts::SQRT_2 * side.powf(cfg.hurst));
    let f0 = row[0].re;
    Ok(Array2::from_shape_fn((m, m), |(i, j)| {
        let p1 = i as f64 * d;
        let p2 = j as f64 * d;
        norm * (row[i * n + j].re - f0 + lin * (x1 * p1 + x2 * p2))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn stein_covariance_is_c1_at_one() {
        for alpha in [0.4, 1.0, 1.5, 1.6, 1.9] {
            let k = stein_constants(alpha);
            let below = stein_cov(1.0 - 1e-7, alpha, k);
            let above = stein_cov(1.0 + 1e-7, alpha, k);
            assert!((below - above).abs() < 1e-6, "alpha {alpha}");
            let d_below = (stein_cov(1.0, alpha, k) - stein_cov(1.0 - 1e-6, alpha, k)) / 1e-6;
            let d_above = (stein_cov(1.0 + 1e-6, alpha, k) - stein_cov(1.0, alpha, k)) / 1e-6;
            assert!((d_below - d_above).abs() < 1e-4, "alpha {alpha}");
            // c0 - c(r) = r^alpha - c2 r^2 inside the unit disk.
            let r: f64 = 0.37;
            assert!(((k.2 - stein_cov(r, alpha, k)) - (r.powf(alpha) - k.3 * r * r)).abs() < 1e-14);
        }
    }

    #[test]
    fn r1_embedding_fails_above_h_075_and_the_check_catches_it() {
        // Why H > 0.75 switches to R = 2: Stein's R = 1 covariance (beta = 0, c0 = 1 - H,
        // c2 = H) is not positive definite for 2H > 1.5, and its circulant has clearly
        // negative eigenvalues, which the check turns into an error.
        let n = 96;
        let d = 2.0 / n as f64;
        for (alpha, ok) in [(1.4, true), (1.5, true), (1.8, false), (1.95, false)] {
            let r1 = (1.0, 0.0, 1.0 - alpha / 2.0, alpha / 2.0);
            let spec = embedding_spectrum(n, d, alpha, r1);
            let res = checked_eigenvalues(spec.iter().map(|c| c.re));
            assert_eq!(res.is_ok(), ok, "alpha {alpha}");
            // Stein's R = 2 embedding passes at the same alpha (with spacing 4 / n).
            let spec2 = embedding_spectrum(n, 4.0 / n as f64, alpha, stein_constants(alpha));
            assert!(checked_eigenvalues(spec2.iter().map(|c| c.re)).is_ok());
        }
        assert!(matches!(
            checked_eigenvalues([1.0, -0.5].into_iter()),
            Err(Error::NotConverged(_))
        ));
    }

    #[test]
    fn smooth_sizes() {
        assert_eq!(smooth_size(2897), 2916);
        assert_eq!(smooth_size(7), 8);
        assert_eq!(smooth_size(30), 30);
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for hurst in [0.0, 1.0, -0.2, f64::NAN] {
            let cfg = FbmSurfaceConfig {
                size: 9,
                hurst,
                scale: 1.0,
            };
            assert!(matches!(
                fbm_surface(&cfg, &mut rng),
                Err(Error::InvalidParameter { name: "hurst", .. })
            ));
            assert!(fgn(8, hurst, &mut rng).is_err());
        }
        assert!(fbm_surface(
            &FbmSurfaceConfig {
                size: 2,
                ..Default::default()
            },
            &mut rng
        )
        .is_err());
        assert!(fgn(0, 0.5, &mut rng).is_err());
        assert!(fbm_1d(
            &Fbm1dConfig {
                span: 0.0,
                ..Default::default()
            },
            &mut rng
        )
        .is_err());
    }

    #[test]
    fn embeddings_are_nonnegative_across_hurst() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for hurst in [0.05, 0.3, 0.5, 0.75, 0.8, 0.9, 0.95] {
            let cfg = FbmSurfaceConfig {
                size: 33,
                hurst,
                scale: 1.0,
            };
            let z = fbm_surface(&cfg, &mut rng).unwrap();
            assert!(z.iter().all(|v| v.is_finite()), "hurst {hurst}");
            assert!(fgn(100, hurst, &mut rng).is_ok(), "hurst {hurst}");
        }
    }
}
