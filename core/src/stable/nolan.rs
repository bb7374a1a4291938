//! Nolan's (1997) integral representation of the standard S0 law, evaluated in log space.
//!
//! For x > zeta the density, distribution and survival functions are integrals over theta of
//! `g e^{-g}`, `e^{-g}` and `1 - e^{-g}`, where `g(theta)` runs monotonically from 0 to infinity
//! (or to a finite limit at an end point when |beta| = 1). We work with `h = ln g` and the
//! integration variable measured from the end of the theta range nearer to the peak `h = 0`
//! (`t = theta + theta0` or `s = pi/2 - theta`), so that neither end point has to be formed by
//! subtracting nearly equal numbers: this keeps full relative accuracy in the far tails
//! (peak at distance ~1/x from an end point) and next to x = zeta (peak at distance ~x - zeta).
//! The range is split at the points where `h` crosses fixed levels (found by Newton's method in
//! `ln w`), and each piece is integrated by adaptive Gauss-Kronrod.

mod vector;

use super::quad::{self, NODES};
use super::series;
use std::f64::consts::{FRAC_PI_2, PI};

/// What to integrate: `ln` of the integrand as a function of `h = ln g`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `g e^{-g}` (density).
    Pdf,
    /// `e^{-g}`.
    ExpNeg,
    /// `1 - e^{-g}`.
    OneMinus,
}

#[inline]
fn psi(kind: Kind, h: f64) -> f64 {
    match kind {
        Kind::Pdf => {
            if h > 709.0 {
                f64::NEG_INFINITY
            } else {
                h - h.exp()
            }
        }
        Kind::ExpNeg => -h.exp(),
        Kind::OneMinus => (-(-h.exp()).exp_m1()).ln(),
    }
}

/// `h = ln g` on an oriented coordinate `w` in `(0, len)`, monotone in `w`.
pub(crate) trait Kernel {
    fn len(&self) -> f64;
    fn h(&self, w: f64) -> f64;
    /// `(h, dh/dw)`.
    fn h_dh(&self, w: f64) -> (f64, f64);
    /// `g = e^h`, for kernels that can form it without the logarithm.
    fn g(&self, w: f64) -> f64 {
        self.h(w).exp()
    }
    /// The density's integrand over its largest value on the range at a rule application's
    /// nodes: `g e^{1-g}` ([`direct_integrand`]) where the peak g = 1 lies inside the range
    /// (`psi_max` `None`), else `exp(psi(h) - psi_max)`.
    fn pdf_nodes(&self, psi_max: Option<f64>, w: &[f64; NODES], out: &mut [f64; NODES]) {
        for (o, &w) in out.iter_mut().zip(w) {
            *o = pdf_node(self, psi_max, w);
        }
    }
}

/// One node of [`Kernel::pdf_nodes`].
#[inline]
fn pdf_node<K: Kernel + ?Sized>(k: &K, psi_max: Option<f64>, w: f64) -> f64 {
    match psi_max {
        None => direct_integrand(k.g(w)),
        Some(p) => (psi(Kind::Pdf, k.h(w)) - p).exp(),
    }
}

/// `g e^{1-g}`. Next to alpha = 1 about a tenth of the nodes lie where g < 1e-8 (pieces below
/// h = -16), where e^{1-g} = e (1 - g) to g^2/2 < 5e-17 relative; beyond g = 60 the integrand
/// is below 1e-24 (of its peak 1): both skip an exponential.
#[inline]
fn direct_integrand(g: f64) -> f64 {
    if g < 1e-8 {
        g * (std::f64::consts::E * (1.0 - g))
    } else if g < 60.0 {
        g * (1.0 - g).exp()
    } else {
        0.0
    }
}

/// `sin` and `cos` of an angle in `[0, pi]` known either directly (`y`) or through its
/// complement `pi - y` (`yc`): the smaller of the two carries full relative accuracy.
#[inline]
fn sin_cos_pair(y: f64, yc: f64) -> (f64, f64) {
    if y <= yc {
        sin_cos_fast(y)
    } else {
        let (s, c) = sin_cos_fast(yc);
        (s, -c)
    }
}

/// Low part of pi/2: `FRAC_PI_2 + PI_2_LO` is pi/2 to ~1e-33.
const PI_2_LO: f64 = 6.123_233_995_736_766e-17;

/// Taylor polynomials of `sin` (through x^17) and `cos` (through x^16) for |x| <= pi/4: the
/// first omitted terms are below 1.1e-19 and 2.1e-18 of the values.
#[inline]
fn sin_cos_taylor(x: f64) -> (f64, f64) {
    let x2 = x * x;
    let s = x
        * (1.0
            - x2 * (1.0 / 6.0)
                * (1.0
                    - x2 * (1.0 / 20.0)
                        * (1.0
                            - x2 * (1.0 / 42.0)
                                * (1.0
                                    - x2 * (1.0 / 72.0)
                                        * (1.0
                                            - x2 * (1.0 / 110.0)
                                                * (1.0
                                                    - x2 * (1.0 / 156.0)
                                                        * (1.0
                                                            - x2 * (1.0 / 210.0)
                                                                * (1.0 - x2 * (1.0 / 272.0)))))))));
    let c = 1.0
        - x2 * (1.0 / 2.0)
            * (1.0
                - x2 * (1.0 / 12.0)
                    * (1.0
                        - x2 * (1.0 / 30.0)
                            * (1.0
                                - x2 * (1.0 / 56.0)
                                    * (1.0
                                        - x2 * (1.0 / 90.0)
                                            * (1.0
                                                - x2 * (1.0 / 132.0)
                                                    * (1.0
                                                        - x2 * (1.0 / 182.0)
                                                            * (1.0 - x2 * (1.0 / 240.0))))))));
    (s, c)
}

/// `(sin x, cos x)` without libm for the angles of the kernels, -pi/4 <= x <= 3 pi/4 (libm
/// outside): Taylor polynomials on |x| <= pi/4, and for pi/4 < x <= 3 pi/4 the same on the
/// complement z = pi/2 - x, formed exactly (Sterbenz) plus the low part of pi/2, so cos x keeps
/// its relative accuracy down to x = pi/2 - 1e-16. About half the cost of libm's sincos, which
/// took a third of the time per integrand evaluation next to alpha = 1.
#[inline]
fn sin_cos_fast(x: f64) -> (f64, f64) {
    if x.abs() <= std::f64::consts::FRAC_PI_4 {
        sin_cos_taylor(x)
    } else if x > 0.0 && x <= 3.0 * std::f64::consts::FRAC_PI_4 {
        let z = (FRAC_PI_2 - x) + PI_2_LO;
        let (sz, cz) = sin_cos_taylor(z);
        (cz, sz)
    } else {
        x.sin_cos()
    }
}

/// `(sin x, cos x)`, by their Taylor polynomials for |x| < 0.1 (truncation below 3e-18
/// relative: the first omitted terms are x^11/11! and x^12/12!), else by libm.
#[inline]
fn sin_cos_small(x: f64) -> (f64, f64) {
    if x.abs() < 0.1 {
        let x2 = x * x;
        let s = x
            * (1.0
                - x2 * (1.0 / 6.0)
                    * (1.0
                        - x2 * (1.0 / 20.0)
                            * (1.0 - x2 * (1.0 / 42.0) * (1.0 - x2 * (1.0 / 72.0)))));
        let c = 1.0
            - x2 * 0.5
                * (1.0
                    - x2 * (1.0 / 12.0)
                        * (1.0
                            - x2 * (1.0 / 30.0)
                                * (1.0 - x2 * (1.0 / 56.0) * (1.0 - x2 * (1.0 / 90.0)))));
        (s, c)
    } else {
        x.sin_cos()
    }
}

#[inline]
fn sin_pair(y: f64, yc: f64) -> f64 {
    // abs: an argument that rounds to just below 0 at an end point must not give ln(negative)
    if y <= yc {
        sin_cos_fast(y).0.abs()
    } else {
        sin_cos_fast(yc).0.abs()
    }
}

/// Acceptance threshold on the summed |Kronrod - Gauss| differences, relative to the integral.
/// The Kronrod value is far more accurate than this difference, but 1e-10 here (with a G7-K15
/// rule) lets a few Nolan cdf values (alpha = 0.3) exceed 2e-12.
const QUAD_RTOL: f64 = 1e-11;

/// Split levels of `h` (ascending). Below -40 or above 3.6 every integrand is either
/// negligible or saturated, or smooth enough for one adaptive piece (at h = 3.6 the density's
/// integrand is e^{-33}); pieces beyond are still bounded and, when not negligible, integrated.
/// Each level costs a root and a piece: 7 levels give the same worst golden-test errors as 12
/// (mpmath 2.6e-11 for |alpha - 1| >= 1e-6) at a 15-80 % higher per-point rate.
const LEVELS: [f64; 7] = [-60.0, -16.0, -6.0, -1.8, 0.0, 1.6, 4.0];

#[cfg(test)]
thread_local! {
    /// Kernel evaluations by the level solver on this thread (for tests of the cost).
    pub(crate) static ROOT_EVALS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}
#[cfg(test)]
thread_local! {
    /// (nodes by the vectorised path, all nodes) of the general kernel's density integrands.
    pub(crate) static VECTOR_NODES: std::cell::Cell<(u64, u64)> =
        const { std::cell::Cell::new((0, 0)) };
}
#[derive(Clone, Copy, Debug)]
struct Pt {
    v: f64,
    h: f64,
}

/// Finds v = ln w in [lo.v, hi.v] with h(e^v) = target (h monotone), to within `tol` in h.
/// Returns the last point evaluated (its h is the kernel's, not the target) and dh/dv there
/// (NaN where h was not finite: only at the very ends of the range).
fn solve_level<K: Kernel>(
    k: &K,
    target: f64,
    tol: f64,
    mut lo: Pt,
    mut hi: Pt,
    start: Option<(Pt, f64)>,
) -> (Pt, f64) {
    // lo.h - target and hi.h - target have opposite signs (or one is zero).
    let inc = hi.h > lo.h;
    let (mut v, mut hv, mut dv) = match start {
        Some((p, d)) => (p.v, p.h, d),
        None => {
            let v = 0.5 * (lo.v + hi.v);
            let w = v.exp();
            let (h, dh) = k.h_dh(w);
            (v, h, dh * w)
        }
    };
    // whether hv is the kernel's value at v (not a bracket end's stand-in)
    let mut exact = hv.is_finite();
    for _ in 0..60 {
        if (hv - target).abs() < tol {
            break;
        }
        // keep the bracket
        if (hv < target) == inc {
            lo = Pt { v, h: hv };
        } else {
            hi = Pt { v, h: hv };
        }
        if hi.v - lo.v < 1e-12 * (1.0 + v.abs()) {
            break;
        }
        // Far from the level, Newton on asinh(h - target): h behaves like c ln w or like -c/w
        // next to the ends, and asinh turns both into nearly linear functions of v = ln w.
        // Within a few units of the level, plain Newton: next to alpha = 1, h is a steep,
        // nearly linear function of v there (slope ~ 1/|alpha - 1|) and the asinh step
        // overshoots by a factor ln(2 |h - target|), which took ~12 steps instead of ~3.
        let r = hv - target;
        let asinh_step = || v - r.asinh() * (1.0 + r * r).sqrt() / dv;
        let mut vn = if r.abs() > 8.0 {
            asinh_step()
        } else {
            v - r / dv
        };
        if !(vn > lo.v && vn < hi.v) {
            vn = asinh_step();
        }
        if !(vn > lo.v && vn < hi.v) {
            vn = 0.5 * (lo.v + hi.v);
        }
        v = vn;
        let w = v.exp();
        #[cfg(test)]
        ROOT_EVALS.with(|c| c.set(c.get() + 1));
        let (h, dh) = k.h_dh(w);
        hv = h;
        dv = dh * w;
        exact = hv.is_finite();
        if !exact {
            // only at the very ends: bisect
            hv = if (hv < target) == inc { lo.h } else { hi.h };
            dv = f64::NAN;
        }
    }
    (
        Pt {
            v,
            h: if exact { hv } else { target },
        },
        if exact { dv } else { f64::NAN },
    )
}

/// `ln int_0^len exp(psi(kind, h(w))) dw`.
pub(crate) fn ln_integral<K: Kernel>(k: &K, kind: Kind) -> f64 {
    let len = k.len();
    if !(len > 0.0) {
        return f64::NEG_INFINITY;
    }
    // End points: close enough to the ends for the limits of h, inside the range.
    let w_lo = len * 1e-280;
    let mut w_hi = len * (1.0 - f64::EPSILON);
    let h_lo = k.h(w_lo);
    let mut h_hi = k.h(w_hi);
    // The far end's coordinate (t or s = len - w) is only known to ~1e-16 absolute, and next to
    // it h can be garbage (alpha < 0.01, |beta| = 1: h came back up from -0.05 to 3.8 within
    // 1e-15 of the end and the whole range looked saturated). Where the value at
    // len (1 - 1e-9) is not between the two end values, monotonicity is broken there and the
    // inner point is taken as the end (the peak is always next to w = 0 by orientation).
    {
        let w_in = len * (1.0 - 1e-9);
        let h_in = k.h(w_in);
        let between = (h_in - h_lo) * (h_hi - h_in) >= 0.0;
        if h_in.is_finite() && !between {
            w_hi = w_in;
            h_hi = h_in;
        }
    }
    let inc = h_hi > h_lo;
    let (hmin, hmax) = if inc { (h_lo, h_hi) } else { (h_hi, h_lo) };
    if hmin.is_nan() || hmax.is_nan() {
        return f64::NAN;
    }
    let psi_max = match kind {
        Kind::Pdf => psi(kind, 0f64.clamp(hmin, hmax)),
        Kind::ExpNeg => psi(kind, hmin),
        Kind::OneMinus => psi(kind, hmax),
    };
    if psi_max == f64::NEG_INFINITY || psi_max.is_nan() {
        return f64::NEG_INFINITY;
    }

    // Split points: roots of h = level for the levels inside (hmin, hmax), ordered by w.
    let lo_pt = Pt {
        v: w_lo.ln(),
        h: h_lo,
    };
    let hi_pt = Pt {
        v: w_hi.ln(),
        h: h_hi,
    };
    let mut roots: Vec<(f64, f64)> = Vec::with_capacity(LEVELS.len() + 8);
    // Start at the level nearest the peak, then walk outwards reusing brackets.
    // Where the integrand's maximum sits at a finite end value of h (|beta| = 1 light tails,
    // where the integrand is squeezed against that end), add levels at which psi has fallen
    // by fixed amounts from its maximum, so the squeeze is resolved.
    let mut levels: Vec<f64> = Vec::with_capacity(LEVELS.len() + 7);
    levels.extend_from_slice(&LEVELS);
    const DROPS: [f64; 7] = [0.1, 0.4, 1.2, 3.0, 7.0, 16.0, 36.0];
    match kind {
        Kind::Pdf if hmin > 0.0 => {
            levels.extend(DROPS.iter().map(|d| hmin + (d * (-hmin).exp()).ln_1p()))
        }
        Kind::Pdf if hmax < 0.0 => levels.extend(DROPS.iter().map(|d| hmax - d)),
        Kind::ExpNeg if hmin > -3.0 => {
            levels.extend(DROPS.iter().map(|d| hmin + (d * (-hmin).exp()).ln_1p()))
        }
        Kind::OneMinus if hmax < 3.0 => levels.extend(DROPS.iter().map(|d| hmax - d)),
        _ => {}
    }
    // (the sorts below are of a handful of values, but sorting takes 8 % of the time per point
    // next to alpha = 1: each is skipped where the order is already known)
    if levels.len() > LEVELS.len() {
        levels.sort_unstable_by(f64::total_cmp);
    }
    let inside: Vec<f64> = levels
        .iter()
        .copied()
        .filter(|&l| l > hmin && l < hmax)
        .collect();
    if !inside.is_empty() {
        let i0 = inside
            .iter()
            .enumerate()
            .fold((0usize, f64::INFINITY), |(bi, bd), (i, &l)| {
                if l.abs() < bd {
                    (i, l.abs())
                } else {
                    (bi, bd)
                }
            })
            .0;
        // Split-point accuracy: 2 % of the level's size (the fixed levels are far apart), but
        // at most a quarter of the gap to the next level. The drop levels next to a finite end
        // value hmin sit at hmin + ln(1 + d e^-hmin), i.e. only ~d e^-hmin apart: far into the
        // thin side of |beta| = 1 (ln f ~ -7e10 at alpha = 1.5, x = -1e4) a tolerance of
        // 0.02 (1 + hmin) would accept the first point near all of them, the squeeze would not
        // be resolved and the density would come out as 0 (ln f = -inf).
        let tols: Vec<f64> = (0..inside.len())
            .map(|i| {
                let gap_lo = if i > 0 {
                    inside[i] - inside[i - 1]
                } else {
                    f64::INFINITY
                };
                let gap_hi = inside.get(i + 1).map_or(f64::INFINITY, |&n| n - inside[i]);
                (0.02 * (1.0 + inside[i].abs())).min(0.25 * gap_lo.min(gap_hi))
            })
            .collect();
        // (v, h) at each level's split point, h as evaluated there
        let mut found: Vec<Pt> = vec![Pt { v: 0.0, h: 0.0 }; inside.len()];
        // Start Newton from the middle of the range in w (the middle in ln w, the bisection
        // start, lies at w ~ 1e-140 and costs ~10 extra steps).
        let start = {
            let w = 0.5 * len;
            let (h, dh) = k.h_dh(w);
            if h.is_finite() && dh.is_finite() && dh != 0.0 {
                Some((Pt { v: w.ln(), h }, dh * w))
            } else {
                None
            }
        };
        let (p0, d0) = solve_level(k, inside[i0], tols[i0], lo_pt, hi_pt, start);
        found[i0] = p0;
        // levels above/below in h map to larger/smaller w depending on `inc`
        let (mut pa, mut da) = (p0, d0);
        for i in (i0 + 1)..inside.len() {
            let (lo, hi) = if inc { (pa, hi_pt) } else { (lo_pt, pa) };
            (pa, da) = solve_level(k, inside[i], tols[i], lo, hi, Some((pa, da)));
            found[i] = pa;
        }
        let (mut pb, mut db) = (p0, d0);
        for i in (0..i0).rev() {
            let (lo, hi) = if inc { (lo_pt, pb) } else { (pb, hi_pt) };
            (pb, db) = solve_level(k, inside[i], tols[i], lo, hi, Some((pb, db)));
            found[i] = pb;
        }
        for p in found {
            roots.push((p.v.exp().clamp(0.0, len), p.h));
        }
    }
    // Each level's root was bracketed by the previous one's, so the roots come out monotone
    // in w: ascending where h increases with w.
    if !inc {
        roots.reverse();
    }
    if !roots.is_sorted_by(|a, b| a.0 <= b.0) {
        roots.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    }

    // Pieces with the h value at each end.
    let mut ends: Vec<(f64, f64)> = Vec::with_capacity(roots.len() + 2);
    ends.push((0.0, h_lo));
    for &(w, l) in roots.iter() {
        if w > ends.last().map_or(0.0, |e| e.0) && w < len {
            ends.push((w, l));
        }
    }
    ends.push((len, h_hi));

    // The density's integrand g e^{-g} / e^{psi_max}; where the peak g = 1 is inside the range
    // (psi_max = -1) it is formed from g directly, which saves a logarithm per evaluation in
    // the general kernel (g underflows only where the integrand is below e^-700).
    let pdf_shift = (psi_max != -1.0).then_some(psi_max);
    let mut f = |w: &[f64; NODES], out: &mut [f64; NODES]| {
        if kind == Kind::Pdf {
            k.pdf_nodes(pdf_shift, w, out)
        } else {
            for (o, &w) in out.iter_mut().zip(w) {
                *o = (psi(kind, k.h(w)) - psi_max).exp();
            }
        }
    };
    let mut total = 0.0;
    let mut todo: Vec<(f64, f64, f64)> = Vec::with_capacity(ends.len());
    for pair in ends.windows(2) {
        let (a, ha) = pair[0];
        let (b, hb) = pair[1];
        let pa = psi(kind, ha);
        let pb = psi(kind, hb);
        if kind != Kind::Pdf && pa.min(pb) > -1e-17 {
            // saturated: integrand is 1 to within 1e-17 over the whole piece
            total += (b - a) * (-psi_max).exp();
            continue;
        }
        // h is monotone in w and psi is monotone in h except for the density's peak at h = 0,
        // so the integrand is at most its larger end value on a piece that does not contain
        // the peak, and at most 1 (exp(psi_max - psi_max)) on one that does.
        let peak_inside = kind == Kind::Pdf && (ha < 0.0) != (hb < 0.0);
        let top = if peak_inside {
            0.0
        } else {
            pa.max(pb) - psi_max
        };
        let bound = (b - a) * top.exp();
        todo.push((a, b, bound));
    }
    // Integrate the pieces that can matter, the largest bound first. The bounds use the
    // kernel's h at the split points, so they hold whatever the accuracy of the roots: a
    // piece is left out only when its bound is below 1e-16 of the integral so far, so the at
    // most ~15 pieces left out change the total by less than ~2e-15 relative.
    todo.sort_unstable_by(|x, y| y.2.total_cmp(&x.2));
    total += quad::integrate_pieces(
        &mut f,
        &todo,
        len,
        total,
        1e-16,
        QUAD_RTOL,
        1e-17 * total,
        400,
    );
    if !(total > 0.0) {
        return f64::NEG_INFINITY;
    }
    psi_max + total.ln()
}

/// Precomputed constants of the general (alpha != 1) kernel for x > zeta.
#[derive(Clone, Copy, Debug)]
pub(crate) struct General {
    a: f64,
    eps: f64,
    /// `a / eps`
    ae: f64,
    /// range length `T = pi/2 + theta0`
    t_len: f64,
    /// `pi - T`
    t_c: f64,
    /// `pi - a T`
    d: f64,
    /// `L1 = ln((x - zeta) cos(a theta0))`, to full relative accuracy when it is small
    l1: f64,
    /// `ln hypot(1, zeta) = -ln cos(a theta0)`
    ln_hyp: f64,
    /// `hypot(1, zeta)`
    hyp: f64,
    /// `rho = pi/2 - theta0`
    rho: f64,
    /// whether `ln(sin s / sin a t)` is formed as `-ln_1p(D)` where it is small (see [`General::l2`])
    small_eps: bool,
    flip: bool,
}

/// The angles of the general kernel: `(T, pi - T, pi - a T)`, accurate when any of them is small.
pub(crate) fn angles(a: f64, beta: f64) -> (f64, f64, f64) {
    let eps = a - 1.0;
    let tau = tan_pi_alpha_half(a);
    if a < 1.0 {
        // a T = pi a/2 + atan(beta tau) = atan(tau) + atan(beta tau), tau > 0
        let t_len = ((1.0 + beta) * tau).atan2(1.0 - beta * tau * tau) / a;
        let t_c = ((1.0 - beta) * tau).atan2(1.0 + beta * tau * tau) / a;
        let d = (1.0f64).atan2(tau) + (1.0f64).atan2(beta * tau);
        (t_len, t_c, d)
    } else {
        let zeta = -beta * tau;
        let t_len = ((1.0f64).atan2(zeta) + eps * FRAC_PI_2) / a;
        let t_c = ((1.0f64).atan2(-zeta) + eps * FRAC_PI_2) / a;
        let tp = -tau; // tan(pi - pi a / 2) > 0
        let d = ((1.0 + beta) * tp).atan2(1.0 - beta * tp * tp);
        (t_len, t_c, d)
    }
}

/// `tan(pi a / 2)`, exact at a = 1/2 and 3/2 and accurate near the pole at a = 1.
pub(crate) fn tan_pi_alpha_half(a: f64) -> f64 {
    if a == 0.5 {
        1.0
    } else if a == 1.5 {
        -1.0
    } else if a == 2.0 {
        0.0
    } else {
        -1.0 / (FRAC_PI_2 * (a - 1.0)).tan()
    }
}

/// `zeta = -beta tan(pi a / 2)` (0 at a = 1).
pub(crate) fn zeta(a: f64, beta: f64) -> f64 {
    if a == 1.0 {
        0.0
    } else {
        -beta * tan_pi_alpha_half(a)
    }
}

impl General {
    /// Kernel for `x > zeta`, `a != 1`.
    pub(crate) fn new(x: f64, a: f64, beta: f64) -> General {
        let eps = a - 1.0;
        let z = zeta(a, beta);
        let (t_len, t_c, d) = angles(a, beta);
        // h = (a/eps) (L1 + L2(theta)) + ln hypot(1, zeta) + ln(cos(a theta0 + eps theta) / cos theta)
        // with L1 = ln((x - zeta) cos phi) and L2 = ln(cos theta / sin(a (theta + theta0))),
        // phi = a theta0 = atan(-zeta). Near the peak L1 + L2 = O(eps), so both must carry full
        // relative accuracy when small, or the factor a/eps (up to 1e7 and more next to alpha = 1)
        // turns their rounding into O(1e-16/eps) errors in h. (x - zeta) cos phi = x cos phi +
        // sin phi, and with sin phi > 0: = 1 + cos phi (x - cos phi / (1 + sin phi)).
        let hyp = 1f64.hypot(z);
        let cos_phi = 1.0 / hyp;
        let sin_phi = -z / hyp;
        // (the ln_1p form only where its argument is small: next to zeta it is near -1)
        let y1 = cos_phi * (x - cos_phi / (1.0 + sin_phi));
        let l1 = if sin_phi > 0.0 && y1.abs() < 0.5 {
            y1.ln_1p()
        } else {
            ((x - z) * cos_phi).ln()
        };
        // rho = pi/2 - theta0 = pi - T, which `angles` returns without cancellation (it is
        // exactly 0 at alpha < 1, beta = 1, where the formula ((pi/2)(a - 1) + delta)/a,
        // delta = pi/2 - a theta0, would leave 1e-23 of rounding against u = eps t)
        let rho = t_c;
        let mut k = General {
            a,
            eps,
            ae: a / eps,
            t_len,
            t_c,
            d,
            l1,
            ln_hyp: hyp.ln(),
            hyp,
            rho,
            small_eps: eps.abs() < 0.25,
            flip: false,
        };
        // Orientation: measure w from the end nearer to the peak h = 0.
        let hm = k.h(0.5 * t_len);
        k.flip = if a > 1.0 { hm > 0.0 } else { hm < 0.0 };
        k
    }

    /// (t, s) = (theta + theta0, pi/2 - theta) from w.
    #[inline]
    fn ts(&self, w: f64) -> (f64, f64) {
        if self.flip {
            (self.t_len - w, w)
        } else {
            (w, self.t_len - w)
        }
    }

    /// `pi - (T + eps t)`, from whichever of t, s is exact (it vanishes at s = 0 when D = 0).
    #[inline]
    fn comp_c(&self, t: f64, s: f64) -> f64 {
        if self.flip {
            self.d + self.eps * s
        } else {
            self.t_c - self.eps * t
        }
    }

    /// `L2 = ln(sin s / sin(a t)) = ln(cos theta / cos(theta + u))` with
    /// `u = eps theta - (pi/2 - a theta0) = eps t - rho = -(D + eps s)` (so `a t = theta + u + pi/2`),
    /// from `sin s`, `cos s` and `sin(a t)`. With
    /// `D = cos(theta + u) / cos theta - 1 = -2 sin^2(u/2) - tan(theta) sin u`, `L2 = -ln_1p(D)`
    /// keeps full relative accuracy where L2 is small (next to alpha = 1 every term of D is
    /// O(eps) over the part of the range that matters); elsewhere the plain ratio is as good.
    /// u is formed from whichever of t, s is exact, because at an end where tan(theta) is
    /// unbounded u vanishes too (rho = 0 at alpha < 1, beta = 1; D = 0 at alpha > 1, beta = -1).
    ///
    /// `sa` is a closure: the `ln_1p(D)` form does not need `sin(a t)`.
    #[inline]
    fn l2(&self, t: f64, s: f64, ss: f64, cs: f64, sa: impl Fn() -> f64) -> f64 {
        if self.small_eps {
            let u = self.u(t, s);
            // |u| < 1: sin u keeps its relative accuracy (not so for u near -pi, where L1 and
            // the plain ratio carry the cancellation instead: x beyond zeta on the far side)
            if u.abs() < 1.0 {
                let (hu, hc) = sin_cos_small(0.5 * u);
                return self.l2_small(t, s, ss, cs, hu, 2.0 * hu * hc, sa);
            }
        }
        (ss / sa()).ln()
    }

    /// `u = eps t - rho = -(D + eps s)` from whichever of t, s is exact; `-u` is the complement
    /// `pi - (T + eps t)` of [`General::comp_c`] (the same floating-point operations).
    #[inline]
    fn u(&self, t: f64, s: f64) -> f64 {
        if self.flip {
            -(self.d + self.eps * s)
        } else {
            self.eps * t - self.rho
        }
    }

    /// [`General::l2`] for |u| < 1 from `sin(u/2)` and `sin u`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn l2_small(
        &self,
        t: f64,
        s: f64,
        ss: f64,
        cs: f64,
        hu: f64,
        sin_u: f64,
        sa: impl Fn() -> f64,
    ) -> f64 {
        let cot = cs / ss;
        let dd = -2.0 * hu * hu - cot * sin_u;
        // u carries the rounding of its two terms and of the inexact one of t, s (~1e-16
        // absolute); where tan(theta) is huge that can swamp D (a < 1, beta = 1 has u -> 0
        // and tan(theta) -> infinity at the same end): keep D only where it is well
        // conditioned, else the ratio, which is no worse than its inputs.
        let err_u = 4.5e-16 * (self.d + self.rho + self.eps.abs() * (s + t + self.t_len));
        if dd.abs() <= 0.5 && cot.abs() * err_u <= 1e-6 * dd.abs() {
            return -dd.ln_1p();
        }
        (ss / sa()).ln()
    }

    /// `h = E + ln hypot(1, zeta) + ln R` as `(E, R)`: `E = (a/eps)(L1 + L2)` and
    /// `R = sin(T + eps t) / sin s`, so that `g = e^E hypot(1, zeta) R` needs no logarithm.
    #[inline]
    fn h_parts(&self, w: f64) -> (f64, f64) {
        let (t, s) = self.ts(w);
        let (ss, cs) = sin_cos_pair(s, self.t_c + t);
        let sa = || sin_pair(self.a * t, self.d + self.a * s);
        if self.small_eps {
            // Next to alpha = 1 one sincos of u/2 (a polynomial when |u| is small, as it is
            // over the whole range after the reflection x -> -x when zeta is far out) gives
            // both D of `l2` and sin(T + eps t) = sin(-u): two libm calls fewer per evaluation.
            let u = self.u(t, s);
            if u.abs() < 1.0 {
                let (hu, hc) = sin_cos_small(0.5 * u);
                let sin_u = 2.0 * hu * hc;
                // sin(T + eps t) from the smaller of the angle and its complement -u: that is
                // always -u here, since the two add up to pi (up to rounding) and -u < 1
                let sc = sin_u.abs();
                let l2 = self.l2_small(t, s, ss, cs, hu, sin_u, sa);
                return (self.ae * (self.l1 + l2), sc / ss);
            }
        }
        let sc = sin_pair(self.t_len + self.eps * t, self.comp_c(t, s));
        (self.ae * (self.l1 + self.l2(t, s, ss, cs, sa)), sc / ss)
    }

    pub(crate) fn len_pdf_prefactor(&self, x: f64, zeta: f64) -> f64 {
        (self.a / (PI * self.eps.abs() * (x - zeta))).ln()
    }
}

impl Kernel for General {
    #[inline]
    fn len(&self) -> f64 {
        self.t_len
    }

    #[inline]
    fn h(&self, w: f64) -> f64 {
        let (e, r) = self.h_parts(w);
        e + self.ln_hyp + r.ln()
    }

    #[inline]
    fn g(&self, w: f64) -> f64 {
        let (e, r) = self.h_parts(w);
        if e.abs() < 700.0 && r > 0.0 && r < 1e300 {
            e.exp() * (self.hyp * r)
        } else {
            (e + self.ln_hyp + r.ln()).exp()
        }
    }

    fn pdf_nodes(&self, psi_max: Option<f64>, w: &[f64; NODES], out: &mut [f64; NODES]) {
        vector::pdf_nodes(self, psi_max, w, out);
        for (o, &w) in out.iter_mut().zip(w) {
            #[cfg(test)]
            VECTOR_NODES.with(|c| {
                let (v, n) = c.get();
                c.set((v + u64::from(!o.is_nan()), n + 1))
            });
            if o.is_nan() {
                *o = pdf_node(self, psi_max, w);
            }
        }
    }

    #[inline]
    fn h_dh(&self, w: f64) -> (f64, f64) {
        let (t, s) = self.ts(w);
        let (ss, cs) = sin_cos_pair(s, self.t_c + t);
        let (sa, ca) = sin_cos_pair(self.a * t, self.d + self.a * s);
        let (sc, cc) = sin_cos_pair(self.t_len + self.eps * t, self.comp_c(t, s));
        let h = self.ae * (self.l1 + self.l2(t, s, ss, cs, || sa)) + self.ln_hyp + (sc / ss).ln();
        let cot_s = cs / ss;
        let dt = self.ae * (-cot_s - self.a * ca / sa) + self.eps * cc / sc + cot_s;
        (h, if self.flip { -dt } else { dt })
    }
}

/// Kernel of the alpha = 1 law with beta > 0 (theta in (-pi/2, pi/2)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AlphaOne {
    beta: f64,
    c0: f64,
    flip: bool,
}

impl AlphaOne {
    pub(crate) fn new(x: f64, beta: f64) -> AlphaOne {
        AlphaOne {
            beta,
            c0: -FRAC_PI_2 * x / beta + (2.0 / PI).ln(),
            flip: x > 0.0,
        }
    }

    /// (phi, u) = (theta + pi/2, pi/2 - theta)
    #[inline]
    fn pu(&self, w: f64) -> (f64, f64) {
        if self.flip {
            (PI - w, w)
        } else {
            (w, PI - w)
        }
    }

    /// (c = pi/2 + beta theta, cos theta, tan theta)
    #[inline]
    fn parts(&self, w: f64) -> (f64, f64, f64) {
        let (p, u) = self.pu(w);
        let b = self.beta;
        if p <= u {
            let (s, co) = p.sin_cos();
            (FRAC_PI_2 * (1.0 - b) + b * p, s, -co / s)
        } else {
            let (s, co) = u.sin_cos();
            (FRAC_PI_2 * (1.0 + b) - b * u, s, co / s)
        }
    }
}

impl Kernel for AlphaOne {
    #[inline]
    fn len(&self) -> f64 {
        PI
    }

    #[inline]
    fn h(&self, w: f64) -> f64 {
        let (c, cos_t, tan_t) = self.parts(w);
        self.c0 + (c / cos_t).ln() + c * tan_t / self.beta
    }

    #[inline]
    fn h_dh(&self, w: f64) -> (f64, f64) {
        let (c, cos_t, tan_t) = self.parts(w);
        let b = self.beta;
        let h = self.c0 + (c / cos_t).ln() + c * tan_t / b;
        let d = b / c + 2.0 * tan_t + c / (b * cos_t * cos_t);
        (h, if self.flip { -d } else { d })
    }
}

/// ln f of the standard S0 law by the integral, alpha != 1 (any x).
pub(crate) fn ln_pdf_general(x: f64, a: f64, beta: f64) -> f64 {
    let z = zeta(a, beta);
    if (x - z).abs() <= 1e-9 * (1.0 + z.abs()) {
        let (t_len, t_c, _) = angles(a, beta);
        let s = sin_pair(t_len, t_c);
        let lf = statrs::function::gamma::ln_gamma(1.0 + 1.0 / a) + s.ln()
            - PI.ln()
            - (1f64.hypot(z)).ln() / a;
        // f varies on the scale 1/f(zeta): within 1e-14/f of zeta the closed form is exact to
        // ~1e-14 relative, and the integral (peak at distance ~|x - zeta| from an end point) is
        // slowest there.
        if x == z || (x - z).abs() * lf.exp() < 1e-14 {
            return lf;
        }
    }
    if let Some(v) = series::ln_pdf_power(x, a, beta) {
        return v;
    }
    let (x, beta, z) = if x < z { (-x, -beta, -z) } else { (x, beta, z) };
    if let Some(v) = series::ln_tail(x, a, beta, series::What::Pdf) {
        return v;
    }
    let k = General::new(x, a, beta);
    k.len_pdf_prefactor(x, z) + ln_integral(&k, Kind::Pdf)
}

/// ln f by the integral only (no tail series), alpha != 1, x != zeta; for tests of the series.
#[cfg(test)]
pub(crate) fn ln_pdf_integral(x: f64, a: f64, beta: f64) -> f64 {
    let z = zeta(a, beta);
    let (x, beta, z) = if x < z { (-x, -beta, -z) } else { (x, beta, z) };
    let k = General::new(x, a, beta);
    k.len_pdf_prefactor(x, z) + ln_integral(&k, Kind::Pdf)
}

/// ln f of the standard alpha = 1 law, beta != 0.
pub(crate) fn ln_pdf_alpha_one(x: f64, beta: f64) -> f64 {
    let (x, beta) = if beta < 0.0 { (-x, -beta) } else { (x, beta) };
    let k = AlphaOne::new(x, beta);
    -(2.0 * beta).ln() + ln_integral(&k, Kind::Pdf)
}

/// ln P(X <= x) (`upper = false`) or ln P(X > x) (`upper = true`), alpha != 1.
pub(crate) fn ln_cdf_general(x: f64, a: f64, beta: f64, upper: bool) -> f64 {
    let z = zeta(a, beta);
    let (x, beta, z, upper) = if x < z {
        (-x, -beta, -z, !upper)
    } else {
        (x, beta, z, upper)
    };
    let (t_len, t_c, _) = angles(a, beta);
    if x == z {
        return if upper {
            (t_len / PI).ln()
        } else {
            (t_c / PI).ln()
        };
    }
    if let Some(v) = series::ln_cdf_power(x, a, beta, upper) {
        return v;
    }
    if let Some(ls) = series::ln_tail(x, a, beta, series::What::Sf) {
        return if upper { ls } else { (-ls.exp()).ln_1p() };
    }
    ln_cdf_integral_above(x, a, beta, upper)
}

/// ln P(X <= x) or ln P(X > x) by the integral only, alpha != 1 (any x); for tests.
#[cfg(test)]
pub(crate) fn ln_cdf_integral(x: f64, a: f64, beta: f64, upper: bool) -> f64 {
    let z = zeta(a, beta);
    let (x, beta, upper) = if x < z {
        (-x, -beta, !upper)
    } else {
        (x, beta, upper)
    };
    ln_cdf_integral_above(x, a, beta, upper)
}

/// The integral for x > zeta.
fn ln_cdf_integral_above(x: f64, a: f64, beta: f64, upper: bool) -> f64 {
    let (_, t_c, _) = angles(a, beta);
    let k = General::new(x, a, beta);
    // a > 1: sf = I[e^-g]/pi, cdf = (pi - T + I[1 - e^-g])/pi; a < 1 the other way round.
    let sf_is_expneg = a > 1.0;
    if upper {
        let kind = if sf_is_expneg {
            Kind::ExpNeg
        } else {
            Kind::OneMinus
        };
        ln_integral(&k, kind) - PI.ln()
    } else {
        let kind = if sf_is_expneg {
            Kind::OneMinus
        } else {
            Kind::ExpNeg
        };
        let li = ln_integral(&k, kind);
        // ln(t_c + e^li) without underflow: t_c = 0 at alpha < 1, beta = 1, where the whole
        // (thin) tail is e^li, far below the f64 range on the support edge's side
        let sum = if t_c > 0.0 {
            let lt = t_c.ln();
            let (hi, lo) = if lt > li { (lt, li) } else { (li, lt) };
            hi + (lo - hi).exp().ln_1p()
        } else {
            li
        };
        sum - PI.ln()
    }
}

/// ln P(X <= x) or ln P(X > x) for alpha = 1, beta != 0.
pub(crate) fn ln_cdf_alpha_one(x: f64, beta: f64, upper: bool) -> f64 {
    let (x, beta, upper) = if beta < 0.0 {
        (-x, -beta, !upper)
    } else {
        (x, beta, upper)
    };
    let k = AlphaOne::new(x, beta);
    let kind = if upper { Kind::OneMinus } else { Kind::ExpNeg };
    ln_integral(&k, kind) - PI.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sin_cos_fast` against libm over its polynomial range -pi/4..3pi/4 and beyond (libm
    /// there), on a fine grid, at tiny angles and next to pi/2 where cos x is tiny: 2.5e-16
    /// relative (about one ulp each for the polynomial and for libm).
    #[test]
    fn fast_sin_cos_matches_libm() {
        let mut xs: Vec<f64> = (0..=200_000)
            .map(|i| -1.0 + 4.0 * i as f64 / 200_000.0 + 1.1e-9)
            .collect();
        xs.extend((0..300).map(|i| 10f64.powf(-0.1 * i as f64)));
        xs.extend((1..200).map(|i| FRAC_PI_2 - i as f64 * 1e-16 * 1.37f64.powi(i)));
        xs.extend((1..200).map(|i| FRAC_PI_2 + i as f64 * 1e-16 * 1.37f64.powi(i)));
        xs.extend([
            std::f64::consts::FRAC_PI_4,
            3.0 * std::f64::consts::FRAC_PI_4,
            PI,
            0.0,
        ]);
        for x in xs {
            let (s, c) = sin_cos_fast(x);
            let (s0, c0) = x.sin_cos();
            assert!((s - s0).abs() <= 2.5e-16 * s0.abs(), "{x}: {s} {s0}");
            assert!((c - c0).abs() <= 2.5e-16 * c0.abs(), "{x}: {c} {c0}");
        }
    }

    /// The Taylor form of `sin_cos_small` against libm over its whole range |x| < 0.1.
    #[test]
    fn small_angle_sin_cos_matches_libm() {
        for i in 0..=2000 {
            let x = -0.1 + 1e-4 * i as f64 + 3.3e-9;
            let (s, c) = sin_cos_small(x);
            let (s0, c0) = x.sin_cos();
            assert!((s - s0).abs() <= 2.5e-16 * s0.abs(), "{x}: {s} {s0}");
            assert!((c - c0).abs() <= 2.5e-16 * c0, "{x}: {c} {c0}");
        }
    }

    /// The cost per density point next to alpha = 1, where every point of the benchmark's
    /// 1000 (x = sinh(-7 + 14 i/999)) needs the integral: integrand evaluations by the
    /// quadrature plus kernel evaluations by the level solver, per point: measured 220-255
    /// (21-25 of them by the level solver; `cargo test -p anodiff-core --lib
    /// evaluations_per_point -- --nocapture`); the bound leaves ~18 % of room. The integrand is
    /// evaluated on a rule's 21 nodes together, vectorised (module `vector`): 99.4-99.7 % of
    /// these points' nodes take that path, held to 90 %. The same points' densities are held
    /// to 1e-10 against mpmath in core/tests/stable_golden.rs (near_one.csv, mpmath_s0.csv).
    #[test]
    fn evaluations_per_point_next_to_alpha_one() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| (-7.0 + 14.0 * i as f64 / 999.0).sinh())
            .collect();
        for &(a, b) in &[(1.0005, 0.5), (0.9999, -0.7), (1.000001, 0.3)] {
            crate::stable::quad::EVALS.with(|c| c.set(0));
            ROOT_EVALS.with(|c| c.set(0));
            VECTOR_NODES.with(|c| c.set((0, 0)));
            let s: f64 = xs.iter().map(|&x| ln_pdf_general(x, a, b).exp()).sum();
            assert!(s.is_finite() && s > 0.0);
            let n = crate::stable::quad::EVALS.with(|c| c.get()) + ROOT_EVALS.with(|c| c.get());
            let per_point = n as f64 / xs.len() as f64;
            let (v, nv) = VECTOR_NODES.with(|c| c.get());
            eprintln!(
                "alpha {a} beta {b}: {per_point:.1} evaluations per point ({:.1} by the level solver), {:.2} % of the nodes vectorised",
                ROOT_EVALS.with(|c| c.get()) as f64 / xs.len() as f64,
                100.0 * v as f64 / nv as f64
            );
            assert!(per_point < 300.0, "alpha {a} beta {b}: {per_point}");
            // the speed rests on the vectorised integrand (module `vector`)
            assert!(
                v as f64 >= 0.9 * nv as f64,
                "alpha {a} beta {b}: {v} of {nv} nodes vectorised"
            );
        }
    }
}
