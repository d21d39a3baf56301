//! Atomic output: every file is written to a temporary file beside its destination and renamed
//! into place only when complete, so a failure never leaves a damaged or partial file.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{GmmError, Result};

/// The lower-cased extension of `path`, or `""`.
pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The directory a file named `path` goes into.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, before any work is done, that `path` can be created: its directory exists and is
/// not a file. (The write itself can still fail later; it then leaves nothing behind.)
pub fn check_output_path(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(GmmError::file(
            path,
            format!(
                "cannot write: directory {} does not exist; create it first",
                dir.display()
            ),
        ));
    }
    if path.is_dir() {
        return Err(GmmError::file(path, "is a directory; give a file name"));
    }
    Ok(())
}

/// Writes `path` atomically: `write` fills a buffered writer on a temporary file in the same
/// directory, which is then flushed, synced and renamed over `path`.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    check_output_path(path)?;
    let fail = |e: std::io::Error| GmmError::file(path, format!("cannot write: {e}"));
    let tmp = tempfile::Builder::new()
        .prefix(".gaussmix-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        write(&mut w).map_err(fail)?;
        w.flush().map_err(fail)?;
    }
    // Temporary files are private (0600); the finished output gets the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let r = write_atomic(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert!(!p.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temporary file left behind"
        );
        write_atomic(&p, |w| w.write_all(b"done")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"done");
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let err = write_atomic(Path::new("/nonexistent-dir-xyz/out.npy"), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
