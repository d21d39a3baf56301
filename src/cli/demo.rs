//! `gaussmix demo` (placeholder).

/// Arguments of `gaussmix demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gaussmix demo`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("gaussmix demo is not implemented yet")
}
