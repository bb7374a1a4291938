//! Training losses: cross-entropy and mean squared error against one-hot targets.

use candle_core::{DType, Result, Tensor, D};
use std::fmt;
use std::str::FromStr;

/// A training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LossKind {
    /// Mean over the batch of `-log softmax(z)_y` (PyTorch's `CrossEntropyLoss`).
    #[default]
    CrossEntropy,
    /// Mean over the batch **and the classes** of `(softmax(z)_k - onehot(y)_k)^2`, as the
    /// authors' `MSELoss(softmax(logits), one_hot)` (PyTorch's mean reduction divides by N * C).
    Mse,
}

impl FromStr for LossKind {
    type Err = crate::Error;

    /// `ce` (or `cross-entropy`) and `mse`.
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ce" | "cross-entropy" | "crossentropy" => Ok(LossKind::CrossEntropy),
            "mse" => Ok(LossKind::Mse),
            _ => Err(crate::Error::param(
                "loss",
                format!("unknown loss '{s}' (accepted: ce, mse)"),
            )),
        }
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossKind::CrossEntropy => "ce",
            LossKind::Mse => "mse",
        })
    }
}

/// Softmax along the last dimension, built from differentiable primitives (max-shifted).
fn softmax(z: &Tensor) -> Result<Tensor> {
    let max = z.max_keepdim(D::Minus1)?;
    let e = z.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// One-hot rows (N, classes) of `labels` (N,), in `dtype`, on the labels' device.
pub fn one_hot(labels: &Tensor, num_classes: usize, dtype: DType) -> Result<Tensor> {
    let classes = Tensor::arange(0u32, num_classes as u32, labels.device())?.unsqueeze(0)?;
    labels
        .to_dtype(DType::U32)?
        .unsqueeze(1)?
        .broadcast_eq(&classes)?
        .to_dtype(dtype)
}

/// The mean loss of `logits` (N, classes) against integer `labels` (N,) of dtype `U32`.
///
/// # Errors
/// Shape mismatches (from candle).
///
/// # Examples
/// ```
/// use anodiff_trainers::model::{loss, LossKind};
/// use candle_core::{Device, Tensor};
/// let z = Tensor::new(&[[0f64, 0.0], [0.0, 0.0]], &Device::Cpu).unwrap();
/// let y = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
/// let ce = loss(&z, &y, LossKind::CrossEntropy, 2).unwrap().to_scalar::<f64>().unwrap();
/// assert!((ce - 2f64.ln()).abs() < 1e-15);
/// // softmax = (1/2, 1/2): every squared error is 1/4.
/// let mse = loss(&z, &y, LossKind::Mse, 2).unwrap().to_scalar::<f64>().unwrap();
/// assert!((mse - 0.25).abs() < 1e-15);
/// ```
pub fn loss(
    logits: &Tensor,
    labels: &Tensor,
    kind: LossKind,
    num_classes: usize,
) -> Result<Tensor> {
    match kind {
        LossKind::CrossEntropy => candle_nn::loss::cross_entropy(logits, labels),
        LossKind::Mse => {
            let y = one_hot(labels, num_classes, logits.dtype())?;
            (softmax(logits)? - y)?.sqr()?.mean_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn losses_match_hand_computation() {
        let dev = Device::Cpu;
        let z = Tensor::new(&[[1f64, 2.0, 3.0], [0.5, -1.0, 0.0]], &dev).unwrap();
        let y = Tensor::new(&[2u32, 0], &dev).unwrap();
        // Independent computation in plain f64.
        let rows = [[1f64, 2.0, 3.0], [0.5, -1.0, 0.0]];
        let labels = [2usize, 0];
        let (mut ce, mut se) = (0.0, 0.0);
        for (r, &l) in rows.iter().zip(&labels) {
            let s: f64 = r.iter().map(|v| v.exp()).sum();
            ce -= (r[l].exp() / s).ln();
            for (k, v) in r.iter().enumerate() {
                let p = v.exp() / s;
                se += (p - if k == l { 1.0 } else { 0.0 }).powi(2);
            }
        }
        let got_ce = loss(&z, &y, LossKind::CrossEntropy, 3)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let got_mse = loss(&z, &y, LossKind::Mse, 3)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        // Same operations in a different order: a few ulps.
        assert!((got_ce - ce / 2.0).abs() < 1e-14);
        assert!((got_mse - se / 6.0).abs() < 1e-14);
    }

    #[test]
    fn names() {
        assert_eq!("CE".parse::<LossKind>().unwrap(), LossKind::CrossEntropy);
        assert_eq!("mse".parse::<LossKind>().unwrap().to_string(), "mse");
        assert!("hinge"
            .parse::<LossKind>()
            .unwrap_err()
            .to_string()
            .contains("ce, mse"));
    }
}
