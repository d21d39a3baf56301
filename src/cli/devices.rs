//! `gaussmix devices` (placeholder).

/// Arguments of `gaussmix devices`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix devices`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix devices is not implemented yet")
}
