//! `gaussmix info` (placeholder).

/// Arguments of `gaussmix info`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix info`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix info is not implemented yet")
}
