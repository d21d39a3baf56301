//! `gaussmix score` (placeholder).

/// Arguments of `gaussmix score`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix score`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix score is not implemented yet")
}
