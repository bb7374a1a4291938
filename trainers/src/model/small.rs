//! The small networks for fast experiments: an MLP (ReLU or tanh) and a three-layer CNN.
//!
//! Parameter names: MLP `hidden{II}.{weight,bias}` then `fc.{weight,bias}`; CNN
//! `conv{1,2,3}.weight`, `bn{1,2,3}.{weight,bias}` (+ running statistics), `fc.{weight,bias}`.

use super::layers::{Builder, ConvBn, Linear};
use candle_core::{Result, Tensor, D};

#[derive(Debug, Clone)]
pub(crate) struct Mlp {
    hidden: Vec<Linear>,
    fc: Linear,
    tanh: bool,
}

impl Mlp {
    pub fn new(
        b: &mut Builder<'_>,
        input: usize,
        widths: &[usize],
        num_classes: usize,
        tanh: bool,
    ) -> Result<Self> {
        let mut hidden = Vec::with_capacity(widths.len());
        let mut fan_in = input;
        for (i, &w) in widths.iter().enumerate() {
            hidden.push(b.linear(&format!("hidden{i:02}"), fan_in, w, false)?);
            fan_in = w;
        }
        let fc = b.linear("fc", fan_in, num_classes, true)?;
        Ok(Self { hidden, fc, tanh })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.flatten_from(1)?;
        for l in &self.hidden {
            let z = l.forward(&h)?;
            h = if self.tanh { z.tanh()? } else { z.relu()? };
        }
        self.fc.forward(&h)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cnn {
    layers: Vec<ConvBn>,
    fc: Linear,
}

impl Cnn {
    pub fn new(b: &mut Builder<'_>, in_channels: usize, num_classes: usize) -> Result<Self> {
        let mut layers = Vec::with_capacity(3);
        let mut c_in = in_channels;
        for (i, (c, s)) in [(16, 1), (32, 2), (64, 2)].into_iter().enumerate() {
            layers.push(ConvBn::new(
                b,
                &format!("conv{}", i + 1),
                &format!("bn{}", i + 1),
                c_in,
                c,
                3,
                s,
            )?);
            c_in = c;
        }
        let fc = b.linear("fc", 64, num_classes, true)?;
        Ok(Self { layers, fc })
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward_relu(&h, train)?;
        }
        let h = h.mean(D::Minus1)?.mean(D::Minus1)?;
        self.fc.forward(&h)
    }
}
