//! # anodiff-core
//!
//! Statistics and geometry for studying how stochastic gradient descent moves through a loss
//! landscape, after Chen, Qu & Gong, "Anomalous diffusion dynamics of learning in deep neural
//! networks" (2021). Everything here is plain Rust with no deep-learning framework:
//!
//! - [`stable`]: alpha-stable distributions (pdf, cdf, survival function, quantile, sampling) and
//!   [`fit`]: their estimation (quantile, characteristic-function and maximum-likelihood fits);
//! - [`vuong`]: likelihood-ratio tests between non-nested models; [`compare`]: a stable fit
//!   against an alternative model, decided at a stated level; [`tails`]: Hill estimator;
//! - [`io`]: samples from text, `.npy` files and standard input; [`npy`]: the `.npy` format
//!   (header, memory-mapped reader, writers);
//! - [`trajectory`]: the [`trajectory::TrajectorySource`] trait, in-memory, `.npy` and on-disk
//!   stores; [`msd`], [`exponent`], [`pathstats`]: diffusion analyses of trajectories, composed
//!   per window by [`analysis`];
//! - [`verdict`]: claims decided by tests at a stated level (reproduced, contradicted,
//!   inconclusive), replicates pooled across seeds;
//! - [`fractal`], [`landscape`], [`toy`]: fractal dimensions, landscape generators and the 2-D
//!   SGD model; [`lanczos`]: Hessian spectra through any matrix-free operator.
//!
//! Statistics are computed and accumulated in f64 even where the data are f32.

#![warn(missing_docs)]

pub mod analysis;
pub mod compare;
pub mod error;
pub mod exponent;
pub mod fit;
pub mod fractal;
pub mod io;
pub mod lanczos;
pub mod landscape;
pub mod msd;
pub mod npy;
pub mod pathstats;
pub mod prec;
pub mod regime;
pub mod regress;
pub mod stable;
pub mod tails;
pub mod toy;
pub mod trajectory;
pub mod verdict;
pub mod vuong;

pub use error::{Error, Result};
