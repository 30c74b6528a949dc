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

/// A fresh directory (`temp_dir`), or a file in one (`temp_file`), removed
/// when the returned guard drops: keep it for as long as the test (or the
/// process it starts) uses the files.
pub use signalbox_testkit::{TempDir, temp_dir, temp_file};

/// Runs `cmd` to its end with a temp directory of its own (`TMPDIR`, which
/// the binary's temporary files go under), and returns its output and
/// what it left there (names). The directory is removed either way; a
/// test asserts the list is empty (see [`assert_left_nothing`]).
pub fn output_in_own_tmp(cmd: &mut Command) -> (std::process::Output, Vec<String>) {
    let tmp = temp_dir("child-tmp");
    let out = cmd.env("TMPDIR", tmp.path()).output().unwrap();
    (out, left_in(tmp.path()))
}

/// The names of what is in `dir`.
pub fn left_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Fails if a run left anything in its temp directory.
pub fn assert_left_nothing(left: &[String]) {
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
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
