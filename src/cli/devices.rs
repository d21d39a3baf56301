//! `gaussmix devices`: the GPU adapters wgpu can see.

use anyhow::bail;

use gaussmix::gpu::{list_adapters, GpuContext};

/// Arguments of `gaussmix devices`.
#[derive(Debug, clap::Args)]
pub struct Args {}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Runs `gaussmix devices`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    let adapters = list_adapters();
    if adapters.is_empty() {
        bail!(
            "no GPU adapter found: install a Vulkan, Metal or DirectX 12 driver (on Linux without a GPU, Mesa's lavapipe: apt-get install mesa-vulkan-drivers), or run with --device cpu"
        );
    }
    println!(
        "{:<3} {:<40} {:<8} {:<14} {:>12} {:>10}  driver",
        "#", "name", "backend", "type", "max binding", "SHADER_F64"
    );
    for (i, a) in adapters.iter().enumerate() {
        println!(
            "{:<3} {:<40} {:<8} {:<14} {:>12} {:>10}  {}",
            i,
            a.name,
            a.backend,
            a.device_type,
            mib(a.max_storage_buffer_binding_size),
            if a.shader_f64 { "yes" } else { "no" },
            a.driver
        );
    }
    match GpuContext::new() {
        Ok(ctx) => println!("default: {}", ctx.describe()),
        Err(e) => println!("default: none usable ({e})"),
    }
    Ok(())
}
