//! Streamed fits (data read in chunks every pass): from the same initial means they equal the
//! in-memory fit to 1e-10 for every covariance type and chunking; the default initialisation
//! clusters a seeded sample of rows, the same rows as in memory (so, beyond that sample's
//! size, the default fits streamed and in memory are the same); bad files and settings are
//! clear errors.

use crate::common::cli::{assert_success, gaussmix};
use crate::common::path_str as s;
use crate::common::{assert_same_fit, draw, fit_cpu, truth};

use gaussmix::io::NpyRows;
use gaussmix::{fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, InitMethod, Samples};
use nalgebra::DMatrix;

fn written(dir: &std::path::Path, name: &str, x: &DMatrix<f64>) -> std::path::PathBuf {
    let p = dir.join(name);
    gaussmix::io::write_matrix(&p, x).unwrap();
    p
}

#[test]
fn streamed_fits_equal_in_memory_fits_from_the_same_means() {
    let (x, _) = draw(&truth(4), 5000, 21);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    let means = DMatrix::from_fn(3, 4, |c, j| (c as f64 - 1.0) * 7.0 + j as f64 * 0.1);
    for t in CovarianceType::ALL {
        let config = FitConfig::new(3)
            .covariance_type(t)
            .init(InitMethod::Means(means.clone()))
            .tol(1e-6);
        let memory = fit_cpu(&x, &config).unwrap();
        for chunk in [1000, 1723, 5000] {
            let streamed = fit(
                &Samples::streamed(NpyRows::open(&path).unwrap(), chunk).unwrap(),
                &config,
                FitOptions::new(),
            )
            .unwrap();
            assert_same_fit(
                &format!("{t}, chunks of {chunk}"),
                &streamed,
                &memory,
                1e-10,
            );
            // one pass for the initial statistics, one per iteration
            let d = &streamed.summary().device;
            assert!(
                d.contains(&format!("{} passes", memory.summary().n_iter + 1)),
                "{d}"
            );
        }
    }
}

#[test]
fn streamed_fits_start_from_given_labels_as_in_memory_fits_do() {
    let (x, truth_labels) = draw(&truth(3), 3000, 25);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    // labels that are only partly right, so that EM has work to do
    let labels: Vec<usize> = truth_labels
        .iter()
        .enumerate()
        .map(|(i, &l)| if i % 3 == 0 { (l + 1) % 3 } else { l })
        .collect();
    for t in [CovarianceType::Full, CovarianceType::Spherical] {
        let config = FitConfig::new(3)
            .covariance_type(t)
            .init(InitMethod::Labels(labels.clone()))
            .tol(1e-8);
        let memory = fit_cpu(&x, &config).unwrap();
        let streamed = fit(
            &Samples::streamed(NpyRows::open(&path).unwrap(), 777).unwrap(),
            &config,
            FitOptions::new(),
        )
        .unwrap();
        assert_same_fit(&format!("{t}, labels"), &streamed, &memory, 1e-10);
    }
}

#[test]
fn the_default_initialisation_clusters_a_seeded_sample() {
    let (x, _) = draw(&truth(3), 8000, 22);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    let config = FitConfig::new(3).seed(4);
    let run = || {
        fit(
            &Samples::streamed(NpyRows::open(&path).unwrap(), 2500).unwrap(),
            &config,
            FitOptions::new(),
        )
        .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.params(), b.params(), "seeded: the same fit twice");
    assert!(a.summary().converged);
    // a sampling pass, the initial statistics, and the iterations
    assert!(a
        .summary()
        .device
        .contains(&format!("{} passes", a.summary().n_iter + 2)));
    let memory = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new().device(DeviceChoice::Cpu),
    )
    .unwrap();
    let (la, lm) = (a.summary().lower_bound, memory.summary().lower_bound);
    assert!(
        (la - lm).abs() < 1e-3 * lm.abs(),
        "{la} vs {lm}: the same three clusters"
    );
}

/// Beyond `max(20 000, 1 000·K)` rows, k-means clusters a seeded sample of row numbers drawn
/// from N alone: a streamed default fit gathers the same rows as an in-memory one, gets the
/// same initial means, and so the same model.
#[test]
fn beyond_the_sample_size_the_default_fit_streamed_equals_the_one_in_memory() {
    let (x, _) = draw(&truth(3), 26_000, 24);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    for ct in [CovarianceType::Full, CovarianceType::Diag] {
        let config = FitConfig::new(3).seed(7).covariance_type(ct);
        let streamed = fit(
            &Samples::streamed(NpyRows::open(&path).unwrap(), 3000).unwrap(),
            &config,
            FitOptions::new().device(DeviceChoice::Cpu),
        )
        .unwrap();
        let memory = fit(
            &Samples::new(&x).unwrap(),
            &config,
            FitOptions::new().device(DeviceChoice::Cpu),
        )
        .unwrap();
        assert_same_fit(
            &format!("{ct:?} streamed vs in memory"),
            &streamed,
            &memory,
            1e-10,
        );
    }
}

#[test]
fn streamed_fits_refuse_what_they_cannot_do_clearly() {
    let (mut x, _) = draw(&truth(2), 3000, 23);
    let dir = tempfile::tempdir().unwrap();
    x[(2100, 1)] = f64::NAN;
    let nan = written(dir.path(), "nan.npy", &x);
    let e = fit(
        &Samples::streamed(NpyRows::open(&nan).unwrap(), 512).unwrap(),
        &FitConfig::new(2),
        FitOptions::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("nan.npy") && e.contains("row 2100, column 1"),
        "{e}"
    );
    // a Fortran-order file streams too: the same rows as numpy's C order
    let fortran = dir.path().join("f.npy");
    {
        use std::io::Write;
        let header = "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 2), }";
        let mut h = header.to_string();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut f = std::fs::File::create(&fortran).unwrap();
        f.write_all(b"\x93NUMPY\x01\x00").unwrap();
        f.write_all(&(h.len() as u16).to_le_bytes()).unwrap();
        f.write_all(h.as_bytes()).unwrap();
        for v in 0..8 {
            f.write_all(&(v as f64).to_le_bytes()).unwrap();
        }
    }
    use gaussmix::RowSource;
    let mut rows = NpyRows::open(&fortran).unwrap();
    let in_memory = gaussmix::io::read_matrix(&fortran, gaussmix::io::Missing::Reject).unwrap();
    assert_eq!(
        rows.read_columns(1, 3).unwrap(),
        in_memory.rows(1, 3).transpose()
    );
    let out_model = dir.path().join("m.npz");
    let json = dir.path().join("x.json");
    std::fs::write(&json, "[]").unwrap();
    let out = gaussmix(&["fit", s(&json), "-k", "2", "--stream", "-o", s(&out_model)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("delimited text"),
        "{stderr}"
    );
    assert!(!out_model.exists());
}

#[test]
fn the_command_line_streams_when_asked_or_over_the_memory_budget() {
    let (x, _) = draw(&truth(3), 6000, 24);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    let means = written(
        dir.path(),
        "means.npy",
        &DMatrix::from_fn(3, 3, |c, j| (c as f64 - 1.0) * 8.0 + j as f64),
    );
    let (a, b, c) = (
        dir.path().join("a.npz"),
        dir.path().join("b.npz"),
        dir.path().join("c.npz"),
    );
    assert_success(&gaussmix(&[
        "fit",
        s(&path),
        "-k",
        "3",
        "--means-init",
        s(&means),
        "--device",
        "cpu",
        "-q",
        "-o",
        s(&a),
    ]));
    assert_success(&gaussmix(&[
        "fit",
        s(&path),
        "-k",
        "3",
        "--means-init",
        s(&means),
        "--stream",
        "--chunk-rows",
        "1000",
        "-q",
        "-o",
        s(&b),
    ]));
    let out = gaussmix(&[
        "fit",
        s(&path),
        "-k",
        "3",
        "--means-init",
        s(&means),
        "--max-memory",
        "100000",
        "-o",
        s(&c),
    ]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("streaming it in chunks"), "{stderr}");
    let load = |p: &std::path::Path| gaussmix::io::load_model(p).unwrap();
    assert_same_fit("--stream", &load(&b), &load(&a), 1e-10);
    assert_same_fit("--max-memory", &load(&c), &load(&a), 1e-10);
}

#[test]
fn a_csv_file_streams_line_by_line() {
    let (x, _) = draw(&truth(3), 2500, 25);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("x.csv");
    crate::common::write_csv(&csv, &x);
    let means = DMatrix::from_fn(3, 3, |c, j| (c as f64 - 1.0) * 8.0 + j as f64);
    let config = FitConfig::new(3).init(InitMethod::Means(means)).tol(1e-6);
    // the CSV's values are what the in-memory reader reads
    let read = gaussmix::io::read_matrix(&csv, gaussmix::io::Missing::Reject).unwrap();
    let memory = fit_cpu(&read, &config).unwrap();
    let streamed = fit(
        &Samples::streamed(gaussmix::io::CsvRows::open(&csv).unwrap(), 600).unwrap(),
        &config,
        FitOptions::new(),
    )
    .unwrap();
    assert_same_fit("csv", &streamed, &memory, 1e-10);
    // a missing value names the line and column (a header line counts)
    let mut text = String::from("a,b,c\n");
    text.push_str(&std::fs::read_to_string(&csv).unwrap());
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1500] = "1.0,,2.0".into();
    let holes = dir.path().join("holes.csv");
    std::fs::write(&holes, lines.join("\n") + "\n").unwrap();
    let e = gaussmix::io::CsvRows::open(&holes)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("holes.csv") && e.contains("line 1501, column 2"),
        "{e}"
    );
    // the command line streams a CSV on request
    let model = dir.path().join("m.npz");
    let out = gaussmix(&[
        "fit",
        s(&csv),
        "-k",
        "3",
        "--stream",
        "--chunk-rows",
        "700",
        "-q",
        "-o",
        s(&model),
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("streamed from") && stdout.contains("x.csv"),
        "{stdout}"
    );
    assert!(model.exists());
}

#[test]
fn a_file_that_changes_while_it_is_streamed_is_an_error() {
    use gaussmix::RowSource;
    let (x, _) = draw(&truth(3), 400, 24);
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), "x.npy", &x);
    let mut rows = NpyRows::open(&path).unwrap();
    // a recycled chunk's memory is reused, and the rows read are still the file's
    let first = rows.read_columns(0, 100).unwrap();
    rows.recycle(first.clone());
    assert_eq!(
        rows.read_columns(100, 100).unwrap(),
        x.rows(100, 100).transpose()
    );
    assert_eq!(first, x.rows(0, 100).transpose());
    // cut short under the reader (a writer still at work, a disk that filled up)
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(2000).unwrap();
    let e = rows.read_columns(200, 100).unwrap_err().to_string();
    assert!(
        e.contains("x.npy") && e.contains("changed while it was being read"),
        "{e}"
    );
    // a text file rewritten between passes
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "1,2\n3,4\n5,6\n7,8\n").unwrap();
    let mut rows = gaussmix::io::CsvRows::open(&csv).unwrap();
    assert_eq!(rows.read_columns(0, 4).unwrap()[(1, 3)], 8.0);
    std::fs::write(&csv, "1,2\n3,4\n5,6\n7,8\n9,10\n").unwrap();
    let e = rows.read_columns(0, 4).unwrap_err().to_string();
    assert!(
        e.contains("x.csv") && e.contains("changed while it was being read"),
        "{e}"
    );
}
