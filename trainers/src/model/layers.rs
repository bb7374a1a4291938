//! Building blocks shared by the architectures, and the builder that registers each parameter
//! with its initialisation role.

use crate::batchnorm::{batch_norm_relu_train, batch_norm_train};
use crate::conv::conv2d;
use crate::init::Role;
use candle_core::{DType, Device, Result, Tensor, Var};
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

    /// The running-statistics variables `name.{running_mean,running_var}` that [`Self::bn`]
    /// registered (handles sharing storage with those inside candle's `BatchNorm`).
    pub fn running_stats(&self, name: &str) -> Result<(Var, Var)> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
        let get = |what: &str| {
            data.get(&format!("{name}.{what}")).cloned().ok_or_else(|| {
                candle_core::Error::Msg(format!("batch norm {name}: no {what} variable"))
            })
        };
        Ok((get("running_mean")?, get("running_var")?))
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
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Convolution (through [`crate::conv::conv2d`]) followed by batch norm (in training mode on
/// the CPU, the fused [`crate::batchnorm::batch_norm_train`]; otherwise candle's `BatchNorm`).
#[derive(Debug, Clone)]
pub(crate) struct ConvBn {
    pub weight: Tensor,
    pub bn: BatchNorm,
    /// The BN running mean and variance (the same variables `bn` holds).
    pub running: (Var, Var),
    pub stride: usize,
    pub padding: usize,
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
        let weight = b.conv(conv_name, c_in, c_out, k)?;
        let bn = b.bn(bn_name, c_out)?;
        Ok(Self {
            weight,
            bn,
            running: b.running_stats(bn_name)?,
            stride,
            padding: k / 2,
        })
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_act(x, train, false)
    }

    /// `relu(self.forward(x, train))`, fused with the batch norm where that is fused.
    pub fn forward_relu(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_act(x, train, true)
    }

    fn forward_act(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        let y = conv2d(x, &self.weight, self.stride, self.padding)?;
        let fused = train
            && y.device().is_cpu()
            && matches!(y.dtype(), DType::F32 | DType::F64)
            && y.rank() == 4;
        match self.bn.weight_and_bias() {
            Some((gamma, beta)) if fused => {
                let bn = if relu {
                    batch_norm_relu_train
                } else {
                    batch_norm_train
                };
                bn(
                    &y,
                    gamma,
                    beta,
                    &self.running.0,
                    &self.running.1,
                    BN_CONFIG.eps,
                    BN_CONFIG.momentum,
                )
            }
            _ if relu => y.apply_t(&self.bn, train)?.relu(),
            _ => y.apply_t(&self.bn, train),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The fused CPU path of `ConvBn` (our conv, fused BN + ReLU) against the same layer built
    /// from candle's own `conv2d`, `BatchNorm::forward_train` and `relu`, in f64: output, the
    /// gradients of sum(y * r) w.r.t. input, kernel, gamma and beta, and the running
    /// statistics. Tolerance 1e-10 absolute: the same formulas summed in different orders over
    /// at most 4 * 8 * 8 = 256 terms of O(1) values, with BN dividing by a batch standard
    /// deviation of O(1).
    #[test]
    fn fused_conv_bn_relu_matches_candle_layers() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let mut b = Builder {
            varmap: &varmap,
            dtype: DType::F64,
            device: &dev,
            roles: Vec::new(),
        };
        let layer = ConvBn::new(&mut b, "c", "bn", 3, 5, 3, 2).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut rand = |shape: &[usize], lo: f64, hi: f64| {
            let n: usize = shape.iter().product();
            let v: Vec<f64> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
            Tensor::from_vec(v, shape, &dev).unwrap()
        };
        for (name, shape, lo, hi) in [
            ("c.weight", &[5, 3, 3, 3][..], -1.0, 1.0),
            ("bn.weight", &[5][..], 0.5, 1.5),
            ("bn.bias", &[5][..], -0.5, 0.5),
            ("bn.running_mean", &[5][..], -0.1, 0.1),
            ("bn.running_var", &[5][..], 0.9, 1.1),
        ] {
            varmap.data().lock().unwrap()[name]
                .set(&rand(shape, lo, hi))
                .unwrap();
        }
        let x = rand(&[4, 3, 15, 15], -1.0, 2.0);
        let r = rand(&[4, 5, 8, 8], -1.0, 1.0);
        let vars: Vec<Var> = ["c.weight", "bn.weight", "bn.bias"]
            .iter()
            .map(|n| varmap.data().lock().unwrap()[*n].clone())
            .collect();
        let running0 = [&layer.running.0, &layer.running.1].map(|v| v.as_tensor().copy().unwrap());

        let run = |fused: bool| {
            for (v, t) in [&layer.running.0, &layer.running.1].iter().zip(&running0) {
                v.set(t).unwrap();
            }
            let xv = Var::from_tensor(&x).unwrap();
            let y = if fused {
                layer.forward_relu(&xv, true).unwrap()
            } else {
                xv.conv2d(&layer.weight, 1, 2, 1, 1)
                    .unwrap()
                    .apply_t(&layer.bn, true)
                    .unwrap()
                    .relu()
                    .unwrap()
            };
            let gs = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let mut out = vec![y, gs.get(&xv).unwrap().clone()];
            out.extend(vars.iter().map(|v| gs.get(v).unwrap().clone()));
            out.extend([&layer.running.0, &layer.running.1].map(|v| v.as_tensor().copy().unwrap()));
            out
        };
        let want = run(false);
        let got = run(true);
        let names = [
            "y",
            "dx",
            "dw",
            "dgamma",
            "dbeta",
            "running_mean",
            "running_var",
        ];
        for ((name, a), b) in names.iter().zip(&want).zip(&got) {
            let (a, b) = (
                a.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                b.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            );
            let err = a
                .iter()
                .zip(&b)
                .fold(0f64, |m, (p, q)| m.max((p - q).abs()));
            assert!(err < 1e-10, "{name}: max error {err}");
        }
    }
}
