//! `gaussmix predict` (placeholder).

/// Arguments of `gaussmix predict`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix predict`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix predict is not implemented yet")
}
