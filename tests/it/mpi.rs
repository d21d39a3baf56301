//! `mpirun -n 3 gaussmix fit … --distributed` (with the `mpi` feature): the model rank 0
//! writes equals the single-process fit to 1e-12 (weights, means, covariances, the lower-bound
//! history), with one file split by rows or with shard files of unequal size, one rank
//! getting none; a rank that fails mid-fit ends the job with an error and no model. Without
//! the feature, `--distributed` says how to get it.

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use crate::common::cli::assert_success;
    use crate::common::path_str as s;
    use crate::common::{assert_same_fit, draw, truth};

    fn mpirun(ranks: usize, args: &[&str]) -> Command {
        let mut c = Command::new("mpirun");
        c.args(["--allow-run-as-root", "--oversubscribe", "-n"])
            .arg(ranks.to_string())
            .arg(env!("CARGO_BIN_EXE_gaussmix"))
            .args(args)
            // Containers often forbid the cross-process memory copies of Open MPI's shared-memory
            // transport; the plain copy works everywhere.
            .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
        c
    }

    fn run(mut c: Command) -> Output {
        c.output()
            .expect("mpirun runs (install openmpi-bin for the mpi feature's tests)")
    }

    fn written(dir: &Path, name: &str, x: &nalgebra::DMatrix<f64>) -> PathBuf {
        let p = dir.join(name);
        gaussmix::io::write_matrix(&p, x).unwrap();
        p
    }

    fn single_process(data: &Path, out: &Path, extra: &[&str]) -> gaussmix::GaussianMixture {
        let mut args = vec!["fit", s(data), "--stream", "-q", "-o", s(out)];
        args.extend_from_slice(extra);
        assert_success(&crate::common::cli::gaussmix(&args));
        gaussmix::io::load_model(out).unwrap()
    }

    #[test]
    fn mpirun_gives_the_single_process_model() {
        let (x, _) = draw(&truth(4), 6000, 41);
        let dir = tempfile::tempdir().unwrap();
        let data = written(dir.path(), "x.npy", &x);
        for covariance in ["full", "diag"] {
            let settings = [
                "-k",
                "4",
                "--covariance",
                covariance,
                "--tol",
                "1e-6",
                "--seed",
                "3",
            ];
            let single = single_process(&data, &dir.path().join("single.npz"), &settings);
            let out = dir.path().join(format!("dist-{covariance}.npz"));
            let mut args = vec!["fit", s(&data), "--distributed", "-o", s(&out)];
            args.extend_from_slice(&settings);
            let done = run(mpirun(3, &args));
            assert_success(&done);
            let stdout = String::from_utf8_lossy(&done.stdout);
            assert_eq!(
                stdout.matches("model written").count(),
                1,
                "rank 0 alone reports: {stdout}"
            );
            assert!(stdout.contains("mpi, rank 0 of 3"), "{stdout}");
            let dist = gaussmix::io::load_model(&out).unwrap();
            assert!(dist.summary().n_iter >= 3);
            assert_same_fit(covariance, &dist, &single, 1e-12);
        }
    }

    #[test]
    fn shards_of_unequal_size_and_a_rank_without_rows() {
        let (x, _) = draw(&truth(3), 4000, 42);
        let dir = tempfile::tempdir().unwrap();
        let all = written(dir.path(), "all.npy", &x);
        written(dir.path(), "part-0.npy", &x.rows(0, 500).into_owned());
        written(dir.path(), "part-1.npy", &x.rows(500, 3500).into_owned());
        let settings = ["-k", "3", "--tol", "1e-6", "--seed", "1"];
        let single = single_process(&all, &dir.path().join("single.npz"), &settings);
        let pattern = dir.path().join("part-*.npy");
        // two shards for three ranks: rank 0 (which writes the model) has no rows; then the
        // same with every rank streaming its shards in chunks of 300 rows
        for extra in [&[][..], &["--stream", "--chunk-rows", "300"][..]] {
            let out = dir.path().join("dist.npz");
            let mut args = vec!["fit", "--shards", s(&pattern), "-q", "-o", s(&out)];
            args.extend_from_slice(&settings);
            args.extend_from_slice(extra);
            assert_success(&run(mpirun(3, &args)));
            let dist = gaussmix::io::load_model(&out).unwrap();
            assert_same_fit(&format!("shards {extra:?}"), &dist, &single, 1e-12);
            std::fs::remove_file(&out).unwrap();
        }
    }

    #[test]
    fn a_rank_that_fails_mid_fit_ends_the_job_with_an_error_and_no_model() {
        use std::time::{Duration, Instant};
        let (x, _) = draw(&truth(3), 3000, 43);
        let dir = tempfile::tempdir().unwrap();
        for r in 0..3 {
            written(
                dir.path(),
                &format!("s-{r}.npy"),
                &x.rows(r * 1000, 1000).into_owned(),
            );
        }
        let out = dir.path().join("model.npz");
        let pattern = dir.path().join("s-*.npy");
        // tol 0: EM runs until its last iteration, long after the shard below changes
        let args = [
            "fit",
            "--shards",
            s(&pattern),
            "--stream",
            "-k",
            "3",
            "--tol",
            "0",
            "--max-iter",
            "100000000",
            "-q",
            "-o",
            s(&out),
        ];
        let mut c = mpirun(3, &args);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("mpirun runs");
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fit is still running"
        );
        // rank 2's shard changes under it, again and again until the job ends: a change
        // made before rank 2 opened the file (a slow start) would go unseen, the next not
        use std::io::Write;
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                child.kill().unwrap();
                panic!("the job did not end after a rank failed");
            }
            std::fs::OpenOptions::new()
                .append(true)
                .open(dir.path().join("s-2.npy"))
                .unwrap()
                .write_all(&[0u8; 8])
                .unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(!done.status.success(), "{stderr}");
        assert!(
            stderr.contains("s-2.npy") && stderr.contains("changed while it was being read"),
            "{stderr}"
        );
        assert!(
            stderr.contains("rank 2 of 3 failed"),
            "rank 0 names the failed rank: {stderr}"
        );
        assert!(!out.exists(), "no model is written");
    }
}

#[cfg(not(feature = "mpi"))]
mod without_mpi {
    use crate::common::path_str as s;

    #[test]
    fn without_the_mpi_feature_distributed_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("x.csv");
        std::fs::write(&data, "1,2\n3,4\n5,6\n").unwrap();
        let out = crate::common::cli::gaussmix(&[
            "fit",
            s(&data),
            "-k",
            "1",
            "--distributed",
            "-o",
            s(&dir.path().join("m.npz")),
        ]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--features mpi") && stderr.contains("mpirun"),
            "{stderr}"
        );
    }
}
