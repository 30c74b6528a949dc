//! Nothing left behind in the temp directory when a run is cut short:
//! the interactive demo, the tour and a chaos run, each started with a
//! temp directory of its own (`TMPDIR`) and sent SIGINT (Ctrl-C) once it
//! has files there, must remove them before exiting; so must the demo
//! interrupted while it starts. (A run to its end is
//! checked by the demo and chaos tests themselves.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::common::{TempDir, assert_left_nothing, bin, left_in, temp_dir};

/// How long a step may take before the test gives up.
const LIMIT: Duration = Duration::from_secs(60);

/// A child killed on drop, so a failing test leaves no process behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cmd` started with its own empty `TMPDIR`, stdout piped.
fn spawn_in_own_tmp(cmd: &mut Command) -> (Running, TempDir) {
    let tmp = temp_dir("child-tmp");
    let child = cmd
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Running(child), tmp)
}

/// Reads the child's stdout until a line contains `marker`; the rest is
/// drained on a thread so the child never blocks on a full pipe.
fn wait_for_line(child: &mut Running, marker: &str) {
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let seen = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains(marker));
    std::thread::spawn(move || lines.for_each(drop));
    assert!(seen, "the output ended before {marker:?}");
}

/// Polls until `tmp` holds a directory `prefix…` with a decision log in it.
fn wait_for_log(tmp: &TempDir, prefix: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let found = left_in(tmp.path())
            .iter()
            .filter(|n| n.starts_with(prefix))
            .any(|n| tmp.path().join(n).join("decisions.db").exists());
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "no {prefix}… log appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGINT (what Ctrl-C sends) and waits for the exit.
fn interrupt(child: &mut Running) -> ExitStatus {
    let child = &mut child.0;
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the process did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_on_the_interactive_demo_removes_its_decision_log() {
    let (mut child, tmp) = spawn_in_own_tmp(bin().args(["demo", "--listen", "127.0.0.1:0"]));
    // Printed once the gateway serves and the signal is awaited.
    wait_for_line(&mut child, "Ctrl-C to stop.");
    wait_for_log(&tmp, "signalbox-demo-");
    let status = interrupt(&mut child);
    assert!(status.success(), "{status}");
    assert_left_nothing(&left_in(tmp.path()));
}

#[test]
fn ctrl_c_while_the_demo_starts_removes_its_directory() {
    let (mut child, tmp) = spawn_in_own_tmp(bin().args(["demo", "--listen", "127.0.0.1:0"]));
    // The directory is made first, then the mocks and the gateway start
    // (the tokenizer's warm-up alone takes a while): interrupt at once.
    let deadline = Instant::now() + LIMIT;
    while !left_in(tmp.path())
        .iter()
        .any(|n| n.starts_with("signalbox-demo-"))
    {
        assert!(Instant::now() < deadline, "no demo directory appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Interrupted while starting (an error) or, on a fast machine, once
    // serving (a clean stop): either way nothing is left.
    interrupt(&mut child);
    assert_left_nothing(&left_in(tmp.path()));
}

#[test]
fn ctrl_c_during_the_tour_removes_its_decision_log() {
    let (mut child, tmp) = spawn_in_own_tmp(bin().args(["demo", "--tour"]));
    // After the first request's answer: the tour is under way.
    wait_for_line(&mut child, "Why it went there");
    wait_for_log(&tmp, "signalbox-demo-");
    // Interrupted, or (on a fast machine) already done: either way clean.
    interrupt(&mut child);
    assert_left_nothing(&left_in(tmp.path()));
}

#[test]
fn ctrl_c_during_a_chaos_run_removes_its_files_and_exits_130() {
    // Stretched to minutes, so the signal surely lands mid-run.
    let (mut child, tmp) =
        spawn_in_own_tmp(bin().args(["chaos", "run", "--scale", "20", "regional-outage"]));
    wait_for_log(&tmp, "signalbox-chaos-");
    let status = interrupt(&mut child);
    assert_eq!(status.code(), Some(130), "{status}");
    assert_left_nothing(&left_in(tmp.path()));
}
