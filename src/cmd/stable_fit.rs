//! `anodiff stable fit` (not implemented yet).

/// Arguments of `anodiff stable fit`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff stable fit` is not implemented yet")
}
