//! `anodiff landscape` (not implemented yet).

/// Arguments of `anodiff landscape`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff landscape` is not implemented yet")
}
