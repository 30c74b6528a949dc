//! A real `signalbox serve` process in front of in-process mocks.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use signalbox_mock::{MockHandle, MockOptions, MockProvider};
use signalbox_testkit::{any_port, init_tls};

use super::{TempDir, bin, temp_dir};

/// Kills the child on drop so a failing test leaves no process behind;
/// then (fields drop after `drop` runs) the directory of its decision log
/// goes.
pub struct Killed(
    pub Child,
    #[expect(dead_code, reason = "held for its drop, after the child's")] TempDir,
);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `signalbox serve` on a free port with `config` and `envs`; returns
/// the process and its address (read from the JSON "listening" log line).
pub async fn serve(config: &str, envs: &[(&str, String)], extra: &[&str]) -> (Killed, String) {
    serve_from(bin(), config, envs, extra).await
}

/// As [`serve`], with the soft open-file limit of the process set to `soft`
/// first (a shell's `ulimit -Sn`, as many hosts start services with).
pub async fn serve_with_soft_nofile(
    soft: u64,
    config: &str,
    envs: &[(&str, String)],
    extra: &[&str],
) -> (Killed, String) {
    let bin = bin();
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(bin.get_current_dir().unwrap_or(std::path::Path::new(".")))
        .env_remove("RUST_LOG")
        .env_remove("SIGNALBOX_CONFIG")
        .args(["-c", r#"ulimit -Sn "$0" && exec "$@""#])
        .arg(soft.to_string())
        .arg(bin.get_program());
    serve_from(cmd, config, envs, extra).await
}

async fn serve_from(
    mut cmd: std::process::Command,
    config: &str,
    envs: &[(&str, String)],
    extra: &[&str],
) -> (Killed, String) {
    // One database per process (two gateways creating the same file's
    // schema at once would race), in a directory removed with the process.
    let db = temp_dir("serve-db");
    cmd.args([
        "serve",
        "--config",
        config,
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ])
    .args(extra)
    .env("DECISION_DB", db.path().join("decisions.db"))
    .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = Killed(cmd.spawn().unwrap(), db);
    let stderr = child.0.stderr.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let addr = lines.by_ref().find_map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line.ok()?).ok()?;
            v["fields"]["addr"].as_str().map(str::to_string)
        });
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        addr
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), addr)
        .await
        .unwrap()
        .unwrap()
        .expect("listening line");
    (child, addr)
}

/// Mocks named `primary` and `secondary` on free ports.
pub async fn two_mocks() -> (MockHandle, MockHandle) {
    init_tls();
    let opts = |n: &str| MockOptions {
        name: n.into(),
        ..MockOptions::default()
    };
    let primary = MockProvider::start(any_port(), opts("primary"))
        .await
        .unwrap();
    let secondary = MockProvider::start(any_port(), opts("secondary"))
        .await
        .unwrap();
    (primary, secondary)
}
