//! Chambers-Mallows-Stuck sampling, rearranged to give the S0 variate directly.
//!
//! The textbook CMS formula produces an S1 variate Z, and the S0 variate is Z - tan(a theta0),
//! two terms of size ~1/|alpha - 1| that cancel. Writing A = a theta0, eps = alpha - 1 and
//! q = eps / tan(pi eps / 2) (-> 2/pi), the S0 variate is
//!
//! ```text
//! X = [sin(a T) + beta q T sin((a+1) T/2) sinc(eps T/2)] / cos T
//!   + [sin(a T) expm1(y) - beta q cos(a T) expm1(y)/y * L/a] / cos T,
//! L = ln(W cos T) - ln(cos(eps T) + beta q T sinc(eps T)),   y = eps L / a,
//! ```
//!
//! with T ~ U(-pi/2, pi/2) and W ~ Exp(1). Every factor is bounded as alpha -> 1, and at
//! alpha = 1 it reduces exactly to the alpha = 1 CMS formula
//! X = (2/pi)[(pi/2 + beta T) tan T - beta ln((pi/2) W cos T / (pi/2 + beta T))].

use rand::distr::{Distribution, Open01};
use rand::Rng;
use std::f64::consts::{FRAC_PI_2, PI};

/// sin(x)/x
#[inline]
fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-4 {
        1.0 - x * x / 6.0
    } else {
        x.sin() / x
    }
}

/// expm1(y)/y
#[inline]
fn expm1_ratio(y: f64) -> f64 {
    if y.abs() < 1e-8 {
        1.0 + 0.5 * y
    } else {
        y.exp_m1() / y
    }
}

/// `eps / tan(pi eps / 2)`, continuous at eps = 0 (value 2/pi).
#[inline]
pub(crate) fn q_factor(eps: f64) -> f64 {
    if eps.abs() < 1e-8 {
        2.0 / PI * (1.0 - (PI * eps) * (PI * eps) / 12.0)
    } else {
        eps / (FRAC_PI_2 * eps).tan()
    }
}

/// One standard S0 variate from the two uniforms' transforms `t` in (-pi/2, pi/2) and `w` > 0.
#[inline]
pub(crate) fn s0_from(a: f64, beta: f64, t: f64, w: f64) -> f64 {
    let eps = a - 1.0;
    let q = q_factor(eps);
    let (st, ct) = t.sin_cos();
    let (sa, ca) = (a * t).sin_cos();
    let p1 = sa + beta * q * t * (0.5 * (a + 1.0) * t).sin() * sinc(0.5 * eps * t);
    let l = (w * ct).ln() - ((eps * t).cos() + beta * q * t * sinc(eps * t)).ln();
    let y = eps * l / a;
    let p2 = sa * y.exp_m1() - beta * q * ca * expm1_ratio(y) * l / a;
    let _ = st;
    (p1 + p2) / ct
}

/// Draws one standard S0 variate.
pub(crate) fn sample_s0<R: Rng + ?Sized>(a: f64, beta: f64, rng: &mut R) -> f64 {
    let u: f64 = Open01.sample(rng);
    let v: f64 = Open01.sample(rng);
    let t = PI * (u - 0.5);
    let w = -v.ln();
    s0_from(a, beta, t, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_alpha_one() {
        // the alpha = 1 CMS formula, written out directly
        for &(t, w, b) in &[(0.3, 0.7, 0.5), (-1.2, 2.5, -0.8), (1.4, 0.01, 1.0)] {
            let c = FRAC_PI_2 + b * t;
            let exact = 2.0 / PI * (c * f64::tan(t) - b * (FRAC_PI_2 * w * f64::cos(t) / c).ln());
            let at1 = s0_from(1.0, b, t, w);
            assert!(
                (at1 - exact).abs() < 1e-13 * (1.0 + exact.abs()),
                "{at1} {exact}"
            );
            let near = s0_from(1.0 + 1e-9, b, t, w);
            assert!(
                (near - exact).abs() < 1e-7 * (1.0 + exact.abs()),
                "{near} {exact}"
            );
        }
    }

    #[test]
    fn matches_textbook_cms_shifted() {
        // S1 CMS (Weron 1996) minus the S0 shift, away from alpha = 1 where it is well conditioned
        for &(a, b, t, w) in &[
            (1.5, 0.5, 0.4, 1.3),
            (0.7, -0.6, -0.9, 0.4),
            (1.9, 1.0, 1.2, 3.0),
        ] {
            let tau = (FRAC_PI_2 * a).tan();
            let aa = (b * tau).atan();
            let z = (aa + a * t).sin() / (aa.cos() * f64::cos(t)).powf(1.0 / a)
                * ((aa + (a - 1.0) * t).cos() / w).powf((1.0 - a) / a);
            let x0 = z - b * tau;
            let mine = s0_from(a, b, t, w);
            assert!(
                (mine - x0).abs() < 1e-12 * (1.0 + x0.abs()),
                "{a} {b}: {mine} {x0}"
            );
        }
    }
}
