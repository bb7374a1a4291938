//! Helpers shared by the unit tests of the CPU kernels.

use candle_core::{DType, Tensor, Var};

/// A tensor's values as f64, in logical order.
pub(crate) fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

/// The variables moved by `sign * eps` along the direction `v` (one tensor per variable).
pub(crate) fn shifted_vars(vars: &[Var], v: &[Tensor], sign: f64, eps: f64) -> Vec<Var> {
    vars.iter()
        .zip(v)
        .map(|(var, vi)| {
            Var::from_tensor(&(var.as_tensor() + (vi * (sign * eps)).unwrap()).unwrap()).unwrap()
        })
        .collect()
}

/// Asserts that the Hessian-vector product `hv` matches the central difference
/// `(gp - gm) / (2 eps)` of the gradients at the two shifted points, to 1e-7 of the largest
/// entry (at least 1): in f64 with eps = 1e-5 the difference's truncation error is O(eps^2)
/// times third derivatives of O(1), and its rounding error O(1e-16 / eps).
pub(crate) fn assert_hvp_matches_fd(hv: &[f64], gp: &[f64], gm: &[f64], eps: f64) {
    let fd: Vec<f64> = gp
        .iter()
        .zip(gm)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect();
    let scale = fd.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "degenerate check: |Hv| = {scale}");
    let err = hv
        .iter()
        .zip(&fd)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err < 1e-7 * scale.max(1.0),
        "HVP vs FD: max error {err}, scale {scale}"
    );
}
