//! Hostile input for the commands `tests/cli.rs` does not cover (`sample`, `info`, `impute`,
//! `forecast`, `faces`) and the `fit` options it leaves out (user initialisation, warm start,
//! device selection). Every bad input must end with exit status 1, exactly one `error:` line on
//! stderr naming the problem, no panic, no output file (partial or whole), and quickly.

use crate::common::cli::{
    assert_clean_failure, assert_clean_failure_env, assert_success, gaussmix, gaussmix_env, Dir,
};
use crate::common::{cli_data as data, path_str as s, write_csv};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nalgebra::DMatrix;

/// Runs `check` and asserts it left the directory exactly as it found it.
#[track_caller]
fn unchanged(d: &Dir, check: impl FnOnce()) {
    let before = d.tree();
    check();
    assert_eq!(d.tree(), before, "files were left behind");
}

/// A 3-component full model of the 3-D test data, at `d/m.npz` (and the data at `d/x.csv`).
fn fitted_model(d: &Dir) -> PathBuf {
    write_csv(&d.p("x.csv"), &data());
    let model = d.p("m.npz");
    assert_success(&gaussmix(&[
        "fit",
        s(&d.p("x.csv")),
        "-k",
        "3",
        "--device",
        "cpu",
        "--quiet",
        "-o",
        s(&model),
    ]));
    model
}

fn write_garbage_and_truncated(d: &Dir, model: &Path) {
    std::fs::write(d.p("junk.npz"), b"garbage, not a zip").unwrap();
    let bytes = std::fs::read(model).unwrap();
    std::fs::write(d.p("cut.npz"), &bytes[..bytes.len() / 2]).unwrap();
}

#[test]
fn sample_bad_input_fails_cleanly() {
    let d = Dir::new();
    let model = fitted_model(&d);
    write_garbage_and_truncated(&d, &model);
    let m = s(&model).to_string();
    let out = s(&d.p("s.npy")).to_string();
    unchanged(&d, || {
        assert_clean_failure(
            &["sample", s(&d.p("nope.npz")), "-n", "5", "-o", &out],
            &["nope.npz", "not found"],
        );
        assert_clean_failure(
            &["sample", s(&d.p("junk.npz")), "-n", "5", "-o", &out],
            &["junk.npz", "not a valid .npz"],
        );
        assert_clean_failure(
            &["sample", s(&d.p("cut.npz")), "-n", "5", "-o", &out],
            &["cut.npz"],
        );
        assert_clean_failure(
            &["sample", &m, "-n", "0", "-o", &out],
            &["-n", "at least 1"],
        );
        assert_clean_failure(&["sample", &m, "-n", "5"], &["-o"]);
        assert_clean_failure(
            &["sample", &m, "-n", "5", "--png", s(&d.p("pics"))],
            &["--shape"],
        );
        assert_clean_failure(
            &[
                "sample",
                &m,
                "-n",
                "5",
                "--png",
                s(&d.p("pics")),
                "--shape",
                "4x4",
            ],
            &["4x4", "16 pixels", "3 features"],
        );
        assert_clean_failure(
            &[
                "sample",
                &m,
                "-n",
                "5",
                "--png",
                s(&d.p("pics")),
                "--shape",
                "banana",
            ],
            &["shape", "banana", "HEIGHTxWIDTH"],
        );
        assert_clean_failure(
            &["sample", &m, "-n", "5", "-o", s(&d.p("no/such/dir/s.npy"))],
            &["does not exist"],
        );
        assert_clean_failure(
            &["sample", &m, "-n", "5", "-o", s(&d.p("s.txt"))],
            &["s.txt", ".npy or .csv"],
        );
        // A good sample file with a bad labels file: neither may be written.
        assert_clean_failure(
            &[
                "sample",
                &m,
                "-n",
                "5",
                "-o",
                &out,
                "--labels",
                s(&d.p("l.parquet")),
            ],
            &["l.parquet", ".npy or .csv"],
        );
        assert_clean_failure(
            &[
                "sample",
                &m,
                "-n",
                "5",
                "-o",
                &out,
                "--labels",
                s(&d.p("no/such/l.npy")),
            ],
            &["does not exist"],
        );
    });
    // The output is a directory.
    std::fs::create_dir(d.p("adir.npy")).unwrap();
    unchanged(&d, || {
        assert_clean_failure(
            &["sample", &m, "-n", "5", "-o", s(&d.p("adir.npy"))],
            &["is a directory"],
        );
    });
}

#[test]
fn info_bad_model_fails_cleanly() {
    let d = Dir::new();
    let model = fitted_model(&d);
    write_garbage_and_truncated(&d, &model);
    std::fs::write(d.p("empty.npz"), b"").unwrap();
    unchanged(&d, || {
        assert_clean_failure(&["info", s(&d.p("nope.npz"))], &["nope.npz", "not found"]);
        assert_clean_failure(
            &["info", s(&d.p("junk.npz"))],
            &["junk.npz", "not a valid .npz"],
        );
        assert_clean_failure(&["info", s(&d.p("cut.npz"))], &["cut.npz", "npz"]);
        assert_clean_failure(&["info", s(&d.p("empty.npz"))], &["empty.npz"]);
        assert_clean_failure(&["info", s(&d.p("x.csv"))], &["x.csv"]);
        assert_clean_failure(&["info", d.0.path().to_str().unwrap()], &["directory"]);
    });
    let ok = gaussmix(&["info", s(&model)]);
    assert_success(&ok);
}

#[test]
fn impute_bad_input_fails_cleanly() {
    let d = Dir::new();
    let model = fitted_model(&d);
    write_garbage_and_truncated(&d, &model);
    let m = s(&model).to_string();
    std::fs::write(d.p("two.csv"), "1,2\n3,nan\n").unwrap();
    std::fs::write(d.p("four.csv"), "1,2,3,4\n3,nan,5,6\n").unwrap();
    std::fs::write(d.p("inf.csv"), "1,2,3\n3,nan,5\n4,inf,6\n").unwrap();
    std::fs::write(d.p("minf.csv"), "1,2,3\n3,-inf,5\n").unwrap();
    std::fs::write(d.p("empty.csv"), "").unwrap();
    std::fs::write(d.p("header.csv"), "a,b,c\n").unwrap();
    std::fs::write(d.p("ok.csv"), "1,2,3\n3,nan,5\n,,\n").unwrap();
    let out = s(&d.p("filled.csv")).to_string();
    let impute = |model: &str, data: &str, needles: &[&str]| {
        assert_clean_failure(&["impute", model, s(&d.p(data)), "-o", &out], needles)
    };
    unchanged(&d, || {
        impute(&m, "two.csv", &["two.csv", "3 features", "have 2"]);
        impute(&m, "four.csv", &["four.csv", "3 features", "have 4"]);
        impute(&m, "inf.csv", &["inf.csv", "row 2, column 1"]);
        impute(&m, "minf.csv", &["minf.csv", "row 1, column 1"]);
        impute(&m, "empty.csv", &["empty.csv", "no data"]);
        impute(&m, "header.csv", &["header.csv", "no data"]);
        impute(&m, "missing.csv", &["missing.csv", "not found"]);
        impute(
            s(&d.p("junk.npz")),
            "ok.csv",
            &["junk.npz", "not a valid .npz"],
        );
        impute(s(&d.p("cut.npz")), "ok.csv", &["cut.npz"]);
        for bad_out in ["no/such/dir/f.csv", "f.txt"] {
            assert_clean_failure(
                &["impute", &m, s(&d.p("ok.csv")), "-o", s(&d.p(bad_out))],
                &[bad_out.rsplit('/').next().unwrap()],
            );
        }
    });
    // The good case works: NaN is what gets imputed.
    let run = gaussmix(&["impute", &m, s(&d.p("ok.csv")), "-o", &out]);
    assert_success(&run);
    let filled = gaussmix::io::read_matrix(&d.p("filled.csv"), gaussmix::io::Missing::Reject)
        .expect("finite output");
    assert_eq!(filled.shape(), (3, 3));
}

/// A noisy periodic series of `n` values, one per line.
fn series(n: usize) -> String {
    (0..n)
        .map(|i| {
            let t = i as f64;
            format!(
                "{}\n",
                (t * 0.3).sin() * 2.0 + (t * 0.05).cos() + 0.01 * ((i * 7919) % 13) as f64
            )
        })
        .collect()
}

#[test]
fn forecast_bad_input_fails_cleanly() {
    let d = Dir::new();
    std::fs::write(d.p("y.txt"), series(120)).unwrap();
    std::fs::write(d.p("short.txt"), series(8)).unwrap();
    std::fs::write(d.p("text.txt"), "1\n2\nthree\n4\n").unwrap();
    std::fs::write(d.p("nan.txt"), format!("{}nan\n{}", series(30), series(30))).unwrap();
    std::fs::write(
        d.p("inf.txt"),
        format!("{}-inf\n{}", series(30), series(30)),
    )
    .unwrap();
    std::fs::write(d.p("empty.txt"), "").unwrap();
    std::fs::write(d.p("y.csv"), "t,value\n1,2\n2,3\n3,4\n").unwrap();
    std::fs::write(d.p("afile"), "not a directory").unwrap();
    let y = s(&d.p("y.txt")).to_string();
    let fc = |extra: &[&str], needles: &[&str]| {
        let mut a = vec!["forecast", y.as_str(), "-k", "2", "--n-init", "1"];
        a.extend_from_slice(extra);
        assert_clean_failure(&a, needles);
    };
    unchanged(&d, || {
        assert_clean_failure(
            &["forecast", s(&d.p("nope.txt"))],
            &["nope.txt", "no such file"],
        );
        assert_clean_failure(
            &["forecast", s(&d.p("text.txt"))],
            &["text.txt", "line 3", "three"],
        );
        assert_clean_failure(
            &["forecast", s(&d.p("inf.txt"))],
            &["inf.txt", "line 31", "not finite"],
        );
        assert_clean_failure(
            &["forecast", s(&d.p("empty.txt"))],
            &["empty.txt", "no values"],
        );
        assert_clean_failure(
            &["forecast", s(&d.p("short.txt")), "--window", "10"],
            &["window", "longer than the series", "8 values"],
        );
        assert_clean_failure(
            &["forecast", s(&d.p("y.csv")), "--column", "price"],
            &["y.csv", "price", "t, value"],
        );
        assert_clean_failure(&["forecast", s(&d.p("y.csv"))], &["y.csv", "--column"]);
        fc(&["--window", "0"], &["window", "at least 1"]);
        fc(&["--horizon", "0"], &["horizon", "at least 1"]);
        for tf in ["0", "1", "-0.5", "NaN", "1.5"] {
            fc(
                &["--test-fraction", tf],
                &["test_fraction", "between 0 and 1"],
            );
        }
        fc(&["--level", "1"], &["level"]);
        let k = |extra: &[&str], needles: &[&str]| {
            let mut a = vec!["forecast", y.as_str()];
            a.extend_from_slice(extra);
            assert_clean_failure(&a, needles);
        };
        k(&["-k", "0"], &["-k = 0", "at least 1"]);
        k(
            &["-k", "500", "--transform", "none"],
            &["500 components", "training windows"],
        );
        k(&["-k", "500"], &["500 components", "training windows"]);
        assert_clean_failure(
            &["forecast", "--builtin", "moonphases"],
            &["moonphases", "santafe or sunspots"],
        );
        assert_clean_failure(&["forecast"], &["series"]);
        fc(&["--transform", "log"], &["log"]);
        fc(
            &["--out", s(&d.p("afile/sub"))],
            &["afile", "cannot create the output directory"],
        );
        fc(&["--out", s(&d.p("afile"))], &["afile", "not a directory"]);
        // A report that cannot be written must stop the run before --out gets anything.
        fc(
            &[
                "--out",
                s(&d.p("plots")),
                "--report",
                s(&d.p("no/such/dir/r.json")),
            ],
            &["r.json", "does not exist"],
        );
    });
    // The good case writes its files and nothing else.
    let run = gaussmix(&[
        "forecast",
        &y,
        "-k",
        "2",
        "--n-init",
        "1",
        "--out",
        s(&d.p("plots")),
        "--report",
        s(&d.p("r.json")),
    ]);
    assert_success(&run);
    let tree = d.tree();
    for f in ["plots/forecast_y.csv", "plots/forecast_y.png", "r.json"] {
        assert!(tree.contains(&f.to_string()), "{tree:?}");
    }
    assert!(tree.iter().all(|f| !f.contains(".gaussmix-")), "{tree:?}");
}

#[test]
fn bench_bad_gram_case_fails_cleanly() {
    for bad in ["400", "400x", "ax4096", "-1x5"] {
        assert_clean_failure(&["bench", "--gram", bad], &["gram", "SAMPLESxDIMENSIONS"]);
    }
}

#[test]
fn faces_bad_arguments_fail_cleanly() {
    let d = Dir::new();
    std::fs::write(d.p("afile"), "not a directory").unwrap();
    unchanged(&d, || {
        assert_clean_failure(
            &["faces", "--k", "0", "--out", s(&d.p("faces"))],
            &["at least 1 component"],
        );
        assert_clean_failure(
            &["faces", "--k", "401", "--out", s(&d.p("faces"))],
            &["401", "400"],
        );
        assert_clean_failure(
            &["faces", "--k", "2", "--out", s(&d.p("afile"))],
            &["afile", "not a directory"],
        );
        assert_clean_failure(
            &[
                "faces",
                "--k",
                "2",
                "--n-samples",
                "0",
                "--out",
                s(&d.p("faces")),
            ],
            &["n-samples", "at least 1"],
        );
        assert_clean_failure(
            &[
                "faces",
                "--k",
                "2",
                "--complete",
                "41",
                "--out",
                s(&d.p("faces")),
            ],
            &["complete", "41", "40"],
        );
        assert_clean_failure(
            &[
                "faces",
                "--k",
                "2",
                "--reg-covar",
                "-1",
                "--out",
                s(&d.p("faces")),
            ],
            &["--reg-covar", "-1"],
        );
    });
}

/// A successful run whose stderr has a `note: ` line mentioning `what`, and no error.
fn assert_notice(run: &std::process::Output, what: &str) {
    assert_success(run);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("note: ") && l.contains(what)),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn fit_initialisation_and_warm_start_mismatches_fail_cleanly() {
    let d = Dir::new();
    let model = fitted_model(&d);
    let x = s(&d.p("x.csv")).to_string();
    let out = s(&d.p("out.npz")).to_string();
    // Models of another K and another dimension.
    assert_success(&gaussmix(&[
        "fit",
        &x,
        "-k",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "-o",
        s(&d.p("k2.npz")),
    ]));
    write_csv(&d.p("x2.csv"), &data().columns(0, 2).into_owned());
    assert_success(&gaussmix(&[
        "fit",
        s(&d.p("x2.csv")),
        "-k",
        "3",
        "--device",
        "cpu",
        "--quiet",
        "-o",
        s(&d.p("d2.npz")),
    ]));
    assert_success(&gaussmix(&[
        "fit",
        &x,
        "-k",
        "3",
        "--covariance",
        "diag",
        "--device",
        "cpu",
        "--quiet",
        "-o",
        s(&d.p("diag.npz")),
    ]));
    write_csv(&d.p("mu23.csv"), &DMatrix::from_element(2, 3, 0.5));
    write_csv(&d.p("mu32.csv"), &DMatrix::from_element(3, 2, 0.5));
    let n = data().nrows();
    let labels = |bad: &str| -> String {
        let mut t: String = (0..n).map(|i| format!("{}\n", i % 3)).collect();
        t.push_str(bad);
        t.push('\n');
        t.replacen("0\n", "", 1)
    };
    std::fs::write(d.p("l_big.csv"), labels("3")).unwrap();
    std::fs::write(d.p("l_neg.csv"), labels("-1")).unwrap();
    std::fs::write(d.p("l_frac.csv"), labels("0.5")).unwrap();
    let fit = |extra: &[&str], needles: &[&str]| {
        let mut a = vec![
            "fit",
            x.as_str(),
            "-k",
            "3",
            "--device",
            "cpu",
            "-o",
            out.as_str(),
        ];
        a.extend_from_slice(extra);
        assert_clean_failure(&a, needles);
    };
    unchanged(&d, || {
        fit(
            &["--means-init", s(&d.p("mu23.csv"))],
            &["mu23.csv", "2 × 3", "3 × 3"],
        );
        fit(
            &["--means-init", s(&d.p("mu32.csv"))],
            &["mu32.csv", "3 × 2", "3 × 3"],
        );
        fit(
            &["--labels-init", s(&d.p("l_big.csv"))],
            &["l_big.csv", "3 at row 599", "0..3"],
        );
        fit(
            &["--labels-init", s(&d.p("l_neg.csv"))],
            &["l_neg.csv", "-1 at row 599", "non-negative integer"],
        );
        fit(
            &["--labels-init", s(&d.p("l_frac.csv"))],
            &["l_frac.csv", "0.5 at row 599"],
        );
        fit(
            &["--warm-start", s(&d.p("k2.npz"))],
            &["k2.npz", "2 components", "3 components"],
        );
        fit(
            &["--warm-start", s(&d.p("d2.npz"))],
            &["d2.npz", "2 features", "3"],
        );
        fit(
            &["--warm-start", s(&d.p("diag.npz"))],
            &["diag.npz", "diag", "full"],
        );
        fit(
            &["--warm-start", s(&d.p("nope.npz"))],
            &["nope.npz", "not found"],
        );
        // No adapter: the metal backend does not exist on Linux.
        if cfg!(target_os = "linux") {
            assert_clean_failure_env(
                &["fit", &x, "-k", "3", "--device", "gpu", "-o", &out],
                &[("WGPU_BACKEND", "metal")],
                &["GPU", "--device cpu"],
            );
        }
    });
    // --device auto without an adapter runs on the CPU and says so.
    if cfg!(target_os = "linux") {
        let run = gaussmix_env(
            &[
                "fit", &x, "-k", "3", "--device", "auto", "--quiet", "-o", &out,
            ],
            &[("WGPU_BACKEND", "metal")],
        );
        assert_success(&run);
        // A fit this small stays on the CPU without looking for an adapter (AUTO_GPU_EM_FLOPS).
        let run = gaussmix_env(
            &["fit", &x, "-k", "3", "--device", "auto", "-o", &out],
            &[("WGPU_BACKEND", "metal")],
        );
        assert_success(&run);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!stderr.contains("error"), "{stderr}");
        let stdout = String::from_utf8_lossy(&run.stdout).to_lowercase();
        assert!(stdout.contains("on cpu"), "{stdout}");
        assert!(gaussmix::io::load_model(&d.p("out.npz")).is_ok());
        // A fit large enough (30 000 x 32, K = 8 full: 5.1e8 flops per iteration) looks, on
        // a thread while the .npy is read, and says why it runs on the CPU.
        let big = DMatrix::from_fn(30_000, 32, |i, j| ((i * 31 + j * 17) % 101) as f64 * 0.01);
        let big_path = d.p("big.npy");
        gaussmix::io::write_matrix(&big_path, &big).unwrap();
        let run = gaussmix_env(
            &[
                "fit",
                s(&big_path),
                "-k",
                "8",
                "--max-iter",
                "1",
                "--device",
                "auto",
                "-o",
                s(&d.p("big.npz")),
            ],
            &[("WGPU_BACKEND", "metal")],
        );
        assert_notice(&run, "running on the CPU");
        // Queries of any size look, and say why they run on the CPU.
        let run = gaussmix_env(
            &["score", &out, &x, "--device", "auto"],
            &[("WGPU_BACKEND", "metal")],
        );
        assert_notice(&run, "CPU");
    }
    let _ = model;
}

/// Fits on awkward but legal data must either save a finite model or fail cleanly; never a
/// model with NaN.
#[test]
fn fit_on_degenerate_data_never_saves_nan() {
    let d = Dir::new();
    let base = data();
    let mut cases: Vec<(&str, DMatrix<f64>)> = vec![
        ("big", &base * 1e6),
        ("small", &base * 1e-6),
        ("dup", {
            let r = base.row(0).into_owned();
            DMatrix::from_fn(60, 3, |i, j| r[j] + if i % 2 == 0 { 0.0 } else { 1.0 })
        }),
        ("same", DMatrix::from_element(40, 3, 2.5)),
    ];
    let mut constant_col = base.clone();
    constant_col.column_mut(1).fill(7.0);
    cases.push(("const", constant_col));
    for (name, x) in &cases {
        let path = d.p(&format!("{name}.csv"));
        write_csv(&path, x);
        for cov in ["full", "diag", "spherical", "tied"] {
            let out = d.p(&format!("{name}_{cov}.npz"));
            let started = Instant::now();
            let run = gaussmix(&[
                "fit",
                s(&path),
                "-k",
                "3",
                "--covariance",
                cov,
                "--device",
                "cpu",
                "--quiet",
                "-o",
                s(&out),
            ]);
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(!stderr.contains("panicked"), "{name} {cov}: {stderr}");
            assert!(started.elapsed() < Duration::from_secs(10), "{name} {cov}");
            if run.status.success() {
                let m = gaussmix::io::load_model(&out)
                    .unwrap_or_else(|e| panic!("{name} {cov}: saved model does not load: {e}"));
                assert!(m.means().iter().all(|v| v.is_finite()), "{name} {cov}");
                assert!(m.weights().iter().all(|v| v.is_finite()), "{name} {cov}");
                assert!(m.summary().lower_bound.is_finite(), "{name} {cov}");
                let score = m.score(x).unwrap();
                assert!(score.is_finite(), "{name} {cov}: score {score}");
            } else {
                assert_eq!(run.status.code(), Some(1), "{name} {cov}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "{name} {cov}: {stderr}");
                assert!(stderr.starts_with("error: "), "{name} {cov}: {stderr}");
                assert!(!out.exists(), "{name} {cov}");
            }
        }
    }
}
