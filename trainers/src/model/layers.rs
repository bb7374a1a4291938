//! Building blocks shared by the architectures, and the builder that registers each parameter
//! with its initialisation role.

use crate::conv::conv2d;
use crate::init::Role;
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder, VarMap};

/// Batch-norm settings: PyTorch's defaults (eps 1e-5, momentum 0.1, affine).
pub(crate) const BN_CONFIG: BatchNormConfig = BatchNormConfig {
    eps: 1e-5,
    remove_mean: true,
    affine: true,
    momentum: 0.1,
};

/// Creates variables in a [`VarMap`] (zero-filled; [`crate::init`] fills them later) and
/// remembers each trainable one's role.
pub(crate) struct Builder<'a> {
    pub varmap: &'a VarMap,
    pub dtype: DType,
    pub device: &'a Device,
    pub roles: Vec<(String, Role)>,
}

impl Builder<'_> {
    fn var(&mut self, name: String, shape: &[usize], role: Role) -> Result<Tensor> {
        let t = self.varmap.get(
            shape,
            &name,
            candle_nn::Init::Const(0.0),
            self.dtype,
            self.device,
        )?;
        self.roles.push((name, role));
        Ok(t)
    }

    /// A `k x k` convolution weight `name.weight`, shape (c_out, c_in, k, k).
    pub fn conv(&mut self, name: &str, c_in: usize, c_out: usize, k: usize) -> Result<Tensor> {
        self.var(
            format!("{name}.weight"),
            &[c_out, c_in, k, k],
            Role::KaimingNormal {
                fan_in: c_in * k * k,
            },
        )
    }

    /// Batch norm `name.{weight,bias,running_mean,running_var}` over `c` channels.
    pub fn bn(&mut self, name: &str, c: usize) -> Result<BatchNorm> {
        let vb = VarBuilder::from_varmap(self.varmap, self.dtype, self.device);
        let bn = candle_nn::batch_norm(c, BN_CONFIG, vb.pp(name))?;
        self.roles.push((format!("{name}.weight"), Role::One));
        self.roles.push((format!("{name}.bias"), Role::Zero));
        Ok(bn)
    }

    /// A linear layer `name.{weight,bias}`; `classifier` selects the classifier's init rule.
    pub fn linear(
        &mut self,
        name: &str,
        fan_in: usize,
        out: usize,
        classifier: bool,
    ) -> Result<Linear> {
        let (wr, br) = if classifier {
            (
                Role::ClassifierWeight { fan_in },
                Role::ClassifierBias { fan_in },
            )
        } else {
            (Role::KaimingNormal { fan_in }, Role::Zero)
        };
        let weight = self.var(format!("{name}.weight"), &[out, fan_in], wr)?;
        let bias = self.var(format!("{name}.bias"), &[out], br)?;
        Ok(Linear { weight, bias })
    }
}

/// `y = x W^T + b`.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Convolution (through [`crate::conv::conv2d`]) followed by batch norm.
#[derive(Debug, Clone)]
pub(crate) struct ConvBn {
    weight: Tensor,
    bn: BatchNorm,
    stride: usize,
    padding: usize,
}

impl ConvBn {
    /// `conv` (k x k, `padding = k / 2`) named `conv_name`, BN named `bn_name`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        b: &mut Builder<'_>,
        conv_name: &str,
        bn_name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self> {
        Ok(Self {
            weight: b.conv(conv_name, c_in, c_out, k)?,
            bn: b.bn(bn_name, c_out)?,
            stride,
            padding: k / 2,
        })
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        conv2d(x, &self.weight, self.stride, self.padding)?.apply_t(&self.bn, train)
    }
}
