//! Test-only: the temporary files the crate's tests read. Each lives in a
//! fresh directory that is removed, with anything else the test put there,
//! when its guard drops — at the end of the test, passed or failed.

use std::path::PathBuf;

pub(crate) use tempfile::TempDir;

/// A fresh, empty directory `signalbox-config-XXXXXX` in the temp dir.
pub(crate) fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("signalbox-config-")
        .tempdir()
        .expect("a temporary directory")
}

/// `contents` in a file `name` of a fresh [`temp_dir`]: the directory
/// (keep it while the file is read) and the file's path.
pub(crate) fn temp_file(name: &str, contents: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("writing a temporary file");
    (dir, path)
}
