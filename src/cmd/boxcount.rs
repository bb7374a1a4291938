//! `anodiff boxcount` (not implemented yet).

/// Arguments of `anodiff boxcount`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff boxcount` is not implemented yet")
}
