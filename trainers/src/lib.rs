//! Trainers that produce SGD trajectories for `anodiff-core`'s analyses.
//!
//! The paper's CIFAR-style ResNets (and their `-noshort` twins), a small MLP and CNN, dataset
//! readers for the standard files (MNIST IDX, CIFAR-10 binary batches, the UCI digits CSV) and
//! vanilla-SGD loops written against candle, recording every step through
//! [`anodiff_core::trajectory`]'s store. Exact Hessian-vector products (double backpropagation)
//! plug into [`anodiff_core::lanczos`], and filter-normalized loss surfaces feed the fractal
//! tools.
//!
//! CPU is the default; CUDA sits behind the `cuda` feature, which needs nvcc to build.
//!
//! Modules: [`model`] (architectures, [`model::Network`], losses; flat parameter order),
//! [`init`] (seeded initialisation), [`params`] (flat weight and gradient vectors),
//! [`checkpoint`] (safetensors), [`data`] (datasets, minibatch schedule), [`train`] (the SGD
//! loop, resume, divergence), [`lock`] (one training process per run directory), [`record`]
//! (what is recorded), [`run`] (run directories, `run.json`, [`run::open_run`]).
//!
//! # Examples
//! ```
//! use anodiff_trainers::data::DatasetSpec;
//! use anodiff_trainers::run::{open_run, Length, TrainConfig};
//! use anodiff_trainers::train::{train, Silent};
//! let dir = tempfile::tempdir().unwrap();
//! let mut cfg = TrainConfig::new("mlp:16".parse().unwrap(), DatasetSpec::Digits);
//! cfg.batch_size = 64;
//! cfg.length = Length::Steps(5);
//! let summary = train(&cfg, &dir.path().join("run"), &mut Silent).unwrap();
//! assert_eq!(summary.record.steps_done, 5);
//! let run = open_run(&dir.path().join("run")).unwrap();
//! assert_eq!(run.checkpoints()[0].0, 0); // the initial weights
//! ```

pub mod batchnorm;
pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod error;
pub mod hvp;
pub mod init;
pub mod lock;
pub mod model;
pub mod params;
pub mod record;
pub mod run;
pub mod runtime;
mod simd;
pub mod surface;
#[cfg(test)]
mod test_util;
pub mod train;

pub use error::{Error, Result};

/// The candle version this crate is built on, for callers that build tensors or pick devices.
pub use candle_core;
pub use candle_nn;
