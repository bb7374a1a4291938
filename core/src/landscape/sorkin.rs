//! Sorkin's test: mean squared height difference against distance over random pairs.

use crate::error::{Error, Result};
use crate::regress::LineFit;
use ndarray::Array2;
use rand::Rng;

/// Settings of [`sorkin`].
#[derive(Debug, Clone, PartialEq)]
pub struct SorkinConfig {
    /// Number of random pairs (default 200,000; range >= 100).
    pub n_pairs: usize,
    /// Smallest pair distance in grid nodes (default 1; range >= 1).
    pub min_lag: f64,
    /// Largest pair distance in grid nodes; `None` means a quarter of the shorter side
    /// (default `None`; must exceed `min_lag` and fit in the grid).
    pub max_lag: Option<f64>,
    /// Number of logarithmic distance bins (default 16; range >= 3).
    pub n_bins: usize,
}

impl Default for SorkinConfig {
    fn default() -> Self {
        SorkinConfig {
            n_pairs: 200_000,
            min_lag: 1.0,
            max_lag: None,
            n_bins: 16,
        }
    }
}

/// Result of [`sorkin`]: the binned structure function and its log-log fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sorkin {
    /// Geometric-mean pair distance of each non-empty bin, in grid nodes.
    pub distance: Vec<f64>,
    /// Mean of `(z(p) - z(q))^2` over the pairs in each bin.
    pub mean_sq_diff: Vec<f64>,
    /// Number of pairs in each bin.
    pub count: Vec<usize>,
    /// Ordinary least-squares line `ln mean_sq_diff = a + b ln distance` over the bins with at
    /// least 10 pairs. Its `slope_se` assumes independent bins, which overlapping pairs are not:
    /// treat it as a lower bound.
    pub fit: LineFit,
    /// The fitted slope, an estimate of `2H`.
    pub two_h: f64,
}

/// Sorkin's (1991) fractal test on a gridded surface: for a fractal (fBm-like) surface,
/// `E[(z(p) - z(q))^2] = c |p - q|^{2H}`, so the log-log slope of the mean squared difference
/// against distance estimates `2H`.
///
/// # Notes
/// Each pair is drawn as a distance log-uniform on `[min_lag, max_lag]`, a uniform direction,
/// rounded to an integer grid offset (offset 0 redrawn), and a uniform first node among those
/// whose partner lies on the grid. Log-uniform distances populate the log bins evenly.
///
/// # Errors
/// An array smaller than 3 x 3, a non-finite value, or settings outside their ranges.
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{sorkin, SorkinConfig};
/// use ndarray::Array2;
/// use rand::SeedableRng;
/// // A plane z = x has (z(p) - z(q))^2 = dx^2, growing as distance^2: 2H = 2.
/// let z = Array2::from_shape_fn((64, 64), |(i, _)| i as f64);
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let s = sorkin(&z, &SorkinConfig { n_pairs: 20_000, ..Default::default() }, &mut rng).unwrap();
/// assert!((s.two_h - 2.0).abs() < 0.1);
/// ```
///
/// # References
/// G. B. Sorkin, "Efficient simulated annealing on fractal energy landscapes",
/// Algorithmica 6, 367 (1991).
pub fn sorkin<R: Rng + ?Sized>(z: &Array2<f64>, cfg: &SorkinConfig, rng: &mut R) -> Result<Sorkin> {
    let (rows, cols) = z.dim();
    if rows < 3 || cols < 3 {
        return Err(Error::Shape(format!(
            "Sorkin's test needs at least a 3 x 3 grid, got {rows} x {cols}"
        )));
    }
    if let Some(v) = z.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "the landscape contains a non-finite value ({v})"
        )));
    }
    if cfg.n_pairs < 100 {
        return Err(Error::param(
            "n_pairs",
            format!("must be at least 100, got {}", cfg.n_pairs),
        ));
    }
    if cfg.n_bins < 3 {
        return Err(Error::param(
            "n_bins",
            format!("must be at least 3, got {}", cfg.n_bins),
        ));
    }
    let side = rows.min(cols) as f64;
    let max_lag = cfg.max_lag.unwrap_or((side / 4.0).max(2.0));
    if !(cfg.min_lag >= 1.0 && max_lag > cfg.min_lag && max_lag <= side - 1.0) {
        return Err(Error::param(
            "max_lag",
            format!(
                "need 1 <= min_lag < max_lag <= {} for this grid, got min_lag {} and max_lag {max_lag}",
                side - 1.0,
                cfg.min_lag
            ),
        ));
    }
    let (lo, hi) = (cfg.min_lag.ln(), max_lag.ln());
    let width = (hi - lo) / cfg.n_bins as f64;
    let mut sum_sq = vec![0.0; cfg.n_bins];
    let mut sum_ln_d = vec![0.0; cfg.n_bins];
    let mut count = vec![0usize; cfg.n_bins];
    let mut drawn = 0;
    while drawn < cfg.n_pairs {
        let d = rng.random_range(lo..hi).exp();
        let theta = rng.random_range(0.0..std::f64::consts::TAU);
        let di = (d * theta.cos()).round() as isize;
        let dj = (d * theta.sin()).round() as isize;
        if di == 0 && dj == 0 {
            continue;
        }
        let (adi, adj) = (di.unsigned_abs(), dj.unsigned_abs());
        if adi >= rows || adj >= cols {
            continue;
        }
        let i0 = rng.random_range(0..rows - adi);
        let j0 = rng.random_range(0..cols - adj);
        let (pi, qi) = if di >= 0 {
            (i0, i0 + adi)
        } else {
            (i0 + adi, i0)
        };
        let (pj, qj) = if dj >= 0 {
            (j0, j0 + adj)
        } else {
            (j0 + adj, j0)
        };
        let dist = ((di * di + dj * dj) as f64).sqrt();
        let b = ((dist.ln() - lo) / width).floor();
        drawn += 1;
        if !(b >= 0.0 && b < cfg.n_bins as f64) {
            continue; // rounding pushed the distance outside [min_lag, max_lag]
        }
        let b = b as usize;
        let diff = z[[pi, pj]] - z[[qi, qj]];
        sum_sq[b] += diff * diff;
        sum_ln_d[b] += dist.ln();
        count[b] += 1;
    }
    let mut distance = Vec::new();
    let mut mean_sq_diff = Vec::new();
    let mut counts = Vec::new();
    for b in 0..cfg.n_bins {
        if count[b] > 0 {
            distance.push((sum_ln_d[b] / count[b] as f64).exp());
            mean_sq_diff.push(sum_sq[b] / count[b] as f64);
            counts.push(count[b]);
        }
    }
    let (x, y): (Vec<f64>, Vec<f64>) = distance
        .iter()
        .zip(&mean_sq_diff)
        .zip(&counts)
        .filter(|&((_, &m), &c)| c >= 10 && m > 0.0)
        .map(|((d, m), _)| (d.ln(), m.ln()))
        .unzip();
    if x.len() < 3 {
        return Err(Error::InvalidData(
            "Sorkin's test: fewer than 3 distance bins with 10 pairs and a non-zero difference \
             (is the landscape constant?)"
                .into(),
        ));
    }
    let fit = LineFit::ols(&x, &y)?;
    Ok(Sorkin {
        distance,
        mean_sq_diff,
        count: counts,
        two_h: fit.slope,
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn constant_and_tiny_landscapes_are_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let flat = Array2::from_elem((32, 32), 1.0);
        assert!(sorkin(&flat, &SorkinConfig::default(), &mut rng).is_err());
        let tiny = Array2::from_elem((2, 5), 1.0);
        assert!(sorkin(&tiny, &SorkinConfig::default(), &mut rng).is_err());
        let mut nan = Array2::from_shape_fn((16, 16), |(i, j)| (i + j) as f64);
        nan[[3, 3]] = f64::NAN;
        assert!(sorkin(&nan, &SorkinConfig::default(), &mut rng).is_err());
        let cfg = SorkinConfig {
            max_lag: Some(100.0),
            ..Default::default()
        };
        assert!(sorkin(&Array2::zeros((16, 16)), &cfg, &mut rng).is_err());
    }

    #[test]
    fn plane_gives_slope_two_exactly_per_direction_average() {
        // z = x + y: (dz)^2 = (di + dj)^2, which averages over directions to d^2.
        let z = Array2::from_shape_fn((128, 128), |(i, j)| (i + j) as f64);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let s = sorkin(&z, &SorkinConfig::default(), &mut rng).unwrap();
        assert!((s.two_h - 2.0).abs() < 0.05, "{}", s.two_h);
    }
}
