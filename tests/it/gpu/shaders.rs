//! Every WGSL shader parses and validates with naga (no GPU needed), and every file under
//! `shaders/` is one the engine compiles.

use gaussmix::gpu::kernels::{
    estep_full_source, estep_full_tile, DIMS_PRELUDE, ESTEP_FULL_TILES, SHADERS,
};

fn validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    );
    validator.validate(&module).unwrap_or_else(|e| {
        panic!(
            "{name}.wgsl does not validate:\n{}",
            e.emit_to_string(source)
        )
    });
    module
}

#[test]
fn every_full_estep_tile_variant_validates_and_fits_workgroup_limits() {
    for (tj, tl) in ESTEP_FULL_TILES {
        let source = estep_full_source(tj, tl);
        assert_ne!(
            source.contains("const TJ: u32 = 64u;"),
            tj != 64,
            "tile line replaced"
        );
        let module = validate(&format!("estep_full (TJ = {tj})"), &source);
        let entry = &module.entry_points[0];
        let [x, y, z] = entry.workgroup_size;
        assert_eq!(x * y * z, 256, "TJ = {tj}");
        // WebGPU's default limit of workgroup storage: 16384 bytes.
        let ts = 4 * 256 / (tj / 4);
        let floats = tl * ts + tl * tj + ts * (tj / 4);
        assert!(floats * 4 <= 16384, "TJ = {tj}: {} bytes", floats * 4);
    }
    assert_eq!(estep_full_tile(5), 16);
    assert_eq!(estep_full_tile(16), 16);
    assert_eq!(estep_full_tile(17), 32);
    assert_eq!(estep_full_tile(32), 32);
    assert_eq!(estep_full_tile(33), 64);
    assert_eq!(estep_full_tile(67), 64);
}

#[test]
fn every_shader_parses_and_validates() {
    for (name, source) in SHADERS {
        let module = validate(name, source);
        let entry = module
            .entry_points
            .iter()
            .find(|e| e.name == "main")
            .unwrap_or_else(|| panic!("{name}.wgsl has no entry point `main`"));
        assert_eq!(entry.stage, naga::ShaderStage::Compute, "{name}");
        let [x, y, z] = entry.workgroup_size;
        assert!(
            x * y * z <= 256,
            "{name}: workgroup of {} invocations",
            x * y * z
        );
        // WebGPU's default limit of workgroup storage: 16384 bytes.
        let workgroup_bytes: u32 = module
            .global_variables
            .iter()
            .filter(|(_, g)| g.space == naga::AddressSpace::WorkGroup)
            .map(|(_, g)| module.types[g.ty].inner.size(module.to_ctx()))
            .sum();
        assert!(
            workgroup_bytes <= 16384,
            "{name}: {workgroup_bytes} bytes of workgroup storage"
        );
    }
}

#[test]
fn every_shader_file_is_compiled_by_the_engine() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "wgsl")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    files.sort();
    // Every kernel, and the Dims prelude the EM kernels share.
    let mut listed: Vec<String> = SHADERS.iter().map(|(n, _)| n.to_string()).collect();
    listed.push("dims".into());
    listed.sort();
    assert_eq!(files, listed);
    let prelude = std::fs::read_to_string(dir.join("dims.wgsl")).unwrap();
    assert_eq!(prelude, DIMS_PRELUDE);
    for (name, source) in SHADERS {
        let on_disk = std::fs::read_to_string(dir.join(format!("{name}.wgsl"))).unwrap();
        // The EM kernels are compiled with the prelude in front; the others as they are.
        let own = source.strip_prefix(DIMS_PRELUDE).unwrap_or(source);
        assert_eq!(on_disk, own, "{name}");
        // A kernel that reads `Dims` gets it from the prelude, defined exactly once.
        if own.contains(": Dims;") {
            assert!(source.starts_with(DIMS_PRELUDE), "{name}");
            assert_eq!(source.matches("struct Dims").count(), 1, "{name}");
        }
    }
}
