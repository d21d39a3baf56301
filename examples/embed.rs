//! A wgpu application that owns its device fills a buffer with data on the GPU and fits a
//! Gaussian mixture to it through gaussmix, without copying the data back to the host.
//!
//! Run: `cargo run --example embed`
//!
//! The application generates N samples of D = 4 features from three Gaussian clusters with a
//! compute shader of its own (sample i comes from cluster i mod 3). Because the data never
//! reach the host, gaussmix cannot run k-means on them; the application gives labels instead
//! (`InitMethod::Labels`), here deliberately noisy (every fourth sample labelled wrongly),
//! and EM corrects them. A warm-start model would work too.

use gaussmix::{fit, CovarianceType, Device, FitConfig, FitOptions, InitMethod, Samples};
use wgpu::util::DeviceExt;

const N: u32 = 30_000;
const D: u32 = 4;

const GENERATOR: &str = r#"
@group(0) @binding(0) var<storage, read_write> out: array<f32>;

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn uniform01(v: u32) -> f32 {
    return (f32(pcg(v) >> 8u) + 0.5) / 16777216.0;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= 30000u) {
        return;
    }
    let cluster = i % 3u;
    let scale = 0.5 + 0.5 * f32(cluster);
    for (var j = 0u; j < 4u; j += 1u) {
        // Box-Muller from two hashed uniforms.
        let u1 = uniform01(i * 8u + j * 2u);
        let u2 = uniform01(i * 8u + j * 2u + 1u);
        let z = sqrt(-2.0 * log(u1)) * cos(6.2831853 * u2);
        let centre = (f32(cluster) - 1.0) * 6.0 + 0.5 * f32(j);
        out[i * 4u + j] = centre + scale * z;
    }
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // --- the application's own wgpu setup ---
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("application device"),
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    println!("application adapter: {}", adapter.get_info().name);

    // --- the application fills a storage buffer on the GPU ---
    let data = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("application samples"),
        size: (N * D * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("generator"),
        source: wgpu::ShaderSource::Wgsl(GENERATOR.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("generator"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: data.as_entire_binding(),
        }],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(N.div_ceil(64), 1, 1);
    }
    queue.submit([encoder.finish()]);
    // (A small uniform buffer the application also owns, just to show gaussmix shares the queue.)
    let _unrelated = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("application uniforms"),
        contents: &[0u8; 16],
        usage: wgpu::BufferUsages::UNIFORM,
    });

    // --- gaussmix fits on the application's device and buffer ---
    let gpu = Device::from_wgpu(&device, &queue);
    let labels: Vec<usize> = (0..N as usize)
        .map(|i| if i % 4 == 0 { (i + 1) % 3 } else { i % 3 })
        .collect();
    let config = FitConfig::new(3)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels));
    let samples = Samples::gpu_buffer(&data, N as usize, D as usize)?;
    let model = fit(&samples, &config, FitOptions::new().on(&gpu))?;
    // The same device serves the queries (here on a few host samples: the cluster centres).
    let centres = nalgebra::DMatrix::from_fn(3, D as usize, |c, j| {
        (c as f64 - 1.0) * 6.0 + 0.5 * j as f64
    });
    println!(
        "labels of the centres on the application's device: {:?}",
        model.predict_on(&centres, &gpu)?
    );
    println!(
        "fitted on {} in {} iterations (converged: {}), mean log-likelihood {:.4}",
        model.summary().device,
        model.summary().n_iter,
        model.summary().converged,
        model.summary().lower_bound
    );
    println!("weights: {:.4?}", model.weights().as_slice());
    for c in 0..3 {
        println!(
            "mean {c}: {:.3?}",
            model.means().row(c).iter().copied().collect::<Vec<_>>()
        );
    }
    Ok(())
}
