//! The one place the fitters get the standardized S0 log-density from.

/// log f(z; alpha, beta) of the standard S0 law (scale 1, loc 0); -inf outside the support.
///
/// The evaluator is total on the fitters' range (core/tests/stable_golden.rs sweeps it); a NaN would
/// be treated by the likelihood as an impossible point.
#[inline]
pub(crate) fn ln_pdf_std(z: f64, alpha: f64, beta: f64) -> f64 {
    crate::stable::ln_pdf_s0_std(z, alpha, beta)
}
