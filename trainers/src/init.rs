//! Seeded initialisation of a [`Network`](crate::model::Network)'s weights.
//!
//! candle's CPU random generator cannot be seeded, so every initial weight is drawn here from
//! one `ChaCha8Rng::seed_from_u64(seed)` stream, walking the trainable parameters in their flat
//! order ([`Network::trainable`](crate::model::Network::trainable): sorted by name) and drawing
//! each tensor's values in row-major order. The values are drawn in `f64` and rounded to the
//! network's dtype, so an `f32` and an `f64` network with the same seed start from the same
//! point (up to that rounding), on CPU and CUDA alike.
//!
//! Rules (those of the paper's authors' `init_params`):
//!
//! - convolutions: Kaiming normal, fan-in mode, `N(0, 2 / fan_in)` with
//!   `fan_in = C_in * k * k` (no biases);
//! - batch-norm: weight 1, bias 0 (running mean 0, running variance 1);
//! - hidden linear layers of the MLPs: Kaiming normal fan-in, bias 0;
//! - the classifier (last linear layer): [`LinearInit`], by default the authors' `N(0, 1e-3^2)`
//!   (standard deviation `1e-3`), bias 0.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Initialisation of the classifier (the last linear layer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinearInit {
    /// Weight `N(0, std^2)`, bias 0. The authors used `std = 1e-3`.
    Normal {
        /// Standard deviation of the weights.
        std: f64,
    },
    /// PyTorch's `nn.Linear` default: weight and bias uniform on
    /// `[-1/sqrt(fan_in), 1/sqrt(fan_in)]` (Kaiming uniform with `a = sqrt(5)`), which is what the
    /// paper's text ("standard PyTorch init") describes.
    KaimingUniform,
}

impl Default for LinearInit {
    /// The authors' code: `N(0, 1e-3^2)`.
    fn default() -> Self {
        LinearInit::Normal { std: 1e-3 }
    }
}

impl std::str::FromStr for LinearInit {
    type Err = crate::Error;

    /// `normal:STD` (e.g. `normal:1e-3`) or `kaiming-uniform`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let bad = || {
            crate::Error::param(
                "linear-init",
                format!(
                    "'{s}': expected normal:STD (STD > 0, e.g. normal:1e-3) or kaiming-uniform"
                ),
            )
        };
        let lower = s.trim().to_ascii_lowercase();
        if lower == "kaiming-uniform" {
            return Ok(LinearInit::KaimingUniform);
        }
        let std: f64 = lower
            .strip_prefix("normal:")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if !(std.is_finite() && std > 0.0) {
            return Err(bad());
        }
        Ok(LinearInit::Normal { std })
    }
}

impl std::fmt::Display for LinearInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinearInit::Normal { std } => write!(f, "normal:{std:e}"),
            LinearInit::KaimingUniform => write!(f, "kaiming-uniform"),
        }
    }
}

/// Initialisation options of [`Network::new`](crate::model::Network::new).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InitOptions {
    /// The classifier's initialisation (default: the authors' `N(0, 1e-3^2)`).
    pub linear: LinearInit,
}

/// What a parameter is, which decides its initial values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// Convolution or hidden linear weight: Kaiming normal with this fan-in.
    KaimingNormal { fan_in: usize },
    /// Hidden linear bias: 0.
    Zero,
    /// Batch-norm scale: 1.
    One,
    /// Classifier weight with this fan-in.
    ClassifierWeight { fan_in: usize },
    /// Classifier bias with this fan-in.
    ClassifierBias { fan_in: usize },
}

/// Draws `n` initial values for a parameter of role `role` from `rng`.
pub(crate) fn draw(role: Role, n: usize, init: &InitOptions, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let normal = |rng: &mut ChaCha8Rng, std: f64| -> Vec<f64> {
        (0..n)
            .map(|_| std * rng.sample::<f64, _>(StandardNormal))
            .collect()
    };
    let uniform = |rng: &mut ChaCha8Rng, fan_in: usize| -> Vec<f64> {
        let b = 1.0 / (fan_in.max(1) as f64).sqrt();
        (0..n).map(|_| rng.random_range(-b..b)).collect()
    };
    match role {
        Role::KaimingNormal { fan_in } => normal(rng, (2.0 / fan_in.max(1) as f64).sqrt()),
        Role::Zero => vec![0.0; n],
        Role::One => vec![1.0; n],
        Role::ClassifierWeight { fan_in } => match init.linear {
            LinearInit::Normal { std } => normal(rng, std),
            LinearInit::KaimingUniform => uniform(rng, fan_in),
        },
        Role::ClassifierBias { fan_in } => match init.linear {
            LinearInit::Normal { .. } => vec![0.0; n],
            LinearInit::KaimingUniform => uniform(rng, fan_in),
        },
    }
}

/// The generator for `seed`.
pub(crate) fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_init_names() {
        assert_eq!(
            "normal:1e-3".parse::<LinearInit>().unwrap(),
            LinearInit::Normal { std: 1e-3 }
        );
        assert_eq!(
            "kaiming-uniform".parse::<LinearInit>().unwrap(),
            LinearInit::KaimingUniform
        );
        for bad in ["normal:0", "normal:-1", "normal:x", "xavier", "normal:nan"] {
            assert!(bad.parse::<LinearInit>().is_err(), "{bad}");
        }
        let d = LinearInit::default();
        assert_eq!(d.to_string().parse::<LinearInit>().unwrap(), d);
    }

    #[test]
    fn kaiming_normal_has_the_stated_variance() {
        // 200,000 draws of N(0, 2/fan_in): the sample variance has relative SE sqrt(2/n) = 0.32 %,
        // so 2 % is over 6 SE.
        let mut r = rng(3);
        let v = draw(
            Role::KaimingNormal { fan_in: 144 },
            200_000,
            &InitOptions::default(),
            &mut r,
        );
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        let want = 2.0 / 144.0;
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
        let mut r = rng(3);
        let u = draw(
            Role::ClassifierBias { fan_in: 64 },
            1000,
            &InitOptions {
                linear: LinearInit::KaimingUniform,
            },
            &mut r,
        );
        assert!(u.iter().all(|x| x.abs() < 0.125));
    }
}
