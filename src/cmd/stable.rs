//! `anodiff stable` (not implemented yet).

/// Arguments of `anodiff stable`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff stable` is not implemented yet")
}
