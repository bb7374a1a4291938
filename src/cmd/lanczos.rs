//! `anodiff lanczos`: extreme eigenvalues of a dense symmetric matrix stored as `.npy`.

use anodiff_core::lanczos::{DenseOperator, Lanczos, Which};
use anyhow::Context;
use std::path::PathBuf;

const EXAMPLE: &str = "\
Example:
  anodiff lanczos hessian.npy --k 20 --which largest
prints
  {\"eigenvalues\":[..],\"residuals\":[..],\"converged\":[..],\"matvecs\":..}
with eigenvalues in order (largest first, or smallest first for --which smallest), the residual
norm ||A x - theta x|| of each (unit) Ritz vector, whether each met the tolerance
(||A x - theta x|| <= tol |theta|), and the number of matrix-vector products.

The matrix must be a square 2-D float64 or float32 .npy array with finite entries, symmetric up to
max |a_ij - a_ji| <= sym_tol * max |a_ij| (sym_tol defaults to 1e-10 for float64 files and 1e-5,
about 100 float32 roundings, for float32 files); anything else is rejected with an error.";

/// Which end of the spectrum, as typed on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum WhichArg {
    /// Algebraically largest.
    Largest,
    /// Algebraically smallest.
    Smallest,
    /// Largest absolute value.
    Magnitude,
}

/// Arguments of `anodiff lanczos`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Square symmetric matrix, a 2-D float64 or float32 .npy file.
    pub matrix: PathBuf,
    /// Number of eigenvalues.
    #[arg(long, default_value_t = 20)]
    pub k: usize,
    /// Which end of the spectrum.
    #[arg(long, value_enum, default_value_t = WhichArg::Largest)]
    pub which: WhichArg,
    /// Relative residual tolerance.
    #[arg(long, default_value_t = anodiff_core::lanczos::DEFAULT_TOL)]
    pub tol: f64,
    /// Lanczos basis size per cycle (default max(3k, k + 30), or the dimension n when that is at
    /// most twice as large).
    #[arg(long)]
    pub basis_size: Option<usize>,
    /// Budget of matrix-vector products (default max(1000, 50 * basis size)).
    #[arg(long)]
    pub max_matvecs: Option<usize>,
    /// Seed of the start vector.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Symmetry tolerance, relative to the largest entry (default 1e-10 for float64, 1e-5 for
    /// float32 files).
    #[arg(long)]
    pub sym_tol: Option<f64>,
}

#[derive(serde::Serialize)]
struct Output {
    eigenvalues: Vec<f64>,
    residuals: Vec<f64>,
    converged: Vec<bool>,
    matvecs: usize,
}

/// Reads a 2-D float64 or float32 `.npy` file; returns the row-major entries, the side length and
/// the default symmetry tolerance for its precision.
fn read_matrix(path: &PathBuf) -> anyhow::Result<(Vec<f64>, usize, f64)> {
    let file = anodiff_core::npy::NpyArray::open(path)?;
    let a = file.to_array2()?;
    let sym_tol = if file.dtype().is_f32() { 1e-5 } else { 1e-10 };
    let (entries, shape) = (a.iter().copied().collect::<Vec<f64>>(), a.dim());
    if shape.0 != shape.1 {
        anyhow::bail!(
            "{}: the matrix must be square, got {} x {}",
            path.display(),
            shape.0,
            shape.1
        );
    }
    Ok((entries, shape.0, sym_tol))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (entries, n, default_tol) = read_matrix(&args.matrix)?;
    let sym_tol = args.sym_tol.unwrap_or(default_tol);
    let op = DenseOperator::new_symmetric(n, entries, sym_tol).with_context(|| {
        format!(
            "{} (symmetry tolerance {sym_tol:.1e}, set by --sym-tol)",
            args.matrix.display()
        )
    })?;
    let which = match args.which {
        WhichArg::Largest => Which::Largest,
        WhichArg::Smallest => Which::Smallest,
        WhichArg::Magnitude => Which::LargestMagnitude,
    };
    let mut solver = Lanczos::new(args.k)?
        .with_which(which)
        .with_tol(args.tol)?
        .with_seed(args.seed);
    if let Some(m) = args.basis_size {
        solver = solver.with_basis_size(m)?;
    }
    if let Some(mv) = args.max_matvecs {
        solver = solver.with_max_matvecs(mv)?;
    }
    let res = solver.run(&op)?;
    crate::cmd::print_json(&Output {
        eigenvalues: res.eigenvalues,
        residuals: res.residuals,
        converged: res.converged,
        matvecs: res.matvecs,
    })
}
