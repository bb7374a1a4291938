//! The one place the fitters get the standardized S0 log-density from.

/// log f(z; alpha, beta) of the standard S0 law (scale 1, loc 0); -inf outside the support.
///
/// A failure inside the evaluator (a panic, which is a bug there) must not abort a fit of user
/// data: it is caught and reported as NaN, which the likelihood treats as an impossible point
/// (spline nodes are floored, exact evaluations make the step be rejected).
#[inline]
pub(crate) fn ln_pdf_std(z: f64, alpha: f64, beta: f64) -> f64 {
    std::panic::catch_unwind(|| crate::stable::ln_pdf_s0_std(z, alpha, beta)).unwrap_or(f64::NAN)
}
