//! `gaussmix faces` (placeholder).

/// Arguments of `gaussmix faces`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix faces`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix faces is not implemented yet")
}
