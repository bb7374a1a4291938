//! Helpers shared by the unit tests of the CPU kernels.

use candle_core::{DType, Device, Tensor, Var};

/// A tensor's values as f64, in logical order.
pub(crate) fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

/// The gradient of `loss(params)` with respect to `vars`, flattened in their order.
fn flat_grad(vars: &[Var], loss: &impl Fn(&[Tensor]) -> Tensor) -> Vec<f64> {
    let p: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let gs = loss(&p).backward().unwrap();
    vars.iter()
        .flat_map(|v| to_f64(gs.get(v).unwrap()))
        .collect()
}

/// Checks the exact Hessian-vector product `H v = d/dw (g(w) . v)` of `loss` (double
/// backprop; needs `CANDLE_GRAD_DO_NOT_DETACH=1` on this thread) against the central difference
/// `(g(w + eps v) - g(w - eps v)) / (2 eps)` in f64, eps = 1e-5, to 1e-7 of the largest entry
/// (at least 1): the difference's truncation error is O(eps^2) times third derivatives of O(1),
/// its rounding error O(1e-16 / eps).
pub(crate) fn check_hvp(vars: &[Var], v: &[Tensor], loss: impl Fn(&[Tensor]) -> Tensor) {
    let p: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let g1 = loss(&p).backward().unwrap();
    let mut gv = Tensor::zeros((), DType::F64, &Device::Cpu).unwrap();
    for (var, vi) in vars.iter().zip(v) {
        gv = (gv + (g1.get(var).unwrap() * vi).unwrap().sum_all().unwrap()).unwrap();
    }
    let g2 = gv.backward().unwrap();
    let hv: Vec<f64> = vars
        .iter()
        .flat_map(|var| {
            to_f64(
                g2.get(var)
                    .expect("second-order gradient missing: double backprop broke"),
            )
        })
        .collect();
    let eps = 1e-5;
    let shifted = |sign: f64| -> Vec<f64> {
        let moved: Vec<Var> = vars
            .iter()
            .zip(v)
            .map(|(var, vi)| {
                Var::from_tensor(&(var.as_tensor() + (vi * (sign * eps)).unwrap()).unwrap())
                    .unwrap()
            })
            .collect();
        flat_grad(&moved, &loss)
    };
    let (gp, gm) = (shifted(1.0), shifted(-1.0));
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
