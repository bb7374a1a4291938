//! Landscape generators and the geometry tests that go with them.
//!
//! A landscape is a surface `z = f(x, y)` sampled on a square grid, stored as an
//! [`ndarray::Array2<f64>`] whose axis 0 runs along `x` and axis 1 along `y`. The generators
//! here produce the surfaces of the paper's 2-D model (Fig. 8) and the oracles other modules are
//! validated on:
//!
//! - [`diamond_square`]: midpoint displacement with uniform noise, amplitude halved per level
//!   (N. Douillet's MATLAB generator, the one behind the paper's Fig. 8);
//! - [`fbm_surface`]: exact fractional Brownian surfaces by Stein's (2002) circulant embedding;
//!   [`fgn`] and [`fbm_1d`]: exact 1-D fractional Gaussian noise and motion (Davies-Harte);
//! - [`spectral_surface`]: spectral synthesis, fast but only approximately fractional;
//! - [`paraboloid`], [`cone`]: the convex baselines (the paper says paraboloid, the authors'
//!   code used a cone); [`shuffle_smooth`]: the "randomly shuffled then smoothed" surrogate;
//! - [`sorkin`]: Sorkin's test, the mean squared height difference against distance over random
//!   pairs, whose log-log slope is `2H`;
//! - [`Landscape`]: a validated grid on `[-1, 1]^2` with bilinear values and gradients, which the
//!   SGD model of [`crate::toy`] walks on.
//!
//! Every random generator takes a configuration value (with [`Default`]) and a caller-supplied
//! RNG; none seeds itself.

mod baselines;
mod diamond_square;
mod fbm;
mod fft2;
mod grid;
mod sorkin;
mod spectral;

pub use baselines::{cone, gaussian_blur, paraboloid, shuffle_smooth, ShuffleSmoothConfig};
pub use diamond_square::{diamond_square, DiamondSquareConfig};
pub use fbm::{
    fbm_1d, fbm_surface, fgn, fgn_autocovariance, Fbm1dConfig, FbmSurfaceConfig, FgnGenerator,
};
pub use grid::Landscape;
pub use sorkin::{sorkin, Sorkin, SorkinConfig};
pub use spectral::{spectral_surface, SpectralConfig};

use crate::error::{Error, Result};

/// Checks that `size` is `2^k + 1` with `k >= 1`, the sizes midpoint displacement needs.
pub(crate) fn check_dyadic_size(size: usize) -> Result<u32> {
    if size >= 3 && (size - 1).is_power_of_two() {
        Ok((size - 1).trailing_zeros())
    } else {
        Err(Error::param(
            "size",
            format!("must be 2^k + 1 with k >= 1 (3, 5, 9, ..., 1025, 2049), got {size}"),
        ))
    }
}

/// Checks a Hurst exponent in the open interval (0, 1).
pub(crate) fn check_hurst(hurst: f64) -> Result<()> {
    if !(hurst > 0.0 && hurst < 1.0) {
        return Err(Error::param(
            "hurst",
            format!("must lie in the open interval (0, 1), got {hurst}"),
        ));
    }
    Ok(())
}

/// Checks a grid side of at least 3 nodes.
pub(crate) fn check_size(size: usize) -> Result<()> {
    if size < 3 {
        return Err(Error::param(
            "size",
            format!("must be at least 3 grid nodes, got {size}"),
        ));
    }
    Ok(())
}
