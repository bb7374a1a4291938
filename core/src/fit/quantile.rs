//! McCulloch's (1986) quantile estimator.
//!
//! Tables III, IV, V and VII of J. H. McCulloch, "Simple consistent estimators of stable
//! distribution parameters", Commun. Statist. Simul. 15 (1986) 1109-1136, as transcribed in
//! scipy 1.17.1 (`scipy/stats/_levy_stable/__init__.py`, `_fitstart_S1`), with the same bilinear
//! interpolation (clamped at the table edges, as FITPACK's `bispev` does) and numpy's default
//! (linear) sample quantiles, so that results agree with scipy's `_fitstart_S0` to rounding.

use super::{check_data, Estimator, Method, Param, StableFit};
use crate::Result;
use std::f64::consts::PI;

const NU_ALPHA: [f64; 15] = [
    2.439, 2.5, 2.6, 2.7, 2.8, 3.0, 3.2, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 25.0,
];
const NU_BETA: [f64; 7] = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0];

// Table III: alpha = psi_1(nu_alpha [rows], nu_beta [columns]).
const ALPHA_TAB: [[f64; 7]; 15] = [
    [2.000, 2.000, 2.000, 2.000, 2.000, 2.000, 2.000],
    [1.916, 1.924, 1.924, 1.924, 1.924, 1.924, 1.924],
    [1.808, 1.813, 1.829, 1.829, 1.829, 1.829, 1.829],
    [1.729, 1.730, 1.737, 1.745, 1.745, 1.745, 1.745],
    [1.664, 1.663, 1.663, 1.668, 1.676, 1.676, 1.676],
    [1.563, 1.560, 1.553, 1.548, 1.547, 1.547, 1.547],
    [1.484, 1.480, 1.471, 1.460, 1.448, 1.438, 1.438],
    [1.391, 1.386, 1.378, 1.364, 1.337, 1.318, 1.318],
    [1.279, 1.273, 1.266, 1.250, 1.210, 1.184, 1.150],
    [1.128, 1.121, 1.114, 1.101, 1.067, 1.027, 0.973],
    [1.029, 1.021, 1.014, 1.004, 0.974, 0.935, 0.874],
    [0.896, 0.892, 0.884, 0.883, 0.855, 0.823, 0.769],
    [0.818, 0.812, 0.806, 0.801, 0.780, 0.756, 0.691],
    [0.698, 0.695, 0.692, 0.689, 0.676, 0.656, 0.597],
    [0.593, 0.590, 0.588, 0.586, 0.579, 0.563, 0.513],
];

// Table IV: beta = psi_2(nu_alpha [rows], nu_beta [columns]).
const BETA_TAB: [[f64; 7]; 15] = [
    [0.0, 2.160, 1.000, 1.000, 1.000, 1.000, 1.000],
    [0.0, 1.592, 3.390, 1.000, 1.000, 1.000, 1.000],
    [0.0, 0.759, 1.800, 1.000, 1.000, 1.000, 1.000],
    [0.0, 0.482, 1.048, 1.694, 1.000, 1.000, 1.000],
    [0.0, 0.360, 0.760, 1.232, 2.229, 1.000, 1.000],
    [0.0, 0.253, 0.518, 0.823, 1.575, 1.000, 1.000],
    [0.0, 0.203, 0.410, 0.632, 1.244, 1.906, 1.000],
    [0.0, 0.165, 0.332, 0.499, 0.943, 1.560, 1.000],
    [0.0, 0.136, 0.271, 0.404, 0.689, 1.230, 2.195],
    [0.0, 0.109, 0.216, 0.323, 0.539, 0.827, 1.917],
    [0.0, 0.096, 0.190, 0.284, 0.472, 0.693, 1.759],
    [0.0, 0.082, 0.163, 0.243, 0.412, 0.601, 1.596],
    [0.0, 0.074, 0.147, 0.220, 0.377, 0.546, 1.482],
    [0.0, 0.064, 0.128, 0.191, 0.330, 0.478, 1.362],
    [0.0, 0.056, 0.112, 0.167, 0.285, 0.428, 1.274],
];

// Tables V and VII are indexed by alpha (rows, increasing) and beta (columns).
const ALPHA_RANGE: [f64; 16] = [
    0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0,
];
const BETA_RANGE: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

// Table V: nu_c = psi_3(alpha, beta), rows in increasing alpha.
const NU_C_TAB: [[f64; 5]; 16] = [
    [2.588, 3.073, 4.534, 6.636, 9.144],
    [2.337, 2.634, 3.542, 4.808, 6.247],
    [2.189, 2.392, 3.004, 3.844, 4.775],
    [2.098, 2.244, 2.676, 3.265, 3.912],
    [2.040, 2.149, 2.461, 2.886, 3.356],
    [2.000, 2.085, 2.311, 2.624, 2.973],
    [1.980, 2.040, 2.205, 2.435, 2.696],
    [1.965, 2.007, 2.125, 2.294, 2.491],
    [1.955, 1.984, 2.067, 2.188, 2.333],
    [1.946, 1.967, 2.022, 2.106, 2.211],
    [1.939, 1.952, 1.988, 2.045, 2.116],
    [1.933, 1.940, 1.962, 1.997, 2.043],
    [1.927, 1.930, 1.943, 1.961, 1.987],
    [1.921, 1.922, 1.927, 1.936, 1.947],
    [1.914, 1.915, 1.916, 1.918, 1.921],
    [1.908, 1.908, 1.908, 1.908, 1.908],
];

// Table VII: nu_zeta = psi_5(alpha, beta), rows in increasing alpha.
const NU_ZETA_TAB: [[f64; 5]; 16] = [
    [0.0, -0.061, -0.279, -0.659, -1.198],
    [0.0, -0.078, -0.272, -0.581, -0.997],
    [0.0, -0.089, -0.262, -0.520, -0.853],
    [0.0, -0.096, -0.250, -0.469, -0.742],
    [0.0, -0.099, -0.237, -0.424, -0.652],
    [0.0, -0.098, -0.223, -0.380, -0.576],
    [0.0, -0.095, -0.208, -0.346, -0.508],
    [0.0, -0.090, -0.192, -0.310, -0.447],
    [0.0, -0.084, -0.173, -0.276, -0.390],
    [0.0, -0.075, -0.154, -0.241, -0.335],
    [0.0, -0.066, -0.134, -0.206, -0.283],
    [0.0, -0.056, -0.111, -0.170, -0.232],
    [0.0, -0.043, -0.088, -0.132, -0.179],
    [0.0, -0.030, -0.061, -0.092, -0.123],
    [0.0, -0.017, -0.032, -0.049, -0.064],
    [0.0, 0.000, 0.000, 0.000, 0.000],
];

/// Bilinear interpolation on a rectangular table, clamped at its edges.
fn bilinear<const R: usize, const C: usize>(
    rows: &[f64; R],
    cols: &[f64; C],
    tab: &[[f64; C]; R],
    r: f64,
    c: f64,
) -> f64 {
    let locate = |axis: &[f64], v: f64| -> (usize, f64) {
        let v = v.clamp(axis[0], axis[axis.len() - 1]);
        let mut i = 0;
        while i + 2 < axis.len() && v > axis[i + 1] {
            i += 1;
        }
        (i, (v - axis[i]) / (axis[i + 1] - axis[i]))
    };
    let (i, s) = locate(rows, r);
    let (j, t) = locate(cols, c);
    (1.0 - s) * ((1.0 - t) * tab[i][j] + t * tab[i][j + 1])
        + s * ((1.0 - t) * tab[i + 1][j] + t * tab[i + 1][j + 1])
}

/// Sample quantile with linear interpolation between order statistics (numpy's default,
/// R type 7) of sorted data.
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// McCulloch's estimates (alpha, beta, scale, S0 loc) from the 5, 25, 50, 75, 95 % quantiles.
pub(crate) fn from_quantiles(q: [f64; 5]) -> (f64, f64, f64, f64) {
    let [p05, p25, p50, p75, p95] = q;
    let nu_alpha = (p95 - p05) / (p75 - p25);
    let nu_beta = (p95 + p05 - 2.0 * p50) / (p95 - p05);
    let (alpha, beta) = if nu_alpha >= 2.439 {
        let a = bilinear(&NU_ALPHA, &NU_BETA, &ALPHA_TAB, nu_alpha, nu_beta.abs());
        let b = bilinear(&NU_ALPHA, &NU_BETA, &BETA_TAB, nu_alpha, nu_beta.abs());
        (
            a.clamp(f64::EPSILON, 2.0),
            (nu_beta.signum() * b).clamp(-1.0, 1.0),
        )
    } else {
        (
            2.0,
            if nu_beta == 0.0 {
                0.0
            } else {
                nu_beta.signum()
            },
        )
    };
    let nu_c = bilinear(&ALPHA_RANGE, &BETA_RANGE, &NU_C_TAB, alpha, beta.abs());
    let nu_zeta =
        beta.signum() * bilinear(&ALPHA_RANGE, &BETA_RANGE, &NU_ZETA_TAB, alpha, beta.abs());
    let c = (p75 - p25) / nu_c;
    let zeta = p50 + c * if beta == 0.0 { 0.0 } else { nu_zeta };
    // McCulloch's zeta is the S0 location for alpha != 1; at alpha = 1 scipy takes it as the S1
    // location and shifts it (Nolan's relation), which we follow.
    let loc0 = if alpha != 1.0 {
        zeta
    } else {
        zeta + 2.0 * beta * c * c.ln() / PI
    };
    (alpha, beta, c, loc0)
}

/// McCulloch's (1986) quantile estimator.
///
/// Consistent for alpha in [0.6, 2] and very fast (one sort), but not efficient: use it for
/// starting values and quick looks. `loglik` is the log-likelihood at its estimates; it gives
/// no standard errors.
///
/// # Examples
///
/// ```
/// use anodiff_core::fit::{Estimator, McCulloch};
/// let x: Vec<f64> = (1..1000).map(|i| (std::f64::consts::PI * (i as f64 / 1000.0 - 0.5)).tan()).collect();
/// let f = McCulloch::default().fit(&x).unwrap();
/// assert!((f.alpha - 1.0).abs() < 0.05);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct McCulloch {
    /// Report in this parameterization (default S0).
    pub param: Option<Param>,
}

impl McCulloch {
    /// The estimates (alpha, beta, scale, S0 loc) alone, without the log-likelihood.
    ///
    /// # Errors
    ///
    /// As [`check_data`].
    pub fn estimate(data: &[f64]) -> Result<(f64, f64, f64, f64)> {
        check_data(data)?;
        let mut s = data.to_vec();
        s.sort_by(f64::total_cmp);
        let q = [0.05, 0.25, 0.5, 0.75, 0.95].map(|p| quantile_sorted(&s, p));
        if q[3].partial_cmp(&q[1]) != Some(std::cmp::Ordering::Greater) {
            return Err(crate::Error::InvalidData(
                "the interquartile range is zero (over half the values are equal)".into(),
            ));
        }
        Ok(from_quantiles(q))
    }
}

impl Estimator for McCulloch {
    type Fit = StableFit;

    fn fit(&self, data: &[f64]) -> Result<StableFit> {
        let (alpha, beta, scale, loc) = Self::estimate(data)?;
        let fit =
            super::point_estimate_fit(data, (alpha, beta, scale, loc), Method::Mcculloch, true, 0);
        Ok(super::report(fit, self.param.unwrap_or(Param::S0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookup_hits_the_nodes() {
        assert_eq!(bilinear(&NU_ALPHA, &NU_BETA, &ALPHA_TAB, 3.0, 0.0), 1.563);
        assert_eq!(
            bilinear(&ALPHA_RANGE, &BETA_RANGE, &NU_C_TAB, 1.5, 0.5),
            1.988
        );
        // halfway between two rows
        let v = bilinear(&NU_ALPHA, &NU_BETA, &ALPHA_TAB, 2.9, 0.0);
        assert!((v - 0.5 * (1.664 + 1.563)).abs() < 1e-12);
    }

    #[test]
    fn gaussian_quantiles_give_alpha_two() {
        // N(0, 2) = S(2, 0, 1, 0): nu_alpha = 2.439 exactly gives alpha 2.
        let z = [
            -1.6448536269514722,
            -0.6744897501960817,
            0.0,
            0.6744897501960817,
            1.6448536269514722,
        ];
        let q = z.map(|v| v * 2f64.sqrt());
        let (a, b, c, d) = from_quantiles(q);
        assert_eq!(a, 2.0);
        assert_eq!(b, 0.0);
        // nu_c = 1.908 at alpha = 2: c = 2 * 0.6745 * sqrt 2 / 1.908 = 0.99995.
        assert!((c - 1.0).abs() < 1e-3, "{c}");
        assert_eq!(d, 0.0);
    }
}
