//! The `gaussmix` binary end to end: a fit → score → predict → sample → info round trip, and
//! the bad inputs of every command, each of which must end with a non-zero exit, one clear
//! `error:` line on stderr, no panic, and no output file.

use crate::common::cli::{assert_clean_failure, gaussmix, Dir};
use crate::common::{cli_data as data, path_str as s, write_csv};

use std::path::Path;

use nalgebra::DMatrix;

/// A `.npy` file written by hand: `descr` such as `<f8`, the shape, and the raw payload.
fn raw_npy(path: &Path, descr: &str, shape: &[usize], payload: &[u8]) {
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).unwrap();
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn fit_score_predict_sample_info_round_trip() {
    let d = Dir::new();
    let x = data();
    write_csv(&d.p("x.csv"), &x);
    let model = d.p("m.npz");
    for cov in ["full", "diag", "spherical", "tied"] {
        let out = gaussmix(&[
            "fit",
            s(&d.p("x.csv")),
            "-k",
            "3",
            "--covariance",
            cov,
            "--device",
            "cpu",
            "--seed",
            "3",
            "-o",
            s(&model),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("converged"), "{stdout}");
        // The CLI's score equals the library's score of the saved model.
        let m = gaussmix::io::load_model(&model).unwrap();
        assert_eq!(m.covariance_type().as_str(), cov);
        let expected = m.score(&x).unwrap();
        let out = gaussmix(&[
            "score",
            s(&model),
            s(&d.p("x.csv")),
            "--per-sample",
            s(&d.p("ll.npy")),
        ]);
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let printed: f64 = stdout.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!((printed - expected).abs() < 1e-8, "{printed} vs {expected}");
        let ll = gaussmix::io::read_matrix(&d.p("ll.npy"), gaussmix::io::Missing::Reject).unwrap();
        assert_eq!(ll.nrows(), x.nrows());
        assert!((ll.mean() - expected).abs() < 1e-12);
    }
    let out = gaussmix(&[
        "predict",
        s(&model),
        s(&d.p("x.csv")),
        "-o",
        s(&d.p("labels.csv")),
    ]);
    assert!(out.status.success());
    let labels = gaussmix::io::read_labels(&d.p("labels.csv")).unwrap();
    assert_eq!(labels.len(), x.nrows());
    let out = gaussmix(&[
        "predict",
        s(&model),
        s(&d.p("x.csv")),
        "--proba",
        "-o",
        s(&d.p("p.npy")),
    ]);
    assert!(out.status.success());
    let p = gaussmix::io::read_matrix(&d.p("p.npy"), gaussmix::io::Missing::Reject).unwrap();
    assert_eq!(p.shape(), (x.nrows(), 3));
    for r in p.row_iter() {
        assert!((r.sum() - 1.0).abs() < 1e-12);
    }
    let out = gaussmix(&[
        "sample",
        s(&model),
        "-n",
        "50",
        "--seed",
        "1",
        "-o",
        s(&d.p("s.npy")),
        "--labels",
        s(&d.p("sl.npy")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let smp = gaussmix::io::read_matrix(&d.p("s.npy"), gaussmix::io::Missing::Reject).unwrap();
    assert_eq!(smp.shape(), (50, 3));
    let out = gaussmix(&["info", s(&model)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("tied"));
    // No temporary files are left behind.
    assert!(
        d.files().iter().all(|f| !f.starts_with(".gaussmix-")),
        "{:?}",
        d.files()
    );
}

#[test]
fn warm_start_and_user_initialisation() {
    let d = Dir::new();
    let x = data();
    write_csv(&d.p("x.csv"), &x);
    let (_, labels) = crate::common::draw(&crate::common::truth(3), 600, 7);
    std::fs::write(
        d.p("l.csv"),
        labels.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let t = crate::common::truth(3);
    write_csv(&d.p("mu.csv"), &t.means);
    for init in [["--labels-init", "l.csv"], ["--means-init", "mu.csv"]] {
        let out = gaussmix(&[
            "fit",
            s(&d.p("x.csv")),
            "-k",
            "3",
            init[0],
            s(&d.p(init[1])),
            "--device",
            "cpu",
            "-o",
            s(&d.p("m.npz")),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let first = gaussmix::io::load_model(&d.p("m.npz")).unwrap();
    let out = gaussmix(&[
        "fit",
        s(&d.p("x.csv")),
        "-k",
        "3",
        "--warm-start",
        s(&d.p("m.npz")),
        "--device",
        "cpu",
        "-o",
        s(&d.p("m2.npz")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = gaussmix::io::load_model(&d.p("m2.npz")).unwrap();
    // Continuing from a converged fit stays (within tol) at its lower bound.
    assert!(second.summary().lower_bound >= first.summary().lower_bound - 1e-3);
    assert!(second.summary().n_iter <= 2, "{}", second.summary().n_iter);
}

#[test]
fn bad_data_files_fail_cleanly() {
    let d = Dir::new();
    let model_out = d.p("out.npz");
    let fit = |data: &Path, needle: &str| {
        assert_clean_failure(
            &[
                "fit",
                s(data),
                "-k",
                "2",
                "--device",
                "cpu",
                "-o",
                s(&model_out),
            ],
            &[needle],
        )
    };
    fit(&d.p("missing.csv"), "not found");
    std::fs::write(d.p("x.parquet"), b"PAR1").unwrap();
    fit(&d.p("x.parquet"), "unknown data format");
    std::fs::write(d.p("empty.csv"), b"").unwrap();
    fit(&d.p("empty.csv"), "no data");
    std::fs::write(d.p("header.csv"), b"a,b,c\n").unwrap();
    fit(&d.p("header.csv"), "no data");
    std::fs::write(d.p("one.csv"), b"1,2\n").unwrap();
    fit(&d.p("one.csv"), "one sample");
    std::fs::write(d.p("nan.csv"), b"1,2\n3,nan\n5,6\n").unwrap();
    fit(&d.p("nan.csv"), "row 1, column 1");
    std::fs::write(d.p("inf.csv"), b"1,2\n3,4\n5,-inf\n").unwrap();
    fit(&d.p("inf.csv"), "row 2, column 1");
    std::fs::write(d.p("ragged.csv"), b"1,2\n3,4,5\n").unwrap();
    fit(&d.p("ragged.csv"), "line 2 has 3 fields");
    std::fs::write(d.p("text.csv"), b"1,2\n3,four\n").unwrap();
    fit(&d.p("text.csv"), "line 2, column 2");
    std::fs::write(d.p("binary.csv"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    fit(&d.p("binary.csv"), "not a text file");
    raw_npy(&d.p("int.npy"), "<i8", &[2, 2], &[0u8; 32]);
    fit(&d.p("int.npy"), "integer");
    raw_npy(&d.p("cube.npy"), "<f8", &[2, 2, 2], &f64_bytes(&[0.0; 8]));
    fit(&d.p("cube.npy"), "3-D");
    raw_npy(&d.p("complex.npy"), "<c16", &[2, 1], &[0u8; 32]);
    fit(&d.p("complex.npy"), "complex");
    raw_npy(&d.p("short.npy"), "<f8", &[4, 4], &f64_bytes(&[1.0; 10]));
    fit(&d.p("short.npy"), "truncated");
    std::fs::write(d.p("garbage.npy"), b"this is not numpy").unwrap();
    fit(&d.p("garbage.npy"), "not a valid .npy");
    raw_npy(
        &d.p("nan.npy"),
        "<f8",
        &[2, 2],
        &f64_bytes(&[1.0, 2.0, f64::NAN, 4.0]),
    );
    fit(&d.p("nan.npy"), "row 1, column 0");
    std::fs::create_dir(d.p("imgs")).unwrap();
    fit(&d.p("imgs"), "no image files");
    std::fs::write(d.p("imgs/a.png"), b"not a png").unwrap();
    fit(&d.p("imgs"), "cannot read as an image");
    assert!(!model_out.exists());
}

#[test]
fn big_endian_and_fortran_npy_read_correctly() {
    let d = Dir::new();
    // shape (3, 2) in Fortran order, big-endian: columns (1,2,3) and (4,5,6).
    let mut header = "{'descr': '>f8', 'fortran_order': True, 'shape': (3, 2), }".to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    std::fs::write(d.p("x.npy"), bytes).unwrap();
    let x = gaussmix::io::read_matrix(&d.p("x.npy"), gaussmix::io::Missing::Reject).unwrap();
    assert_eq!(x, DMatrix::from_row_slice(3, 2, &[1., 4., 2., 5., 3., 6.]));
    raw_npy(&d.p("f4.npy"), "<f4", &[2], &[0, 0, 128, 63, 0, 0, 0, 64]);
    let x = gaussmix::io::read_matrix(&d.p("f4.npy"), gaussmix::io::Missing::Reject).unwrap();
    assert_eq!(x, DMatrix::from_row_slice(2, 1, &[1.0, 2.0]));
}

#[test]
fn bad_arguments_fail_cleanly() {
    let d = Dir::new();
    write_csv(&d.p("x.csv"), &data());
    let x = s(&d.p("x.csv")).to_string();
    let out = s(&d.p("m.npz")).to_string();
    let fit = |extra: &[&str], needle: &str| {
        let mut a = vec!["fit", x.as_str(), "--device", "cpu", "-o", out.as_str()];
        a.extend_from_slice(extra);
        assert_clean_failure(&a, &[needle]);
    };
    fit(&["-k", "0"], "at least 1 component");
    fit(&["-k", "601"], "only 600 samples");
    fit(&["-k", "2", "--reg-covar", "-1"], "--reg-covar");
    fit(&["-k", "2", "--tol", "-0.1"], "tol");
    fit(&["-k", "2", "--tol", "NaN"], "tol");
    fit(&["-k", "2", "--n-init", "0"], "--n-init");
    std::fs::write(d.p("l.csv"), "0\n1\n").unwrap();
    fit(
        &["-k", "2", "--labels-init", s(&d.p("l.csv"))],
        "one label per sample",
    );
    assert_clean_failure(
        &[
            "fit",
            &x,
            "-k",
            "2",
            "--device",
            "cpu",
            "-o",
            s(&d.p("m.txt")),
        ],
        &[".npz"],
    );
    assert_clean_failure(
        &[
            "fit",
            &x,
            "-k",
            "2",
            "--device",
            "cpu",
            "-o",
            s(&d.p("no/such/dir/m.npz")),
        ],
        &["does not exist"],
    );
    assert!(!d.p("m.npz").exists());
}

/// Writes an `.npz` from named raw `.npy` payloads.
fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in arrays {
        zip.start_file(
            format!("{name}.npy"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn npy_bytes(descr: &str, shape: &[usize], payload: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    raw_npy(&p, descr, shape, payload);
    std::fs::read(p).unwrap()
}

fn text_npy(t: &str) -> Vec<u8> {
    let payload: Vec<u8> = t.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    npy_bytes(&format!("<U{}", t.len()), &[], &payload)
}

#[test]
fn bad_model_files_fail_cleanly() {
    let d = Dir::new();
    write_csv(&d.p("x.csv"), &data());
    let x = s(&d.p("x.csv")).to_string();
    let score =
        |model: &Path, needle: &str| assert_clean_failure(&["score", s(model), &x], &[needle]);
    score(&d.p("nope.npz"), "not found");
    std::fs::write(d.p("junk.npz"), b"garbage, not a zip").unwrap();
    score(&d.p("junk.npz"), "not a valid .npz");
    // A real model, truncated.
    let ok = gaussmix(&[
        "fit",
        &x,
        "-k",
        "2",
        "--device",
        "cpu",
        "-o",
        s(&d.p("ok.npz")),
    ]);
    assert!(ok.status.success());
    let bytes = std::fs::read(d.p("ok.npz")).unwrap();
    std::fs::write(d.p("cut.npz"), &bytes[..bytes.len() / 2]).unwrap();
    score(&d.p("cut.npz"), "npz");
    // Dimension mismatch: a model fitted on 2 of the 3 columns.
    let two = data().columns(0, 2).into_owned();
    write_csv(&d.p("x2.csv"), &two);
    let ok = gaussmix(&[
        "fit",
        s(&d.p("x2.csv")),
        "-k",
        "2",
        "--device",
        "cpu",
        "-o",
        s(&d.p("two.npz")),
    ]);
    assert!(ok.status.success());
    score(&d.p("two.npz"), "3 columns but the model was fitted on 2");
    // Hand-made archives in scikit-learn's layout, each wrong in one way.
    let w = npy_bytes("<f8", &[2], &f64_bytes(&[0.5, 0.5]));
    let mu = npy_bytes("<f8", &[2, 3], &f64_bytes(&[0.0; 6]));
    let eye: Vec<f64> = (0..2)
        .flat_map(|_| [1.0, 0., 0., 0., 1., 0., 0., 0., 1.])
        .collect();
    let cov = npy_bytes("<f8", &[2, 3, 3], &f64_bytes(&eye));
    let ct = text_npy("full");
    write_npz(
        &d.p("nomeans.npz"),
        &[
            ("weights_", w.clone()),
            ("covariances_", cov.clone()),
            ("covariance_type", ct.clone()),
        ],
    );
    score(&d.p("nomeans.npz"), "means_");
    write_npz(
        &d.p("shape.npz"),
        &[
            ("weights_", w.clone()),
            ("means_", mu.clone()),
            (
                "covariances_",
                npy_bytes("<f8", &[2, 3], &f64_bytes(&[1.0; 6])),
            ),
            ("covariance_type", ct.clone()),
        ],
    );
    score(&d.p("shape.npz"), "expected [2, 3, 3]");
    write_npz(
        &d.p("extra.npz"),
        &[
            ("weights_", w.clone()),
            ("means_", mu.clone()),
            ("covariances_", cov.clone()),
            ("covariance_type", ct.clone()),
            ("bogus", w.clone()),
        ],
    );
    score(&d.p("extra.npz"), "unexpected array 'bogus'");
    let w_bad = npy_bytes("<f8", &[2], &f64_bytes(&[0.5, 0.7]));
    write_npz(
        &d.p("weights.npz"),
        &[
            ("weights_", w_bad),
            ("means_", mu.clone()),
            ("covariances_", cov.clone()),
            ("covariance_type", ct.clone()),
        ],
    );
    score(&d.p("weights.npz"), "sum to");
    let mut not_pd = eye.clone();
    not_pd[9 + 4] = -1.0;
    write_npz(
        &d.p("notpd.npz"),
        &[
            ("weights_", w.clone()),
            ("means_", mu.clone()),
            (
                "covariances_",
                npy_bytes("<f8", &[2, 3, 3], &f64_bytes(&not_pd)),
            ),
            ("covariance_type", ct.clone()),
        ],
    );
    score(&d.p("notpd.npz"), "component 1");
    write_npz(
        &d.p("type.npz"),
        &[
            ("weights_", w.clone()),
            ("means_", mu.clone()),
            ("covariances_", cov.clone()),
            ("covariance_type", text_npy("banana")),
        ],
    );
    score(&d.p("type.npz"), "banana");
    // The well-formed version of the same file loads and scores.
    write_npz(
        &d.p("good.npz"),
        &[
            ("weights_", w),
            ("means_", mu),
            ("covariances_", cov),
            ("covariance_type", ct),
        ],
    );
    assert!(gaussmix(&["score", s(&d.p("good.npz")), &x])
        .status
        .success());
}

#[test]
fn demo_writes_a_model_and_a_picture() {
    let d = Dir::new();
    let out = d.p("demo");
    let run = gaussmix(&["demo", "--out", s(&out), "--max-k", "3", "--device", "cpu"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("chosen by BIC"), "{stdout}");
    let model = gaussmix::io::load_model(&out.join("laser_model.npz")).unwrap();
    assert!((1..=3).contains(&model.n_components()));
    let png = image::open(out.join("laser_mixture.png")).unwrap();
    assert_eq!((png.width(), png.height()), (900, 800));
}

#[test]
fn export_expands_a_low_rank_model_to_the_dense_layout() {
    let d = Dir::new();
    // N = 30 < D = 40: `fit` takes the exact low-rank path.
    let x = DMatrix::from_fn(30, 40, |i, j| {
        ((i * 7 + j * 13) % 17) as f64 * 0.1 + (i % 3) as f64 * 2.0 + ((i * j) % 5) as f64 * 0.01
    });
    write_csv(&d.p("x.csv"), &x);
    let (xs, lr_path, dense_path) = (d.p("x.csv"), d.p("lr.npz"), d.p("dense.npz"));
    let out = gaussmix(&[
        "fit",
        s(&xs),
        "-k",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "-o",
        s(&lr_path),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lr = gaussmix::io::load_model(&lr_path).unwrap();
    assert!(matches!(
        lr.covariances(),
        gaussmix::Covariances::LowRank(_)
    ));
    // Not enough memory allowed, or a wrong output name: one clear line, nothing written.
    assert_clean_failure(
        &[
            "export",
            s(&lr_path),
            "-o",
            s(&dense_path),
            "--max-gb",
            "1e-9",
        ],
        &["GB"],
    );
    assert_clean_failure(
        &["export", s(&lr_path), "-o", s(&d.p("dense.csv"))],
        &["npz"],
    );
    assert_clean_failure(
        &[
            "export",
            s(&lr_path),
            "-o",
            s(&dense_path),
            "--max-gb",
            "-1",
        ],
        &["max-gb"],
    );
    assert_eq!(d.files(), ["lr.npz", "x.csv"]);
    let out = gaussmix(&["export", s(&lr_path), "-o", s(&dense_path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dense = gaussmix::io::load_model(&dense_path).unwrap();
    let gaussmix::Covariances::Full(covs) = dense.covariances() else {
        panic!("the export is not dense full covariances")
    };
    assert_eq!((covs.len(), covs[0].shape()), (2, (40, 40)));
    assert_eq!(
        dense.summary().lower_bound_history,
        lr.summary().lower_bound_history
    );
    let (a, b) = (
        lr.score_samples(&x).unwrap(),
        dense.score_samples(&x).unwrap(),
    );
    for (u, v) in a.iter().zip(b.iter()) {
        assert!((u - v).abs() <= 1e-8 * u.abs().max(1.0), "{u} vs {v}");
    }
    // A dense model is written unchanged.
    let again = d.p("again.npz");
    let out = gaussmix(&["export", s(&dense_path), "-o", s(&again)]);
    assert!(out.status.success());
    assert_eq!(gaussmix::io::load_model(&again).unwrap(), dense);
}

/// A default `gaussmix fit` (device `auto`, which probes the GPU) on a headless machine prints
/// nothing that is not gaussmix's own: no Mesa `XDG_RUNTIME_DIR` line (which EGL printed when
/// the OpenGL backend was probed), no driver chatter. On CI lavapipe is installed, so the probe
/// really opens a Vulkan driver.
#[test]
fn a_default_fit_on_a_headless_machine_prints_no_driver_noise() {
    let dir = Dir::new();
    let csv = dir.p("x.csv");
    write_csv(&csv, &data());
    let model = dir.p("m.npz");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gaussmix"));
    c.args(["fit", s(&csv), "-k", "3", "-o", s(&model), "--quiet"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env_remove("WGPU_BACKEND")
        .env("CI", "");
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with("note: "),
            "a line that is not gaussmix's own: {line:?}\n(all of stderr: {stderr})"
        );
    }
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}
