//! `anodiff vuong` (not implemented yet).

/// Arguments of `anodiff vuong`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff vuong` is not implemented yet")
}
