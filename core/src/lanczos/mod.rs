//! Hessian spectra through any matrix-free symmetric operator.
//!
//! - [`LinearOperator`]: `dim` and a fallible `apply(v, out)`, implemented by dense matrices
//!   ([`DenseOperator`]), diagonals, closures ([`FnOperator`]), planted test spectra
//!   ([`PlantedOperator`]) and, in the trainers crate, Hessian-vector products of networks;
//! - [`Lanczos`]: top-k or bottom-k eigenpairs by thick-restart Lanczos with full
//!   reorthogonalisation, residual norms, converged flags and the count of operator applications;
//! - [`PowerIteration`]: the deflated power method of PyHessian, as a baseline;
//! - [`Slq`]: spectral density by stochastic Lanczos quadrature;
//! - [`Hutchinson`] and [`HutchPlusPlus`]: trace estimates with confidence intervals.
//!
//! All arithmetic is in f64. The eigensolvers need a **fixed** symmetric operator: one batch or
//! the full dataset for the whole solve, never a fresh minibatch per product.

mod krylov;
mod operator;
mod planted;
mod power;
mod slq;
mod thick_restart;
mod trace;

pub use operator::{DenseOperator, DiagonalOperator, FnOperator, LinearOperator, SymmetryCheck};
pub use planted::{cifar_like_spectrum, marchenko_pastur_quantiles, PlantedOperator};
pub use power::PowerIteration;
pub use slq::{Slq, SpectralDensity};
pub use thick_restart::{residual_norms, EigenResult, Lanczos, Termination, Which, DEFAULT_TOL};
pub use trace::{HutchPlusPlus, Hutchinson, TraceEstimate};
