//! `gaussmix sample` (placeholder).

/// Arguments of `gaussmix sample`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix sample`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix sample is not implemented yet")
}
