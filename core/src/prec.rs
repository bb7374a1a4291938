//! Tolerances used across the crate and its tests, in one place so they are stated once.

/// Relative accuracy promised for stable pdf, log-pdf and survival function values.
pub const STABLE_PDF_RTOL: f64 = 1e-10;
/// Agreement required between closed forms (Gauss, Cauchy, Lévy) and the general evaluator.
pub const CLOSED_FORM_RTOL: f64 = 1e-14;
/// Relative agreement between FFT and brute-force mean squared displacement.
pub const MSD_RTOL: f64 = 1e-9;
