//! Running the command-line binary in tests: a clean failure is exit status 1, exactly one
//! `error:` line on stderr containing every needle, no panic, and quickly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the gaussmix binary with `args` and extra environment variables (`CI` cleared: the
/// CPU path needs no adapter).
pub fn gaussmix_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gaussmix"));
    c.args(args).env("CI", ""); // the CPU path needs no adapter
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run gaussmix")
}

/// Runs the gaussmix binary with `args`.
pub fn gaussmix(args: &[&str]) -> Output {
    gaussmix_env(args, &[])
}

/// Asserts a clean failure under extra environment variables: exit status 1, one `error:`
/// line containing every needle (case-insensitive), no panic, under 5 s.
#[track_caller]
pub fn assert_clean_failure_env(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let started = Instant::now();
    let out = gaussmix_env(args, env);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: expected '{needle}' in: {stderr}"
        );
    }
    assert!(
        elapsed < Duration::from_secs(5),
        "{args:?} took {elapsed:?}"
    );
}

#[track_caller]
pub fn assert_clean_failure(args: &[&str], needles: &[&str]) {
    assert_clean_failure_env(args, &[], needles)
}

#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary directory for a test's files.
pub struct Dir(pub tempfile::TempDir);
impl Dir {
    pub fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    /// A path inside the directory.
    pub fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    /// Every path under the directory, relative, sorted (directories end with '/').
    pub fn tree(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if p.is_dir() {
                    out.push(format!("{rel}/"));
                    walk(base, &p, out);
                } else {
                    out.push(rel);
                }
            }
        }
        let mut v = Vec::new();
        walk(self.0.path(), self.0.path(), &mut v);
        v.sort();
        v
    }

    /// The names of the files directly in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}
