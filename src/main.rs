//! `anodiff`: the command line of the anodiff workspace.
//!
//! Every command prints one JSON object on stdout (or writes files), progress and errors go to
//! stderr, and any failure exits non-zero with a message naming the problem.

mod cmd;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Anomalous diffusion statistics of SGD: alpha-stable fits, MSD exponents, fractal geometry.
#[derive(Parser, Debug)]
#[command(name = "anodiff", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Alpha-stable distributions: pdf, cdf, sf, quantile, sampling and fitting.
    Stable(cmd::stable::Args),
    /// Vuong likelihood-ratio test: stable law against a normal, Student-t or Laplace fit.
    Vuong(cmd::vuong::Args),
    /// Heavy-tail diagnostics (Hill estimator).
    Tails(cmd::tails::Args),
    /// Mean squared displacement of a trajectory, per window, with exponents and crossovers.
    Msd(cmd::msd::Args),
    /// The step at which the MSD exponent of sliding windows changes, with intervals and a test.
    Regime(cmd::regime::Args),
    /// Every trajectory analysis on each window, written as JSON and CSV.
    Analyze(cmd::analyze::Args),
    /// Box-counting dimension of a 2-D set or a point cloud.
    Boxcount(cmd::boxcount::Args),
    /// Fractal dimension of a surface z = f(x, y) stored as a 2-D .npy array.
    SurfaceDim(cmd::surface_dim::Args),
    /// Landscape generators (diamond-square, fBm, spectral, paraboloid, cone, shuffled).
    Landscape(cmd::landscape::Args),
    /// The simplified 2-D SGD model of the paper (eq. 6, Fig. 8).
    Toy(cmd::toy::Args),
    /// Extreme eigenvalues of a dense symmetric matrix by Lanczos.
    Lanczos(cmd::lanczos::Args),
    /// Top-k Hessian eigenvalues of a trained network at checkpoints (exact double backprop).
    Hessian(cmd::hessian::Args),
    /// Filter-normalized 2-D loss surface around a checkpoint (Li et al. 2018), as .npy.
    Surface(cmd::surface::Args),
    /// The paper's experiments in one command, with a summary of every fitted number.
    Reproduce(cmd::reproduce::Args),
    /// Train a network with vanilla SGD and record its trajectory (weights, losses, gradients).
    Train(cmd::train::Args),
    /// Convert a trajectory (store, .npy) to a Zarr v3 group for Dask, xarray and zarr-python.
    Convert(cmd::convert::Args),
}

fn main() -> ExitCode {
    // First, while the process has one thread (see the function's docs).
    anodiff_trainers::runtime::tune_cpu_runtime();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stable(a) => cmd::stable::run(a),
        Command::Vuong(a) => cmd::vuong::run(a),
        Command::Tails(a) => cmd::tails::run(a),
        Command::Msd(a) => cmd::msd::run(a),
        Command::Regime(a) => cmd::regime::run(a),
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Boxcount(a) => cmd::boxcount::run(a),
        Command::SurfaceDim(a) => cmd::surface_dim::run(a),
        Command::Landscape(a) => cmd::landscape::run(a),
        Command::Toy(a) => cmd::toy::run(a),
        Command::Lanczos(a) => cmd::lanczos::run(a),
        Command::Hessian(a) => cmd::hessian::run(a),
        Command::Surface(a) => cmd::surface::run(a),
        Command::Reproduce(a) => cmd::reproduce::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Convert(a) => cmd::convert::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
