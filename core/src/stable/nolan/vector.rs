//! The general kernel's density integrand on all 21 nodes of a rule application at once.
//!
//! Every density point that needs the integral costs 150-450 integrand evaluations (next to
//! alpha = 1 about 220, all of them), and in the pointwise kernel about half of each
//! evaluation's time went to libm's `exp` (two calls), `ln` or `ln_1p` and `sin`. Written here
//! without branches and without library calls (the branches of [`General::h_parts`] become
//! selects, `exp`, `ln`, `ln_1p`, `sin` and `cos` polynomials), the loop over the nodes is
//! vectorised by the compiler inside functions built for AVX-512 and for AVX2 + FMA, chosen at
//! run time: 8 or 4 nodes per instruction. `ANODIFF_SIMD=off` selects the pointwise kernel, so
//! `cargo bench --bench stable_pdf -- 'stable_pdf/pdf_s0_std '` with and without it compares
//! the two on the benchmark's eight laws.
//!
//! Why by hand: the SIMD crates with vectorised `exp`/`ln` on stable Rust fix the vector width
//! when the crate is compiled (`wide` follows the build's target features, i.e. SSE2 for a
//! portable x86-64 binary), and SLEEF's Rust bindings need nightly `std::simd`; a scalar
//! per-node formula in a `#[target_feature]` function gets AVX-512 or AVX2 from one source,
//! with the same arithmetic (and the same bits) in every build with FMA.
//!
//! Two forms, as in the pointwise kernel: next to alpha = 1 ([`lane`]) the cancelling
//! 1/(alpha - 1) terms are formed as small quantities (`ln_1p(D)`); elsewhere, and at the nodes
//! where that form does not apply, `ln(sin s / sin(a t))` ([`lane_general`]). The integrand is
//! relative to its peak inside the range, or to its largest end value where the peak lies
//! outside (the thin side of |beta| = 1, see [`finish`]). A node that leaves the common path
//! (e^E or R out of range, an angle outside the polynomials' range) comes out as NaN and is
//! recomputed by the pointwise kernel. The two paths then differ only by rounding: a few ulps
//! of the exponent, which `tests` below bound node by node.

use super::{General, FRAC_PI_2, PI_2_LO};
use crate::stable::quad::NODES;
use std::f64::consts::{E, FRAC_PI_4, LOG2_E};

/// `ln 2` split so that `n LN2_HI` is exact for |n| < 2^20 (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5 * 2^52: adding it rounds to an integer, which then sits in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// `a b + c`, fused where the instantiation has FMA (`F`): one rounding instead of two, and
/// half the latency along the polynomials' chains.
#[inline(always)]
fn madd<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `sum_k c[k] x^k` (at most 16 coefficients) by Estrin's scheme (pairs, then levels in x^2,
/// x^4, x^8): the polynomials here have 9-16 coefficients, and Horner's chain of that length,
/// not the arithmetic, would bound the speed (with Horner this module runs about as fast as the
/// pointwise kernel).
#[inline(always)]
fn estrin<const F: bool, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let pair = |i: usize| {
        if i + 1 < N {
            madd::<F>(c[i + 1], x, c[i])
        } else if i < N {
            c[i]
        } else {
            0.0
        }
    };
    let quad = |i: usize| madd::<F>(pair(i + 2), x2, pair(i));
    let oct = |i: usize| madd::<F>(quad(i + 4), x4, quad(i));
    debug_assert!(N <= 16);
    madd::<F>(oct(8), x8, oct(0))
}

/// 1/k!, k = 0..13.
const EXP_C: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// `e^x` for |x| <= 708 (outside, garbage but no panic: callers select it away), within about
/// 1 ulp: x = n ln 2 + r with |r| <= ln 2 / 2, `e^r` by its Taylor polynomial through r^13
/// (first omitted term below 5e-18 relative), times 2^n built in the exponent bits.
#[inline(always)]
pub(super) fn exp<const F: bool>(x: f64) -> f64 {
    let kd = madd::<F>(x, LOG2_E, SHIFT);
    let n = kd - SHIFT;
    let r = madd::<F>(-n, LN2_LO, madd::<F>(-n, LN2_HI, x));
    let p = estrin::<F, 14>(&EXP_C, r);
    // the low 12 bits of kd's bit pattern hold n (two's complement); shifted into the exponent
    // field and biased they give 2^n for -1022 <= n <= 1023
    let scale = f64::from_bits((kd.to_bits() << 52).wrapping_add(1023 << 52));
    p * scale
}

/// `[1/3, 1/5, 1/7, ...]`: the coefficients of `atanh(z) / z - 1` in powers of z^2.
const fn odd_reciprocals<const N: usize>() -> [f64; N] {
    let mut c = [0.0; N];
    let mut k = 0;
    while k < N {
        c[k] = 1.0 / (2 * k + 3) as f64;
        k += 1;
    }
    c
}

/// Through z^32 for `ln_1p`.
const ATANH_C: [f64; 16] = odd_reciprocals();

/// `ln(1 + d)` for |d| <= 1/2 within about 1 ulp: `2 atanh(z)`, `z = d / (2 + d)` (|z| <= 1/3),
/// by its series through z^33 (first omitted term below 2e-18 relative).
#[inline(always)]
pub(super) fn ln_1p<const F: bool>(d: f64) -> f64 {
    let z = d / (2.0 + d);
    let z2 = z * z;
    let p = estrin::<F, 16>(&ATANH_C, z2);
    let zz = 2.0 * z;
    madd::<F>(zz * z2, p, zz)
}

/// Through z^22 for `ln`.
const LN_C: [f64; 11] = odd_reciprocals();

/// `(ln x, ok)` for positive normal x (`ok` false otherwise), within about 1 ulp:
/// x = 2^k m with sqrt(1/2) <= m < sqrt(2) read from the bits, `ln m = 2 atanh(z)`,
/// `z = (m - 1)/(m + 1)` (|z| <= 0.172, m - 1 exact), by its series through z^23 (first
/// omitted term below 1e-18 relative), plus k ln 2 in two parts.
#[inline(always)]
pub(super) fn ln<const F: bool>(x: f64) -> (f64, bool) {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = x.to_bits();
    let biased = bits >> 52;
    let ok = (1..=2046).contains(&biased);
    let m1 = f64::from_bits((bits & MANTISSA) | (1023 << 52));
    // the biased exponent as a float without an integer conversion (none is vectorised on
    // AVX2): 2^52 + e has e in its low mantissa bits
    let k1 = f64::from_bits(biased | (0x433 << 52)) - (4_503_599_627_370_496.0 + 1023.0);
    let high = m1 > std::f64::consts::SQRT_2;
    let m = if high { 0.5 * m1 } else { m1 };
    let k = if high { k1 + 1.0 } else { k1 };
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let p = estrin::<F, 11>(&LN_C, z2);
    let zz = 2.0 * z;
    let lm = madd::<F>(zz * z2, p, zz);
    (madd::<F>(k, LN2_HI, madd::<F>(k, LN2_LO, lm)), ok)
}

/// (-1)^k / (2k + 1)!, k = 0..8, and (-1)^k / (2k)!, k = 0..8: the Taylor polynomials of
/// [`super::sin_cos_taylor`].
const SIN_C: [f64; 9] = [
    1.0,
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
];
const COS_C: [f64; 9] = [
    1.0,
    -1.0 / 2.0,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
];

/// `(sin x, cos x)` for |x| <= pi/4 (Taylor through x^17 and x^16, as
/// [`super::sin_cos_taylor`]), by Estrin's scheme in x^2. The pointwise kernel keeps its own
/// nested form: unfused, this one is up to 2 ulps off libm, beyond the 2.5e-16 that
/// `fast_sin_cos_matches_libm` holds the pointwise one to.
#[inline(always)]
fn sin_cos_poly<const F: bool>(x: f64) -> (f64, f64) {
    let x2 = x * x;
    let s = estrin::<F, 9>(&SIN_C, x2);
    let c = estrin::<F, 9>(&COS_C, x2);
    (x * s, c)
}

/// `(sin x, cos x, ok)` as [`super::sin_cos_fast`] computes them for -pi/4 <= x <= 3pi/4
/// (`ok` false outside, where that function calls libm).
#[inline(always)]
fn sin_cos_fast<const F: bool>(x: f64) -> (f64, f64, bool) {
    let low = x <= FRAC_PI_4;
    let arg = if low { x } else { (FRAC_PI_2 - x) + PI_2_LO };
    let (s, c) = sin_cos_poly::<F>(arg);
    let ok = (-FRAC_PI_4..=3.0 * FRAC_PI_4).contains(&x);
    if low {
        (s, c, ok)
    } else {
        (c, s, ok)
    }
}

/// `(E, R, ok)` of `General::h_parts` at one node next to alpha = 1 (its small-eps branch and
/// `General::l2_small`, as selects); `ok` false where the node needs another form.
#[inline(always)]
fn lane<const F: bool>(k: &General, w: f64) -> (f64, f64, bool) {
    let (t, s) = k.ts(w);
    // sin_cos_pair(s, t_c + t)
    let yc = k.t_c + t;
    let direct = s <= yc;
    let (ss, cs0, ok1) = sin_cos_fast::<F>(if direct { s } else { yc });
    let cs = if direct { cs0 } else { -cs0 };
    let u = k.u(t, s);
    // |u| < 1: sin and cos of u/2 by the polynomials (|u/2| < 1/2 < pi/4)
    let (hu, hc) = sin_cos_poly::<F>(0.5 * u);
    let sin_u = 2.0 * hu * hc;
    let cot = cs / ss;
    let dd = -2.0 * hu * hu - cot * sin_u;
    let err_u = 4.5e-16 * (k.d + k.rho + k.eps.abs() * (s + t + k.t_len));
    let e = k.ae * (k.l1 - ln_1p::<F>(dd));
    let r = sin_u.abs() / ss;
    let ok = ok1 && u.abs() < 1.0 && dd.abs() <= 0.5 && cot.abs() * err_u <= 1e-6 * dd.abs();
    (e, r, ok)
}

/// `|sin|` of the smaller of an angle and its complement (as `super::sin_pair`), and whether
/// that was inside the polynomials' range.
#[inline(always)]
fn sin_pair<const F: bool>(y: f64, yc: f64) -> (f64, bool) {
    let (s, _, ok) = sin_cos_fast::<F>(if y <= yc { y } else { yc });
    (s.abs(), ok)
}

/// `(E, R, ok)` of `General::h_parts` with `L2 = ln(sin s / sin(a t))`: away from alpha = 1
/// (|alpha - 1| >= 1/4), or at a node where the form of [`lane`] does not apply.
#[inline(always)]
fn lane_general<const F: bool>(k: &General, w: f64) -> (f64, f64, bool) {
    let (t, s) = k.ts(w);
    let yc = k.t_c + t;
    let (ss, _, ok1) = sin_cos_fast::<F>(if s <= yc { s } else { yc });
    let (sa, ok2) = sin_pair::<F>(k.a * t, k.d + k.a * s);
    let (sc, ok3) = sin_pair::<F>(k.t_len + k.eps * t, k.comp_c(t, s));
    let (l2, ok4) = ln::<F>(ss / sa);
    let e = k.ae * (k.l1 + l2);
    let r = sc / ss;
    (e, r, ok1 && ok2 && ok3 && ok4)
}

/// The density's integrand from `(E, R, ok)`, relative to its largest value on the range:
/// `g e^{1-g}` (`g = e^E hypot(1, zeta) R`, as `Kernel::g` and `super::direct_integrand`)
/// where the peak g = 1 lies inside the range (`SHIFTED` false), else `exp(h - e^h - psi_max)`
/// (`h = E + ln hypot(1, zeta) + ln R`, as `Kernel::h` and `super::psi`). NaN where the node
/// needs the pointwise kernel.
#[inline(always)]
fn finish<const F: bool, const SHIFTED: bool>(
    k: &General,
    psi_max: f64,
    (e, r, ok): (f64, f64, bool),
) -> f64 {
    if SHIFTED {
        let (lr, ok_r) = ln::<F>(r);
        let h = e + k.ln_hyp + lr;
        // e^h below e^-700 vanishes against h itself; beyond h = 709 psi is -inf
        let eh = if h < -700.0 {
            0.0
        } else {
            exp::<F>(h.min(709.0))
        };
        let arg = h - eh - psi_max;
        // (the integrand below e^-700 of its largest value is 0 here, ~1e-305 pointwise)
        let v = if h > 709.0 || arg < -700.0 {
            0.0
        } else {
            exp::<F>(arg)
        };
        if ok && ok_r && e.abs() < 1e300 && arg < 700.0 {
            v
        } else {
            f64::NAN
        }
    } else {
        let g = exp::<F>(e) * (k.hyp * r);
        let v = integrand::<F>(g);
        if ok && e.abs() < 700.0 && r > 0.0 && r < 1e300 {
            v
        } else {
            f64::NAN
        }
    }
}

/// `super::direct_integrand`.
#[inline(always)]
fn integrand<const F: bool>(g: f64) -> f64 {
    if g < 1e-8 {
        g * (E * (1.0 - g))
    } else if g < 60.0 {
        g * exp::<F>(1.0 - g)
    } else {
        0.0
    }
}

/// Lanes per batch: the 21 nodes padded to a multiple of 8, so that no node falls into a
/// scalar remainder loop.
const LANES: usize = 24;

#[inline(always)]
fn nodes<const F: bool, const SMALL: bool, const SHIFTED: bool>(
    k: &General,
    psi_max: f64,
    w: &[f64; NODES],
    out: &mut [f64; NODES],
) {
    let mut x = [w[NODES / 2]; LANES];
    x[..NODES].copy_from_slice(w);
    let mut y = [0.0; LANES];
    for (y, &x) in y.iter_mut().zip(&x) {
        let parts = if SMALL {
            lane::<F>(k, x)
        } else {
            lane_general::<F>(k, x)
        };
        *y = finish::<F, SHIFTED>(k, psi_max, parts);
    }
    // Nodes where the form next to alpha = 1 does not apply take the plain ratio form, as
    // in `General::h_parts` (|u| >= 1: at alpha = 0.8 four nodes in five); a vector pass
    // when more than a few need it, else the caller's pointwise kernel.
    if SMALL && y.iter().filter(|y| y.is_nan()).count() > 2 {
        let mut y2 = [0.0; LANES];
        for (y2, &x) in y2.iter_mut().zip(&x) {
            *y2 = finish::<F, SHIFTED>(k, psi_max, lane_general::<F>(k, x));
        }
        for (y, &y2) in y.iter_mut().zip(&y2) {
            if y.is_nan() {
                *y = y2;
            }
        }
    }
    out.copy_from_slice(&y[..NODES]);
}

/// [`nodes`] for the kernel's form and the integrand's (`psi_max` `None`: peak inside).
#[inline(always)]
fn nodes_for<const F: bool>(
    k: &General,
    psi_max: Option<f64>,
    w: &[f64; NODES],
    out: &mut [f64; NODES],
) {
    match (k.small_eps, psi_max) {
        (true, None) => nodes::<F, true, false>(k, 0.0, w, out),
        (false, None) => nodes::<F, false, false>(k, 0.0, w, out),
        (true, Some(p)) => nodes::<F, true, true>(k, p, w, out),
        (false, Some(p)) => nodes::<F, false, true>(k, p, w, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nodes_avx2(k: &General, psi_max: Option<f64>, w: &[f64; NODES], out: &mut [f64; NODES]) {
    nodes_for::<true>(k, psi_max, w, out)
}

/// Eight nodes per instruction: 1.17-1.22x the AVX2 build's density points per second
/// (alpha = 1.5 and 1.0005, AMD EPYC with AVX-512).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn nodes_avx512(
    k: &General,
    psi_max: Option<f64>,
    w: &[f64; NODES],
    out: &mut [f64; NODES],
) {
    nodes_for::<true>(k, psi_max, w, out)
}

/// Which instantiation this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Isa {
    Avx512,
    Avx2,
    Plain,
}

/// The widest build this CPU runs, unless the environment variable `ANODIFF_SIMD` is `off`
/// (read once): then the portable build, as on CPUs without AVX2 and FMA.
fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        if std::env::var_os("ANODIFF_SIMD").is_some_and(|v| v == "off") {
            Isa::Plain
        } else {
            detect()
        }
    })
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512dq") && has!("avx2") && has!("fma") {
            return Isa::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Plain
}

/// [`nodes`] through the given instantiation (which the CPU must support).
fn nodes_on(isa: Isa, k: &General, psi_max: Option<f64>, w: &[f64; NODES], out: &mut [f64; NODES]) {
    match isa {
        // SAFETY: `detect()` found AVX-512 F and DQ, AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { nodes_avx512(k, psi_max, w, out) },
        // SAFETY: `detect()` found AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { nodes_avx2(k, psi_max, w, out) },
        _ => nodes_for::<false>(k, psi_max, w, out),
    }
}

/// The density's integrand at every node, relative to its largest value on the range (see
/// [`finish`]; `psi_max` `None` where the peak g = 1 lies inside the range); NaN marks the
/// nodes the caller must evaluate pointwise.
pub(super) fn pdf_nodes(
    k: &General,
    psi_max: Option<f64>,
    w: &[f64; NODES],
    out: &mut [f64; NODES],
) {
    // (the feature checks are cached atomics: a few ns per rule application of 21 nodes)
    nodes_on(isa(), k, psi_max, w, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against libm over the ranges the integrand uses: exp on [-708, 708], ln_1p on
    /// [-1/2, 1/2] and ln over the normal range (dense grids plus arguments next to 0 and 1),
    /// within 2 ulps (libm is within 1).
    #[test]
    fn exp_ln_and_ln_1p_match_libm() {
        for i in 0..=400_000 {
            let x = -708.0 + 1416.0 * i as f64 / 400_000.0 + 1.3e-7;
            let (v, want) = (exp::<false>(x), x.exp());
            assert!(
                (v - want).abs() <= 4.5e-16 * want,
                "exp({x}) = {v}, libm {want}"
            );
        }
        let mut ds: Vec<f64> = (0..=200_000)
            .map(|i| -0.5 + i as f64 / 200_000.0 + 2.1e-9)
            .filter(|d| d.abs() <= 0.5)
            .collect();
        ds.extend((0..300).flat_map(|i| {
            let d = 10f64.powf(-0.1 * i as f64);
            [d * 0.5, -d * 0.5]
        }));
        for d in ds {
            let (v, want) = (ln_1p::<false>(d), d.ln_1p());
            assert!(
                (v - want).abs() <= 4.5e-16 * want.abs(),
                "ln_1p({d}) = {v}, libm {want}"
            );
        }
        // ln: across the whole normal range, and next to 1 where the result is small
        let mut xs: Vec<f64> = (0..=200_000)
            .map(|i| 10f64.powf(-307.0 + 615.0 * i as f64 / 200_000.0) * 1.000_000_7)
            .collect();
        xs.extend((1..=100_000).flat_map(|i| {
            let d = i as f64 * 1e-5 + 3.1e-12;
            [1.0 + d, 1.0 - 0.5 * d]
        }));
        xs.extend((1..300).map(|i| 1.0 + 10f64.powf(-0.05 * i as f64)));
        for x in xs {
            let ((v, ok), want) = (ln::<false>(x), x.ln());
            assert!(ok, "{x}");
            assert!(
                (v - want).abs() <= 4.5e-16 * want.abs(),
                "ln({x}) = {v}, libm {want}"
            );
        }
        assert_eq!(ln::<false>(1.0), (0.0, true));
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN, 1e-310] {
            assert!(!ln::<false>(bad).1, "{bad}");
        }
        assert_eq!(ln_1p::<false>(0.0), 0.0);
        assert_eq!(exp::<false>(0.0), 1.0);
    }

    /// Both instantiations (with and without FMA) against the pointwise kernel, node by
    /// node, for kernels next to alpha = 1 ([`lane`]) and away from it ([`lane_general`]),
    /// on both sides of zeta (both orientations of w), at nodes spread linearly and
    /// logarithmically towards both ends of the range, for the integrand relative to the peak
    /// inside the range and relative to an end value `psi_max` (taken at the range's ends, as
    /// `ln_integral` does where the peak lies outside). The exponent is
    /// `E = (a/eps)(L1 + L2)` with L2 ~ -L1 near the peak, so a rounding of 1e-16 |L1| in
    /// either path moves E by 1e-16 |L1| / |eps|: the tolerance is 8 ulps of that, and of |E|
    /// itself, relative to the integrand (which also carries |1 - g| of it, or |psi_max|
    /// where psi is taken relative to it). Many of these nodes sit where the pointwise
    /// kernel's other branches apply (e^E out of range); at least half must still take the
    /// vectorised path.
    #[test]
    fn nodes_match_the_pointwise_kernel() {
        use crate::stable::nolan::{pdf_node, psi, zeta, Kernel, Kind};
        let (mut vector, mut all, mut worst) = (0usize, 0usize, 0f64);
        for &(a, b) in &[
            (1.0005, 0.5),
            (0.9999, -0.7),
            (1.000001, 0.3),
            (0.99, 1.0),
            (1.2, -1.0),
            (0.8, 0.0),
            (1.5, 0.5),
            (0.8, -0.3),
            (1.9, 1.0),
            (1.95, -1.0),
            (0.5, 0.7),
            (0.3, -1.0),
        ] {
            for x in [-300.0, -30.0, -3.0, -0.5, 0.1, 0.7, 2.0, 10.0, 1e4] {
                let z = zeta(a, b);
                let (x, b) = if x < z { (-x, -b) } else { (x, b) };
                let k = General::new(x, a, b);
                let len = k.len();
                let mut ws: Vec<f64> = (1..NODES * 8)
                    .map(|j| len * j as f64 / (NODES * 8) as f64)
                    .collect();
                for j in 1..60 {
                    let f = 10f64.powf(-0.25 * j as f64);
                    ws.push(len * f);
                    ws.push(len * (1.0 - f));
                }
                ws.retain(|&w| w > 0.0 && w < len);
                let end_psi =
                    psi(Kind::Pdf, k.h(len * 1e-9)).max(psi(Kind::Pdf, k.h(len * (1.0 - 1e-9))));
                for psi_max in [None, Some(end_psi.max(-1e6))] {
                    for chunk in ws.chunks(NODES) {
                        let mut w = [chunk[0]; NODES];
                        w[..chunk.len()].copy_from_slice(chunk);
                        let mut y = [[0.0; NODES]; 2];
                        nodes_for::<false>(&k, psi_max, &w, &mut y[0]);
                        nodes_for::<true>(&k, psi_max, &w, &mut y[1]);
                        for (i, &w) in w.iter().enumerate() {
                            let (e, _) = k.h_parts(w);
                            let g = k.g(w);
                            let want = pdf_node(&k, psi_max, w);
                            let spread = match psi_max {
                                None => 1.0 + g.min(60.0),
                                Some(p) => 1.0 + g.min(1e300) + p.abs(),
                            };
                            let tol = 8.0
                                * f64::EPSILON
                                * (1.0 + (k.l1.abs() * k.ae.abs() + e.abs()) * spread)
                                * want;
                            for y in &y {
                                all += 1;
                                if y[i].is_nan() {
                                    continue;
                                }
                                vector += 1;
                                let d = (y[i] - want).abs();
                                assert!(
                                    d <= tol + 1e-300,
                                    "alpha {a} beta {b} x {x} w {w} psi_max {psi_max:?}: {} against {want}",
                                    y[i]
                                );
                                if tol > 1e-290 {
                                    worst = worst.max(d / tol);
                                }
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "{vector} of {all} nodes by the vector path; worst difference {worst:.3} of the tolerance"
        );
        assert!(2 * vector > all, "{vector} of {all}");
    }

    /// The target-feature builds this CPU supports give bit for bit what the portable
    /// instantiation with the same arithmetic gives (lane-wise IEEE operations and correctly
    /// rounded fused multiply-adds, whatever the vector width): the choice of build cannot
    /// move a density.
    #[test]
    fn every_build_gives_the_same_bits() {
        let mut isas = vec![Isa::Plain];
        match detect() {
            Isa::Avx512 => isas.extend([Isa::Avx512, Isa::Avx2]),
            Isa::Avx2 => isas.push(Isa::Avx2),
            Isa::Plain => {}
        }
        eprintln!("builds checked: {isas:?}");
        for &(a, b) in &[
            (1.0005, 0.5),
            (0.9999, -0.7),
            (1.5, 0.5),
            (0.8, -0.3),
            (1.9, 1.0),
        ] {
            for x in [-30.0, -1.0, 0.3, 2.0, 100.0] {
                let z = crate::stable::nolan::zeta(a, b);
                let (x, b) = if x < z { (-x, -b) } else { (x, b) };
                let k = General::new(x, a, b);
                let len = k.t_len;
                let w: [f64; NODES] =
                    std::array::from_fn(|i| len * (i as f64 + 0.37) / NODES as f64);
                for &isa in &isas {
                    for psi_max in [None, Some(-3.0)] {
                        let mut got = [0.0; NODES];
                        let mut want = [0.0; NODES];
                        nodes_on(isa, &k, psi_max, &w, &mut got);
                        if isa == Isa::Plain {
                            nodes_for::<false>(&k, psi_max, &w, &mut want);
                        } else {
                            nodes_for::<true>(&k, psi_max, &w, &mut want);
                        }
                        for i in 0..NODES {
                            assert_eq!(
                                got[i].to_bits(),
                                want[i].to_bits(),
                                "{isa:?} alpha {a} x {x} node {i}"
                            );
                        }
                    }
                }
            }
        }
    }
}
