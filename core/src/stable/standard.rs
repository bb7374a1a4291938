//! The standard S0 law (scale 1, location 0): closed forms and the Nolan integral.
//!
//! Near alpha = 1 the terms of the integral's exponent grow like 1/|alpha - 1| and cancel; the
//! kernel in `nolan` forms the two cancelling parts as small quantities with full relative
//! accuracy (`L1`, `L2` of `nolan::General`), so alpha within 1e-3 (down to 1e-7 and closer)
//! of 1 is evaluated directly (interpolating in alpha across 1 would be 4x slower and, on the
//! thin side of |beta| = 1, off by 3e-8).

use super::nolan;
// statrs 0.19's erf/erfc are only good to ~1e-10 relative; puruspe's are good to ~1e-15.
use puruspe::{erf, erfc};
use std::f64::consts::PI;

/// ln(2 sqrt(pi))
const LN_2_SQRT_PI: f64 = 1.265_512_123_484_645_3;
/// ln(sqrt(2 pi))
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// ln erfc(z) without underflow for large z.
pub(crate) fn ln_erfc(z: f64) -> f64 {
    if z < 26.0 {
        erfc(z).ln()
    } else {
        // erfc z = e^{-z^2}/(z sqrt pi) * sum_k (-1)^k (2k-1)!! / (2 z^2)^k
        let r = 1.0 / (2.0 * z * z);
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..12 {
            term *= -((2 * k - 1) as f64) * r;
            sum += term;
        }
        -z * z - (z * PI.sqrt()).ln() + sum.ln()
    }
}

/// Which tail: P(X <= x) or P(X > x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    Lower,
    Upper,
}

/// ln f for the Gaussian case alpha = 2 (variance 2).
#[inline]
pub(crate) fn gauss_ln_pdf(x: f64) -> f64 {
    -0.25 * x * x - LN_2_SQRT_PI
}

pub(crate) fn gauss_ln_cdf(x: f64, tail: Tail) -> f64 {
    let z = match tail {
        Tail::Lower => -0.5 * x,
        Tail::Upper => 0.5 * x,
    };
    ln_erfc(z) - std::f64::consts::LN_2
}

#[inline]
pub(crate) fn cauchy_ln_pdf(x: f64) -> f64 {
    let ax = x.abs();
    let l = if ax > 1.0 {
        2.0 * ax.ln() + (1.0 / (ax * ax)).ln_1p()
    } else {
        (x * x).ln_1p()
    };
    -PI.ln() - l
}

pub(crate) fn cauchy_ln_cdf(x: f64, tail: Tail) -> f64 {
    match tail {
        Tail::Lower => (1f64.atan2(-x) / PI).ln(),
        Tail::Upper => (1f64.atan2(x) / PI).ln(),
    }
}

/// Lévy (alpha = 1/2, beta = +-1) in S1 coordinates `x1` (beta = 1: support x1 > 0).
pub(crate) fn levy_ln_pdf(x1: f64, beta: f64) -> f64 {
    let x1 = if beta < 0.0 { -x1 } else { x1 };
    if !(x1 > 0.0) {
        return f64::NEG_INFINITY;
    }
    -LN_SQRT_2PI - 1.5 * x1.ln() - 0.5 / x1
}

pub(crate) fn levy_ln_cdf(x1: f64, beta: f64, tail: Tail) -> f64 {
    let (x1, tail) = if beta < 0.0 {
        (
            -x1,
            if tail == Tail::Lower {
                Tail::Upper
            } else {
                Tail::Lower
            },
        )
    } else {
        (x1, tail)
    };
    if !(x1 > 0.0) {
        return match tail {
            Tail::Lower => f64::NEG_INFINITY,
            Tail::Upper => 0.0,
        };
    }
    let z = (0.5 / x1).sqrt();
    match tail {
        Tail::Lower => ln_erfc(z),
        Tail::Upper => erf(z).ln(),
    }
}

/// ln of the standard S0 density, no validation. Closed forms where they exist.
pub(crate) fn ln_pdf(x: f64, a: f64, beta: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::NEG_INFINITY;
    }
    if a == 2.0 {
        gauss_ln_pdf(x)
    } else if a == 1.0 {
        if beta == 0.0 {
            cauchy_ln_pdf(x)
        } else {
            nolan::ln_pdf_alpha_one(x, beta)
        }
    } else if a == 0.5 && beta.abs() == 1.0 {
        levy_ln_pdf(x + beta, beta)
    } else {
        nolan::ln_pdf_general(x, a, beta)
    }
}

/// ln P(X <= x) or ln P(X > x) of the standard S0 law, no validation.
pub(crate) fn ln_cdf(x: f64, a: f64, beta: f64, tail: Tail) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        let low = x < 0.0;
        return if low == (tail == Tail::Lower) {
            f64::NEG_INFINITY
        } else {
            0.0
        };
    }
    let upper = tail == Tail::Upper;
    if a == 2.0 {
        gauss_ln_cdf(x, tail)
    } else if a == 1.0 {
        if beta == 0.0 {
            cauchy_ln_cdf(x, tail)
        } else {
            nolan::ln_cdf_alpha_one(x, beta, upper)
        }
    } else if a == 0.5 && beta.abs() == 1.0 {
        levy_ln_cdf(x + beta, beta, tail)
    } else {
        nolan::ln_cdf_general(x, a, beta, upper)
    }
}
