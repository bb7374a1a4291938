//! `anodiff tails` (not implemented yet).

/// Arguments of `anodiff tails`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff tails` is not implemented yet")
}
