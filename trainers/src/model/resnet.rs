//! CIFAR-style ResNets (He et al. 2016, section 4.2) and their `-noshort` twins.
//!
//! Parameter names (PyTorch-like, block indices zero-padded so that sorting by name keeps the
//! blocks in order): `conv1.weight`, `bn1.{weight,bias}` (the stem),
//! `layer{1,2,3}.{BB}.conv{1,2}.weight`, `layer{S}.{BB}.bn{1,2}.{weight,bias}`, for projection
//! shortcuts `layer{S}.{BB}.shortcut.conv.weight` and `layer{S}.{BB}.shortcut.bn.{weight,bias}`,
//! and `fc.{weight,bias}`; BN running statistics sit beside each BN's weight.

pub(crate) mod cpu_step;

use super::arch::Shortcut;
use super::layers::{Builder, ConvBn, Linear};
use crate::batchnorm::add_relu;
use candle_core::{Result, Tensor, D};

/// What a block adds to its residual branch.
#[derive(Debug, Clone)]
enum Skip {
    /// `-noshort`: nothing.
    None,
    /// Same shape in and out.
    Identity,
    /// Subsample by 2 and zero-pad `pad` channels on each side.
    OptionA { pad: usize },
    /// 1x1 convolution + BN.
    Projection(ConvBn),
}

#[derive(Debug, Clone)]
struct Block {
    c1: ConvBn,
    c2: ConvBn,
    skip: Skip,
}

/// Option A's subsampling `x[:, :, ::2, ::2]`, for even or odd sizes (odd sizes are zero-padded
/// by one row/column at the end first, which the subsampling never picks).
fn subsample2(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let x = if h % 2 == 1 {
        x.pad_with_zeros(2, 0, 1)?
    } else {
        x.clone()
    };
    let x = if w % 2 == 1 {
        x.pad_with_zeros(3, 0, 1)?
    } else {
        x
    };
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    x.reshape((n, c, h2, 2, w2, 2))?
        .narrow(3, 0, 1)?
        .narrow(5, 0, 1)?
        .reshape((n, c, h2, w2))
}

impl Block {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let out = self.c1.forward_relu(x, train)?;
        let out = self.c2.forward(&out, train)?;
        let skip = match &self.skip {
            Skip::None => return out.relu(),
            Skip::Identity => x.clone(),
            Skip::OptionA { pad } => subsample2(x)?.pad_with_zeros(1, *pad, *pad)?,
            Skip::Projection(p) => p.forward(x, train)?,
        };
        add_relu(&out, &skip)
    }
}

/// The network body.
#[derive(Debug, Clone)]
pub(crate) struct ResNet {
    stem: ConvBn,
    blocks: Vec<Block>,
    fc: Linear,
}

impl ResNet {
    /// `shortcut = None` builds the `-noshort` variant.
    pub fn new(
        b: &mut Builder<'_>,
        blocks_per_stage: usize,
        shortcut: Option<Shortcut>,
        in_channels: usize,
        num_classes: usize,
    ) -> Result<Self> {
        let stem = ConvBn::new(b, "conv1", "bn1", in_channels, 16, 3, 1)?;
        let mut blocks = Vec::with_capacity(3 * blocks_per_stage);
        let mut c_in = 16;
        for (s, (width, stride)) in [(16, 1), (32, 2), (64, 2)].into_iter().enumerate() {
            for i in 0..blocks_per_stage {
                let p = format!("layer{}.{i:02}", s + 1);
                let st = if i == 0 { stride } else { 1 };
                let c1 = ConvBn::new(
                    b,
                    &format!("{p}.conv1"),
                    &format!("{p}.bn1"),
                    c_in,
                    width,
                    3,
                    st,
                )?;
                let c2 = ConvBn::new(
                    b,
                    &format!("{p}.conv2"),
                    &format!("{p}.bn2"),
                    width,
                    width,
                    3,
                    1,
                )?;
                let reshapes = st != 1 || c_in != width;
                let skip = match (shortcut, reshapes) {
                    (None, _) => Skip::None,
                    (Some(_), false) => Skip::Identity,
                    (Some(Shortcut::OptionA), true) => Skip::OptionA {
                        pad: (width - c_in) / 2,
                    },
                    (Some(Shortcut::Projection), true) => Skip::Projection(ConvBn::new(
                        b,
                        &format!("{p}.shortcut.conv"),
                        &format!("{p}.shortcut.bn"),
                        c_in,
                        width,
                        1,
                        st,
                    )?),
                };
                blocks.push(Block { c1, c2, skip });
                c_in = width;
            }
        }
        let fc = b.linear("fc", 64, num_classes, true)?;
        Ok(Self { stem, blocks, fc })
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = self.stem.forward_relu(x, train)?;
        for blk in &self.blocks {
            h = blk.forward(&h, train)?;
        }
        // Global average pooling over H and W.
        let h = h.mean(D::Minus1)?.mean(D::Minus1)?;
        self.fc.forward(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn subsample_picks_even_indices() {
        let x = Tensor::arange(0f32, 2.0 * 7.0 * 5.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 2, 7, 5))
            .unwrap();
        let y = subsample2(&x).unwrap();
        assert_eq!(y.dims(), &[1, 2, 4, 3]);
        let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // Channel 0 rows 0,2,4,6, columns 0,2,4 of a 7x5 ramp.
        let want: Vec<f32> = [0usize, 2, 4, 6]
            .iter()
            .flat_map(|r| [0usize, 2, 4].map(move |c| (r * 5 + c) as f32))
            .collect();
        assert_eq!(&v[..12], &want[..]);
        assert_eq!(v[12], 35.0);
    }
}
