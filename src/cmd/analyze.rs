//! `anodiff analyze` (not implemented yet).

/// Arguments of `anodiff analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff analyze` is not implemented yet")
}
