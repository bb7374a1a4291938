//! One module per subcommand: each parses its arguments, calls `anodiff-core` and prints.
//! No numerics live here.

pub mod analyze;
pub mod boxcount;
pub mod convert;
pub mod hessian;
pub mod lanczos;
pub mod landscape;
pub mod msd;
pub mod regime;
pub mod reproduce;
pub mod stable;
pub mod stable_fit;
pub mod surface;
pub mod surface_dim;
pub mod tails;
pub mod toy;
pub mod train;
pub mod vuong;

use std::io::Write;

/// Prints one JSON value on stdout, followed by a newline.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
