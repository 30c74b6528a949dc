//! The writer's default priority, in a process of its own: every writer
//! thread here is this test's, so none can have been raised by another
//! test's backlog (a writer behind runs at normal priority until it has
//! caught up).

#![expect(clippy::unwrap_used, reason = "test")]

use std::time::Duration;

use signalbox_core::DecisionRecord;
use signalbox_decision_log::{DecisionLog, LogOptions};

/// Linux `SCHED_IDLE`, as `/proc/<pid>/task/<tid>/stat` field 41 reports it.
#[cfg(target_os = "linux")]
const SCHED_IDLE: u32 = 5;

/// The scheduling policies of this process's decision-log writer threads.
#[cfg(target_os = "linux")]
fn writer_policies() -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "decision-log" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the command name (which is in parentheses).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        if let Some(policy) = rest.split_whitespace().nth(38) {
            out.push(policy.parse().unwrap());
        }
    }
    out
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_writer_runs_at_idle_priority_by_default() {
    // Removed with the log's side files when the test ends, pass or fail.
    let dir = tempfile::Builder::new()
        .prefix("signalbox-decision-log-priority-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("decisions.db");
    let log = DecisionLog::open(
        &path,
        LogOptions {
            queue: 4,
            retention: Duration::from_secs(86_400),
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let record = DecisionRecord {
        request_id: "req-idle".into(),
        time_ms: signalbox_core::clock::unix_ms(),
        tenant: "acme".into(),
        policy_version: "v1".into(),
        outcome: "served".into(),
        status: 200,
        ..DecisionRecord::default()
    };
    assert!(log.record(record));
    // Once a record is committed the writer has set its own priority.
    log.flush().await;
    // This test is the only one in its process, so every writer is its own.
    let policies = writer_policies();
    assert!(!policies.is_empty(), "no decision-log thread found");
    assert!(
        policies.iter().all(|&p| p == SCHED_IDLE),
        "policies: {policies:?}"
    );
    drop(log);
}
