//! `anodiff toy` (not implemented yet).

/// Arguments of `anodiff toy`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff toy` is not implemented yet")
}
