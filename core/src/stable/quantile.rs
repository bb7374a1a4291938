//! Quantiles by safeguarded Newton iteration on ln cdf (lower half) or ln sf (upper half).

use super::standard::{self, Tail};

/// Standard S0 quantile for p in (0, 1), searched from the starting point `x0` (0, or an
/// approximation of the quantile); the caller handles 0 and 1.
pub(crate) fn quantile_std(p: f64, a: f64, beta: f64, x0: f64) -> Option<f64> {
    // Work in the tail that keeps digits: target ln P(X <= x) = ln p or ln P(X > x) = ln(1 - p).
    let (tail, lt) = if p <= 0.5 {
        (Tail::Lower, p.ln())
    } else {
        (Tail::Upper, (-p).ln_1p())
    };
    let sign = if tail == Tail::Lower { -1.0 } else { 1.0 };
    // F(x) = value of ln tail probability; decreasing in `sign * x`.
    let lf = |x: f64| standard::ln_cdf(x, a, beta, tail);
    // Bracket: start at x0 and step outwards geometrically in the tail's direction.
    let f0 = lf(x0);
    let (mut lo, mut hi); // lf(lo) >= lt >= lf(hi), with lo, hi ordered along `sign`
    if f0 >= lt {
        lo = x0;
        let mut step = 1.0;
        loop {
            let x = x0 + sign * step;
            let fx = lf(x);
            if fx <= lt {
                hi = x;
                break;
            }
            lo = x;
            step *= 4.0;
            if step > 1e300 {
                return Some(sign * f64::INFINITY);
            }
        }
    } else {
        hi = x0;
        let mut step = 1.0;
        loop {
            let x = x0 - sign * step;
            let fx = lf(x);
            if fx.is_nan() {
                return None;
            }
            if fx >= lt {
                lo = x;
                break;
            }
            hi = x;
            step *= 4.0;
            if step > 1e300 {
                return None;
            }
        }
    }
    // Newton on ln F with derivative -sign * pdf/F, bisection when Newton leaves the bracket.
    let mut x = 0.5 * (lo + hi);
    for _ in 0..200 {
        let fx = lf(x);
        if fx == lt {
            return Some(x);
        }
        if fx > lt {
            lo = x;
        } else {
            hi = x;
        }
        let lpdf = standard::ln_pdf(x, a, beta);
        let d = -sign * (lpdf - fx).exp(); // d lnF / dx
        let mut xn = x - (fx - lt) / d;
        let (l, h) = if lo < hi { (lo, hi) } else { (hi, lo) };
        if !(xn > l && xn < h) {
            xn = 0.5 * (lo + hi);
        }
        if (xn - x).abs() <= 1e-14 * x.abs().max(1e-300) || (hi - lo).abs() <= 1e-15 * x.abs() {
            return Some(xn);
        }
        x = xn;
    }
    Some(x)
}
