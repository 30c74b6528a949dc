//! Owns the tests' temporary files: every directory a test makes is a
//! [`TempDir`], removed with everything in it when it is dropped — at the
//! end of the test, passed or failed (a failing assertion unwinds through
//! it) — so a test run leaves nothing behind in the temp directory.

use std::path::{Path, PathBuf};

pub use tempfile::TempDir;

/// A fresh, empty directory `signalbox-<tag>-XXXXXX` in the temp directory
/// (`TMPDIR`), private to the test (mode 0700, a random name).
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("signalbox-{tag}-"))
        .tempdir()
        .expect("a temporary directory")
}

/// `text` written to `name` in a fresh [`temp_dir`]`(tag)`: the directory
/// (keep it as long as the file is read) and the file's path.
pub fn temp_file(tag: &str, name: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(tag);
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writing a temporary file");
    (dir, path)
}

/// A decision log in a directory of its own. Dropping it removes the
/// directory, so the log's `-wal` and `-shm` files go with it: keep it
/// alive as long as the gateway writing there.
#[derive(Debug)]
pub struct TempDb {
    dir: TempDir,
    path: PathBuf,
}

impl TempDb {
    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's path, owned (for `GatewayOptions::decision_log_path`).
    pub fn to_path_buf(&self) -> PathBuf {
        self.path.clone()
    }

    /// The directory holding it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A fresh decision-log path, removed (with its directory) when the
/// returned guard is dropped.
pub fn temp_db() -> TempDb {
    let dir = temp_dir("db");
    let path = dir.path().join("decisions.db");
    TempDb { dir, path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_db_takes_its_directory_and_side_files_when_dropped() {
        let db = temp_db();
        let dir = db.dir().to_path_buf();
        for name in ["decisions.db", "decisions.db-wal", "decisions.db-shm"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        assert_eq!(db.path(), dir.join("decisions.db"));
        drop(db);
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }

    #[test]
    fn a_panicking_test_still_removes_its_directory() {
        let mut seen = None;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let scratch = temp_dir("unwind");
            std::fs::write(scratch.path().join("f"), b"x").unwrap();
            seen = Some(scratch.path().to_path_buf());
            panic!("a failing assertion");
        }));
        assert!(result.is_err());
        let dir = seen.unwrap();
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}
