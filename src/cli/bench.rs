//! `gaussmix bench` (placeholder).

/// Arguments of `gaussmix bench`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix bench`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix bench is not implemented yet")
}
