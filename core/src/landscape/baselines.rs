//! The paper's non-fractal baselines: convex surfaces and the shuffled-then-smoothed surrogate.

use super::check_size;
use crate::error::{Error, Result};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::Rng;

fn coord(i: usize, n: usize) -> f64 {
    -1.0 + 2.0 * i as f64 / (n - 1) as f64
}

fn check_positive(name: &'static str, v: f64) -> Result<()> {
    if !(v > 0.0 && v.is_finite()) {
        return Err(Error::param(
            name,
            format!("must be finite and > 0, got {v}"),
        ));
    }
    Ok(())
}

/// Convex paraboloid `z = curvature (x^2 + y^2)` on the `size x size` grid over `[-1, 1]^2`,
/// the convex landscape the paper's text describes (Fig. 8(f)).
///
/// # Errors
/// `size < 3` or a curvature that is not finite and positive.
///
/// # Examples
/// ```
/// let z = anodiff_core::landscape::paraboloid(5, 0.5).unwrap();
/// assert_eq!(z[[2, 2]], 0.0);
/// assert_eq!(z[[0, 0]], 1.0);
/// ```
pub fn paraboloid(size: usize, curvature: f64) -> Result<Array2<f64>> {
    check_size(size)?;
    check_positive("curvature", curvature)?;
    Ok(Array2::from_shape_fn((size, size), |(i, j)| {
        let (x, y) = (coord(i, size), coord(j, size));
        curvature * (x * x + y * y)
    }))
}

/// Cone `z = slope sqrt(x^2 + y^2)` on the `size x size` grid over `[-1, 1]^2`: the "convex"
/// landscape the authors' code actually used (`toy_gaussian_landscape.mat`, a 257 x 257 cone with
/// `|grad L| = 0.5` in walker units, so slope 0.5 reproduces it).
///
/// # Errors
/// `size < 3` or a slope that is not finite and positive.
///
/// # Examples
/// ```
/// let z = anodiff_core::landscape::cone(5, 0.5).unwrap();
/// assert_eq!(z[[2, 2]], 0.0);
/// assert!((z[[0, 2]] - 0.5).abs() < 1e-15);
/// ```
pub fn cone(size: usize, slope: f64) -> Result<Array2<f64>> {
    check_size(size)?;
    check_positive("slope", slope)?;
    Ok(Array2::from_shape_fn((size, size), |(i, j)| {
        slope * coord(i, size).hypot(coord(j, size))
    }))
}

/// Gaussian blur with standard deviation `sigma` nodes, separable, kernel half-width
/// `ceil(2 sigma)` and replicated borders (MATLAB `imgaussfilt` defaults, which the authors used).
///
/// # Errors
/// A sigma that is not finite and positive, an empty array, or a non-finite value.
///
/// # Examples
/// ```
/// use ndarray::Array2;
/// let flat = Array2::from_elem((10, 12), 2.5);
/// let b = anodiff_core::landscape::gaussian_blur(&flat, 3.0).unwrap();
/// assert!(b.iter().all(|v| (v - 2.5).abs() < 1e-12));
/// ```
pub fn gaussian_blur(z: &Array2<f64>, sigma: f64) -> Result<Array2<f64>> {
    check_positive("sigma", sigma)?;
    let (rows, cols) = z.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidData("cannot blur an empty array".into()));
    }
    if z.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidData(
            "cannot blur an array with NaN or infinite values".into(),
        ));
    }
    let half = (2.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f64> = (-half..=half)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    kernel.iter_mut().for_each(|w| *w /= total);
    let clampi = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = Array2::<f64>::zeros((rows, cols));
    for i in 0..rows {
        for j in 0..cols {
            let mut s = 0.0;
            for (t, w) in kernel.iter().enumerate() {
                s += w * z[[clampi(i as isize + t as isize - half, rows), j]];
            }
            tmp[[i, j]] = s;
        }
    }
    let mut out = Array2::<f64>::zeros((rows, cols));
    for i in 0..rows {
        for j in 0..cols {
            let mut s = 0.0;
            for (t, w) in kernel.iter().enumerate() {
                s += w * tmp[[i, clampi(j as isize + t as isize - half, cols)]];
            }
            out[[i, j]] = s;
        }
    }
    Ok(out)
}

/// Settings of [`shuffle_smooth`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShuffleSmoothConfig {
    /// Standard deviation of the Gaussian blur in grid nodes (default 8, the authors' value on a
    /// 1025 grid; range > 0).
    pub sigma: f64,
}

impl Default for ShuffleSmoothConfig {
    fn default() -> Self {
        ShuffleSmoothConfig { sigma: 8.0 }
    }
}

/// The "randomly shuffled then smoothed" landscape of Fig. 8(e): the values of `z` are permuted
/// uniformly at random (destroying all spatial correlation but keeping the height distribution)
/// and blurred by [`gaussian_blur`], which makes the surface differentiable with many shallow
/// local minima.
///
/// The authors' script also raised the result to the power 0.7; that step is omitted here
/// because it is undefined for the negative heights diamond-square produces and does not change
/// where the minima are.
///
/// # Errors
/// As [`gaussian_blur`].
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{diamond_square, shuffle_smooth, DiamondSquareConfig, ShuffleSmoothConfig};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
/// let z = diamond_square(&DiamondSquareConfig { size: 65, ..Default::default() }, &mut rng).unwrap();
/// let s = shuffle_smooth(&z, &ShuffleSmoothConfig { sigma: 2.0 }, &mut rng).unwrap();
/// assert_eq!(s.dim(), (65, 65));
/// ```
pub fn shuffle_smooth<R: Rng + ?Sized>(
    z: &Array2<f64>,
    cfg: &ShuffleSmoothConfig,
    rng: &mut R,
) -> Result<Array2<f64>> {
    check_positive("sigma", cfg.sigma)?;
    let dim = z.dim();
    let mut values: Vec<f64> = z.iter().cloned().collect();
    values.shuffle(rng);
    let shuffled = Array2::from_shape_vec(dim, values)
        .map_err(|e| Error::Shape(format!("shuffled landscape: {e}")))?;
    gaussian_blur(&shuffled, cfg.sigma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn blur_preserves_mass_of_interior_impulse_and_has_right_width() {
        let mut z = Array2::<f64>::zeros((41, 41));
        z[[20, 20]] = 1.0;
        let sigma = 3.0;
        let b = gaussian_blur(&z, sigma).unwrap();
        let total: f64 = b.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        // Second moment along one axis: the truncated (|k| <= 6) discrete Gaussian's variance,
        // computed independently here.
        let w: Vec<f64> = (-6i32..=6)
            .map(|k| (-(k * k) as f64 / 18.0).exp())
            .collect();
        let s: f64 = w.iter().sum();
        let var: f64 = (-6i32..=6)
            .zip(&w)
            .map(|(k, wk)| (k * k) as f64 * wk / s)
            .sum();
        let m2: f64 = (0..41)
            .flat_map(|i| (0..41).map(move |j| (i, j)))
            .map(|(i, j)| ((i as f64) - 20.0).powi(2) * b[[i, j]])
            .sum();
        assert!((m2 - var).abs() < 1e-12);
    }

    #[test]
    fn shuffle_keeps_the_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let z = Array2::from_shape_fn((7, 7), |(i, j)| (i * 7 + j) as f64);
        let mut values: Vec<f64> = z.iter().cloned().collect();
        let s = {
            let mut v = values.clone();
            v.shuffle(&mut rng);
            v
        };
        let mut sorted = s.clone();
        sorted.sort_by(f64::total_cmp);
        values.sort_by(f64::total_cmp);
        assert_eq!(sorted, values);
        // Blurring a constant is the identity, whatever the permutation.
        let c = Array2::from_elem((9, 9), 1.25);
        let out = shuffle_smooth(&c, &ShuffleSmoothConfig::default(), &mut rng).unwrap();
        assert!(out.iter().all(|v| (v - 1.25).abs() < 1e-12));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(paraboloid(2, 1.0).is_err());
        assert!(paraboloid(5, -1.0).is_err());
        assert!(cone(5, f64::NAN).is_err());
        let mut z = Array2::<f64>::zeros((4, 4));
        assert!(gaussian_blur(&z, 0.0).is_err());
        z[[1, 1]] = f64::NAN;
        assert!(gaussian_blur(&z, 1.0).is_err());
        assert!(gaussian_blur(&Array2::<f64>::zeros((0, 3)), 1.0).is_err());
    }
}
