//! `anodiff surface_dim` (not implemented yet).

/// Arguments of `anodiff surface_dim`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff surface_dim` is not implemented yet")
}
