//! Diamond-square midpoint displacement (Douillet's generator, the paper's Fig. 8).

use super::check_dyadic_size;
use crate::error::{Error, Result};
use ndarray::Array2;
use rand::Rng;

/// Settings of [`diamond_square`].
///
/// The defaults reproduce N. Douillet's MATLAB generator as the paper's authors called it
/// (`fractal_landscape_generator.m`, MATLAB File Exchange #73273): a 1025 x 1025 grid, starting
/// roughness ("rugosite") 3, amplitude halved at every level.
#[derive(Debug, Clone, PartialEq)]
pub struct DiamondSquareConfig {
    /// Grid side, `2^k + 1` (default 1025).
    pub size: usize,
    /// Width `r0` of the uniform noise added at the first level: the centre value is exactly
    /// uniform on `[-r0/2, r0/2]` (default 3, range: finite and > 0). The output is exactly
    /// proportional to `r0` for a fixed RNG stream.
    pub roughness: f64,
    /// Factor applied to the noise width after each level (default 0.5, Douillet's choice;
    /// range (0, 1]). Voss's midpoint displacement for a Hurst exponent `H` would use `2^-H`;
    /// Douillet's 0.5 nominally means `H = 1`, yet the surfaces measure `H ~ 0.8` at lags of 1-16
    /// nodes because the square-step averaging leaves creases (see the module tests).
    pub decay: f64,
}

impl Default for DiamondSquareConfig {
    fn default() -> Self {
        DiamondSquareConfig {
            size: 1025,
            roughness: 3.0,
            decay: 0.5,
        }
    }
}

/// Generates a diamond-square (midpoint displacement) surface.
///
/// The four corners are 0. At each level with square side `s` and noise width `r`:
/// the diamond step sets each square's centre to the mean of its four corners plus
/// `(U - 1/2) r`; the square step sets each edge midpoint to the mean of its four neighbours at
/// distance `s/2` (three on the border) plus `(U - 1/2) r`, with `U ~ Uniform(0, 1)`; then
/// `r <- decay * r` and `s <- s/2`. Noise is drawn in row-major order within each step.
///
/// # Formula
/// ```text
/// centre = mean(4 diagonal corners) + (U - 1/2) r          (diamond)
/// edge   = mean(2-4 axis neighbours) + (U - 1/2) r          (square)
/// r_{level+1} = decay * r_level,  r_0 = roughness
/// ```
///
/// # Errors
/// `size` not `2^k + 1`, a roughness that is not finite and positive, or a decay outside (0, 1].
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{diamond_square, DiamondSquareConfig};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let cfg = DiamondSquareConfig { size: 65, ..Default::default() };
/// let z = diamond_square(&cfg, &mut rng).unwrap();
/// assert_eq!(z.dim(), (65, 65));
/// assert_eq!(z[[0, 0]], 0.0);
/// assert!(z[[32, 32]].abs() <= 1.5); // the centre is uniform on [-r0/2, r0/2]
/// ```
///
/// # References
/// N. Douillet, "Fractal landscape generator", MATLAB Central File Exchange 73273 (2020);
/// A. Fournier, D. Fussell, L. Carpenter, Commun. ACM 25, 371 (1982).
pub fn diamond_square<R: Rng + ?Sized>(
    cfg: &DiamondSquareConfig,
    rng: &mut R,
) -> Result<Array2<f64>> {
    check_dyadic_size(cfg.size)?;
    if !(cfg.roughness > 0.0 && cfg.roughness.is_finite()) {
        return Err(Error::param(
            "roughness",
            format!("must be finite and > 0, got {}", cfg.roughness),
        ));
    }
    if !(cfg.decay > 0.0 && cfg.decay <= 1.0) {
        return Err(Error::param(
            "decay",
            format!("must lie in (0, 1], got {}", cfg.decay),
        ));
    }
    let n = cfg.size;
    let mut z = Array2::<f64>::zeros((n, n));
    let mut step = n - 1;
    let mut r = cfg.roughness;
    while step > 1 {
        let half = step / 2;
        // Diamond step: centres of the squares of side `step`.
        for i in (half..n).step_by(step) {
            for j in (half..n).step_by(step) {
                let m = 0.25
                    * (z[[i - half, j - half]]
                        + z[[i - half, j + half]]
                        + z[[i + half, j - half]]
                        + z[[i + half, j + half]]);
                z[[i, j]] = m + (rng.random::<f64>() - 0.5) * r;
            }
        }
        // Square step: edge midpoints, i.e. nodes on the `half` lattice with exactly one
        // coordinate an odd multiple of `half`.
        for i in (0..n).step_by(half) {
            let offset = if (i / half).is_multiple_of(2) {
                half
            } else {
                0
            };
            for j in (offset..n).step_by(step) {
                let mut sum = 0.0;
                let mut count = 0.0;
                if i >= half {
                    sum += z[[i - half, j]];
                    count += 1.0;
                }
                if i + half < n {
                    sum += z[[i + half, j]];
                    count += 1.0;
                }
                if j >= half {
                    sum += z[[i, j - half]];
                    count += 1.0;
                }
                if j + half < n {
                    sum += z[[i, j + half]];
                    count += 1.0;
                }
                z[[i, j]] = sum / count + (rng.random::<f64>() - 0.5) * r;
            }
        }
        r *= cfg.decay;
        step = half;
    }
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rejects_bad_sizes_and_parameters() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for size in [0, 1, 2, 4, 100, 1024] {
            let cfg = DiamondSquareConfig {
                size,
                ..Default::default()
            };
            assert!(matches!(
                diamond_square(&cfg, &mut rng),
                Err(Error::InvalidParameter { name: "size", .. })
            ));
        }
        for roughness in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let cfg = DiamondSquareConfig {
                size: 9,
                roughness,
                ..Default::default()
            };
            assert!(diamond_square(&cfg, &mut rng).is_err());
        }
        for decay in [0.0, 1.5, f64::NAN] {
            let cfg = DiamondSquareConfig {
                size: 9,
                decay,
                ..Default::default()
            };
            assert!(diamond_square(&cfg, &mut rng).is_err());
        }
    }

    #[test]
    fn every_node_is_assigned_and_corners_stay_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let cfg = DiamondSquareConfig {
            size: 33,
            ..Default::default()
        };
        let z = diamond_square(&cfg, &mut rng).unwrap();
        for c in [[0, 0], [0, 32], [32, 0], [32, 32]] {
            assert_eq!(z[c], 0.0);
        }
        // Apart from the corners, an unassigned node would be exactly 0.
        let zeros = z.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(zeros, 4);
    }

    #[test]
    fn output_is_linear_in_roughness() {
        let run = |r0: f64| {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let cfg = DiamondSquareConfig {
                size: 17,
                roughness: r0,
                ..Default::default()
            };
            diamond_square(&cfg, &mut rng).unwrap()
        };
        let a = run(3.0);
        let b = run(6.0);
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((2.0 * x - y).abs() <= 1e-14 * y.abs().max(1.0));
        }
    }

    #[test]
    fn first_level_values_follow_the_recurrence() {
        // 3 x 3 grid: one diamond step and one square step, by hand.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let cfg = DiamondSquareConfig {
            size: 3,
            roughness: 3.0,
            decay: 0.5,
        };
        let z = diamond_square(&cfg, &mut rng).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let u: Vec<f64> = (0..5).map(|_| rng.random::<f64>() - 0.5).collect();
        let c = 3.0 * u[0];
        assert_eq!(z[[1, 1]], c);
        // Row-major order of the square step: (0,1), (1,0), (1,2), (2,1).
        assert!((z[[0, 1]] - (c / 3.0 + 3.0 * u[1])).abs() < 1e-15);
        assert!((z[[1, 0]] - (c / 3.0 + 3.0 * u[2])).abs() < 1e-15);
        assert!((z[[1, 2]] - (c / 3.0 + 3.0 * u[3])).abs() < 1e-15);
        assert!((z[[2, 1]] - (c / 3.0 + 3.0 * u[4])).abs() < 1e-15);
    }
}
