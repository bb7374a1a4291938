//! `anodiff lanczos` (not implemented yet).

/// Arguments of `anodiff lanczos`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`anodiff lanczos` is not implemented yet")
}
