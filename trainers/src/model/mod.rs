//! Networks: [`Arch`] names an architecture, [`Network`] holds one with its variables, and
//! [`loss()`] scores its logits.
//!
//! # Parameters and their flat order
//!
//! Every variable lives in the network's [`VarMap`]. The **trainable** parameters are all of
//! them except the batch-norm running statistics (`*.running_mean`, `*.running_var`), and their
//! **flat order** — the order of [`Network::trainable`], of [`Network::flat_weights`], of every
//! recorded weight and gradient vector — is **sorted by parameter name** (byte-wise), each tensor
//! flattened row-major. Names are documented per architecture (ResNets: `conv1.weight`,
//! `bn1.*`, `fc.*`, `layer{S}.{BB}.*`, see [`resnet`](self#resnet-names) below); block indices are
//! zero-padded so that name order follows depth within a stage. The running statistics are
//! [`Network::buffers`]: saved in checkpoints, never trained, never in the flat vector.
//!
//! ## ResNet names
//! `conv1.weight`, `bn1.{weight,bias}` (stem); `layer{1,2,3}.{00..}.conv{1,2}.weight` and
//! `.bn{1,2}.{weight,bias}`; with projection shortcuts `layer{S}.{BB}.shortcut.conv.weight` and
//! `.shortcut.bn.{weight,bias}`; `fc.{weight,bias}` (weight shape (classes, 64)).
//!
//! # Examples
//! ```
//! use anodiff_trainers::model::{Arch, Network};
//! use anodiff_trainers::init::InitOptions;
//! use candle_core::{DType, Device, Tensor};
//! let arch: Arch = "resnet20".parse().unwrap();
//! let net = Network::new(&arch, [3, 32, 32], 10, DType::F32, &Device::Cpu, 0, &InitOptions::default()).unwrap();
//! assert_eq!(net.num_params(), 272_474); // He et al.'s ResNet-20 with projection shortcuts
//! let x = Tensor::zeros((2, 3, 32, 32), DType::F32, &Device::Cpu).unwrap();
//! assert_eq!(net.forward(&x, false).unwrap().dims(), &[2, 10]);
//! ```

pub mod arch;
mod layers;
pub mod loss;
mod resnet;
mod small;

pub use arch::{Arch, Shortcut};
pub use loss::{loss, LossKind};

use crate::error::{Error, Result};
use crate::init::{self, InitOptions};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use layers::Builder;

/// The network body, one per architecture family.
#[derive(Debug, Clone)]
enum Body {
    ResNet(resnet::ResNet),
    Mlp(small::Mlp),
    Cnn(small::Cnn),
}

/// A network with its variables (see the [module docs](self) for names and flat order).
pub struct Network {
    arch: Arch,
    input: [usize; 3],
    num_classes: usize,
    dtype: DType,
    device: Device,
    varmap: VarMap,
    body: Body,
    trainable: Vec<(String, Var)>,
    buffers: Vec<(String, Var)>,
    num_params: usize,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("arch", &self.arch)
            .field("input", &self.input)
            .field("num_classes", &self.num_classes)
            .field("dtype", &self.dtype)
            .field("num_params", &self.num_params)
            .finish_non_exhaustive()
    }
}

/// Whether a variable name is a batch-norm running statistic.
pub(crate) fn is_buffer(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

impl Network {
    /// Builds `arch` for images of shape `input = [channels, height, width]` and `num_classes`
    /// classes, with parameters of `dtype` (`F32`, or `F64` for second-order checks) on `device`,
    /// initialised from `seed` as [`crate::init`] describes.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty input shape, no classes, a dtype other than
    /// `F32`/`F64`, or a bad architecture (e.g. ResNet depth not `6n + 2`);
    /// [`Error::Candle`] from the device.
    pub fn new(
        arch: &Arch,
        input: [usize; 3],
        num_classes: usize,
        dtype: DType,
        device: &Device,
        seed: u64,
        init: &InitOptions,
    ) -> Result<Network> {
        arch.validate()?;
        if input.contains(&0) {
            return Err(Error::param(
                "input",
                format!("image shape must be positive in every dimension, got {input:?}"),
            ));
        }
        if num_classes == 0 {
            return Err(Error::param("num_classes", "need at least one class"));
        }
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(Error::param(
                "dtype",
                format!("networks are built in F32 or F64, got {dtype:?}"),
            ));
        }
        let varmap = VarMap::new();
        let mut b = Builder {
            varmap: &varmap,
            dtype,
            device,
            roles: Vec::new(),
        };
        let [c, h, w] = input;
        let body = match arch {
            Arch::ResNet { depth, shortcut } => Body::ResNet(resnet::ResNet::new(
                &mut b,
                Arch::blocks_per_stage(*depth)?,
                Some(*shortcut),
                c,
                num_classes,
            )?),
            Arch::ResNetNoShort { depth } => Body::ResNet(resnet::ResNet::new(
                &mut b,
                Arch::blocks_per_stage(*depth)?,
                None,
                c,
                num_classes,
            )?),
            Arch::Mlp { hidden } => Body::Mlp(small::Mlp::new(
                &mut b,
                c * h * w,
                hidden,
                num_classes,
                false,
            )?),
            Arch::TanhMlp { hidden } => Body::Mlp(small::Mlp::new(
                &mut b,
                c * h * w,
                hidden,
                num_classes,
                true,
            )?),
            Arch::Cnn => Body::Cnn(small::Cnn::new(&mut b, c, num_classes)?),
        };
        let mut roles = b.roles;
        roles.sort_by(|a, b| a.0.cmp(&b.0));
        let (mut trainable, mut buffers): (Vec<_>, Vec<_>) = {
            let data = varmap
                .data()
                .lock()
                .map_err(|_| Error::param("network", "variable map lock poisoned"))?;
            data.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .partition(|(k, _)| !is_buffer(k))
        };
        trainable.sort_by(|a, b| a.0.cmp(&b.0));
        buffers.sort_by(|a, b| a.0.cmp(&b.0));
        // Every trainable variable was registered with a role, in the same sorted order.
        if roles.len() != trainable.len() || roles.iter().zip(&trainable).any(|(r, t)| r.0 != t.0) {
            return Err(Error::param(
                "network",
                "internal: parameter roles disagree with the variable map",
            ));
        }
        let mut rng = init::rng(seed);
        for ((_, role), (_, var)) in roles.iter().zip(&trainable) {
            let n = var.elem_count();
            let values = init::draw(*role, n, init, &mut rng);
            let t = Tensor::from_vec(values, var.shape(), device)?.to_dtype(dtype)?;
            var.set(&t)?;
        }
        let num_params = trainable.iter().map(|(_, v)| v.elem_count()).sum();
        Ok(Network {
            arch: arch.clone(),
            input,
            num_classes,
            dtype,
            device: device.clone(),
            varmap,
            body,
            trainable,
            buffers,
            num_params,
        })
    }

    /// The logits (N, num_classes) of a batch `x` of shape (N, C, H, W). `train = true` uses
    /// batch statistics in batch norm and updates its running statistics; `false` (eval mode)
    /// uses the running statistics and changes nothing.
    pub fn forward(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        match &self.body {
            Body::ResNet(r) => r.forward(x, train),
            Body::Mlp(m) => m.forward(x),
            Body::Cnn(c) => c.forward(x, train),
        }
    }

    /// The training-mode loss and gradients through the hand-written CPU backward pass of the
    /// ResNets (see `resnet/cpu_step.rs`), or `None` where it does not apply (other
    /// architectures, devices other than the CPU, dtypes other than f32 and f64).
    pub(crate) fn cpu_loss_and_gradient(
        &self,
        x: &Tensor,
        labels: &Tensor,
        kind: LossKind,
    ) -> Option<candle_core::Result<(f64, candle_core::backprop::GradStore)>> {
        let Body::ResNet(r) = &self.body else {
            return None;
        };
        if !self.device.is_cpu() || !x.device().is_cpu() || x.dtype() != self.dtype {
            return None;
        }
        let k = self.num_classes;
        match self.dtype {
            DType::F32 => Some(resnet::cpu_step::loss_and_gradient::<f32>(
                r, x, labels, kind, k,
            )),
            DType::F64 => Some(resnet::cpu_step::loss_and_gradient::<f64>(
                r, x, labels, kind, k,
            )),
            _ => None,
        }
    }

    /// The trainable parameters in the flat order: sorted by name (see the
    /// [module docs](self)); batch-norm running statistics excluded.
    pub fn trainable(&self) -> &[(String, Var)] {
        &self.trainable
    }

    /// The batch-norm running statistics (sorted by name): in checkpoints, not in the flat
    /// vector, never trained.
    pub fn buffers(&self) -> &[(String, Var)] {
        &self.buffers
    }

    /// Number of trainable parameters `d` (the length of the flat vector).
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// The architecture.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Input image shape `[channels, height, width]`.
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Number of classes (logits per image).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The parameters' dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The variable map (every variable, running statistics included).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(arch: &str, input: [usize; 3]) -> usize {
        let net = Network::new(
            &arch.parse().unwrap(),
            input,
            10,
            DType::F32,
            &Device::Cpu,
            0,
            &InitOptions::default(),
        )
        .unwrap();
        net.num_params()
    }

    /// Trainable parameters of a CIFAR ResNet of depth 6n + 2 (input channels `c`, 10 classes),
    /// counted by hand from the architecture, independently of the code:
    /// stem 9*c*16 + 2*16; stage widths w_s = 16, 32, 64, each block two 3x3 convs + two BNs;
    /// the first block of stages 2 and 3 has a 3x3 conv from w_{s-1}; a projection shortcut adds
    /// w_{s-1}*w_s + 2 w_s in those two blocks; classifier 64*10 + 10.
    fn resnet_formula(n: usize, c: usize, projection: bool) -> usize {
        let bn = |w: usize| 2 * w;
        let mut total = 9 * c * 16 + bn(16);
        let mut w_in = 16;
        for w in [16usize, 32, 64] {
            for i in 0..n {
                let cin = if i == 0 { w_in } else { w };
                total += 9 * cin * w + bn(w) + 9 * w * w + bn(w);
                if i == 0 && cin != w && projection {
                    total += cin * w + bn(w);
                }
            }
            w_in = w;
        }
        total + 64 * 10 + 10
    }

    #[test]
    fn resnet_parameter_counts_match_the_paper() {
        // Published counts (the issue; the authors' code, projection shortcuts, BN affine
        // parameters counted).
        let cifar = [3, 32, 32];
        assert_eq!(count("resnet14", cifar), 175_258);
        assert_eq!(count("resnet14-noshort", cifar), 172_506);
        assert_eq!(count("resnet20", cifar), 272_474);
        assert_eq!(count("resnet56", cifar), 855_770);
        assert_eq!(count("resnet110", cifar), 1_730_714);
        // Option A is parameter-free: ResNet-20 = 272,474 - (16*32 + 64) - (32*64 + 128).
        assert_eq!(count("resnet20-a", cifar), 269_722);
        assert_eq!(count("resnet20-a", cifar), count("resnet20-noshort", cifar));
    }

    #[test]
    fn resnet_counts_match_the_hand_formula() {
        for (depth, c) in [(8usize, 1usize), (14, 3), (20, 1), (56, 3)] {
            let n = (depth - 2) / 6;
            let input = [c, 8, 8];
            assert_eq!(
                count(&format!("resnet{depth}"), input),
                resnet_formula(n, c, true)
            );
            assert_eq!(
                count(&format!("resnet{depth}-a"), input),
                resnet_formula(n, c, false)
            );
            assert_eq!(
                count(&format!("resnet{depth}-noshort"), input),
                resnet_formula(n, c, false)
            );
        }
        assert_eq!(resnet_formula(3, 3, false), 269_722);
    }

    #[test]
    fn small_network_counts() {
        // MLP 64 -> 128 -> 10: 64*128 + 128 + 128*10 + 10.
        assert_eq!(count("mlp", [1, 8, 8]), 64 * 128 + 128 + 1290);
        assert_eq!(count("mlp:", [1, 28, 28]), 7850);
        // CNN: 9*1*16 + 9*16*32 + 9*32*64 convs, 2*(16+32+64) BN, 64*10 + 10.
        assert_eq!(count("cnn", [1, 8, 8]), 144 + 4608 + 18_432 + 224 + 650);
    }

    #[test]
    fn forward_shapes_for_every_input_shape() {
        for (arch, input) in [
            ("resnet8", [1, 8, 8]),
            ("resnet8-a", [1, 28, 28]),
            ("resnet8-a", [1, 7, 5]),
            ("resnet8-noshort", [3, 32, 32]),
            ("cnn", [1, 28, 28]),
            ("mlp-tanh:5", [3, 4, 4]),
        ] {
            for dtype in [DType::F32, DType::F64] {
                let net = Network::new(
                    &arch.parse().unwrap(),
                    input,
                    7,
                    dtype,
                    &Device::Cpu,
                    1,
                    &InitOptions::default(),
                )
                .unwrap();
                let x =
                    Tensor::ones((3, input[0], input[1], input[2]), dtype, &Device::Cpu).unwrap();
                for train in [true, false] {
                    let y = net.forward(&x, train).unwrap();
                    assert_eq!(y.dims(), &[3, 7], "{arch} {input:?}");
                    assert_eq!(y.dtype(), dtype);
                }
            }
        }
    }

    #[test]
    fn order_is_sorted_and_excludes_running_stats() {
        let net = Network::new(
            &"resnet8".parse().unwrap(),
            [1, 8, 8],
            10,
            DType::F32,
            &Device::Cpu,
            0,
            &InitOptions::default(),
        )
        .unwrap();
        let names: Vec<&str> = net.trainable().iter().map(|(n, _)| n.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names[0], "bn1.bias");
        assert!(names.iter().all(|n| !n.contains("running")));
        // Stem BN + 2 per block (3 blocks) + 2 shortcut BNs: 9 BNs, 2 buffers each.
        assert_eq!(net.buffers().len(), 18);
        assert!(names.contains(&"layer2.00.shortcut.conv.weight"));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let a: Arch = "cnn".parse().unwrap();
        let o = InitOptions::default();
        let dev = Device::Cpu;
        assert!(Network::new(&a, [0, 8, 8], 10, DType::F32, &dev, 0, &o).is_err());
        assert!(Network::new(&a, [1, 8, 8], 0, DType::F32, &dev, 0, &o).is_err());
        assert!(Network::new(&a, [1, 8, 8], 10, DType::U8, &dev, 0, &o).is_err());
        let bad = Arch::ResNet {
            depth: 9,
            shortcut: Shortcut::OptionA,
        };
        assert!(Network::new(&bad, [1, 8, 8], 10, DType::F32, &dev, 0, &o).is_err());
    }
}
