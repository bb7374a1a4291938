//! A certified piecewise-Chebyshev interpolant of the standard S0 log-density for one
//! (alpha, beta): the fast path for evaluating the density at many points with the same
//! parameters.
//!
//! In `u = asinh(z)` the log-density is analytic and, in both heavy tails, close to linear
//! (`ln f ~ c - (alpha + 1) |u|`), so degree-16 Chebyshev pieces of width 1 in `u` (and
//! halves, quarters... where needed) represent it to ~1e-13. Each piece is certified before
//! use: the coefficients of degrees 15 and 16 must be below [`COEF_TOL`] (geometric decay
//! has set in) and the interpolant must agree with the exact evaluator to [`VERIFY_TOL`] at
//! two verification points between the outermost nodes (where polynomial interpolation error
//! is largest). A piece that fails is halved (up to [`MAX_DEPTH`] times); where it still fails
//! (the support edge of alpha < 1, |beta| = 1, or any non-finite value) points are evaluated
//! by the exact path. Since the exact path is itself within ~3e-11 of 24-digit references,
//! the certified interpolant is within ~6e-11 relative of the true density (the promise is
//! 1e-10, [`crate::prec::STABLE_PDF_RTOL`]).

use super::standard;

/// Chebyshev degree of a piece (17 Lobatto nodes).
const DEG: usize = 16;
/// Width of the top-level pieces in u = asinh(z).
const CELL: f64 = 1.0;
/// Halvings allowed below [`CELL`] (smallest piece 1/16 wide).
const MAX_DEPTH: u32 = 4;
/// Bound on |c_15| and |c_16| (absolute in ln f, i.e. relative in f).
const COEF_TOL: f64 = 1e-12;
/// Bound on |interpolant - exact| at the verification points (absolute in ln f). It sits
/// above the exact path's own noise (measured ~1e-12, worst 3e-11 against mpmath).
const VERIFY_TOL: f64 = 2e-11;
/// Exact values one piece costs (nodes and verification points).
const PIECE_COST: usize = DEG + 3;
/// Below this many points a piece that fails certification is not refined: evaluating its
/// points exactly is cheaper than the two (or more) pieces a refinement costs.
const REFINE_MIN_POINTS: usize = 3 * PIECE_COST;

/// A certified piece: Chebyshev coefficients of `ln f` or of `f e^{-shift}`.
#[derive(Debug, Clone, Copy)]
struct Fit {
    c: [f64; DEG + 1],
    /// `Some(shift)`: the coefficients are those of `exp(ln f - shift)`.
    shift: Option<f64>,
}

impl Fit {
    #[inline]
    fn eval(&self, t: f64) -> f64 {
        let v = clenshaw(&self.c, t);
        match self.shift {
            None => v,
            Some(s) if v > 0.0 => v.ln() + s,
            Some(_) => f64::NAN,
        }
    }
}

/// Certifies an interpolant through the node values `y` of `ln f` on the piece
/// `mid + half t`: first of `ln f` itself, then of `f` scaled by its largest node value (the
/// density is entire in x for alpha > 1, while `ln f` has logarithmic singularities at the
/// density's complex zeros, which can sit close to the real axis on the light side). Both
/// use the same nodes, so the second try costs only the verification values.
fn certify<F: Fn(f64) -> f64>(y: &[f64; DEG + 1], mid: f64, half: f64, exact: &F) -> Option<Fit> {
    // between the two outermost nodes at each end, where interpolation error peaks
    let tv = (std::f64::consts::PI / (2.0 * DEG as f64)).cos();
    let mut checks: [Option<(f64, f64)>; 2] = [None, None];
    let mut check = |i: usize, t: f64| -> f64 {
        if let Some((tt, e)) = checks[i] {
            if tt == t {
                return e;
            }
        }
        let e = exact(mid + half * t);
        checks[i] = Some((t, e));
        e
    };
    // |ln f| > 100 (f < 1e-43): the exact path's own rounding grows with |ln f|
    let ymax = y.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let ymin = y.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    let scale = (ymax.abs().max(ymin.abs()) / 100.0).max(1.0);
    let c = coefficients(y);
    if c[DEG].abs() <= COEF_TOL * scale && c[DEG - 1].abs() <= COEF_TOL * scale {
        let fit = Fit { c, shift: None };
        if [tv, -tv]
            .iter()
            .enumerate()
            .all(|(i, &t)| (fit.eval(t) - check(i, t)).abs() <= VERIFY_TOL * scale)
        {
            return Some(fit);
        }
    }
    // f / max f: relative accuracy needs the coefficients small against the smallest value
    if ymax - ymin > 5.0 {
        return None;
    }
    let mut e = [0.0; DEG + 1];
    for (ej, &yj) in e.iter_mut().zip(y.iter()) {
        *ej = (yj - ymax).exp();
    }
    let c = coefficients(&e);
    let tol = COEF_TOL * (ymin - ymax).exp();
    if c[DEG].abs() <= tol && c[DEG - 1].abs() <= tol {
        let fit = Fit {
            c,
            shift: Some(ymax),
        };
        if [tv, -tv]
            .iter()
            .enumerate()
            .all(|(i, &t)| (fit.eval(t) - check(i, t)).abs() <= VERIFY_TOL * scale)
        {
            return Some(fit);
        }
    }
    None
}

#[derive(Debug, Clone)]
struct Piece {
    lo: f64,
    hi: f64,
    /// Chebyshev coefficients, or `None` where points go to the exact path.
    coef: Option<Fit>,
}

/// Interpolant of the standard S0 log-density `ln f(z; alpha, beta)` over the parts of the
/// real line it was built for; exact evaluation elsewhere.
///
/// Build it once per (alpha, beta) and evaluate it at many points; building costs about 20
/// exact evaluations per unit of `asinh(z)` covered (usually 150-300 in all), evaluating
/// about 40 ns per point. [`super::Stable::ln_pdf_many`] builds one automatically for
/// batches of [`MIN_BATCH`] points or more.
///
/// # Examples
///
/// ```
/// use anodiff_core::stable::{ln_pdf_s0_std, LnPdfTable};
/// let t = LnPdfTable::covering(1.5, 0.5, -100.0, 100.0);
/// for &z in &[-80.0, -1.0, 0.0, 0.3, 2.0, 55.0] {
///     assert!((t.ln_pdf(z) - ln_pdf_s0_std(z, 1.5, 0.5)).abs() < 1e-10);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LnPdfTable {
    alpha: f64,
    beta: f64,
    /// sorted, non-overlapping
    pieces: Vec<Piece>,
}

/// Batch size from which [`super::Stable::ln_pdf_many`] interpolates instead of evaluating
/// every point exactly (below it the table's construction costs more than it saves).
pub const MIN_BATCH: usize = 400;

/// Chebyshev-Lobatto nodes on [-1, 1]: cos(pi j / DEG).
fn nodes() -> [f64; DEG + 1] {
    let mut t = [0.0; DEG + 1];
    for (j, v) in t.iter_mut().enumerate() {
        *v = (std::f64::consts::PI * j as f64 / DEG as f64).cos();
    }
    t
}

/// Coefficients of the interpolant through values at the Lobatto nodes (DCT-I).
fn coefficients(y: &[f64; DEG + 1]) -> [f64; DEG + 1] {
    let mut c = [0.0; DEG + 1];
    let n = DEG as f64;
    for (k, ck) in c.iter_mut().enumerate() {
        let mut s = 0.0;
        for (j, &yj) in y.iter().enumerate() {
            let w = if j == 0 || j == DEG { 0.5 } else { 1.0 };
            // reduce j k modulo 2 DEG: exact angles, no growth of the cosine's rounding
            s += w * yj * (std::f64::consts::PI * ((j * k) % (2 * DEG)) as f64 / n).cos();
        }
        let w = if k == 0 || k == DEG { 1.0 } else { 2.0 };
        *ck = w * s / n;
    }
    c
}

/// Clenshaw's recurrence at t in [-1, 1].
#[inline]
fn clenshaw(c: &[f64; DEG + 1], t: f64) -> f64 {
    let t2 = 2.0 * t;
    let (mut b1, mut b2) = (0.0, 0.0);
    for &ck in c[1..].iter().rev() {
        let b0 = ck + t2 * b1 - b2;
        b2 = b1;
        b1 = b0;
    }
    c[0] + t * b1 - b2
}

impl LnPdfTable {
    /// A table covering every z in `[lo, hi]` (standardized S0 argument).
    pub fn covering(alpha: f64, beta: f64, lo: f64, hi: f64) -> LnPdfTable {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let (ulo, uhi) = (lo.asinh(), hi.asinh());
        let mut t = LnPdfTable {
            alpha,
            beta,
            pieces: Vec::new(),
        };
        if !(ulo.is_finite() && uhi.is_finite()) {
            return t;
        }
        let k0 = (ulo / CELL).floor() as i64;
        let k1 = (uhi / CELL).floor() as i64;
        for k in k0..=k1 {
            t.fit(k as f64 * CELL, (k + 1) as f64 * CELL, 0, None);
        }
        t
    }

    /// A table covering the points `zs` (the unit cells in u = asinh(z) that hold at least one
    /// point).
    pub fn for_points(alpha: f64, beta: f64, zs: &[f64]) -> LnPdfTable {
        let mut us: Vec<f64> = zs
            .iter()
            .map(|z| z.asinh())
            .filter(|u| u.is_finite())
            .collect();
        us.sort_by(f64::total_cmp);
        let mut t = LnPdfTable {
            alpha,
            beta,
            pieces: Vec::new(),
        };
        let mut i = 0;
        while i < us.len() {
            let k = (us[i] / CELL).floor();
            let hi = (k + 1.0) * CELL;
            let j = i + us[i..].partition_point(|&u| u < hi);
            t.fit(k * CELL, hi, 0, Some(&us[i..j]));
            i = j.max(i + 1);
        }
        t
    }

    /// Fits and certifies [lo, hi]; halves it on failure. `pts` (sorted u values) limits the
    /// refinement to where there is something to evaluate.
    fn fit(&mut self, lo: f64, hi: f64, depth: u32, pts: Option<&[f64]>) {
        if pts.is_some_and(|p| p.is_empty()) {
            return;
        }
        if pts.is_some_and(|p| p.len() < PIECE_COST) {
            // fewer points than a piece costs: evaluate them exactly
            self.pieces.push(Piece { lo, hi, coef: None });
            return;
        }
        let mid = 0.5 * (lo + hi);
        let half = 0.5 * (hi - lo);
        let exact = |u: f64| standard::ln_pdf(u.sinh(), self.alpha, self.beta);
        let tn = nodes();
        let mut y = [0.0; DEG + 1];
        let mut ok = true;
        for (yj, &t) in y.iter_mut().zip(tn.iter()) {
            *yj = exact(mid + half * t);
            if !yj.is_finite() {
                ok = false;
                break;
            }
        }
        let mut coef = None;
        if ok {
            coef = certify(&y, mid, half, &exact);
        }
        let worth_refining = pts.is_none_or(|p| p.len() >= REFINE_MIN_POINTS);
        if coef.is_none() && depth < MAX_DEPTH && worth_refining {
            let (a, b) = match pts {
                Some(p) => {
                    let s = p.partition_point(|&u| u < mid);
                    (Some(&p[..s]), Some(&p[s..]))
                }
                None => (None, None),
            };
            self.fit(lo, mid, depth + 1, a);
            self.fit(mid, hi, depth + 1, b);
            return;
        }
        self.pieces.push(Piece { lo, hi, coef });
    }

    /// Stability index of the table's law.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// Skewness of the table's law.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Fraction of the covered u-range that is interpolated (the rest is evaluated exactly).
    pub fn interpolated_fraction(&self) -> f64 {
        let (mut all, mut int) = (0.0, 0.0);
        for p in &self.pieces {
            all += p.hi - p.lo;
            if p.coef.is_some() {
                int += p.hi - p.lo;
            }
        }
        if all > 0.0 {
            int / all
        } else {
            0.0
        }
    }

    /// `ln f(z)` of the standard S0 law: interpolated where certified, exact elsewhere.
    pub fn ln_pdf(&self, z: f64) -> f64 {
        let u = z.asinh();
        let i = self.pieces.partition_point(|p| p.hi < u);
        if let Some(p) = self.pieces.get(i) {
            if u >= p.lo {
                if let Some(fit) = &p.coef {
                    let t = (2.0 * u - (p.lo + p.hi)) / (p.hi - p.lo);
                    let v = fit.eval(t);
                    if !v.is_nan() {
                        return v;
                    }
                }
            }
        }
        standard::ln_pdf(z, self.alpha, self.beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chebyshev_reproduces_a_polynomial_and_exp() {
        let tn = nodes();
        let mut y = [0.0; DEG + 1];
        for (yj, &t) in y.iter_mut().zip(tn.iter()) {
            *yj = (0.5 * t).exp();
        }
        let c = coefficients(&y);
        for i in 0..50 {
            let t = -1.0 + 2.0 * i as f64 / 49.0;
            let e = (clenshaw(&c, t) - (0.5 * t).exp()).abs();
            assert!(e < 4e-15, "{t} {e}");
        }
        assert!(c[DEG].abs() < 1e-15);
    }

    #[test]
    fn support_edge_falls_back_to_exact() {
        // alpha < 1, beta = 1: support z > zeta = -tan(pi a / 2) ~ -1.963
        let t = LnPdfTable::covering(0.7, 1.0, -5.0, 50.0);
        assert!(t.interpolated_fraction() > 0.5);
        assert_eq!(t.ln_pdf(-2.0), f64::NEG_INFINITY);
        for z in [-1.9, -1.8, -1.5, -1.0, 0.0, 3.0] {
            let e = standard::ln_pdf(z, 0.7, 1.0);
            assert!(
                (t.ln_pdf(z) - e).abs() < 1e-10,
                "{z}: {} vs {e}",
                t.ln_pdf(z)
            );
        }
    }
}
