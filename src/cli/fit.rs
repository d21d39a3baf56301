//! `gaussmix fit` (placeholder).

/// Arguments of `gaussmix fit`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix fit`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix fit is not implemented yet")
}
