//! The shape of an MSD curve beyond one power law: a smooth sum of two power laws and local
//! slopes `d ln MSD / d ln tau`.

// Checks are written `!(x > 0.0)` (the style guide's form) so that NaN fails them too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{Error, Result};
use crate::regress::segmented::SegmentedFit;
use crate::regress::LineFit;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// A smooth sum of two power laws `A tau^a1 + B tau^a2`, fitted by Levenberg-Marquardt on
/// `ln MSD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoPowerFit {
    /// The smaller exponent (dominant at short lags when `a1 < a2`).
    pub a1: f64,
    /// The larger exponent.
    pub a2: f64,
    /// `ln A`.
    pub log_a: f64,
    /// `ln B`.
    pub log_b: f64,
    /// Lag at which the two terms are equal, `(A/B)^(1/(a2 - a1))`.
    pub tau_equal: f64,
    /// Residual sum of squares of `ln MSD`.
    pub rss: f64,
    /// Whether the iteration met its tolerance.
    pub converged: bool,
}

/// The local exponent `alpha(tau) = d ln MSD / d ln tau` from a straight line through the
/// points within a log-lag window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalSlope {
    /// Centre lag.
    pub tau: f64,
    /// Local slope.
    pub alpha: f64,
}

/// Local slopes of `ln y` against `ln x` over windows of `±half_width` in `ln x` (at least 3
/// points each; lags whose window has fewer are skipped).
///
/// # Errors
/// Mismatched lengths, a non-positive value, or a non-positive `half_width`.
pub fn local_slopes(x: &[f64], y: &[f64], half_width: f64) -> Result<Vec<LocalSlope>> {
    if x.len() != y.len() {
        return Err(Error::Shape(
            "local slopes: x and y differ in length".into(),
        ));
    }
    if !(half_width > 0.0) {
        return Err(Error::param("half_width", "must be > 0"));
    }
    if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && y[i] > 0.0)) {
        return Err(Error::InvalidData(format!(
            "local slopes need positive values, point {i} is ({}, {})",
            x[i], y[i]
        )));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mut out = Vec::new();
    for i in 0..x.len() {
        let sel: Vec<usize> = (0..x.len())
            .filter(|&j| (lx[j] - lx[i]).abs() <= half_width)
            .collect();
        if sel.len() < 3 {
            continue;
        }
        let xs: Vec<f64> = sel.iter().map(|&j| lx[j]).collect();
        let ys: Vec<f64> = sel.iter().map(|&j| ly[j]).collect();
        if let Ok(f) = LineFit::ols(&xs, &ys) {
            out.push(LocalSlope {
                tau: x[i],
                alpha: f.slope,
            });
        }
    }
    Ok(out)
}

/// Fits `y = A x^a1 + B x^a2` by Levenberg-Marquardt on `ln y`, from the broken line `seg`
/// (fitted to `ln y` vs `ln x`) as a start.
///
/// # Errors
/// Mismatched lengths, fewer than 5 points, or non-positive values.
pub fn fit_two_power(x: &[f64], y: &[f64], seg: &SegmentedFit) -> Result<TwoPowerFit> {
    if x.len() != y.len() || x.len() < 5 {
        return Err(Error::InvalidData(
            "two-power-law fit needs at least 5 points of equal-length x and y".into(),
        ));
    }
    if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && y[i] > 0.0)) {
        return Err(Error::InvalidData(format!(
            "two-power-law fit needs positive values, point {i} is ({}, {})",
            x[i], y[i]
        )));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    // p = [ln A, a1, ln B, a2]; the right segment's line is c - b psi + (a + b) x.
    let mut p = [
        seg.intercept,
        seg.slope_left,
        seg.intercept - seg.slope_change * seg.breakpoint,
        seg.slope_right,
    ];
    let eval = |p: &[f64; 4], jac: Option<&mut Vec<[f64; 4]>>| -> (Vec<f64>, f64) {
        let mut r = Vec::with_capacity(lx.len());
        let mut rss = 0.0;
        let mut rows = Vec::with_capacity(lx.len());
        for (&xi, &yi) in lx.iter().zip(&ly) {
            let (e1, e2) = (p[0] + p[1] * xi, p[2] + p[3] * xi);
            let m = e1.max(e2);
            let f = m + ((e1 - m).exp() + (e2 - m).exp()).ln();
            let w1 = (e1 - f).exp();
            let w2 = (e2 - f).exp();
            rows.push([w1, w1 * xi, w2, w2 * xi]);
            let ri = yi - f;
            rss += ri * ri;
            r.push(ri);
        }
        if let Some(j) = jac {
            *j = rows;
        }
        (r, rss)
    };
    let mut lambda = 1e-3;
    let mut jac = Vec::new();
    let (mut r, mut rss) = eval(&p, Some(&mut jac));
    let mut converged = false;
    for _ in 0..500 {
        let mut jtj = DMatrix::<f64>::zeros(4, 4);
        let mut jtr = DVector::<f64>::zeros(4);
        for (row, ri) in jac.iter().zip(&r) {
            for a in 0..4 {
                jtr[a] += row[a] * ri;
                for b in 0..4 {
                    jtj[(a, b)] += row[a] * row[b];
                }
            }
        }
        let mut a = jtj.clone();
        for k in 0..4 {
            a[(k, k)] += lambda * jtj[(k, k)].max(1e-12);
        }
        let Some(step) = a.lu().solve(&jtr) else {
            break;
        };
        let trial = [
            p[0] + step[0],
            p[1] + step[1],
            p[2] + step[2],
            p[3] + step[3],
        ];
        let mut jt = Vec::new();
        let (rt, rsst) = eval(&trial, Some(&mut jt));
        if rsst.is_finite() && rsst <= rss {
            let small = (rss - rsst) <= 1e-12 * rss.max(1e-300) && step.norm() < 1e-8;
            p = trial;
            r = rt;
            jac = jt;
            rss = rsst;
            lambda = (lambda / 3.0).max(1e-12);
            if small {
                converged = true;
                break;
            }
        } else {
            lambda *= 4.0;
            if lambda > 1e12 {
                converged = true; // no downhill step left: at a minimum to rounding
                break;
            }
        }
    }
    let (mut la, mut a1, mut lb, mut a2) = (p[0], p[1], p[2], p[3]);
    if a1 > a2 {
        std::mem::swap(&mut la, &mut lb);
        std::mem::swap(&mut a1, &mut a2);
    }
    let tau_equal = ((la - lb) / (a2 - a1)).exp();
    Ok(TwoPowerFit {
        a1,
        a2,
        log_a: la,
        log_b: lb,
        tau_equal,
        rss,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regress::segmented::Segmented;
    use rand::SeedableRng;

    #[test]
    fn two_power_recovers_an_exact_sum() {
        let x: Vec<f64> = (0..40).map(|i| 10f64.powf(i as f64 * 3.0 / 39.0)).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&t| 2.0 * t.powf(0.6) + 0.01 * t.powi(2))
            .collect();
        let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let seg = Segmented::default().fit(&lx, &ly, &mut rng).unwrap();
        let f = fit_two_power(&x, &y, &seg).unwrap();
        assert!(
            (f.a1 - 0.6).abs() < 1e-6 && (f.a2 - 2.0).abs() < 1e-6,
            "{f:?}"
        );
        // Term equality: 2 t^0.6 = 0.01 t^2  =>  t = 200^(1/1.4).
        assert!((f.tau_equal / 200f64.powf(1.0 / 1.4) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn bad_input() {
        assert!(local_slopes(&[1.0, 2.0], &[0.0, 1.0], 1.0).is_err());
        assert!(local_slopes(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0.0).is_err());
    }
}
