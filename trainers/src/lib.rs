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

pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod error;
pub mod init;
pub mod model;
pub mod params;
pub mod record;
pub mod run;
pub mod train;

pub use error::{Error, Result};

/// The candle version this crate is built on, for callers that build tensors or pick devices.
pub use candle_core;
pub use candle_nn;
