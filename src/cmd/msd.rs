//! `anodiff msd` (not implemented yet).

/// Arguments of `anodiff msd`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff msd` is not implemented yet")
}
