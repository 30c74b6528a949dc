//! Process-level test of `signalbox what-changed`: a log whose last window
//! has a new model version on a route and an operator action (written as
//! the gateway writes them) is compared with the window before it, and the
//! binary names both, before the metrics that moved.

use std::path::{Path, PathBuf};
use std::time::Duration;

use signalbox_core::{DecisionRecord, clock::unix_ms};
use signalbox_decision_log::{AuditEntry, DecisionLog, LogOptions};

use crate::common::{TempDir, bin, success_stdout, temp_dir};

fn served(id: &str, time_ms: u64, version: &str, latency_ms: u64) -> DecisionRecord {
    DecisionRecord {
        request_id: id.into(),
        time_ms,
        tenant: "acme".into(),
        policy_version: "v1".into(),
        alias: Some("chat".into()),
        chosen: Some("us-large".into()),
        model_version: Some(version.into()),
        outcome: "served".into(),
        status: 200,
        latency_ms,
        ..DecisionRecord::default()
    }
}

/// A new, empty decision log in a temporary directory of its own (removed
/// when the returned guard drops).
fn fresh_log(name: &str) -> (TempDir, PathBuf, DecisionLog) {
    let dir = temp_dir(name);
    let db = dir.path().join("decisions.db");
    let options = LogOptions {
        queue: 64,
        retention: Duration::ZERO,
        max_bytes: 0,
        priority: Default::default(),
    };
    let log = DecisionLog::open(&db, options).unwrap();
    (dir, db, log)
}

/// `signalbox what-changed --since 10m` over `db`: its output.
fn what_changed_10m(db: &Path) -> String {
    let out = bin()
        .args([
            "what-changed",
            "--db",
            db.to_str().unwrap(),
            "--since",
            "10m",
        ])
        .output()
        .unwrap();
    success_stdout(&out)
}

#[tokio::test]
async fn what_changed_names_a_new_model_version_and_an_operator_action() {
    let (_dir, db, log) = fresh_log("what-changed");
    let now = unix_ms();
    let minute = 60_000;
    for i in 0..10 {
        // 19.5–10.5 minutes ago: the old version; 9.5–0.5 minutes ago: the
        // new one, slower (half a minute from each edge: the binary's clock
        // runs a little later).
        assert!(log.record(served(
            &format!("old-{i}"),
            now - (20 - i) * minute + 30_000,
            "m-2024-08",
            400
        )));
        assert!(log.record(served(
            &format!("new-{i}"),
            now - (9 - i) * minute - 30_000,
            "m-2024-11",
            1_500
        )));
    }
    log.flush().await;
    log.audit(AuditEntry {
        time_ms: now - 5 * minute,
        who: "oncall".into(),
        role: "operator".into(),
        method: "POST".into(),
        path: "/admin/actions".into(),
        action: Some("act-42".into()),
        reason: Some("provider incident".into()),
        status: 201,
        detail: "created: drain route us-small".into(),
    })
    .await
    .unwrap();
    let text = what_changed_10m(&db);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "10 requests before, 10 after (10m each)",
        "{text}"
    );
    assert!(
        lines[1].starts_with(
            "1. [model] route us-large reports model version m-2024-11 (was m-2024-08)"
        ),
        "{text}"
    );
    assert!(
        lines[2].starts_with("2. [operator] operator action act-42 by oncall"),
        "{text}"
    );
    assert!(lines[2].contains("provider incident"), "{text}");
    assert!(
        lines[3].starts_with("3. [metric] p95 latency 400 ms → 1500 ms"),
        "{text}"
    );
}

#[tokio::test]
async fn a_new_policy_version_comes_first_with_its_configuration_diff() {
    let (_dir, db, log) = fresh_log("what-changed-policy");
    let v1 = "a.yaml: OK (policy version v1)\n  2 routes\n  alias chat -> us-large (p/m-1, us), eu-large (q/m, eu)\n";
    let v2 = "a.yaml: OK (policy version v2)\n  2 routes\n  alias chat -> eu-large (q/m, eu), us-large (p/m-1, us)\n";
    log.config_version("v1", v1).await.unwrap();
    log.config_version("v2", v2).await.unwrap();
    let now = unix_ms();
    for i in 0..5 {
        let mut old = served(&format!("old-{i}"), now - 15 * 60_000 + i, "m-1", 400);
        old.policy_version = "v1".into();
        let mut new = served(&format!("new-{i}"), now - 5 * 60_000 + i, "m-1", 400);
        new.policy_version = "v2".into();
        assert!(log.record(old) && log.record(new));
    }
    log.flush().await;
    let text = what_changed_10m(&db);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1..5],
        [
            "1. [policy] policy version v2 appeared (5 requests)",
            "     against v1:",
            "     + alias chat -> eu-large (q/m, eu), us-large (p/m-1, us)",
            "     - alias chat -> us-large (p/m-1, us), eu-large (q/m, eu)",
        ],
        "{text}"
    );
    assert_eq!(
        lines[5], "2. [policy] policy version v1 no longer seen",
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_baseline_is_said_not_ranked_as_everything_new() {
    let (_dir, db, log) = fresh_log("what-changed-empty-baseline");
    let now = unix_ms();
    for i in 0..4 {
        assert!(log.record(served(
            &format!("only-{i}"),
            now - 5 * 60_000 + i,
            "m-2024-11",
            400
        )));
    }
    log.flush().await;
    let text = what_changed_10m(&db);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "0 requests before, 4 after (10m each)",
            "no traffic in the baseline window: versions and metrics are not compared; seen in the window:",
            "   policy version v1 (4 requests)",
            "   route us-large model version m-2024-11 (4 requests)",
        ],
        "{text}"
    );
    assert!(!text.contains("appeared"), "{text}");
}
