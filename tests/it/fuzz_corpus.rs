//! Replays the committed fuzzing corpus (`fuzz/corpus/`, grown by `cargo fuzz run`) through the
//! same readers as the fuzz targets, so that every input that ever exercised a new path keeps
//! giving a result or an error — never a panic — in the ordinary test run.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{}: corpus missing", dir.display());
    files
}

#[test]
fn npy_corpus_never_panics() {
    let mut ok = 0;
    for f in corpus("read_npy") {
        let bytes = std::fs::read(&f).unwrap();
        if gaussmix::io::parse::npy(Path::new("x.npy"), &bytes).is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok > 0,
        "not one corpus entry parses: the replay tests nothing"
    );
}

#[test]
fn csv_corpus_never_panics() {
    let mut ok = 0;
    for f in corpus("read_csv") {
        let bytes = std::fs::read(&f).unwrap();
        if gaussmix::io::parse::delimited(Path::new("x.csv"), bytes).is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok > 0,
        "not one corpus entry parses: the replay tests nothing"
    );
}

#[test]
fn model_corpus_never_panics() {
    let mut ok = 0;
    for f in corpus("load_model") {
        let bytes = std::fs::read(&f).unwrap();
        if let Ok(model) = gaussmix::io::parse::model(Path::new("m.npz"), bytes) {
            let x = nalgebra::DMatrix::<f64>::zeros(2, model.n_features());
            let _ = model.score_samples(&x);
            ok += 1;
        }
    }
    assert!(
        ok > 0,
        "not one corpus entry loads: the replay tests nothing"
    );
}

/// Inputs on which a fuzzer once found a crash or a hang: each must be refused quickly.
#[test]
fn fuzz_findings_are_refused_quickly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let bytes = std::fs::read(&f).unwrap();
        let started = std::time::Instant::now();
        let result = gaussmix::io::parse::npy(Path::new("x.npy"), &bytes);
        assert!(result.is_err(), "{}", f.display());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{}: {:?}",
            f.display(),
            started.elapsed()
        );
    }
}
