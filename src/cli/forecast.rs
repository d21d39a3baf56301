//! `gaussmix forecast` (placeholder).

/// Arguments of `gaussmix forecast`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix forecast`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix forecast is not implemented yet")
}
