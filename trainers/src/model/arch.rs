//! Architecture names: [`Arch`], [`Shortcut`] and their command-line spelling.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// How a residual block's shortcut bridges a change of shape (stride 2, more channels).
///
/// Blocks whose input and output shapes agree always use the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shortcut {
    /// He et al.'s option A: subsample the input with stride 2 (`x[:, :, ::2, ::2]`) and pad the
    /// new channels with zeros, half before and half after. Parameter-free.
    OptionA,
    /// He et al.'s option B: a 1x1 convolution with the block's stride, no bias, followed by
    /// batch normalisation (`C_in * C_out + 2 C_out` trainable parameters).
    ///
    /// **The default**, because it is what the paper's authors trained (their `ResNet_cifar`
    /// uses `conv1x1 + BN` whenever the shape changes) and the parameter counts the paper and
    /// the issue quote (ResNet-20: 272,474) are those of this variant.
    #[default]
    Projection,
}

/// A network architecture.
///
/// Command-line names (case-insensitive), parsed by [`FromStr`] and printed back by
/// [`fmt::Display`]:
///
/// | name | architecture |
/// |---|---|
/// | `resnet14`, `resnet20`, `resnet56`, `resnet110`, any `resnet<6n+2>` (n >= 1) | CIFAR ResNet, projection shortcuts |
/// | `resnet20-a` (any depth) | the same with option-A (pad-and-subsample) shortcuts |
/// | `resnet20-noshort` (any depth) | no shortcut addition at all (the paper's "VGG-like" nets) |
/// | `mlp`, `mlp:W1,W2,...` | ReLU perceptron, hidden widths `W1, W2, ...` (default one layer of 128) |
/// | `mlp-tanh`, `mlp-tanh:W1,...` | the same with tanh (smooth: finite differences of its gradient are reliable) |
/// | `cnn` | three 3x3 conv-BN-ReLU layers (16, 32 stride 2, 64 stride 2), global average pool, linear |
///
/// # Examples
/// ```
/// use anodiff_trainers::model::{Arch, Shortcut};
/// let a: Arch = "resnet20".parse().unwrap();
/// assert_eq!(a, Arch::ResNet { depth: 20, shortcut: Shortcut::Projection });
/// assert_eq!("ResNet14-NoShort".parse::<Arch>().unwrap(), Arch::ResNetNoShort { depth: 14 });
/// assert_eq!("mlp:32,16".parse::<Arch>().unwrap().to_string(), "mlp:32,16");
/// assert!("resnet21".parse::<Arch>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Arch {
    /// CIFAR-style ResNet of `depth = 6n + 2` layers (He et al. 2016): a 3x3 conv with 16
    /// channels + BN + ReLU, three stages of widths 16/32/64 with strides 1/2/2 and `n` basic
    /// blocks each (conv-BN-ReLU-conv-BN, plus the shortcut, ReLU), global average pooling and a
    /// linear layer.
    ResNet {
        /// Number of weight layers, `6n + 2`.
        depth: usize,
        /// Shortcut used where the shape changes.
        shortcut: Shortcut,
    },
    /// [`Arch::ResNet`] without the shortcut addition (and hence without projection layers);
    /// everything else, BN included, is kept.
    ResNetNoShort {
        /// Number of weight layers, `6n + 2`.
        depth: usize,
    },
    /// Fully connected ReLU network on the flattened image: `hidden` widths, then the classifier.
    Mlp {
        /// Hidden layer widths (may be empty: multinomial logistic regression).
        hidden: Vec<usize>,
    },
    /// [`Arch::Mlp`] with tanh activations: a smooth network, for checks that need derivatives
    /// everywhere (finite differences of Hessian-vector products).
    TanhMlp {
        /// Hidden layer widths.
        hidden: Vec<usize>,
    },
    /// A small convolutional net: conv3x3(16)-BN-ReLU, conv3x3(32, stride 2)-BN-ReLU,
    /// conv3x3(64, stride 2)-BN-ReLU, global average pooling, linear.
    Cnn,
}

/// Hidden width of `mlp` without an explicit list.
pub const DEFAULT_MLP_HIDDEN: usize = 128;

impl Arch {
    /// Checks the depth of a ResNet: `6n + 2` with `n >= 1`.
    pub(crate) fn blocks_per_stage(depth: usize) -> Result<usize> {
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return Err(Error::param(
                "model",
                format!("ResNet depth must be 6n + 2 with n >= 1 (8, 14, 20, 56, 110, ...), got {depth}"),
            ));
        }
        Ok((depth - 2) / 6)
    }

    /// Checks the architecture's own parameters (ResNet depth, non-zero MLP widths).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `model`.
    pub fn validate(&self) -> Result<()> {
        match self {
            Arch::ResNet { depth, .. } | Arch::ResNetNoShort { depth } => {
                Self::blocks_per_stage(*depth).map(|_| ())
            }
            Arch::Mlp { hidden } | Arch::TanhMlp { hidden } => {
                if hidden.contains(&0) {
                    Err(Error::param("model", "MLP hidden widths must be positive"))
                } else {
                    Ok(())
                }
            }
            Arch::Cnn => Ok(()),
        }
    }
}

const ACCEPTED: &str = "accepted: resnet14|resnet20|resnet56|resnet110 (any resnet<6n+2>), \
                        with an optional -a (option-A shortcuts) or -noshort suffix; \
                        mlp, mlp:W1,W2,...; mlp-tanh[:W1,...]; cnn";

fn parse_widths(s: &str, name: &str) -> Result<Vec<usize>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|w| {
            w.trim()
                .parse::<usize>()
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| {
                    Error::param(
                        "model",
                        format!(
                            "'{name}': hidden width '{w}' is not a positive integer ({ACCEPTED})"
                        ),
                    )
                })
        })
        .collect()
}

impl FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || Error::param("model", format!("unknown model '{s}' ({ACCEPTED})"));
        if let Some(rest) = lower.strip_prefix("resnet") {
            let (digits, suffix) = rest
                .find(|c: char| !c.is_ascii_digit())
                .map_or((rest, ""), |i| rest.split_at(i));
            let depth: usize = digits.parse().map_err(|_| unknown())?;
            let arch = match suffix {
                "" | "-b" | "-proj" => Arch::ResNet {
                    depth,
                    shortcut: Shortcut::Projection,
                },
                "-a" => Arch::ResNet {
                    depth,
                    shortcut: Shortcut::OptionA,
                },
                "-noshort" => Arch::ResNetNoShort { depth },
                _ => return Err(unknown()),
            };
            arch.validate()?;
            return Ok(arch);
        }
        for (prefix, tanh) in [("mlp-tanh", true), ("mlp", false)] {
            if let Some(rest) = lower.strip_prefix(prefix) {
                let hidden = if rest.is_empty() {
                    vec![DEFAULT_MLP_HIDDEN]
                } else if let Some(list) = rest.strip_prefix(':') {
                    parse_widths(list, s)?
                } else {
                    return Err(unknown());
                };
                return Ok(if tanh {
                    Arch::TanhMlp { hidden }
                } else {
                    Arch::Mlp { hidden }
                });
            }
        }
        if lower == "cnn" {
            return Ok(Arch::Cnn);
        }
        Err(unknown())
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = |h: &[usize]| {
            h.iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Arch::ResNet {
                depth,
                shortcut: Shortcut::Projection,
            } => write!(f, "resnet{depth}"),
            Arch::ResNet {
                depth,
                shortcut: Shortcut::OptionA,
            } => write!(f, "resnet{depth}-a"),
            Arch::ResNetNoShort { depth } => write!(f, "resnet{depth}-noshort"),
            Arch::Mlp { hidden } => write!(f, "mlp:{}", widths(hidden)),
            Arch::TanhMlp { hidden } => write!(f, "mlp-tanh:{}", widths(hidden)),
            Arch::Cnn => write!(f, "cnn"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "resnet8",
            "resnet14",
            "resnet20-a",
            "resnet56-noshort",
            "resnet110",
            "mlp:128",
            "mlp:",
            "mlp-tanh:8,4",
            "cnn",
        ] {
            let a: Arch = name.parse().unwrap();
            assert_eq!(a.to_string(), name);
        }
        assert_eq!(
            "mlp".parse::<Arch>().unwrap(),
            Arch::Mlp {
                hidden: vec![DEFAULT_MLP_HIDDEN]
            }
        );
    }

    #[test]
    fn bad_names_say_what_is_accepted() {
        for bad in [
            "vgg16",
            "resnet",
            "resnet21",
            "resnet2",
            "resnet20-c",
            "mlp:0",
            "mlp:a",
            "mlpx",
        ] {
            let e = bad.parse::<Arch>().unwrap_err().to_string();
            assert!(e.contains("model"), "{bad}: {e}");
        }
        assert!("vgg16"
            .parse::<Arch>()
            .unwrap_err()
            .to_string()
            .contains("resnet14"));
    }
}
