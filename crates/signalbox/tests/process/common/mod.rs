//! Helpers shared by the process-level tests.

pub mod process;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (examples/ live there).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `signalbox` binary, run from the repository root with no inherited
/// log filter or configuration path.
pub fn bin() -> Command {
    bin_in(&repo_root())
}

/// The `signalbox` binary, run from `dir`.
pub fn bin_in(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_signalbox"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("SIGNALBOX_CONFIG");
    c
}

/// A fresh directory in the temp dir, unique to this process and `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signalbox-tests-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `file` inside [`temp_dir`]`(tag)` and returns its path.
pub fn temp_file(tag: &str, file: &str, text: &str) -> PathBuf {
    let path = temp_dir(tag).join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// The stdout of a run that must have succeeded (stderr shown otherwise).
pub fn success_stdout(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
