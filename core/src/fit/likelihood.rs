//! The stable log-likelihood in S0 with its gradient and Hessian, on points or weighted bins.
//!
//! Parameters are theta = (alpha, beta, s = ln scale, loc). For the location-scale part the
//! derivatives are analytic in the standardized log-density l(z), z = (x - loc)/scale:
//!
//! ```text
//! d/dloc = -l'/g            d2/dloc2 = l''/g^2
//! d/ds   = -z l' - 1        d2/ds2   = z l' + z^2 l''       d2/dloc ds = (z l'' + l')/g
//! ```
//!
//! Derivatives in alpha and beta come from a 3 x 3 stencil of standardized log-densities
//! (alpha +- h, beta +- h, shifted inward at the box edges) combined with the derivatives of the
//! biquadratic Lagrange interpolant, so one evaluation yields value, gradient and Hessian.
//! On the fast path each stencil point is a spline over a tail-adapted grid (see
//! [`super::spline`]); on the exact path every point is evaluated by quadrature.

// 4 x 4 derivative arrays read most clearly with explicit indices.
#![allow(clippy::needless_range_loop)]

use super::density::ln_pdf_std;
use super::spline::{Spline, UGrid};
use rayon::prelude::*;

/// Index of each parameter in theta.
pub(crate) const A: usize = 0;
pub(crate) const B: usize = 1;
pub(crate) const S: usize = 2;
pub(crate) const D: usize = 3;

/// Lowest alpha the likelihood search visits (the quadrature and McCulloch's tables degrade below).
pub(crate) const ALPHA_MIN: f64 = 0.4;
/// Finite-difference step of the alpha/beta stencil. The evaluator is accurate to ~1e-10
/// relative, so first derivatives carry ~1e-7 noise per point and the h^2 truncation ~2e-7.
pub(crate) const H_AB: f64 = 1e-3;

/// How the standardized log-density is evaluated at the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Evaluation {
    /// Exact density at a few hundred to a few thousand nodes in u = asinh(z), spacing `h`,
    /// interpolated by a natural cubic spline (fast; cost after the tables is ~50 ns/point).
    Spline {
        /// Node spacing in u = asinh(z).
        h: f64,
    },
    /// Quadrature at every data point (27 density evaluations per point per iteration:
    /// reference path for small n).
    Exact,
}

impl Default for Evaluation {
    fn default() -> Self {
        Evaluation::Spline { h: 0.05 }
    }
}

/// Observations: points, or bins with weights (counts) and widths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obs<'a> {
    pub x: &'a [f64],
    pub w: Option<&'a [f64]>,
    /// Bin widths (only for the curvature correction of the reported grouped log-likelihood).
    pub width: Option<&'a [f64]>,
    pub xmin: f64,
    pub xmax: f64,
    pub total: f64,
}

impl<'a> Obs<'a> {
    pub fn points(x: &'a [f64]) -> Obs<'a> {
        let (xmin, xmax) = min_max(x);
        Obs {
            x,
            w: None,
            width: None,
            xmin,
            xmax,
            total: x.len() as f64,
        }
    }

    pub fn bins(x: &'a [f64], w: &'a [f64], width: &'a [f64]) -> Obs<'a> {
        let (xmin, xmax) = min_max(x);
        Obs {
            x,
            w: Some(w),
            width: Some(width),
            xmin,
            xmax,
            total: w.iter().sum(),
        }
    }
}

fn min_max(x: &[f64]) -> (f64, f64) {
    x.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Value, gradient and Hessian (d^2 L / dtheta^2, negative definite at a maximum).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LikOut {
    pub l: f64,
    pub g: [f64; 4],
    pub h: [[f64; 4]; 4],
}

/// Three (or one) stencil nodes in one direction and the Lagrange weights at the evaluation point.
#[derive(Debug, Clone)]
struct Axis {
    nodes: Vec<f64>,
    w0: Vec<f64>,
    w1: Vec<f64>,
    w2: Vec<f64>,
}

impl Axis {
    fn fixed(v: f64) -> Axis {
        Axis {
            nodes: vec![v],
            w0: vec![1.0],
            w1: vec![0.0],
            w2: vec![0.0],
        }
    }

    fn stencil(v: f64, lo: f64, hi: f64) -> Axis {
        Axis::stencil_step(v, lo, hi, H_AB)
    }

    /// The stencil for beta. Next to beta = +-1 the log-density of points in the tail that
    /// beta = +-1 makes thin behaves like ln(1 -+ beta) (the tail's weight vanishes there), so
    /// its derivatives grow like 1/(1 - |beta|) and a fixed step of 1e-3 gets them wrong by O(1)
    /// once 1 - |beta| is ~1e-3 (the cause of the rare Newton stalls next to the bound, e.g.
    /// seed 5616 of core/tests/fit_mle.rs). The step shrinks to half the distance to the bound,
    /// down to 4e-6; closer than that the shifted one-sided stencil only has to give the
    /// sign of the gradient for the active-set test.
    fn stencil_bounded(v: f64, lo: f64, hi: f64) -> Axis {
        let dist = (hi - v).min(v - lo);
        if dist < 2.0 * H_AB && dist > 8e-6 {
            Axis::stencil_step(v, lo, hi, 0.5 * dist)
        } else {
            Axis::stencil_step(v, lo, hi, H_AB)
        }
    }

    fn stencil_step(v: f64, lo: f64, hi: f64, h: f64) -> Axis {
        let c = v.clamp(lo + h, hi - h);
        let t = [c - h, c, c + h];
        let mut w0 = vec![0.0; 3];
        let mut w1 = vec![0.0; 3];
        let mut w2 = vec![0.0; 3];
        for i in 0..3 {
            let (j, k) = ((i + 1) % 3, (i + 2) % 3);
            let den = (t[i] - t[j]) * (t[i] - t[k]);
            w0[i] = (v - t[j]) * (v - t[k]) / den;
            w1[i] = ((v - t[j]) + (v - t[k])) / den;
            w2[i] = 2.0 / den;
        }
        Axis {
            nodes: t.to_vec(),
            w0,
            w1,
            w2,
        }
    }
}

/// Which derivatives are wanted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Order {
    Value,
    Full,
}

/// The six combinations of the stencil: value, d/da, d/db, d2/da2, d2/dadb, d2/db2.
struct Stencil {
    pts: Vec<(f64, f64)>,
    coef: Vec<[f64; 6]>,
}

fn stencil(theta: &[f64; 4], free: &[bool; 4], order: Order) -> Stencil {
    let ax = if free[A] && order == Order::Full {
        Axis::stencil(theta[A], ALPHA_MIN, 2.0)
    } else {
        Axis::fixed(theta[A])
    };
    let bx = if free[B] && order == Order::Full {
        Axis::stencil_bounded(theta[B], -1.0, 1.0)
    } else {
        Axis::fixed(theta[B])
    };
    let mut pts = Vec::new();
    let mut coef = Vec::new();
    for i in 0..ax.nodes.len() {
        for j in 0..bx.nodes.len() {
            pts.push((ax.nodes[i], bx.nodes[j]));
            coef.push([
                ax.w0[i] * bx.w0[j],
                ax.w1[i] * bx.w0[j],
                ax.w0[i] * bx.w1[j],
                ax.w2[i] * bx.w0[j],
                ax.w1[i] * bx.w1[j],
                ax.w0[i] * bx.w2[j],
            ]);
        }
    }
    Stencil { pts, coef }
}

/// Per-point pieces: l, l', l'' at the evaluation point; l_a, l_a', l_b, l_b'; l_aa, l_ab, l_bb.
#[derive(Debug, Clone, Copy, Default)]
struct PointTerms {
    l: f64,
    l1: f64,
    l2: f64,
    la: f64,
    la1: f64,
    lb: f64,
    lb1: f64,
    laa: f64,
    lab: f64,
    lbb: f64,
}

/// Lowest log-density a spline node may carry (keeps the interpolant finite outside the support).
const LN_FLOOR: f64 = -745.0;

/// A prepared evaluator of per-point terms at fixed (alpha, beta).
enum Prepared {
    Spline {
        grid: UGrid,
        // value, a, b, aa, ab, bb splines
        sp: Vec<Spline>,
    },
    Exact {
        st: Stencil,
    },
}

fn prepare(
    obs: &Obs,
    theta: &[f64; 4],
    free: &[bool; 4],
    order: Order,
    eval: Evaluation,
) -> Prepared {
    let st = stencil(theta, free, order);
    match eval {
        Evaluation::Exact => Prepared::Exact { st },
        Evaluation::Spline { h } => {
            let g = theta[S].exp();
            let zlo = (obs.xmin - theta[D]) / g;
            let zhi = (obs.xmax - theta[D]) / g;
            let grid = UGrid::covering(zlo, zhi, h, 4);
            let z = grid.z_nodes();
            let k = grid.len;
            let np = st.pts.len();
            let table: Vec<f64> = (0..np * k)
                .into_par_iter()
                .with_min_len(16)
                .map(|idx| {
                    let (p, j) = (idx / k, idx % k);
                    let (a, b) = st.pts[p];
                    let v = ln_pdf_std(z[j], a, b);
                    // -inf outside the support is floored; NaN or +inf (an evaluator failure)
                    // stays NaN and makes the whole evaluation unusable (see `evaluate`).
                    if v == f64::NEG_INFINITY {
                        LN_FLOOR
                    } else if v.is_finite() {
                        v.max(LN_FLOOR)
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            let ncomb = if order == Order::Full { 6 } else { 1 };
            let sp = (0..ncomb)
                .map(|c| {
                    let mut y = vec![0.0; k];
                    for p in 0..np {
                        let w = st.coef[p][c];
                        if w != 0.0 {
                            for j in 0..k {
                                y[j] += w * table[p * k + j];
                            }
                        }
                    }
                    Spline::new(y, h)
                })
                .collect();
            Prepared::Spline { grid, sp }
        }
    }
}

impl Prepared {
    #[inline]
    fn terms(&self, z: f64, order: Order) -> PointTerms {
        match self {
            Prepared::Spline { grid, sp } => {
                let u = z.asinh();
                let (j, t) = grid.locate(u);
                let h = grid.h;
                let r = 1.0 / (1.0 + z * z).sqrt(); // du/dz
                if order == Order::Value {
                    return PointTerms {
                        l: sp[0].eval1(j, t, h),
                        ..Default::default()
                    };
                }
                let ruu = -z * r * r * r; // d2u/dz2
                let (v, d1, d2) = sp[0].eval3(j, t, h);
                let (la, la_u) = sp[1].eval2(j, t, h);
                let (lb, lb_u) = sp[2].eval2(j, t, h);
                PointTerms {
                    l: v,
                    l1: d1 * r,
                    l2: d2 * r * r + d1 * ruu,
                    la,
                    la1: la_u * r,
                    lb,
                    lb1: lb_u * r,
                    laa: sp[3].eval1(j, t, h),
                    lab: sp[4].eval1(j, t, h),
                    lbb: sp[5].eval1(j, t, h),
                }
            }
            Prepared::Exact { st } => {
                if order == Order::Value {
                    let (a, b) = st.pts[0];
                    return PointTerms {
                        l: ln_pdf_std(z, a, b),
                        ..Default::default()
                    };
                }
                let hz = 1e-3 * z.abs().max(1.0);
                let mut t = PointTerms::default();
                for (p, &(a, b)) in st.pts.iter().enumerate() {
                    let v0 = ln_pdf_std(z, a, b);
                    let vp = ln_pdf_std(z + hz, a, b);
                    let vm = ln_pdf_std(z - hz, a, b);
                    let d1 = (vp - vm) / (2.0 * hz);
                    let d2 = (vp - 2.0 * v0 + vm) / (hz * hz);
                    let c = &st.coef[p];
                    t.l += c[0] * v0;
                    t.l1 += c[0] * d1;
                    t.l2 += c[0] * d2;
                    t.la += c[1] * v0;
                    t.la1 += c[1] * d1;
                    t.lb += c[2] * v0;
                    t.lb1 += c[2] * d1;
                    t.laa += c[3] * v0;
                    t.lab += c[4] * v0;
                    t.lbb += c[5] * v0;
                }
                t
            }
        }
    }
}

/// Scores of one observation in theta = (alpha, beta, s, loc).
#[inline]
fn score(t: &PointTerms, z: f64, g: f64) -> [f64; 4] {
    [t.la, t.lb, -z * t.l1 - 1.0, -t.l1 / g]
}

/// Log-likelihood (and derivatives for [`Order::Full`]) at theta. Parameters not `free` get
/// zero rows and columns.
pub(crate) fn evaluate(
    obs: &Obs,
    theta: &[f64; 4],
    free: &[bool; 4],
    order: Order,
    eval: Evaluation,
) -> LikOut {
    let prep = prepare(obs, theta, free, order, eval);
    let g = theta[S].exp();
    let d = theta[D];
    let chunk = match eval {
        Evaluation::Exact => 8,
        _ => 4096,
    };
    let n = obs.x.len();
    let acc = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut o = LikOut::default();
            let lo = c * chunk;
            let hi = (lo + chunk).min(n);
            for i in lo..hi {
                let z = (obs.x[i] - d) / g;
                let w = obs.w.map_or(1.0, |w| w[i]);
                let t = prep.terms(z, order);
                o.l += w * t.l;
                if order == Order::Full {
                    let sc = score(&t, z, g);
                    for k in 0..4 {
                        o.g[k] += w * sc[k];
                    }
                    o.h[A][A] += w * t.laa;
                    o.h[A][B] += w * t.lab;
                    o.h[B][B] += w * t.lbb;
                    o.h[A][S] += w * (-z * t.la1);
                    o.h[A][D] += w * (-t.la1 / g);
                    o.h[B][S] += w * (-z * t.lb1);
                    o.h[B][D] += w * (-t.lb1 / g);
                    o.h[S][S] += w * (z * t.l1 + z * z * t.l2);
                    o.h[S][D] += w * ((z * t.l2 + t.l1) / g);
                    o.h[D][D] += w * (t.l2 / (g * g));
                }
            }
            o
        })
        .reduce(LikOut::default, |mut a, b| {
            a.l += b.l;
            for k in 0..4 {
                a.g[k] += b.g[k];
                for m in 0..4 {
                    a.h[k][m] += b.h[k][m];
                }
            }
            a
        });
    let mut out = acc;
    out.l -= obs.total * theta[S];
    for k in 0..4 {
        for m in 0..k {
            out.h[k][m] = out.h[m][k];
        }
    }
    for k in 0..4 {
        if !free[k] {
            out.g[k] = 0.0;
            for m in 0..4 {
                out.h[k][m] = 0.0;
                out.h[m][k] = 0.0;
            }
        }
    }
    // A non-finite value or derivative makes the point unusable for the search.
    let derivs_ok = out
        .g
        .iter()
        .chain(out.h.iter().flatten())
        .all(|v| v.is_finite());
    if out.l.is_nan() || !derivs_ok {
        out.l = f64::NEG_INFINITY;
    }
    out
}

/// log f at each point (standard log-density at z minus ln scale).
pub(crate) fn pointwise(x: &[f64], theta: &[f64; 4], eval: Evaluation) -> Vec<f64> {
    let obs = Obs::points(x);
    let prep = prepare(&obs, theta, &[false; 4], Order::Value, eval);
    let g = theta[S].exp();
    x.par_iter()
        .map(|&v| prep.terms((v - theta[D]) / g, Order::Value).l - theta[S])
        .collect()
}

/// Sum over observations of the outer products of the scores (the "meat" J of the sandwich).
pub(crate) fn score_outer(
    obs: &Obs,
    theta: &[f64; 4],
    free: &[bool; 4],
    eval: Evaluation,
) -> [[f64; 4]; 4] {
    let prep = prepare(obs, theta, free, Order::Full, eval);
    let g = theta[S].exp();
    let d = theta[D];
    let n = obs.x.len();
    let chunk = 4096;
    let mut j = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut m = [[0.0; 4]; 4];
            for i in c * chunk..((c + 1) * chunk).min(n) {
                let z = (obs.x[i] - d) / g;
                let w = obs.w.map_or(1.0, |w| w[i]);
                let sc = score(&prep.terms(z, Order::Full), z, g);
                for k in 0..4 {
                    for l in 0..4 {
                        m[k][l] += w * sc[k] * sc[l];
                    }
                }
            }
            m
        })
        .reduce(
            || [[0.0; 4]; 4],
            |mut a, b| {
                for k in 0..4 {
                    for l in 0..4 {
                        a[k][l] += b[k][l];
                    }
                }
                a
            },
        );
    for k in 0..4 {
        if !free[k] {
            for m in 0..4 {
                j[k][m] = 0.0;
                j[m][k] = 0.0;
            }
        }
    }
    j
}

/// Second-order correction that turns the bin-mean log-likelihood into the point log-likelihood:
/// sum_i l(x_i) ~ sum_b n_b [l(mean_b) + l''(mean_b) var_b / 2], var_b ~ (w_b/g)^2 / 12 for values
/// spread evenly over a bin of width w_b (first-order terms vanish at the bin mean).
pub(crate) fn bin_correction(obs: &Obs, theta: &[f64; 4], eval: Evaluation) -> f64 {
    let (Some(w), Some(width)) = (obs.w, obs.width) else {
        return 0.0;
    };
    let prep = prepare(obs, theta, &[false; 4], Order::Full, eval);
    let g = theta[S].exp();
    obs.x
        .par_iter()
        .zip(w.par_iter())
        .zip(width.par_iter())
        .map(|((&x, &n), &h)| {
            let z = (x - theta[D]) / g;
            let t = prep.terms(z, Order::Full);
            let r = h / g;
            n * r * r * t.l2 / 24.0
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic Hessian of the log-likelihood (from the spline's and from the quadrature's
    /// derivatives in x, alpha, beta) against central second differences of the quadrature
    /// value, Richardson-extrapolated from steps h and h/2 (truncation O(h^4) = 1e-8 at h =
    /// 1e-2; quadrature noise ~1e-12 relative in L ~ 600 adds ~1e-5 absolute at h/2, 3e-8 of the
    /// largest entry).
    #[test]
    fn analytic_hessian_matches_finite_differences_of_the_value() {
        let x = crate::fit::mle::tests::sample(300, 7, [1.6, 0.3, 1.0, 0.5]);
        let obs = Obs::points(&x);
        let th = [1.5953, 0.1991, (0.88064f64).ln(), 0.40953];
        let free = [true; 4];
        let val = |t: [f64; 4]| evaluate(&obs, &t, &free, Order::Value, Evaluation::Exact).l;
        let second = |k: usize, m: usize, h: f64| {
            let f = |sk: f64, sm: f64| {
                let mut t = th;
                t[k] += sk * h;
                t[m] += sm * h;
                val(t)
            };
            (f(1.0, 1.0) - f(1.0, -1.0) - f(-1.0, 1.0) + f(-1.0, -1.0)) / (4.0 * h * h)
        };
        let mut hfd = [[0.0; 4]; 4];
        for k in 0..4 {
            for m in k..4 {
                let h = 1e-2;
                hfd[k][m] = (4.0 * second(k, m, h / 2.0) - second(k, m, h)) / 3.0;
                hfd[m][k] = hfd[k][m];
            }
        }
        let big = hfd.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
        // The spline path's Hessian is that of an approximation of ln f (spline tables in
        // alpha, beta and x), so it is held to 1e-4 of the largest entry (measured 1.7e-5, at
        // ln scale, ln scale); the quadrature path's to 1e-5 (measured 8.6e-7, at alpha, alpha):
        // `cargo test -p anodiff-core --lib analytic_hessian -- --nocapture`.
        for (eval, tol) in [(Evaluation::default(), 1e-4), (Evaluation::Exact, 1e-5)] {
            let full = evaluate(&obs, &th, &free, Order::Full, eval);
            let mut worst = (0.0f64, 0, 0);
            for k in 0..4 {
                for m in 0..4 {
                    let err = (full.h[k][m] - hfd[k][m]).abs() / big;
                    if err > worst.0 {
                        worst = (err, k, m);
                    }
                }
            }
            let (err, k, m) = worst;
            eprintln!("{eval:?}: worst |H - H_fd| / max |H| = {err:.2e} at H[{k}][{m}]");
            assert!(
                err <= tol,
                "{eval:?} H[{k}][{m}]: analytic {} finite differences {} (largest {big})",
                full.h[k][m],
                hfd[k][m]
            );
        }
    }
}
