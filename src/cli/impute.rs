//! `gaussmix impute` (placeholder).

/// Arguments of `gaussmix impute`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix impute`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix impute is not implemented yet")
}
